"""Rebuild a bundled model from its recipe and its training data (deterministic: same predictions).

    python tools/build_bundled_model.py [--name default] [--data ../shared/data/fetv] [--workers 2]

Trains ``recipes/<name>_model.json`` on ``DATA/labels.json`` (videos in ``DATA/videos``) and writes
the model directory to ``src/aigvqa/zoo/<name>/``, keeping its model card (``card.json``, written
by hand from the measured figures of ``benchmarks/fetv.py`` and ``benchmarks/sensitivity.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aigvqa.cache import FeatureCache
from aigvqa.data import load_items
from aigvqa.model import QualityModel
from aigvqa.pipeline import RunOptions, train
from aigvqa.zoo import CARD_FILE

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="default")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fetv")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    recipe_path = ROOT / "recipes" / f"{args.name}_model.json"
    if not (args.data / "labels.json").exists():
        sys.exit(f"{args.data}: no labels.json (pass --data with the FETV folder)")
    recipe = {k: v for k, v in json.loads(recipe_path.read_text()).items() if not k.startswith("_")}
    items = load_items(args.data / "labels.json", target=recipe.get("target", "gt_score"), require_target=True)
    run = RunOptions(videos_dir=args.data / "videos", cache=FeatureCache(), workers=args.workers, progress=True)
    model, table = train(QualityModel(**recipe), items, run)
    if table.errors:
        sys.exit(f"{len(table.errors)} training videos could not be read: {table.errors}")
    out = ROOT / "src" / "aigvqa" / "zoo" / args.name
    card = (out / CARD_FILE).read_text(encoding="utf-8") if (out / CARD_FILE).exists() else None
    model.save(out)
    if card is not None:
        (out / CARD_FILE).write_text(card, encoding="utf-8")
    size = sum(p.stat().st_size for p in out.iterdir()) / 1e6
    print(f"{out}: {model.n_train_} training rows ({len(items)} clips + copies), {size:.1f} MB")


if __name__ == "__main__":
    main()
