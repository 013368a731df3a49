"""The trust contract and the artifact dimensions on clips of modern generators the model never trained on.

Takes ``--clips`` clips per source repository from ``modern/eval`` (measure-only clips: never
trained on), each clip's first ``--frames`` frames written losslessly as its original, and scores:

- every aigvqa artifact at four severities (``aigvqa.sensitivity.SEVERITIES``, seeds never used in
  training), and six artifacts written by other code (``ext_degrade.py``: OpenCV Gaussian blur,
  additive Gaussian noise, frame-gain flicker, held frames, random-translation shake, low-CRF
  H.264) at four strengths;
- the invariances: half and double size (area down, Lanczos up), an H.264 CRF 17 re-encode
  (visually lossless), the first 60% of the clip, and H.264 CRF 12 in Matroska and VP9 CRF 12 in
  WebM (a user converting an MP4 at high quality).

Prints the ordered pairs that hold (overall, per artifact, original > mildest), with a 90%
interval of the overall figures over the clips drawn (a bootstrap), the median |score change| of
each invariance, and for every dimension the SROCC between the applied and the
estimated severity (pooled over clips, originals at 0) and its median on the originals.

    python benchmarks/modern_eval.py [--data ../shared/data/modern] [--model default] [--clips 4]
        [--frames 48] [--workers 2] [--json out.json] [--per-clip out.npz] [--parts]
        [--baseline MODEL]

``--baseline MODEL`` scores a second model on the same videos and prints the paired differences
of the overall figures, with their 90% intervals over the clips drawn: a candidate's gain is read
from these, not from two figures that each move with the clips.
``--parts`` also prints the figures of each part of the regressor scored alone (the stack's
blocks and their blend members, before the guard): which part lets an artifact raise a score.
``--per-clip`` also saves every video's score, penalty factor and dimensions (clips x copies), for
``tools/penalty_offline.py``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ext_degrade  # noqa: E402

from aigvqa.artifacts import ARTIFACTS  # noqa: E402
from aigvqa.augment import Variant, make_variant, rescale, stable_seed, write_lossless  # noqa: E402
from aigvqa.cache import FeatureCache, file_digest  # noqa: E402
from aigvqa.data import Item  # noqa: E402
from aigvqa.families import read_head  # noqa: E402
from aigvqa.model import QualityModel  # noqa: E402
from aigvqa.pipeline import RunOptions, predict  # noqa: E402
from aigvqa.sensitivity import FIRST_STEP_TARGET, PAIR_TARGET, PER_ARTIFACT_TARGET, SEVERITIES  # noqa: E402
from aigvqa.video_writing import write_coded  # noqa: E402
from aigvqa.zoo import resolve_model  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "modern"
INVARIANCE_TARGET = 0.15
INVARIANCES = ("half", "double", "crf17", "head60", "mkv", "webm")
_SEED = 5_550_001  # disjoint from training's seeds


def select(data: Path, per_source: int) -> list[dict]:
    """``per_source`` eval clips of every source repository, spread over its sorted list."""
    man = [x for x in json.loads((data / "manifest.json").read_text()) if x["split"] == "eval"]
    out = []
    for src in sorted({x["source"] for x in man}):
        clips = sorted((x for x in man if x["source"] == src), key=lambda x: x["video"])
        idx = np.unique(np.linspace(0, len(clips) - 1, per_source).round().astype(int))
        out.extend(clips[i] for i in idx)
    return out


def make_clip_set(entry: dict, data: Path, root: Path, frames_n: int) -> dict[str, str]:
    """Write (once) a clip's original and all its copies; name -> path."""
    src = data / entry["video"]
    folder = root / f"m3-{file_digest(src)}-n{frames_n}"
    folder.mkdir(parents=True, exist_ok=True)
    names = (
        ["original"]
        + [f"{a}@{k}" for a in ARTIFACTS for k in range(len(SEVERITIES))]
        + [f"ext_{e}@{k}" for e in ext_degrade.DEGRADERS for k in range(ext_degrade.LEVELS)]
        + list(INVARIANCES)
    )
    ext = {"crf17": ".mp4", "mkv": ".mkv", "webm": ".webm"}
    paths = {n: folder / f"{n.replace('@', '_')}{ext.get(n, '.mkv')}" for n in names}
    if all(p.exists() for p in paths.values()):
        return {n: str(p) for n, p in paths.items()}
    frames, fps = read_head(src, frames_n)
    x264 = {"preset": "medium", "threads": "1", "x264-params": "asm=0"}  # C code: the same copy every run
    for n, p in paths.items():
        if p.exists():
            continue
        if n == "original":
            write_lossless(p, frames, fps)
        elif n.startswith("ext_"):
            e, k = n[4:].split("@")
            write_lossless(p, ext_degrade.DEGRADERS[e](frames, fps, int(k), stable_seed(_SEED, entry["video"], e)), fps)
        elif "@" in n:
            a, k = n.split("@")
            sev = list(SEVERITIES.values())[int(k)]
            v = Variant(a, sev, seed=stable_seed(_SEED, entry["video"], a) % 2**31)
            write_lossless(p, make_variant(frames, fps, v), fps)
        elif n in ("half", "double"):
            write_lossless(p, rescale(frames, 0.5 if n == "half" else 2.0), fps)
        elif n == "head60":
            write_lossless(p, frames[: max(2, round(0.6 * len(frames)))], fps)
        elif n == "crf17":
            write_coded(p, frames, fps, "libx264", {**x264, "crf": "17"})
        elif n == "mkv":
            write_coded(p, frames, fps, "libx264", {**x264, "crf": "12"})
        elif n == "webm":
            write_coded(p, frames, fps, "libvpx-vp9", {"crf": "12", "b": "0", "deadline": "realtime", "cpu-used": "8"})
    return {n: str(p) for n, p in paths.items()}


