"""FETV accuracy benchmark through the CLI (repeated, seeded 5-fold CV, pooled out-of-fold).

Prints, for a feature spec and regressor: pooled Score on the 140 AI clips for gt_score,
static_quality and temporal_quality, on all 174 clips for gt_score, and the within-generator
SROCC (mean over the four generators of the Spearman correlation inside each generator).

    python benchmarks/fetv.py [--data ../shared/data/fetv] [--features classic,prompt]
                              [--regressor blend] [--repeats 3] [--config RECIPE.json]
                              [--group-by prompt]

With ``--config``, the recipe's features and regressor are used unless given. ``--group-by
prompt`` keeps each prompt's clips in one fold (generalisation to new prompts).

``--baseline RECIPE`` runs a second recipe on the same folds (fold seeds 0..repeats-1) and prints,
per figure, the paired difference (config minus baseline) for each fold seed, its mean and on how
many seeds the config falls below the baseline. One seed's figures move by about ±0.03 with the
folds, far more than most changes to a recipe; the difference on the same folds does not, so a
floor such as "may not fall below the bundled model" is read from it. ``--jobs 2`` runs two
cross-validations (a recipe on one fold seed each) at a time, each in its own process; features
come from the cache.

    python benchmarks/fetv.py --config recipes/pairs_model.json --baseline recipes/default_model.json \
        --repeats 5 --targets gt_score --jobs 2

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
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "fetv"


def cli_oof(config: Path | None, labels: list[dict], target: str, args, work: Path, r: int) -> np.ndarray:
    """Out-of-fold predictions of fold seed ``r`` through the CLI (``aigvqa cv --oof``)."""
    tag = f"{target}_{len(labels)}_{r}_{zlib.crc32(str(config.resolve()).encode()) if config else 'flags'}"
    data = work / f"{tag}.json"
    data.write_text(json.dumps(labels))
    oof = work / f"oof_{tag}.json"
    cmd = [
        sys.executable, "-m", "aigvqa", "cv", str(data), "--videos", str(args.data / "videos"),
        "--target", target, "--folds", "5", "--repeats", "1", "--seed", str(r), "--oof", str(oof), "--json", "-q",
    ] + (["--config", str(config)] if config else []) + [
        arg for flag, value in (("--features", args.features), ("--regressor", args.regressor))
        if value and config == args.config for arg in (flag, value)  # the config run's flags only
    ] + (["--group-by", args.group_by] if args.group_by else [])  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return np.array([p["predict_score"] for p in json.loads(oof.read_text())])


def in_process_oof(config: Path, labels: list[dict], target: str, args, r: int) -> np.ndarray:
    """The same predictions through ``aigvqa.pipeline``, with the modern unlabelled clips (a recipe
    with artifact dimensions learns them from their families); the model's seed is ``r`` too."""
    from aigvqa.cache import FeatureCache
    from aigvqa.data import Item
    from aigvqa.families import load_unlabelled
    from aigvqa.model import QualityModel
    from aigvqa.pipeline import RunOptions, cross_validate
    from aigvqa.recipes import load_recipe

    recipe = load_recipe(config)
    items = [Item(video=x["video"], prompt=x["prompt"], meta=x) for x in labels]
    workers = 1 if args.jobs > 1 else 2
    run = RunOptions(videos_dir=args.data / "videos", cache=FeatureCache(), workers=workers, progress=False)
    model = QualityModel(**{**recipe, "target": target, "seed": r})
    res = cross_validate(model, items, run, folds=5, repeats=1, group_by=args.group_by,
                         unlabelled=load_unlabelled(args.modern, "train"))  # fmt: skip
    return res.oof[0]


def oof_one(config: Path | None, labels: list[dict], target: str, args, work: Path, r: int) -> np.ndarray:
    """Fold seed ``r``'s out-of-fold predictions of ``config`` (or of ``--features``/``--regressor``)."""
    from aigvqa.recipes import load_recipe

    if config and "artifact_dims" in load_recipe(config):
        return in_process_oof(config, labels, target, args, r)
    return cli_oof(config, labels, target, args, work, r)


