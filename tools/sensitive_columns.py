"""The video columns an artifact moves most, measured on a recipe's training families.

For every column of the recipe's video extractors: the mean |change| a copy with ``--artifact`` at a
severity up to ``--max-severity`` makes to its clean clip's value, divided by the column's spread
(standard deviation) across the clean clips: 1.0 means the artifact moves the column as far as one
clip differs from another. Prints the columns at or above ``--threshold``, most moved first, and
with ``--json`` the list as a recipe's block ``"exclude"`` takes it.

The families are those the recipe's artifact dimensions learn from (FETV's clips and the modern
``train/`` clips, graded copies at full size); their features come from the cache when a build ran.

    python tools/sensitive_columns.py [--recipe recipes/default_model.json] [--artifact noise]
        [--max-severity 0.2] [--threshold 0.6] [--data ../shared/data/fetv]
        [--modern ../shared/data/modern] [--json]

The bundled ``default``'s video block excludes the noise columns this prints with its defaults
(see docs/artifact-dimensions.md, "What the video block does not read").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from aigvqa.cache import FeatureCache
from aigvqa.data import load_items
from aigvqa.dimensions import VIDEO_PREFIXES
from aigvqa.families import load_unlabelled
from aigvqa.model import QualityModel
from aigvqa.pipeline import RunOptions, featurize_unique, with_families
from aigvqa.recipes import load_recipe

ROOT = Path(__file__).resolve().parents[1]


def sensitivity(values: np.ndarray, meta: list[dict], artifact: str, max_severity: float) -> np.ndarray:
    """Per column: mean |copy - its clean clip| over the artifact's copies, over the clean clips' spread."""
    clean = {m["family"]: i for i, m in enumerate(meta) if m["artifact"] is None and m.get("scale", 1.0) == 1.0}
    rows = [i for i, m in enumerate(meta) if m["artifact"] == artifact and m["severity"] <= max_severity
            and m.get("scale", 1.0) == 1.0 and m["family"] in clean]  # fmt: skip
    if not rows:
        raise ValueError(f"no copies with {artifact!r} up to severity {max_severity} in the families")
    spread = np.nanstd(values[sorted(clean.values())], axis=0)
    moved = np.nanmean(np.abs(values[rows] - values[[clean[meta[i]["family"]] for i in rows]]), axis=0)
    return np.where(spread > 0, moved / np.where(spread > 0, spread, 1.0), 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "default_model.json")
    parser.add_argument("--artifact", default="noise")
    parser.add_argument("--max-severity", type=float, default=0.2)
    parser.add_argument("--threshold", type=float, default=0.6)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fetv")
    parser.add_argument("--modern", type=Path, default=ROOT.parent / "shared" / "data" / "modern")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print the columns as a JSON list")
    args = parser.parse_args()
    for path in (args.data / "labels.json", args.modern / "manifest.json"):
        if not path.exists():
            sys.exit(f"{path}: not found (pass --data with the FETV folder and --modern with the modern clips)")
    recipe = load_recipe(args.recipe)
    model = QualityModel(**recipe)
    if not model.artifact_dims:
        sys.exit(f"{args.recipe}: the recipe has no artifact_dims, so no families")
    items = load_items(args.data / "labels.json", target=recipe.get("target", "gt_score"), require_target=True)
    run = RunOptions(videos_dir=args.data / "videos", cache=FeatureCache(), workers=args.workers, progress=False)
    families = with_families(model, items, run, load_unlabelled(args.modern, "train"))
    table = featurize_unique(model, families.items, run)
    try:
        rel = sensitivity(table.values, [m.meta for m in families.items], args.artifact, args.max_severity)
    except ValueError as exc:
        sys.exit(str(exc))
    video = np.array([n.startswith(VIDEO_PREFIXES) for n in table.names])
    picked = [j for j in np.argsort(-rel, kind="stable") if rel[j] >= args.threshold and video[j]]
    if args.json:
        print(json.dumps([table.names[j] for j in picked], indent=1))
        return
    print(f"{args.artifact} up to severity {args.max_severity}: columns moved by >= {args.threshold} of their spread")
    for j in picked:
        print(f"  {table.names[j]:<40} {rel[j]:.2f}")


if __name__ == "__main__":
    main()
