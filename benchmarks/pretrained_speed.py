"""CPU cost of the ``effnet`` extractor (EfficientNet-Lite2, aigvqa[pretrained]), one torch thread.

Prints the one-off model load, the cost per frame at each input size and per clip (the
default 8 frames at 260 px, from a decoded 5 s 1280x720 clip), next to the reference figure of
issue 10 (about 0.14 s per frame at 260 px, one thread, on a loaded 2-core machine).

    python benchmarks/pretrained_speed.py [--repeats 5] [--sizes 224,260]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

REFERENCE_S_PER_FRAME = 0.14  # issue 10, 260 px, one thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="224,260")
    args = parser.parse_args()

    import torch

    from aigvqa.features.pretrained import _MODELS, EfficientNetLiteFeatures
    from aigvqa.synthetic import write_video
    from aigvqa.video import read_clip

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        path = Path(tmp) / "clip.mp4"
        write_video(path, (rng.integers(0, 256, size=(720, 1280, 3), dtype=np.uint8) for _ in range(120)), fps=24)
        clip = read_clip(path)
    print(f"effnet on {len(clip.frames)} sampled frames of a 5 s 1280x720 clip, 1 torch thread, best of {args.repeats}")
    start = time.perf_counter()
    EfficientNetLiteFeatures()._model()
    print(f"  model load (once per process): {time.perf_counter() - start:.2f} s")
    for size in (int(s) for s in args.sizes.split(",")):
        ex = EfficientNetLiteFeatures(image_size=size)
        ex.extract(clip, "")  # warm-up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            ex.extract(clip, "")
            times.append(time.perf_counter() - start)
        best = min(times)
        ref = f"  (reference {REFERENCE_S_PER_FRAME:.2f} s/frame)" if size == 260 else ""
        print(
            f"  {size} px: {best / len(clip.frames):.3f} s per frame, {best:.2f} s per clip "
            f"(median {np.median(times):.2f} s){ref}"
        )
        _MODELS.clear()


if __name__ == "__main__":
    main()
