"""Throughput of ``aigvqa predict`` with 1 vs 2 (or more) worker processes.

Generates synthetic clips, trains a 'classic' model on them once, then runs the real
``aigvqa predict`` command line for each worker count, each with a cold (empty) feature
cache, and once more with the cache warm. Prints videos per second.

    python benchmarks/throughput.py                 # 48 clips, 256x192, 48 frames, workers 1,2
    python benchmarks/throughput.py --clips 96 --workers 1,2,4
    python benchmarks/throughput.py --clips 16 --size 1280x720 --frames 120 --fps 24   # 5 s 720p
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _aigvqa() -> list[str]:
    exe = Path(sys.executable).with_name("aigvqa")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from aigvqa.cli import main; main()"]


def _predict(root: Path, workers: int, cache: Path, out: Path, executor: str) -> float:
    cmd = [*_aigvqa(), "predict", str(root / "input.json"), "--model", str(root / "model"), "--videos",
           str(root / "videos"), "--out", str(out), "--workers", str(workers), "--executor", executor, "-q"]
    env = dict(os.environ, AIGVQA_CACHE_DIR=str(cache))
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--size", default="256x192", help="WIDTHxHEIGHT of the clips")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--executor", default="local", choices=["local", "ray"])
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    workers = [int(w) for w in args.workers.split(",")]

    from aigvqa.data import Item
    from aigvqa.model import QualityModel
    from aigvqa.pipeline import RunOptions, train
    from aigvqa.synthetic import make_dataset

    root = args.keep or Path(tempfile.mkdtemp(prefix="aigvqa-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    records = make_dataset(root, n_clips=args.clips, seed=0, size=(width, height), n_frames=args.frames, fps=args.fps)
    print(f"{args.clips} synthetic clips, {width}x{height}, {args.frames} frames at {args.fps} fps, in {root} "
          f"({time.perf_counter() - t:.1f} s to generate)")
    (root / "input.json").write_text(json.dumps([{"video": r["video"], "prompt": r["prompt"]} for r in records]))
    items = [Item(r["video"], r["prompt"], {"gt_score": r["gt_score"]}) for r in records]
    model, _ = train(QualityModel(features="classic"), items,
                     RunOptions(videos_dir=root / "videos", workers=max(workers), progress=False))
    model.save(root / "model")

    print(f"cpu cores: {os.cpu_count()}; executor: {args.executor}; 'aigvqa predict' end to end, "
          "process start-up included")
    print(f"{'workers':>8} {'cache':>6} {'seconds':>8} {'videos/s':>9} {'speed-up':>9}")
    base = None
    outputs = []
    for w in workers:
        cache = root / f"cache-{w}"
        cold = _predict(root, w, cache, root / f"pred-{w}.json", args.executor)
        warm = _predict(root, w, cache, root / f"pred-{w}-warm.json", args.executor)
        base = base or cold
        print(f"{w:>8} {'cold':>6} {cold:8.2f} {args.clips / cold:9.2f} {base / cold:8.2f}x")
        print(f"{w:>8} {'warm':>6} {warm:8.2f} {args.clips / warm:9.2f}")
        outputs += [(root / f"pred-{w}.json").read_bytes(), (root / f"pred-{w}-warm.json").read_bytes()]
    print("predictions identical across runs:", all(o == outputs[0] for o in outputs))


if __name__ == "__main__":
    main()