def predictions(configs: dict[str, Path | None], labels: list[dict], target: str, args, work: Path) -> dict:
    """Out-of-fold predictions (repeats, items) of each named config, one row per fold seed; with
    ``--jobs``, every (config, seed) run is one job of a single pool."""
    runs = [(who, r) for who in configs for r in range(args.repeats)]
    if args.jobs <= 1:
        out = [oof_one(configs[who], labels, target, args, work, r) for who, r in runs]
    else:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            jobs = [pool.submit(oof_one, configs[who], labels, target, args, work, r) for who, r in runs]
            out = [job.result() for job in jobs]
    return {who: np.array([p for (w, _), p in zip(runs, out, strict=True) if w == who]) for who in configs}


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
    parser.add_argument("--baseline", type=Path, help="a second recipe, run on the same folds for paired differences")
    parser.add_argument("--jobs", type=int, default=1, help="cross-validations run at a time, each in its own process")
    args = parser.parse_args()
    if not (args.data / "labels.json").exists():
        sys.exit(f"FETV labels not found under {args.data}")
    for flag, path in (("--config", args.config), ("--baseline", args.baseline)):
        if path is not None and not path.is_file():
            sys.exit(f"{flag} {path}: no such recipe file")
    labels = json.loads((args.data / "labels.json").read_text())
    ai = [x for x in labels if x["ai_generated"]]
    if not args.config:
        args.features, args.regressor = args.features or "classic,prompt", args.regressor or "blend"
    what = f"config={args.config}, " if args.config else ""
    what += f"features={args.features or 'from the recipe'}, regressor={args.regressor or 'from the recipe'}"
    print(f"FETV, {what}, {args.repeats}x 5-fold CV" + (f", folds grouped by {args.group_by}" if args.group_by else ""))
    if args.baseline:
        print(f"baseline: config={args.baseline}, on the same folds; differences are config minus baseline")
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
            y = np.array([float(x[target]) for x in subset])
            configs = {"config": args.config, **({"baseline": args.baseline} if args.baseline else {})}
            runs = predictions(configs, subset, target, args, work)
            within = subset is ai and target == "gt_score"
            figures = {who: {f"pooled Score  {name}": [score(p, y) for p in preds]} for who, preds in runs.items()}
            for who, preds in runs.items() if within else ():
                figures[who]["within-generator SROCC, AI clips, gt_score"] = [within_generator(p, y, ai) for p in preds]
            for label, values in figures["config"].items():
                report(label, values, figures.get("baseline", {}).get(label))


def within_generator(pred: np.ndarray, y: np.ndarray, clips: list[dict]) -> float:
    """Mean over the generators of the Spearman correlation inside each."""
    gens = np.array([x["generator"] for x in clips])
    return float(np.mean([stats.spearmanr(pred[gens == g], y[gens == g])[0] for g in sorted(set(gens))]))


def report(label: str, per_repeat: list[float], baseline: list[float] | None) -> None:
    """One figure's line (median over the fold seeds, then each seed); with a baseline, its line and
    the paired differences."""
    def line(text: str, values: list[float] | np.ndarray, fmt: str = ".3f") -> str:
        return f"{text:58s} median {np.median(values):{fmt}}  (seeds: " + ", ".join(f"{v:{fmt}}" for v in values) + ")"

    print(line(label, per_repeat))
    if baseline is None:
        return
    diff = np.asarray(per_repeat) - np.asarray(baseline)
    print(line("  baseline", baseline))
    print(line(f"  config - baseline: mean {diff.mean():+.4f}, lower on {int((diff < 0).sum())} of {len(diff)}", diff,
               "+.4f"))  # fmt: skip


if __name__ == "__main__":
    main()
