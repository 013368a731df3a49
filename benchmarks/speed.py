"""Speed and memory of the classic CPU model against plain PyAV decoding.

1. A 5-second 1280x720 24 fps H.264 clip: time PyAV takes to decode all frames to RGB once,
   versus the marginal cost of featurising it for `aigvqa predict` (cold cache, one worker:
   decode + sample + every video feature extractor of the default model).
2. Peak resident memory of `aigvqa predict --workers 1` on a 60-second 1080p clip, summed over its
   processes (the CLI and its extraction worker; cold cache; Linux).

    python benchmarks/speed.py [--features classic] [--skip-memory]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from aigvqa.extract import VideoTask, run_video_task
from aigvqa.features import resolve_features
from aigvqa.registry import EXTRACTORS
from aigvqa.synthetic import render_clip, write_video
from aigvqa.video import SamplingConfig


def make_clip(path: Path, width: int, height: int, seconds: int, fps: int = 24) -> Path:
    rng = np.random.default_rng(0)
    frames, _ = render_clip(rng, [("jitter", 0.3)], size=(width, height), n_frames=seconds * fps, fps=fps)
    return write_video(path, frames, fps)


def decode_rgb_seconds(path: Path) -> float:
    start = time.perf_counter()
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frame.to_ndarray(format="rgb24")
    return time.perf_counter() - start


def extract_seconds(path: Path, features: str) -> float:
    specs = tuple((n, {}) for n in resolve_features(features) if EXTRACTORS.get(n).needs_video)
    task = VideoTask(0, str(path), specs, SamplingConfig(), None)
    run_video_task(task)  # warm-up: imports, OpenCV/FFmpeg initialisation
    start = time.perf_counter()
    result = run_video_task(task)
    elapsed = time.perf_counter() - start
    if result.error:
        raise SystemExit(f"extraction failed: {result.error}")
    return elapsed


def peak_memory_mb(clip: Path, work: Path) -> float:
    """Train a tiny model, then run `aigvqa predict --workers 1` on ``clip`` and report the peak of
    the summed resident memory of all its processes (MB)."""
    from aigvqa.synthetic import make_dataset

    items = make_dataset(work / "train", n_clips=12, seed=0)
    (work / "train.json").write_text(json.dumps(items))
    env_cmd = [sys.executable, "-m", "aigvqa"]
    subprocess.run(
        [*env_cmd, "train", str(work / "train.json"), "--videos", str(work / "train" / "videos"),
         "--out", str(work / "model"), "--features", "classic", "--workers", "1", "-q", "--no-cache"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    (work / "big.json").write_text(json.dumps([{"video": clip.name, "prompt": "a long clip"}]))
    proc = subprocess.Popen(
        [*env_cmd, "predict", str(work / "big.json"), "--videos", str(clip.parent), "--model", str(work / "model"),
         "--out", str(work / "pred.json"), "--workers", "1", "-q", "--no-cache"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    peak = 0
    while proc.poll() is None:  # the whole process tree: the CLI, the pool's server and worker
        peak = max(peak, _tree_rss_kb(proc.pid))
        time.sleep(0.05)
    if proc.returncode:
        raise SystemExit(f"aigvqa predict failed with exit code {proc.returncode}")
    return peak / 1024


def _tree_rss_kb(root: int) -> int:
    """Summed resident memory (kB) of ``root`` and all its descendants (Linux /proc)."""
    parent, rss = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        parent[int(entry.name)] = int(fields[1])
        rss[int(entry.name)] = next((int(line.split()[1]) for line in status.splitlines()
                                     if line.startswith("VmRSS:")), 0)  # fmt: skip
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [c for c, p in parent.items() if p == pid and c not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", default="classic")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = make_clip(work / "clip720.mp4", 1280, 720, 5)
        # interleaved, so that both see the same machine load; the ratio of each pair is reported
        pairs = [(decode_rgb_seconds(clip), extract_seconds(clip, args.features)) for _ in range(args.repeats)]
        decode, extract = min(d for d, _ in pairs), min(e for _, e in pairs)
        ratios = sorted(e / d for d, e in pairs)
        print("5 s 1280x720 24 fps H.264 clip (120 frames), best of", args.repeats)
        print(f"  PyAV decode of all frames to RGB:      {decode:.3f} s")
        print(f"  aigvqa featurise ({args.features}):        {extract:.3f} s  = {extract / decode:.2f}x decode")
        print(f"  per interleaved pair: median {np.median(ratios):.2f}x, range {ratios[0]:.2f}-{ratios[-1]:.2f}x")
        if not args.skip_memory:
            big = make_clip(work / "big1080.mp4", 1920, 1080, 60)
            print(f"peak memory of `aigvqa predict` on a 60 s 1080p clip: {peak_memory_mb(big, work):.0f} MB")


if __name__ == "__main__":
    main()
