"""Other code's H.264, scored as the MP4 files a user has: no trip through RGB and a lossless file.

``modern_eval.py`` writes every degraded copy back losslessly, as the training families are. A
user scores the MP4s themselves. This benchmark takes ``--clips`` eval clips per source
repository of ``modern/eval`` (measure-only clips), decodes each one's first ``--frames`` frames
and encodes them with libx264 (preset medium) as MP4 files: a near-lossless stand-in for the
original (CRF 12) and three low rates (CRF 30, 35, 40). It scores the files directly and prints,
for the score and for the compression dimension, the share of a clip's ordered pairs that hold
(original best, or reading least compression), how often the CRF 30 copy is below (above) the
original, and the dimension's SROCC with the rate, pooled and within each clip.

    python benchmarks/h264_files.py [--data ../shared/data/modern] [--model default] [--clips 3]
        [--frames 48] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from modern_eval import add_clip_arguments, pair_rates, select, strength_srocc  # noqa: E402

from aigvqa.artifacts import X264_C_CODE  # noqa: E402
from aigvqa.cache import FeatureCache  # noqa: E402
from aigvqa.data import Item  # noqa: E402
from aigvqa.families import read_head  # noqa: E402
from aigvqa.model import QualityModel  # noqa: E402
from aigvqa.pipeline import RunOptions, predict  # noqa: E402
from aigvqa.video_writing import write_coded  # noqa: E402
from aigvqa.zoo import resolve_model  # noqa: E402

RATES = (12, 30, 35, 40)  # CRF 12: the original's near-lossless stand-in
# x264's C code and no timestamps: the same frames give the same file (its assembly's copies vary
# from call to call)
X264 = {"preset": "medium", "threads": "1", "flags": "+bitexact", **X264_C_CODE}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_clip_arguments(parser, clips=3)
    args = parser.parse_args()
    if not (args.data / "manifest.json").exists():
        sys.exit(f"no modern clips at {args.data} (see ../shared/data/README)")
    entries = select(args.data, args.clips)
    model = QualityModel.load(resolve_model(str(args.model)))
    with tempfile.TemporaryDirectory() as tmp:
        items = []
        for k, e in enumerate(entries):
            frames, fps = read_head(args.data / e["video"], args.frames)
            for crf in RATES:
                path = Path(tmp) / f"c{k:02d}_crf{crf}.mp4"
                write_coded(path, frames, fps, "libx264", {**X264, "crf": str(crf)})
                items.append(Item(video=str(path), prompt=e["prompt"]))
        opts = RunOptions(videos_dir=Path("/"), cache=FeatureCache(), workers=args.workers, progress=False)
        scores, table = predict(model, items, opts)
        dims = model.dimensions_array(table) if model.has_dimensions() else None
    S = scores.reshape(len(entries), len(RATES))
    pairs, first = pair_rates(S)  # the original scores highest
    print(f"H.264 MP4 files scored directly: {len(entries)} modern eval clips, first {args.frames} frames, "
          f"CRF {'/'.join(map(str, RATES))} (12: the original), model {args.model}")  # fmt: skip
    print(f"  score: pairs {pairs:.3f}, CRF 30 below the original {first:.3f}; "
          f"mean by rate {np.round(S.mean(axis=0), 3).tolist()}")  # fmt: skip
    if dims is not None:
        j = list(model.dims_.artifacts).index("compression")
        D = dims[:, j].reshape(len(entries), len(RATES))
        pairs, first = pair_rates(-D)  # the original reads the least compression
        pooled, within = strength_srocc(D)
        med = np.round(np.median(D, axis=0), 3).tolist()
        print(f"  compression dimension: SROCC pooled {pooled:.3f}, within clip {within:.3f}, pairs {pairs:.3f}, "
              f"CRF 30 above the original {first:.3f}; median by rate {med}")  # fmt: skip


if __name__ == "__main__":
    main()
