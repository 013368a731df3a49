"""FETV accuracy benchmark through the CLI (repeated, seeded 5-fold CV, pooled out-of-fold).

Prints, for a feature spec and regressor: pooled Score on the 140 AI clips for gt_score,
static_quality and temporal_quality, on all 174 clips for gt_score, and the within-generator
SROCC (mean over the four generators of the Spearman correlation inside each generator).

    python benchmarks/fetv.py [--data ../shared/data/fetv] [--features classic,prompt]
                              [--regressor blend] [--repeats 3] [--config RECIPE.json]
                              [--group-by prompt]

With ``--config``, the recipe's features and regressor are used unless given. ``--group-by
prompt`` keeps each prompt's clips in one fold (generalisation to new prompts).

A recipe with artifact dimensions (``"artifact_dims"``) runs in this process through
``aigvqa.pipeline.cross_validate``, with the unlabelled clips of ``--modern``'s train split (the
dimensions of each fold never learn from the held-out clips' families). The CLI's ``cv`` has no
such clips: it would give the same recipe's figures without the modern clips.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "fetv"


def pooled_oof(labels: list[dict], target: str, args, work: Path) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions averaged over the repeats (``aigvqa cv --oof`` per seed)."""
    data = work / f"{target}_{len(labels)}.json"
    data.write_text(json.dumps(labels))
    preds = []
    for r in range(args.repeats):
        oof = work / f"oof_{target}_{len(labels)}_{r}.json"
        cmd = [
            sys.executable, "-m", "aigvqa", "cv", str(data), "--videos", str(args.data / "videos"),
            "--target", target, "--folds", "5", "--repeats", "1", "--seed", str(r), "--oof", str(oof), "--json", "-q",
        ] + (["--config", str(args.config)] if args.config else []) + [
            arg for flag, value in (("--features", args.features), ("--regressor", args.regressor),
                                    ("--group-by", args.group_by)) if value for arg in (flag, value)
        ]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        preds.append([p["predict_score"] for p in json.loads(oof.read_text())])
    return np.array(preds), np.array([float(x[target]) for x in labels])


def pooled_oof_in_process(labels: list[dict], target: str, args) -> tuple[np.ndarray, np.ndarray]:
    """The same out-of-fold predictions, through ``aigvqa.pipeline`` with the modern unlabelled clips."""
    from aigvqa.cache import FeatureCache
    from aigvqa.data import Item
    from aigvqa.families import load_unlabelled
    from aigvqa.model import QualityModel
    from aigvqa.pipeline import RunOptions, cross_validate

    recipe = {k: v for k, v in json.loads(args.config.read_text()).items() if not k.startswith("_")}
    recipe["target"] = target
    items = [Item(video=x["video"], prompt=x["prompt"], meta=x) for x in labels]
    run = RunOptions(videos_dir=args.data / "videos", cache=FeatureCache(), workers=2, progress=False)
    preds = []
    for r in range(args.repeats):
        model = QualityModel(**{**recipe, "seed": r})
        res = cross_validate(model, items, run, folds=5, repeats=1, group_by=args.group_by,
                             unlabelled=load_unlabelled(args.modern, "train"))  # fmt: skip
        preds.append(res.oof[0])
    return np.array(preds), np.array([float(x[target]) for x in labels])


def score(pred: np.ndarray, y: np.ndarray) -> float:
    return float((stats.pearsonr(pred, y)[0] + stats.spearmanr(pred, y)[0]) / 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--features", help="feature spec (default: the recipe's, else classic,prompt)")
    parser.add_argument("--regressor", help="regressor (default: the recipe's, else blend)")
    parser.add_argument("--group-by", help="keep items with the same value of this field in one fold, e.g. prompt")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--modern",
        type=Path,
        default=HERE.parent.parent / "shared" / "data" / "modern",
        help="unlabelled clips for a recipe with artifact dimensions (train split)",
    )
    parser.add_argument(
        "--targets", default="gt_score,static_quality,temporal_quality,all", help="which of the four figures to compute"
    )
    parser.add_argument("--config", type=Path, help="JSON recipe of model settings (aigvqa --config)")
    args = parser.parse_args()
    if not (args.data / "labels.json").exists():
        sys.exit(f"FETV labels not found under {args.data}")
    labels = json.loads((args.data / "labels.json").read_text())
    ai = [x for x in labels if x["ai_generated"]]
    if not args.config:
        args.features, args.regressor = args.features or "classic,prompt", args.regressor or "blend"
    what = f"config={args.config}, " if args.config else ""
    what += f"features={args.features or 'from the recipe'}, regressor={args.regressor or 'from the recipe'}"
    print(f"FETV, {what}, {args.repeats}x 5-fold CV" + (f", folds grouped by {args.group_by}" if args.group_by else ""))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for target, subset, name in [
            ("gt_score", ai, "AI clips (140), gt_score"),
            ("static_quality", ai, "AI clips (140), static_quality"),
            ("temporal_quality", ai, "AI clips (140), temporal_quality"),
            ("gt_score", labels, "all clips (174), gt_score"),
        ]:
            if (target if subset is ai else "all") not in args.targets.split(","):
                continue
            if args.config and "artifact_dims" in json.loads(args.config.read_text()):
                preds, y = pooled_oof_in_process(subset, target, args)
            else:
                preds, y = pooled_oof(subset, target, args, work)
            per_repeat = [score(p, y) for p in preds]
            line = f"pooled Score  {name:34s} median {np.median(per_repeat):.3f}  (repeats: "
            print(line + ", ".join(f"{s:.3f}" for s in per_repeat) + ")")
            if subset is ai and target == "gt_score":
                gens = sorted({x["generator"] for x in ai})
                within = []
                for p in preds:
                    rho = [
                        stats.spearmanr(p[idx], y[idx])[0]
                        for g in gens
                        for idx in [np.array([x["generator"] == g for x in ai])]
                    ]
                    within.append(float(np.mean(rho)))
                print(f"within-generator SROCC, AI clips, gt_score: median {np.median(within):.3f}  (repeats: "
                      + ", ".join(f"{w:.3f}" for w in within) + ")")  # fmt: skip


if __name__ == "__main__":
    main()