def pair_rates(levels: np.ndarray) -> tuple[float, float]:
    """(share of ordered pairs that hold, share of original > mildest) for (n, 1 + k) scores."""
    ok = [levels[:, i] > levels[:, j] for i, j in itertools.combinations(range(levels.shape[1]), 2)]
    return float(np.mean(ok)), float(np.mean(levels[:, 0] > levels[:, 1]))


def strength_srocc(levels: np.ndarray) -> tuple[float, float]:
    """(SROCC between strength and reading pooled over the rows, its mean within each row) for
    (n, 1 + k) readings ordered by strength (the original first); a row that reads one value
    throughout has no SROCC of its own."""
    strength = np.arange(levels.shape[1])
    pooled = stats.spearmanr(np.tile(strength, len(levels)), levels.ravel())[0]
    within = np.nanmean([stats.spearmanr(strength, row)[0] if np.ptp(row) > 0 else np.nan for row in levels])
    return float(pooled), float(within)


def score_figures(S: np.ndarray, names: list[str]) -> dict:
    """The contract's figures from scores (clips x copies named ``names``): per artifact (aigvqa's
    and other code's) the ordered pairs that hold and original > mildest, overall, and the
    invariances' median |score change|."""
    col = {n: S[:, j] for j, n in enumerate(names)}
    out: dict = {"contract": {}, "ext": {}}
    k = len(SEVERITIES)
    for a in ARTIFACTS:
        lv = np.column_stack([col["original"]] + [col[f"{a}@{i}"] for i in range(k)])
        pr, first = pair_rates(lv)
        out["contract"][a] = {"pairs": pr, "first_step": first, "mean": lv.mean(axis=0).round(3).tolist()}
    for e in ext_degrade.DEGRADERS:
        lv = np.column_stack([col["original"]] + [col[f"ext_{e}@{i}"] for i in range(ext_degrade.LEVELS)])
        pr, first = pair_rates(lv)
        out["ext"][e] = {"pairs": pr, "first_step": first, "mean": lv.mean(axis=0).round(3).tolist()}
    for key in ("contract", "ext"):
        d = out[key]
        out[f"{key}_overall"] = float(np.mean([v["pairs"] for v in d.values()]))
        out[f"{key}_first_step"] = float(np.mean([v["first_step"] for v in d.values()]))
    out["invariances"] = {n: float(np.median(np.abs(col[n] - col["original"]))) for n in INVARIANCES}
    return out


INTERVAL_KEYS = ("contract_overall", "contract_first_step", "ext_overall", "ext_first_step")


