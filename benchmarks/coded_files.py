"""The contract on files as a user's tools write them: originals coded at their own rate, degraded
copies written as H.264 MP4 at the encoder's default rate.

``modern_eval.py`` writes the original and every copy losslessly, so it measures what the pixels
show. A user scores MP4 files: the original as its generator coded it (about CRF 23 for most
exports, far coarser for some project pages), and copies made by a script that decodes it,
degrades it and writes it with libx264's default (CRF 23). This benchmark takes ``--clips`` eval
clips per source repository of ``modern/eval`` (measure-only clips), their first ``--frames``
frames at most 512 pixels a side, and for each original rate (``--rates``, CRF) writes:

- the original: those frames coded at that rate;
- other code's six artifacts (``ext_degrade.py``) at four strengths, applied to the original's
  decoded frames and written at CRF 23;
- the original decoded and coded again at CRF 30, 35 and 40 as the file itself (a user
  compressing it harder).

It prints, for each original rate, the share of ordered pairs that hold (original best, then by
strength) and how often the mildest copy scores below the original, per artifact and overall,
and the SROCC between each copy's strength and the dimension it should raise (what
``aigvqa score --dims`` shows), pooled over clips and within each clip.
A copy written at a finer rate than a coarsely coded original is where a reading of the file's
own coding (the ``bitstream`` extractor) could raise a score. ``--baseline MODEL`` prints a
second model's figures on the same files beside them; ``--per-clip`` saves every file's score
and H.264 quantiser.

    python benchmarks/coded_files.py [--data ../shared/data/modern] [--model default] [--clips 2]
        [--frames 48] [--rates 18,28,36] [--workers 2] [--baseline MODEL] [--per-clip out.npz]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ext_degrade  # noqa: E402
from modern_eval import add_clip_arguments, pair_rates, select, strength_srocc  # noqa: E402

from aigvqa.artifacts import X264_C_CODE  # noqa: E402
from aigvqa.augment import stable_seed  # noqa: E402
from aigvqa.cache import FeatureCache, file_digest  # noqa: E402
from aigvqa.data import Item  # noqa: E402
from aigvqa.families import read_head  # noqa: E402
from aigvqa.model import QualityModel  # noqa: E402
from aigvqa.pipeline import RunOptions, predict  # noqa: E402
from aigvqa.video import probe  # noqa: E402
from aigvqa.video_writing import write_coded  # noqa: E402
from aigvqa.zoo import resolve_model  # noqa: E402

USER_CRF = 23  # libx264's default rate: what a script writing MP4s gives
LOW_RATES = (30, 35, 40)  # the original decoded and coded again, coarsely, as the file itself
MAX_SIDE = 512
X264 = {"preset": "medium", "threads": "1", "flags": "+bitexact", **X264_C_CODE}  # the same file every run
_SEED = 20261207


def names() -> list[str]:
    """The files of one clip at one original rate, the original first."""
    ext = [f"ext_{e}@{k}" for e in ext_degrade.DEGRADERS for k in range(ext_degrade.LEVELS)]
    return ["original", *ext, *(f"recoded_crf{r}" for r in LOW_RATES)]


def _small(frames: list[np.ndarray]) -> list[np.ndarray]:
    h, w = frames[0].shape[:2]
    s = min(1.0, MAX_SIDE / max(h, w))
    size = (max(2, round(w * s / 2) * 2), max(2, round(h * s / 2) * 2))
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) if size != (w, h) else f for f in frames]


def make_files(entry: dict, data: Path, root: Path, frames_n: int, rate: int) -> dict[str, str]:
    """Write (once) one clip's original at ``rate`` and its copies; name -> path."""
    src = data / entry["video"]
    folder = root / f"c1-{file_digest(src)}-n{frames_n}-crf{rate}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {n: folder / f"{n.replace('@', '_')}.mp4" for n in names()}
    if all(p.exists() for p in paths.values()):
        return {n: str(p) for n, p in paths.items()}
    frames, fps = read_head(src, frames_n)
    if not paths["original"].exists():
        write_coded(paths["original"], _small(frames), fps, "libx264", {**X264, "crf": str(rate)})
    coded, _ = read_head(paths["original"], frames_n)  # what a user's script decodes
    for n, p in paths.items():
        if p.exists():
            continue
        if n.startswith("ext_"):
            e, k = n[4:].split("@")
            seed = stable_seed(_SEED, entry["video"], e)
            copy = ext_degrade.DEGRADERS[e](coded, fps, int(k), seed)
            write_coded(p, copy, fps, "libx264", {**X264, "crf": str(USER_CRF)})
        elif n.startswith("recoded_crf"):
            write_coded(p, coded, fps, "libx264", {**X264, "crf": n.removeprefix("recoded_crf")})
    return {n: str(p) for n, p in paths.items()}


