"""Speed and memory of aigvqa's video featurisation against plain PyAV decoding, in one run.

For 5-second 24 fps H.264 clips at 1280x720 and 1920x1080 and for FETV-sized GIFs (256x256,
24 frames at 8 fps), interleaved, ``--repeats`` times:

* (a) plain decode: PyAV with its default decoder settings decodes every frame of a clip and
  converts it to RGB (``for f in container.decode(video=0): f.to_ndarray(format="rgb24")``);
* (b) fastest plain decode: the same with the decoder's own threads on
  (``thread_type = "AUTO"``), every frame decoded, none converted;
* aigvqa's marginal cost per clip: ``aigvqa predict --workers 1`` (cold cache: a new, empty
  cache folder for every run; the default model) on ``--clips`` different clips minus the same
  on one clip, divided by ``clips - 1``. Process start-up, model loading and the worker's start
  cancel out; what is left is hashing, decoding, sampling, every feature extractor, the cache
  writes and the prediction of one more clip.

It prints (a) and (b) per clip, aigvqa's marginal cost, and the ratios marginal / (a) and
marginal / (b): each repeat gives one ratio, computed from measurements taken back to back;
the median and the range over repeats are reported. Then a per-stage profile of one clip, in
this process with one OpenCV thread as in a worker (best of ``--repeats``): ``read_clip``'s
decoding and sampling, its converting/downscaling of the kept frames to RGB, and each
extractor. Finally the peak memory of ``aigvqa predict --workers 1`` on a
60-second 1080p clip, summed over its processes (the CLI and its extraction worker; Linux).

The default model is trained on FETV (``aigvqa train labels.json --features classic,lexical``,
the light install's default) when the FETV data is found, else on synthetic clips; or pass
``--model DIR``.

    python benchmarks/speed.py [--model DIR] [--clips 6] [--repeats 5] [--skip-memory]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from aigvqa.model import QualityModel
from aigvqa.registry import EXTRACTORS
from aigvqa.synthetic import make_dataset, render_clip, write_video
from aigvqa.video import read_clip

HERE = Path(__file__).resolve().parent
FETV = HERE.parent.parent / "shared" / "data" / "fetv"
# (label, width, height, frames, fps, extension)
CASES = [
    ("5 s 1280x720 24 fps H.264", 1280, 720, 120, 24, ".mp4"),
    ("5 s 1920x1080 24 fps H.264", 1920, 1080, 120, 24, ".mp4"),
    ("FETV-sized GIF, 256x256, 24 frames", 256, 256, 24, 8, ".gif"),
]


def _aigvqa() -> list[str]:
    return [sys.executable, "-m", "aigvqa"]


def render(path: Path, width: int, height: int, n_frames: int, fps: int) -> Path:
    """A synthetic scene (moving textured objects, camera jitter) written to ``path``."""
    rng = np.random.default_rng(0)
    frames, _ = render_clip(rng, [("jitter", 0.3)], size=(width, height), n_frames=n_frames, fps=fps)
    return write_video(path, frames, fps, codec="gif" if path.suffix == ".gif" else "libx264")


def make_clips(folder: Path, width: int, height: int, n_frames: int, fps: int, ext: str, count: int) -> list[Path]:
    """``count`` clips with different bytes and similar content: one rendered scene, each copy
    shifted and brightened a little."""
    folder.mkdir(parents=True, exist_ok=True)
    base = render(folder / f"base{ext}", width, height, n_frames, fps)
    clips = []
    for k in range(count):
        def variant(k=k):
            with av.open(str(base)) as container:
                for frame in container.decode(video=0):
                    rgb = frame.to_ndarray(format="rgb24").astype(np.int16)
                    yield np.clip(np.roll(rgb, 7 * k, axis=1) + 2 * k, 0, 255).astype(np.uint8)

        clips.append(write_video(folder / f"clip{k}{ext}", variant(), fps, codec="gif" if ext == ".gif" else "libx264"))
    base.unlink()
    return clips


def plain_decode(path: Path) -> float:
    """(a): PyAV's default decoder settings, every frame to RGB."""
    start = time.perf_counter()
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frame.to_ndarray(format="rgb24")
    return time.perf_counter() - start


def fastest_decode(path: Path) -> float:
    """(b): the decoder's own threads on, every frame decoded, none converted."""
    start = time.perf_counter()
    with av.open(str(path)) as container:
        container.streams.video[0].thread_type = "AUTO"
        for _ in container.decode(video=0):
            pass
    return time.perf_counter() - start


