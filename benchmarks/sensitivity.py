"""The artifact-sensitivity contract of a recipe, on real clips its model never trained on.

FETV's clips are split into folds grouped by prompt; for each fold the recipe is retrained
(augmentation and artifact dimensions included; the dimensions also learn from the modern
``train`` clips' families) without that fold's prompts, then every held-out clip is scored with
its degraded copies (9 artifacts x trace/mild/medium/strong, 0.1/0.3/0.6/0.9, seeds disjoint from
training) and its half- and double-size copies. Prints per artifact the mean score at each level,
the share of ordered pairs that hold and of original > trace, beside the contract's targets (0.95
overall, 0.90 per artifact, 0.90 original > trace), and the median score change under rescaling.

With ``--modern-clips N`` it then measures the modern ``eval`` clips (never trained on) with the
model given by ``--model`` (``benchmarks/modern_eval.py``: the same four severities, artifacts
written by other code, the invariances and the dimensions' validation).

    python benchmarks/sensitivity.py [--data ../shared/data/fetv] [--config recipes/default_model.json]
        [--modern ../shared/data/modern] [--folds 5] [--clips N] [--modern-clips 3 --frames 40 --model default]
        [--workers 2] [--json out.json] [--per-clip out.npz]

``--per-clip`` also saves, for every scored video (each fold's held-out originals, then their
copies in the contract's order), the score, the penalty's factor and the artifact dimensions,
so that a guard acting on top of the score can be measured on these clips without retraining.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aigvqa.cache import FeatureCache
from aigvqa.data import load_items
from aigvqa.families import load_unlabelled
from aigvqa.model import QualityModel
from aigvqa.pipeline import RunOptions, fold_ids, predict, train
from aigvqa.recipes import load_recipe
from aigvqa.sensitivity import (
    FIRST_STEP_TARGET,
    PAIR_TARGET,
    PER_ARTIFACT_TARGET,
    SEVERITIES,
    SensitivityResult,
    contract_variants,
    measure,
)

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "fetv"
DEFAULT_MODERN = HERE.parent.parent / "shared" / "data" / "modern"


def run(args: argparse.Namespace, per_clip: list[dict[str, np.ndarray]] | None = None) -> SensitivityResult:
    items = load_items(args.data / "labels.json", target="gt_score", require_target=True)
    videos = args.data / "videos"
    cache = FeatureCache()
    opts = RunOptions(videos_dir=videos, cache=cache, workers=args.workers, progress=False)
    ids = fold_ids(items, args.folds, 0, "prompt")
    recipe = load_recipe(args.config)
    unlabelled = load_unlabelled(args.modern, "train") if recipe.get("artifact_dims") else None
    parts: list[SensitivityResult] = []
    for k in range(args.folds):
        start = time.perf_counter()
        train_items = [it for it, f in zip(items, ids, strict=True) if f != k]
        held = [it for it, f in zip(items, ids, strict=True) if f == k]
        if args.clips:
            rng = np.random.default_rng(k)
            held = [held[i] for i in sorted(rng.choice(len(held), min(args.clips, len(held)), replace=False))]
        model, _ = train(QualityModel(**recipe), train_items, opts, unlabelled=unlabelled)
        abs_opts = RunOptions(videos_dir=Path("/"), cache=cache, workers=args.workers, progress=False)

        def score(its, m=model, o=abs_opts, fold=k):
            scores, table = predict(m, its, o)
            if per_clip is not None:
                has_dims = m.dims_ is not None
                dims = m.dimensions_array(table) if has_dims else np.zeros((len(scores), 0))
                per_clip.append({"scores": scores, "factors": m.penalty_factors(table), "dims": dims,
                                 "fold": np.full(len(scores), fold),
                                 "artifacts": np.array(m.dims_.artifacts if has_dims else [], dtype=str)})  # fmt: skip
            return scores

        parts.append(measure(score, held, videos, cache.root))
        if per_clip:  # saved after every fold
            save_per_clip(args.per_clip, per_clip)
        print(f"fold {k + 1}/{args.folds}: {len(train_items)} training clips, {len(held)} held out "
              f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)  # fmt: skip
    return SensitivityResult.concatenate(parts)


def save_per_clip(path: Path, per_clip: list[dict[str, np.ndarray]]) -> None:
    """Write the folds' per-video rows (``--per-clip``) to one ``.npz``."""
    rows = {k: np.concatenate([p[k] for p in per_clip]) for k in per_clip[0] if k != "artifacts"}
    np.savez(path, **rows, artifacts=per_clip[0]["artifacts"], variants=len(contract_variants("")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--config", type=Path, default=HERE.parent / "recipes" / "default_model.json")
    parser.add_argument("--modern", type=Path, default=DEFAULT_MODERN)
    parser.add_argument("--modern-clips", type=int, default=0, help="modern eval clips per source (0: skip)")
    parser.add_argument("--frames", type=int, default=40, help="frames kept of each modern eval clip")
    parser.add_argument("--model", default="default", help="the model measured on the modern eval clips")
    parser.add_argument("--skip-fetv", action="store_true", help="measure the modern eval clips only")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--clips", type=int, default=0, help="held-out clips scored per fold (0: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the result as JSON")
    parser.add_argument("--per-clip", type=Path, help="also save each scored video's score, factor and dimensions")
    args = parser.parse_args()
    if not (args.data / "labels.json").exists():
        sys.exit(f"{args.data}: no labels.json (FETV not found; pass --data)")
    out = {}
    if not args.skip_fetv:
        result = run(args, [] if args.per_clip else None)
        levels = list(SEVERITIES)
        print(f"{len(result.original)} held-out clips, recipe {args.config.name}, {args.folds} folds grouped by prompt")
        print(f"{'artifact':<12} {'original':>8} " + " ".join(f"{lv:>7}" for lv in levels) + "   pairs  first  target")
        for row in result.table():
            print(f"{row['artifact']:<12} {row['original']:8.3f} " + " ".join(f"{row[lv]:7.3f}" for lv in levels)
                  + f"   {row['pairs']:.3f}  {row['first_step']:.3f}  >= {PER_ARTIFACT_TARGET:.2f}")  # fmt: skip
        targets = f">= {PAIR_TARGET:.2f} / {FIRST_STEP_TARGET:.2f}"
        print(f"{'overall':<12} {'':8} " + " " * 8 * len(levels)
              + f"  {result.overall():.3f}  {result.first_step_rate():.3f}  {targets}")  # fmt: skip
        for s in result.rescaled:
            print(f"scale x{s:g}: median |score change| {result.scale_shift(s):.3f}")
        print("contract met" if result.passes() else "contract NOT met")
        out["fetv"] = result.to_dict()
    if args.modern_clips:
        import modern_eval

        margs = argparse.Namespace(data=args.modern, model=args.model, clips=args.modern_clips, frames=args.frames,
                                   workers=args.workers)  # fmt: skip
        out["modern"] = modern_eval.run(margs)
        modern_eval.report(out["modern"])
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
