"""Rebuild a bundled model from its recipe and its training data (deterministic: same predictions).

    python tools/build_bundled_model.py [--name default] [--data ../shared/data/fetv]
        [--modern ../shared/data/modern] [--workers 2] [--out DIR]

Trains ``recipes/<name>_model.json`` on ``DATA/labels.json`` (videos in ``DATA/videos``), and, when
the recipe learns artifact dimensions, on the unlabelled clips of ``MODERN/train`` too (listed in
``MODERN/manifest.json``; its ``eval`` clips are never used), and writes
the model directory to ``src/aigvqa/zoo/<name>/``, keeping its model card (``card.json``, written
by hand from the measured figures of ``benchmarks/fetv.py`` and ``benchmarks/sensitivity.py``).
``--out`` writes the model directory elsewhere (a candidate recipe that is not bundled).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aigvqa.cache import FeatureCache
from aigvqa.data import load_items
from aigvqa.families import load_unlabelled
from aigvqa.model import QualityModel
from aigvqa.pipeline import RunOptions, train
from aigvqa.recipes import load_recipe
from aigvqa.zoo import CARD_FILE

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="default")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fetv")
    parser.add_argument(
        "--modern",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "modern",
        help="unlabelled clips for the artifact dimensions (their train split)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="model directory to write (default: src/aigvqa/zoo/NAME)")
    args = parser.parse_args()
    recipe_path = ROOT / "recipes" / f"{args.name}_model.json"
    if not (args.data / "labels.json").exists():
        sys.exit(f"{args.data}: no labels.json (pass --data with the FETV folder)")
    recipe = load_recipe(recipe_path)
    items = load_items(args.data / "labels.json", target=recipe.get("target", "gt_score"), require_target=True)
    run = RunOptions(videos_dir=args.data / "videos", cache=FeatureCache(), workers=args.workers, progress=True)
    unlabelled = None
    if recipe.get("artifact_dims"):
        if not (args.modern / "manifest.json").exists():
            sys.exit(f"{args.modern}: no manifest.json (pass --modern with the modern clips' folder)")
        unlabelled = load_unlabelled(args.modern, "train")
    model, table = train(QualityModel(**recipe), items, run, unlabelled=unlabelled)
    if table.errors:
        sys.exit(f"{len(table.errors)} training videos could not be read: {table.errors}")
    out = args.out or ROOT / "src" / "aigvqa" / "zoo" / args.name
    card = (out / CARD_FILE).read_text(encoding="utf-8") if (out / CARD_FILE).exists() else None
    model.save(out)
    if card is not None:
        (out / CARD_FILE).write_text(card, encoding="utf-8")
    size = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    extra = f", dimensions from {len(unlabelled)} unlabelled clips' families too" if unlabelled else ""
    print(f"{out}: {model.n_train_} training rows ({len(items)} clips + copies{extra}), {size:.1f} MB")


if __name__ == "__main__":
    main()