def predict_seconds(clips: list[Path], model: Path, work: Path) -> float:
    """``aigvqa predict --workers 1`` on ``clips`` with a new, empty feature cache."""
    run = tempfile.mkdtemp(dir=work)
    items = Path(run) / "items.json"
    items.write_text(json.dumps([{"video": c.name, "prompt": "a red car driving on a road"} for c in clips]))
    env = dict(os.environ, AIGVQA_CACHE_DIR=str(Path(run) / "cache"))
    cmd = [*_aigvqa(), "predict", str(items), "--videos", str(clips[0].parent), "--model", str(model),
           "--out", str(Path(run) / "pred.json"), "--workers", "1", "-q"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def stage_profile(path: Path, model: Path, repeats: int) -> dict[str, float]:
    """Seconds per stage for one clip (best of ``repeats``), with one OpenCV thread."""
    cv2.setNumThreads(1)
    loaded = QualityModel.load(model)
    extractors = [EXTRACTORS.get(name)(**config) for name, config in loaded.extractor_specs()]
    extractors = [ex for ex in extractors if ex.needs_video]
    best: dict[str, float] = {}

    def keep(key: str, seconds: float) -> None:
        best[key] = min(best.get(key, float("inf")), seconds)

    for _ in range(repeats):
        with _timed_conversion() as converting:
            start = time.perf_counter()
            clip = read_clip(path, loaded.sampling)
            read = time.perf_counter() - start
        keep("decode and sample (read_clip minus conversion)", read - converting[0])
        keep("convert/downscale the kept frames to RGB", converting[0])
        for ex in extractors:
            start = time.perf_counter()
            ex.extract(clip, "a red car driving on a road")
            keep(f"extractor {ex.name}", time.perf_counter() - start)
    return best


@contextlib.contextmanager
def _timed_conversion():
    """Adds up the seconds ``read_clip`` spends converting frames to RGB (a list of one float)."""
    import aigvqa.video as video

    owner, name = (video._Converter, "rgb") if hasattr(video, "_Converter") else (video, "_to_rgb")
    original, total = getattr(owner, name), [0.0]

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - start

    setattr(owner, name, timed)
    try:
        yield total
    finally:
        setattr(owner, name, original)


def default_model(work: Path, features: str) -> Path:
    out = work / "model"
    env = dict(os.environ, AIGVQA_CACHE_DIR=str(work / "train-cache"))
    if (FETV / "labels.json").exists():
        data, videos, what = FETV / "labels.json", FETV / "videos", "FETV (174 clips)"
    else:
        items = make_dataset(work / "train", n_clips=24, seed=0)
        data, videos, what = work / "train.json", work / "train" / "videos", "24 synthetic clips"
        data.write_text(json.dumps(items))
    subprocess.run([*_aigvqa(), "train", str(data), "--videos", str(videos), "--features", features,
                    "--out", str(out), "-q"], check=True, stdout=subprocess.DEVNULL, env=env)  # fmt: skip
    print(f"model: trained on {what}, --features {features}")
    return out


def peak_memory_mb(clip: Path, model: Path, work: Path) -> float:
    """Peak of the summed resident memory (MB) of `aigvqa predict --workers 1` on ``clip``."""
    (work / "big.json").write_text(json.dumps([{"video": clip.name, "prompt": "a long clip"}]))
    proc = subprocess.Popen(
        [*_aigvqa(), "predict", str(work / "big.json"), "--videos", str(clip.parent), "--model", str(model),
         "--out", str(work / "pred-big.json"), "--workers", "1", "-q", "--no-cache"],
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


def _spread(values: list[float], unit: str = "s") -> str:
    v = sorted(values)
    fmt = "{:.3f}" if unit == "s" else "{:.2f}"
    return f"median {fmt.format(np.median(v))}{unit} (range {fmt.format(v[0])}-{fmt.format(v[-1])}{unit})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model directory (default: train the default model)")
    parser.add_argument("--features", default="classic,lexical", help="features of the model trained here")
    parser.add_argument("--clips", type=int, default=6, help="clips per case (the marginal cost needs >= 2)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", default="720p,1080p,gif", help="comma-separated subset of 720p,1080p,gif")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if args.clips < 2:
        parser.error("--clips must be at least 2")
    chosen = {"720p": CASES[0], "1080p": CASES[1], "gif": CASES[2]}
    cases = [chosen[c.strip()] for c in args.cases.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = args.model or default_model(work, args.features)
        print(f"cpu cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.1f}")
        clips = {c[0]: make_clips(work / f"case{i}", *c[1:], args.clips) for i, c in enumerate(cases)}
        rows = {c[0]: {"a": [], "b": [], "marginal": [], "ra": [], "rb": []} for c in cases}
        for r in range(args.repeats):  # interleaved: every case and every measure in each round
            for label, paths in clips.items():
                a = float(np.mean([plain_decode(p) for p in paths]))
                b = float(np.mean([fastest_decode(p) for p in paths]))
                order = [paths[:1], paths] if r % 2 == 0 else [paths, paths[:1]]
                times = {len(s): predict_seconds(s, model, work) for s in order}
                marginal = (times[len(paths)] - times[1]) / (len(paths) - 1)
                row = rows[label]
                row["a"].append(a), row["b"].append(b), row["marginal"].append(marginal)
                row["ra"].append(marginal / a), row["rb"].append(marginal / b)
        print(f"\n{args.repeats} interleaved repeats, {args.clips} clips per case; per clip:")
        for label, row in rows.items():
            print(f"{label}:")
            print(f"  (a) plain PyAV decode to RGB, default settings:  {_spread(row['a'])}")
            print(f"  (b) fastest plain PyAV decode (threads, no RGB): {_spread(row['b'])}")
            print(f"  aigvqa predict --workers 1, marginal per clip:   {_spread(row['marginal'])}")
            print(f"  ratio marginal / (a): {_spread(row['ra'], 'x')}   marginal / (b): {_spread(row['rb'], 'x')}")
        print("\nper-stage profile of one clip (this process, one OpenCV thread, best of repeats):")
        for label, paths in clips.items():
            stages = stage_profile(paths[0], model, args.repeats)
            total = sum(stages.values())
            print(f"{label}: total {total:.3f} s")
            for key, seconds in stages.items():
                print(f"  {key:48s} {seconds:.3f} s")
        if not args.skip_memory:
            big = render(work / "big1080.mp4", 1920, 1080, 60 * 24, 24)
            print(f"\npeak memory of `aigvqa predict --workers 1` on a 60 s 1080p clip: "
                  f"{peak_memory_mb(big, model, work):.0f} MB (target < 1500 MB)")  # fmt: skip


if __name__ == "__main__":
    main()