def clip_intervals(
    S: np.ndarray, names: list[str], baseline: np.ndarray | None = None, draws: int = 1000, seed: int = 0
) -> dict[str, list[float]]:
    """90% intervals of the overall figures (pairs and first step, aigvqa's and other code's
    artifacts) over the clips: the figures of ``draws`` seeded resamples of the clips (rows of
    ``S``), with replacement; how far a figure on this many clips moves with the clips drawn. With
    ``baseline`` (another model's scores of the same videos), the intervals of the difference
    ``S``'s figure minus the baseline's on the same resamples."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(draws):
        rows = rng.integers(0, len(S), len(S))
        f = score_figures(S[rows], names)
        f0 = score_figures(baseline[rows], names) if baseline is not None else dict.fromkeys(INTERVAL_KEYS, 0.0)
        samples.append([f[k] - f0[k] for k in INTERVAL_KEYS])
    values = np.array(samples)
    return {k: np.percentile(values[:, i], [5, 95]).round(3).tolist() for i, k in enumerate(INTERVAL_KEYS)}


def run(args: argparse.Namespace) -> dict:
    entries = select(args.data, args.clips)
    cache = FeatureCache()
    root = cache.root / "modern_eval"
    sets = [make_clip_set(e, args.data, root, args.frames) for e in entries]
    names = list(sets[0])
    model = QualityModel.load(resolve_model(str(args.model)))
    items = [Item(video=s[n], prompt=e["prompt"]) for e, s in zip(entries, sets, strict=True) for n in names]
    opts = RunOptions(videos_dir=Path("/"), cache=cache, workers=args.workers, progress=False)
    scores, table = predict(model, items, opts)
    S = scores.reshape(len(entries), len(names))
    if getattr(args, "per_clip", None):  # a guard on top of the score can then be measured without the videos
        dims = model.dimensions_array(table) if model.has_dimensions() else np.zeros((len(items), 0))
        np.savez(args.per_clip, scores=S, factors=model.penalty_factors(table).reshape(S.shape),
                 dims=dims.reshape(*S.shape, -1), names=np.array(names, dtype=str),
                 artifacts=np.array(model.dims_.artifacts if model.has_dimensions() else [], dtype=str))  # fmt: skip
    out: dict = {"clips": len(entries), "frames": args.frames, "model": str(args.model), **score_figures(S, names)}
    out["intervals"] = clip_intervals(S, names)
    if getattr(args, "baseline", None):  # a second model on the same videos: paired differences
        base = QualityModel.load(resolve_model(str(args.baseline)))
        B = predict(base, items, opts)[0].reshape(S.shape)  # its own extractor settings: features from the cache
        figures = score_figures(B, names)
        out["baseline"] = {"model": str(args.baseline), **{k: figures[k] for k in INTERVAL_KEYS},
                           "difference": {k: out[k] - figures[k] for k in INTERVAL_KEYS},
                           "difference_intervals": clip_intervals(S, names, baseline=B)}  # fmt: skip
    if getattr(args, "parts", False):  # each block and member of the regressor scored alone
        out["parts"] = {}
        for part, p in model.part_predictions(table).items():
            P = p.reshape(S.shape)  # a part that gives every copy of a clip one score reads no video
            out["parts"][part] = None if np.all(P == P[:, :1]) else score_figures(P, names)
    if model.has_dimensions():
        k = len(SEVERITIES)
        D = model.dimensions_array(table).reshape(len(entries), len(names), -1)
        arts = list(model.dims_.artifacts)
        dcol = {n: D[:, j, :] for j, n in enumerate(names)}
        dims = {}
        for j, a in enumerate(arts):
            applied = np.repeat([0.0, *SEVERITIES.values()], len(entries))
            est = np.concatenate([dcol["original"][:, j]] + [dcol[f"{a}@{i}"][:, j] for i in range(k)])
            per_clip = np.column_stack([dcol["original"][:, j]] + [dcol[f"{a}@{i}"][:, j] for i in range(k)])
            within = [stats.spearmanr(range(k + 1), row)[0] for row in per_clip]
            dims[a] = {"srocc": float(stats.spearmanr(applied, est)[0]),
                       "srocc_within_clip": float(np.nanmean(within)),
                       "clean_median": float(np.median(dcol["original"][:, j])),
                       "mean_by_level": [float(np.mean(dcol["original"][:, j]))]
                       + [float(np.mean(dcol[f"{a}@{i}"][:, j])) for i in range(k)]}  # fmt: skip
        for e, a in ext_degrade.DIMENSION.items():
            j = arts.index(a)
            applied = np.repeat(np.arange(ext_degrade.LEVELS + 1), len(entries))
            est = np.concatenate(
                [dcol["original"][:, j]] + [dcol[f"ext_{e}@{i}"][:, j] for i in range(ext_degrade.LEVELS)]
            )
            by_level = [float(np.mean(est[applied == i])) for i in range(5)]
            dims[f"ext_{e}->{a}"] = {"srocc": float(stats.spearmanr(applied, est)[0]), "mean_by_level": by_level}
        out["dims"] = dims
    return out


def report(out: dict) -> None:
    print(f"modern eval: {out['clips']} clips, first {out['frames']} frames, model {out['model']}")
    for key, title in (("contract", "aigvqa artifacts"), ("ext", "artifacts by other code")):
        print(f"{title}: pairs / original > mildest / mean score by level")
        for a, v in out[key].items():
            print(f"  {a:<12} {v['pairs']:.3f}  {v['first_step']:.3f}  {v['mean']}")
        print(f"  overall      {out[key + '_overall']:.3f}  {out[key + '_first_step']:.3f}"
              f"  (targets {PAIR_TARGET}, each {PER_ARTIFACT_TARGET}, first step {FIRST_STEP_TARGET})")  # fmt: skip
        if "intervals" in out:
            (p0, p1), (f0, f1) = out["intervals"][f"{key}_overall"], out["intervals"][f"{key}_first_step"]
            print(f"  90% interval over the clips drawn: pairs {p0:.3f}-{p1:.3f}, first step {f0:.3f}-{f1:.3f}")
    if "baseline" in out:
        b = out["baseline"]
        print(f"against {b['model']} on the same videos (difference, 90% interval over the clips drawn):")
        for k in INTERVAL_KEYS:
            lo, hi = b["difference_intervals"][k]
            print(f"  {k:<20} {out[k]:.3f} vs {b[k]:.3f}: {b['difference'][k]:+.3f} ({lo:+.3f} to {hi:+.3f})")
    print(f"invariances, median |score change| (target <= {INVARIANCE_TARGET:.2f}): "
          + ", ".join(f"{n} {v:.3f}" for n, v in out["invariances"].items()))  # fmt: skip
    for part, f in out.get("parts", {}).items():
        if f is None:
            print(f"part {part}: the same score for every copy of a clip (reads no video)")
            continue
        print(f"part {part} alone: aigvqa artifacts {f['contract_overall']:.3f} / {f['contract_first_step']:.3f}, "
              f"other code's {f['ext_overall']:.3f} / {f['ext_first_step']:.3f} (pairs / first step)")
        rates = [*f["contract"].items(), *((f"ext_{e}", v) for e, v in f["ext"].items())]
        print("  " + "  ".join(f"{a} {v['pairs']:.2f}/{v['first_step']:.2f}" for a, v in rates))
    for a, v in out.get("dims", {}).items():
        extra = (
            f"  within-clip {v['srocc_within_clip']:.3f}  clean median {v['clean_median']:.3f}"
            if "clean_median" in v
            else ""
        )
        print(f"  dim {a:<24} SROCC {v['srocc']:.3f}{extra}  by level {np.round(v['mean_by_level'], 3).tolist()}")


def add_clip_arguments(parser: argparse.ArgumentParser, clips: int) -> None:
    """The options every benchmark on the modern eval clips takes: data, model, clips per source,
    frames per clip, workers."""
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", default="default", help="bundled model name or model directory")
    parser.add_argument("--clips", type=int, default=clips, help="clips per source repository")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--workers", type=int, default=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_clip_arguments(parser, clips=4)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--per-clip", type=Path, help="also save each video's score, penalty factor and dimensions")
    parser.add_argument("--baseline", help="a second model (name or directory) scored on the same videos")
    parser.add_argument("--parts", action="store_true",
                        help="also score with each block and blend member of the regressor alone")  # fmt: skip
    args = parser.parse_args()
    if not (args.data / "manifest.json").exists():
        sys.exit(f"{args.data}: no manifest.json (modern clips not found; pass --data)")
    out = run(args)
    report(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
