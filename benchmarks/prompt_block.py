"""How far the prompt block moves a model's scores, compared with the video block.

A stacking model's score is its baseline plus one share per block (``QualityModel.explain_blocks``).
This prints the spread of each block's share: on the modern eval clips with their own prompts
(video and prompt), and on the challenge's prompts (Q-Eval-Video, prompt only: no videos there),
whose wording FETV's 35 prompts never covered.

    python benchmarks/prompt_block.py [--model default] [--modern ../shared/data/modern]
        [--qeval ../shared/data/qeval_video] [--clips 2] [--frames 24] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import modern_eval  # noqa: E402

from aigvqa.cache import FeatureCache  # noqa: E402
from aigvqa.data import Item  # noqa: E402
from aigvqa.extract import extract_features  # noqa: E402
from aigvqa.model import QualityModel  # noqa: E402
from aigvqa.pipeline import RunOptions, featurize  # noqa: E402
from aigvqa.zoo import resolve_model  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"


def spread(x: np.ndarray) -> dict[str, float]:
    x = x[np.isfinite(x)]
    return {"n": int(len(x)), "median_abs": float(np.median(np.abs(x))), "p90_abs": float(np.quantile(np.abs(x), 0.9)),
            "std": float(x.std()), "range": [float(x.min()), float(x.max())]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--modern", type=Path, default=SHARED / "modern")
    parser.add_argument("--qeval", type=Path, default=SHARED / "qeval_video")
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    model = QualityModel.load(resolve_model(args.model))
    cache = FeatureCache()
    out = {}
    if (args.modern / "manifest.json").exists():
        entries = [e for e in modern_eval.select(args.modern, args.clips) if e["prompt"]]
        sets = [modern_eval.make_clip_set(e, args.modern, cache.root / "modern_eval", args.frames) for e in entries]
        items = [Item(video=s["original"], prompt=e["prompt"]) for e, s in zip(entries, sets, strict=True)]
        table = featurize(model, items, RunOptions(videos_dir=Path("/"), cache=cache, progress=False))
        shares, _ = model.explain_blocks(table)
        out["modern_eval"] = {k: spread(v) for k, v in shares.items()}
    if (args.qeval / "test.json").exists():
        prompts = sorted({x["prompt"] for x in json.loads((args.qeval / "test.json").read_text())})
        specs = [(n, c) for n, c in model.extractor_specs() if n in ("lexical", "words")]
        ptab = extract_features([Item(video="", prompt=p) for p in prompts], specs, progress=False)
        full = np.zeros((len(prompts), len(model.feature_names_)))
        for j, name in enumerate(model.feature_names_):
            if name in ptab.names:
                full[:, j] = ptab.values[:, ptab.names.index(name)]
        shares = model.regressor_.block_contributions(full)
        out["qeval_test_prompts"] = {"prompt": spread(shares["prompt"])}
    for where, blocks in out.items():
        for block, s in blocks.items():
            lo, hi = s["range"]
            print(f"{where:<20} {block:<10} n={s['n']:<5} median |share| {s['median_abs']:.3f}  "
                  f"90th pct {s['p90_abs']:.3f}  std {s['std']:.3f}  range {lo:+.2f}..{hi:+.2f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
