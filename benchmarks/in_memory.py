"""Scoring frames held in memory against scoring the same clip from a file (e.g. as a reward).

For each clip size, writes one synthetic clip as H.264 MP4 and as lossless FFV1 MKV, decodes
the MKV to a (T, H, W, 3) array, then times, in this process with one warm ``aigvqa.load``
scorer and no feature cache:

* ``file mp4`` / ``file mkv``: ``scorer.score(path)`` (decode + features + model);
* ``memory``: ``scorer.score(frames, fps=...)`` (features + model; the caller already holds frames);
* ``memory, no reasons``: the same without the explanation (``reasons=False``), the cheapest
  call for a reward.

Prints the median seconds per clip over ``--repeats`` and checks that memory and the lossless
file give the same score.

    python benchmarks/in_memory.py                       # 256x256 (FETV-like), 480p, 720p
    python benchmarks/in_memory.py --sizes 1280x720 --frames 120 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import av
import numpy as np


def _frames(width: int, height: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    base = rng.integers(0, 50, (height, width, 3))
    return np.clip([base + np.stack([(x + 4 * t) % 256, (y + 2 * t) % 256, (x + y) % 256], -1) * 0.8
                    for t in range(n)], 0, 255).astype(np.uint8)  # fmt: skip


def _write_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "18"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _median_time(fn, repeats: int) -> tuple[float, float]:
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256x256,854x480,1280x720")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()

    import aigvqa
    from aigvqa.augment import write_lossless

    scorer = aigvqa.load(args.model, cache=False)
    print(f"model '{args.model}', {args.frames} frames at {args.fps} fps, median of {args.repeats} runs, s/clip")
    print(f"{'size':>10} {'file mp4':>9} {'file mkv':>9} {'memory':>9} {'memory, no reasons':>19} {'same score':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            frames = _frames(w, h, args.frames)
            mp4, mkv = Path(tmp) / f"{size}.mp4", Path(tmp) / f"{size}.mkv"
            _write_mp4(mp4, frames, args.fps)
            write_lossless(mkv, list(frames), args.fps)
            with av.open(str(mkv)) as c:
                decoded = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
            scorer.score(decoded, fps=args.fps)  # warm up (imports, first LightGBM call)
            t_mp4, _ = _median_time(lambda p=mp4: scorer.score(p), args.repeats)
            t_mkv, r_file = _median_time(lambda p=mkv: scorer.score(p), args.repeats)
            t_mem, r_mem = _median_time(lambda d=decoded: scorer.score(d, fps=args.fps), args.repeats)
            t_raw, _ = _median_time(lambda d=decoded: scorer.score(d, fps=args.fps, reasons=False), args.repeats)
            same = abs(r_file.score - r_mem.score) <= 1e-6
            print(f"{size:>10} {t_mp4:9.3f} {t_mkv:9.3f} {t_mem:9.3f} {t_raw:19.3f} {str(same):>11}")


if __name__ == "__main__":
    main()
