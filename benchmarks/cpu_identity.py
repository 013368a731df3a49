"""Same video, same score on another CPU? Scores and features on this CPU and on this CPU made to
act like older ones, side by side.

OpenCV picks some floating-point kernels by the instruction sets the CPU has (AVX-512, AVX2, ...),
and those kernels round differently. ``OPENCV_CPU_DISABLE`` turns dispatched instruction sets off
in one process, so one machine can show what a CPU without them would compute. This benchmark
scores the same clips in three fresh processes, each with an empty feature cache:

* this CPU as it is;
* as a CPU without AVX-512 (most laptops and desktops: AVX2 and FMA, no AVX-512);
* as a CPU without AVX2 (x86 CPUs before about 2013-2015, and some low-power ones since).

It prints, against this CPU, the feature columns and clips that differ and how far the scores and
artifact dimensions move (the largest change, how many clips move by 10^-4 or more, how many
change at the three decimals a report prints). Then which OpenCV kernels, called on the same
inputs, give other bits without each instruction set (a probe of the kernels the extractors call).

The clips are ``--clips`` built-in synthetic ones (``aigvqa.synthetic``: 320x180 H.264, some with
artifacts) unless ``--videos DIR`` names a folder of videos (the first ``--clips`` in name order).

    python benchmarks/cpu_identity.py [--videos DIR] [--clips 12] [--model default]

Measuring on a machine whose CPU lacks an instruction set shows nothing for it (there is
nothing to turn off): the header prints what OpenCV found.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
CPUS = ("this CPU", "without AVX-512", "without AVX2")
VIDEO_SUFFIXES = {".mp4", ".mkv", ".webm", ".avi", ".mov", ".gif"}


def synthetic_clips(folder: Path, count: int) -> list[Path]:
    """``count`` deterministic 320x180 H.264 clips, every third one clean, the others with an artifact."""
    from aigvqa.synthetic import render_clip, write_video

    artifacts = [[], [("blur", 0.3)], [("noise", 0.3)], [], [("warp", 0.4)], [("flicker", 0.3)]]
    paths = []
    for i in range(count):
        frames, _ = render_clip(np.random.default_rng(1000 + i), artifacts[i % len(artifacts)],
                                size=(320, 180), n_frames=36, fps=12)  # fmt: skip
        paths.append(write_video(folder / f"clip{i:03d}.mp4", np.stack(list(frames)), fps=12))
    return paths


def child(list_file: Path, model_name: str, out: Path) -> None:
    """Score the listed videos in this process (fresh cache) and save features, scores and dims,
    with this process's :func:`probe` of OpenCV's kernels."""
    import cv2

    from aigvqa.cache import FeatureCache
    from aigvqa.data import Item
    from aigvqa.model import QualityModel
    from aigvqa.pipeline import RunOptions, predict
    from aigvqa.zoo import resolve_model

    videos = json.loads(list_file.read_text(encoding="utf-8"))
    model = QualityModel.load(resolve_model(model_name))
    with tempfile.TemporaryDirectory() as cache_dir:
        run = RunOptions(videos_dir=Path("/"), cache=FeatureCache(Path(cache_dir)), workers=0, progress=False)
        scores, table = predict(model, [Item(video=v, prompt="") for v in videos], run)
    dims = model.dimensions_array(table) if model.dims_ is not None else np.zeros((len(videos), 0))
    np.savez(out, scores=scores, X=table.values, names=np.array(table.names), dims=dims,
             cpu=np.array(cv2.getCPUFeaturesLine()), probe=np.array(json.dumps(probe())))  # fmt: skip


def probe() -> dict[str, str]:
    """A digest of each OpenCV kernel the extractors call, on fixed inputs."""
    import cv2

    rng = np.random.default_rng(0)
    rgb = cv2.GaussianBlur(rng.integers(0, 256, (180, 320, 3), dtype=np.uint8), (0, 0), 1.5)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    f32 = grey.astype(np.float32)
    flow = rng.standard_normal((180, 320, 2)).astype(np.float32)
    ys, xs = np.mgrid[0:180, 0:320].astype(np.float32)
    mx, my = xs + 0.3 * flow[..., 0], ys + 0.3 * flow[..., 1]
    kernels = {
        "cvtColor uint8": lambda: cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
        "GaussianBlur uint8": lambda: cv2.GaussianBlur(grey, (0, 0), 1.2),
        "GaussianBlur float32": lambda: cv2.GaussianBlur(f32, (7, 7), 7 / 6, borderType=cv2.BORDER_REPLICATE),
        "GaussianBlur float32 (flow)": lambda: cv2.GaussianBlur(flow, (0, 0), 2.0),
        "resize INTER_AREA float32": lambda: cv2.resize(flow, (80, 45), interpolation=cv2.INTER_AREA),
        "resize INTER_LINEAR uint8": lambda: cv2.resize(rgb, (160, 90), interpolation=cv2.INTER_LINEAR),
        "Sobel float32": lambda: cv2.Sobel(f32, cv2.CV_32F, 1, 0, ksize=3),
        "Laplacian uint8 -> float64": lambda: cv2.Laplacian(grey, cv2.CV_64F),
        "pyrDown uint8": lambda: cv2.pyrDown(grey),
        "remap uint8": lambda: cv2.remap(grey, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
        "remap float32": lambda: cv2.remap(flow, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
        "DIS optical flow": lambda: cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc(
            grey, np.roll(grey, 2, axis=1), None),
        "meanStdDev float32": lambda: np.array(cv2.meanStdDev(f32)),
    }
    return {k: hashlib.sha256(np.ascontiguousarray(f()).tobytes()).hexdigest() for k, f in kernels.items()}


def disable_lists() -> dict[str, str]:
    """``OPENCV_CPU_DISABLE`` for each of :data:`CPUS`: the instruction sets OpenCV dispatches to
    (the starred names of its CPU features line) that such a CPU lacks."""
    import cv2

    dispatched = [t.strip("*?") for t in cv2.getCPUFeaturesLine().split() if t.startswith("*")]
    avx512 = [f for f in dispatched if f.startswith("AVX512")] + ["AVX512F", "AVX512CD", "AVX512BW", "AVX512DQ",
                                                                 "AVX512VL", "AVX_VNNI"]  # fmt: skip
    older = ["AVX", "AVX2", "FMA3", "FP16"] + avx512
    return {CPUS[0]: "", CPUS[1]: ",".join(dict.fromkeys(avx512)), CPUS[2]: ",".join(dict.fromkeys(older))}


def run_child(args: list[str], disable: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_CPU_DISABLE"}
    if disable:
        env["OPENCV_CPU_DISABLE"] = disable
    done = subprocess.run([sys.executable, str(HERE), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the run {disable or 'as is'} failed:\n{done.stderr[-2000:]}")


def compare(base: np.lib.npyio.NpzFile, other: np.lib.npyio.NpzFile) -> dict[str, object]:
    """How ``other``'s features, scores and dimensions differ from ``base``'s."""
    names = [str(n) for n in base["names"]]
    diff = base["X"] != other["X"]
    both_nan = np.isnan(base["X"]) & np.isnan(other["X"])
    diff &= ~both_nan
    cols = np.flatnonzero(diff.any(axis=0))
    ds = np.abs(base["scores"] - other["scores"])
    dd = np.abs(base["dims"] - other["dims"]) if base["dims"].size else np.zeros(1)
    return {
        "columns": len(cols),
        "by_extractor": sorted({names[j].split(".")[0] for j in cols}),
        "clips": int(diff.any(axis=1).sum()),
        "scores_differ": int((ds > 0).sum()),
        "max_score_change": float(ds.max()),
        "scores_1e-4": int((ds >= 1e-4).sum()),
        "scores_3_decimals": int((np.round(base["scores"], 3) != np.round(other["scores"], 3)).sum()),
        "max_dim_change": float(dd.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=Path, help="a folder of videos (default: built-in synthetic clips)")
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--model", default="default", help="bundled model name or model directory")
    parser.add_argument("--child", nargs=2, type=Path, metavar=("LIST", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.model, args.child[1])
        return
    if args.clips < 1:
        sys.exit("--clips must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.videos:
            if not args.videos.is_dir():
                sys.exit(f"--videos {args.videos}: not a directory")
            videos = sorted(p for p in args.videos.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)[: args.clips]
            if not videos:
                sys.exit(f"--videos {args.videos}: no videos ({', '.join(sorted(VIDEO_SUFFIXES))})")
        else:
            videos = synthetic_clips(work, args.clips)
        (work / "videos.json").write_text(json.dumps([str(v.resolve()) for v in videos]), encoding="utf-8")
        runs = {}
        for k, (label, disable) in enumerate(disable_lists().items()):
            out = work / f"run{k}.npz"
            run_child(["--model", args.model, "--child", str(work / "videos.json"), str(out)], disable)
            runs[label] = np.load(out)
        probes = {label: json.loads(str(run["probe"])) for label, run in runs.items()}
        base = runs[CPUS[0]]
        print(f"{len(videos)} clips ({'from ' + str(args.videos) if args.videos else 'built-in synthetic'}), "
              f"model {args.model}, {base['X'].shape[1]} feature columns")  # fmt: skip
        for label in CPUS:
            print(f"  OpenCV, {label}: {runs[label]['cpu']}")
        print("against this CPU (features / clips with any difference / scores: changed, largest change, "
              "changed by >= 1e-4, changed at 3 decimals / largest dimension change):")
        for label in CPUS[1:]:
            c = compare(base, runs[label])
            print(f"  {label:<16} {c['columns']} columns {c['by_extractor']} / {c['clips']} clips / "
                  f"{c['scores_differ']}, {c['max_score_change']:.2g}, {c['scores_1e-4']}, "
                  f"{c['scores_3_decimals']} / {c['max_dim_change']:.2g}")  # fmt: skip
        print("OpenCV kernels giving other bits on the same input:")
        for label in CPUS[1:]:
            moved = [k for k, v in probes[label].items() if v != probes[CPUS[0]][k]]
            print(f"  {label:<16} {', '.join(moved) if moved else 'none'}")


if __name__ == "__main__":
    main()