def kinds() -> dict[str, list[str]]:
    """Each kind of copy (other code's artifacts, ``recoded``) and its files, mildest first."""
    out = {e: [f"ext_{e}@{k}" for k in range(ext_degrade.LEVELS)] for e in ext_degrade.DEGRADERS}
    out["recoded"] = [f"recoded_crf{r}" for r in LOW_RATES]
    return out


def _by_kind(S: np.ndarray) -> dict[str, np.ndarray]:
    """(clips, 1 + strengths) of each kind, the original first, from (clips x :func:`names`, ...)."""
    col = {n: j for j, n in enumerate(names())}
    return {kind: S[:, [col["original"]] + [col[c] for c in copies]] for kind, copies in kinds().items()}


def figures(S: np.ndarray) -> dict[str, tuple[float, float]]:
    """(pairs, original > mildest) per artifact and overall, from scores (clips x :func:`names`)."""
    out = {kind: pair_rates(levels) for kind, levels in _by_kind(S).items()}
    out["overall"] = tuple(float(np.mean([v[i] for v in out.values()])) for i in (0, 1))
    return out


def dimension_srocc(D: np.ndarray, artifacts: list[str]) -> dict[str, tuple[float, float]]:
    """Per copy kind, the SROCC between its strength (the original at 0) and the dimension it
    should raise (``ext_degrade.DIMENSION``; compression for the recoded files), pooled over the
    clips and the mean within each clip, from dimensions (clips x :func:`names` x ``artifacts``)."""
    return {kind: strength_srocc(levels[:, :, artifacts.index(ext_degrade.DIMENSION.get(kind, "compression"))])
            for kind, levels in _by_kind(D).items()}  # fmt: skip


def score(model_name: str, items: list[Item], workers: int) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Scores of ``items``, and the model's dimensions (None without) and their names."""
    model = QualityModel.load(resolve_model(model_name))
    opts = RunOptions(videos_dir=Path("/"), cache=FeatureCache(), workers=workers, progress=False)
    scores, table = predict(model, items, opts)
    if not model.has_dimensions():
        return scores, None, []
    return scores, model.dimensions_array(table), list(model.dims_.artifacts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_clip_arguments(parser, clips=2)
    parser.add_argument("--rates", default="18,28,36", help="the originals' own rates (CRF), comma-separated")
    parser.add_argument("--baseline", help="a second model scored on the same files")
    parser.add_argument("--per-clip", type=Path, help="save every file's score and H.264 quantiser (npz)")
    args = parser.parse_args()
    if not (args.data / "manifest.json").exists():
        sys.exit(f"no modern clips at {args.data} (see ../shared/data/README)")
    rates = [int(r) for r in args.rates.split(",")]
    entries = select(args.data, args.clips)
    root = FeatureCache().root / "coded_files"
    sets = [[make_files(e, args.data, root, args.frames, r) for e in entries] for r in rates]
    items = [Item(video=s[n], prompt=e["prompt"])
             for row in sets for e, s in zip(entries, row, strict=True) for n in names()]  # fmt: skip
    shape = (len(rates), len(entries), len(names()))
    model_names = [str(args.model), *([args.baseline] if args.baseline else [])]
    runs = {name: score(name, items, args.workers) for name in model_names}
    models = {name: r[0].reshape(shape) for name, r in runs.items()}
    print(f"Files as a user's tools write them: {len(entries)} modern eval clips, first {args.frames} frames at most "
          f"{MAX_SIDE} px; copies written as H.264 MP4 at CRF {USER_CRF}")  # fmt: skip
    for name, S in models.items():
        print(f"model {name}: ordered pairs / original > mildest")
        for i, r in enumerate(rates):
            f = figures(S[i])
            parts = ", ".join(f"{k} {v[0]:.3f}/{v[1]:.3f}" for k, v in f.items() if k != "overall")
            print(f"  original at CRF {r}: overall {f['overall'][0]:.3f} / {f['overall'][1]:.3f}  ({parts})")
        _, dims, artifacts = runs[name]
        if dims is not None:
            print("  the dimension each copy should raise: SROCC with its strength, pooled / within each clip")
            D = dims.reshape(*shape, len(artifacts))
            for i, r in enumerate(rates):
                parts = ", ".join(f"{k} {p:.3f}/{w:.3f}" for k, (p, w) in dimension_srocc(D[i], artifacts).items())
                print(f"    original at CRF {r}: {parts}")
    if args.per_clip:
        qps = [probe(it.video).coding_qp for it in items]
        qp = np.array([np.nan if q is None else q for q in qps], dtype=float).reshape(shape)
        np.savez(args.per_clip, rates=np.array(rates), names=np.array(names()), qp=qp,
                 **{f"scores_{k}": v for k, v in enumerate(models.values())})  # fmt: skip
        print(f"saved {args.per_clip}")


if __name__ == "__main__":
    main()
