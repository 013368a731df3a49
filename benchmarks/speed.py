"""Speed and memory of aigvqa's video featurisation against plain PyAV decoding, in one run.

For 5-second 24 fps H.264 clips at 1280x720 and 1920x1080, of a textured scene (costly to
decode) and of a low-detail one (cheap to decode), and for FETV-sized GIFs (256x256, 24 frames
at 8 fps), interleaved, ``--repeats`` times:

* (a) plain decode: PyAV with its default decoder settings decodes every frame of a clip and
  converts it to RGB (``for f in container.decode(video=0): f.to_ndarray(format="rgb24")``);
* (a') the same, every frame converted by one reused swscale context (``to_ndarray`` builds a
  new one per frame, which FFmpeg 8 makes costly and sensitive to machine load);
* (b) fastest plain decode: the same with the decoder's own threads on
  (``thread_type = "AUTO"``), every frame decoded, none converted;
* aigvqa's marginal cost per clip: ``aigvqa predict --workers 1`` (cold cache: a new, empty
  cache folder for every run; the default model) on ``--clips`` different clips minus the same
  on one clip, divided by ``clips - 1``. Process start-up, model loading and the worker's start
  cancel out; what is left is hashing, decoding, sampling, every feature extractor, the cache
  writes and the prediction of one more clip.

It prints (a), (a') and (b) per clip, aigvqa's marginal cost, and the ratios of the marginal
cost to each: each repeat gives one ratio, computed from measurements taken back to back;
the median and the range over repeats are reported. Then a per-stage profile of one clip, in
this process with one OpenCV thread and one core, serially (best of ``--repeats``): ``read_clip``'s
decoding and sampling, its converting/downscaling of the kept frames to RGB, and each
extractor. Finally the peak memory of ``aigvqa predict --workers 1`` on a
60-second 1080p clip, summed over its processes (the CLI and its extraction worker; Linux).

The model is the bundled ``default`` unless ``--model`` names another (a directory or a bundled
name).

    python benchmarks/speed.py [--model DIR|NAME] [--clips 6] [--repeats 5] [--cases 720p,gif,...]
                               [--skip-memory]
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
from av.video.reformatter import VideoReformatter

from aigvqa.model import QualityModel
from aigvqa.registry import EXTRACTORS
from aigvqa.synthetic import render_clip, write_video
from aigvqa.video import read_clip
from aigvqa.zoo import resolve_model

HERE = Path(__file__).resolve().parent
# (label, width, height, frames, fps, extension, scene)
CASES = {
    "720p": ("5 s 1280x720 24 fps H.264, textured scene", 1280, 720, 120, 24, ".mp4", "textured"),
    "1080p": ("5 s 1920x1080 24 fps H.264, textured scene", 1920, 1080, 120, 24, ".mp4", "textured"),
    "720p-flat": ("5 s 1280x720 24 fps H.264, low-detail scene", 1280, 720, 120, 24, ".mp4", "flat"),
    "1080p-flat": ("5 s 1920x1080 24 fps H.264, low-detail scene", 1920, 1080, 120, 24, ".mp4", "flat"),
    "gif": ("FETV-sized GIF, 256x256, 24 frames", 256, 256, 24, 8, ".gif", "textured"),
}


def _aigvqa() -> list[str]:
    return [sys.executable, "-m", "aigvqa"]


def _flat_frames(width: int, height: int, n_frames: int):
    """A low-detail scene: two drifting colour ramps and a moving white block (cheap to decode)."""
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(n_frames):
        frame = np.empty((height, width, 3), np.uint8)
        frame[..., 0] = (xx + 4 * i) % 256
        frame[..., 1] = (yy + 2 * i) % 256
        frame[..., 2] = 128
        x0 = (width // 25 + 5 * i) % max(1, width - width // 6)
        frame[height // 4 : height // 2, x0 : x0 + width // 6] = 255
        yield frame


def render(path: Path, width: int, height: int, n_frames: int, fps: int, scene: str = "textured") -> Path:
    """A synthetic scene written to ``path``: ``textured`` (moving textured objects, camera
    jitter; costly to decode) or ``flat`` (:func:`_flat_frames`)."""
    if scene == "flat":
        frames = _flat_frames(width, height, n_frames)
    else:
        frames, _ = render_clip(np.random.default_rng(0), [("jitter", 0.3)], size=(width, height),
                                n_frames=n_frames, fps=fps)  # fmt: skip
    return write_video(path, frames, fps, codec="gif" if path.suffix == ".gif" else "libx264")


def make_clips(folder: Path, width: int, height: int, n_frames: int, fps: int, ext: str, scene: str,
               count: int) -> list[Path]:  # fmt: skip
    """``count`` clips with different bytes and similar content: one rendered scene, each copy
    shifted and brightened a little."""
    folder.mkdir(parents=True, exist_ok=True)
    base = render(folder / f"base{ext}", width, height, n_frames, fps, scene)
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


def plain_decode_reused(path: Path) -> float:
    """(a'): as (a), but every frame converted by one reused swscale context
    (``VideoReformatter``) instead of a new one per frame."""
    reformatter = VideoReformatter()
    start = time.perf_counter()
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            reformatter.reformat(frame, format="rgb24").to_ndarray()
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
    """Seconds per stage for one clip (best of ``repeats``), with one OpenCV thread and one core
    for the video (no decoding thread), so that the stages run one after the other and add up."""
    from aigvqa.threads import set_worker_cores

    cv2.setNumThreads(1)
    set_worker_cores(1)
    loaded = QualityModel.load(resolve_model(model))
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
    parser.add_argument("--model", default="default", help="model directory or bundled name (default: default)")
    parser.add_argument("--clips", type=int, default=6, help="clips per case (the marginal cost needs >= 2)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if args.clips < 2:
        parser.error("--clips must be at least 2")
    unknown = sorted({c.strip() for c in args.cases.split(",")} - set(CASES))
    if unknown:
        parser.error(f"unknown cases {', '.join(unknown)}; known: {', '.join(CASES)}")
    cases = [CASES[c.strip()] for c in args.cases.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = args.model
        print(f"model: {model}")
        print(f"cpu cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.1f}")
        clips = {c[0]: make_clips(work / f"case{i}", *c[1:], args.clips) for i, c in enumerate(cases)}
        rows = {c[0]: {"a": [], "a2": [], "b": [], "marginal": [], "ra": [], "ra2": [], "rb": []} for c in cases}
        for r in range(args.repeats):  # interleaved: every case and every measure in each round
            for label, paths in clips.items():
                a = float(np.mean([plain_decode(p) for p in paths]))
                a2 = float(np.mean([plain_decode_reused(p) for p in paths]))
                b = float(np.mean([fastest_decode(p) for p in paths]))
                order = [paths[:1], paths] if r % 2 == 0 else [paths, paths[:1]]
                times = {len(s): predict_seconds(s, model, work) for s in order}
                marginal = (times[len(paths)] - times[1]) / (len(paths) - 1)
                row = rows[label]
                row["a"].append(a), row["a2"].append(a2), row["b"].append(b), row["marginal"].append(marginal)
                row["ra"].append(marginal / a), row["ra2"].append(marginal / a2), row["rb"].append(marginal / b)
        print(f"\n{args.repeats} interleaved repeats, {args.clips} clips per case; per clip:")
        for label, row in rows.items():
            print(f"{label}:")
            print(f"  (a) plain PyAV decode to RGB, default settings:  {_spread(row['a'])}")
            print(f"  (a') the same, one reused swscale context:      {_spread(row['a2'])}")
            print(f"  (b) fastest plain PyAV decode (threads, no RGB): {_spread(row['b'])}")
            print(f"  aigvqa predict --workers 1, marginal per clip:   {_spread(row['marginal'])}")
            print(f"  ratio marginal / (a):  {_spread(row['ra'], 'x')}")
            print(f"  ratio marginal / (a'): {_spread(row['ra2'], 'x')}")
            print(f"  ratio marginal / (b):  {_spread(row['rb'], 'x')}")
        print("\nper-stage profile of one clip (this process, 1 OpenCV thread, 1 core, in series, best of repeats):")
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
