"""The ``colour`` extractor's hue shift as a colour-drift reading, on modern clips never trained on,
side by side with the bundled model's ``color_drift`` dimension on the same clips.

Uses the clip sets of ``modern_eval.py`` (``--clips`` eval clips per source repository, their
first ``--frames`` frames, each aigvqa artifact at four severities, six artifacts written by other
code, the invariances; written once into the feature cache). Prints, for the hue shift
(``colour.co_hue_shift``, degrees):

- the SROCC between applied colour-drift severity (originals at 0) and the reading, pooled over
  clips, the mean within-clip SROCC, the median on the originals and the mean by level;
- the same SROCC for every other artifact (a reading that ignores them stays near 0 or below);
- each invariance's median |change| against the original, in degrees;

and, as the reference, the bundled model's ``color_drift`` dimension: its pooled SROCC on the
colour-drift copies and its median on the originals (``--no-reference`` skips it: it needs the
model's video features of 5 files a clip).

    python benchmarks/colour_drift.py [--data ../shared/data/modern] [--clips 4] [--frames 24]
        [--workers 2] [--model default] [--no-reference]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ext_degrade  # noqa: E402
import modern_eval  # noqa: E402

from aigvqa.artifacts import ARTIFACTS  # noqa: E402
from aigvqa.cache import FeatureCache  # noqa: E402
from aigvqa.data import Item  # noqa: E402
from aigvqa.extract import extract_features  # noqa: E402
from aigvqa.model import QualityModel  # noqa: E402
from aigvqa.pipeline import RunOptions, predict  # noqa: E402
from aigvqa.sensitivity import SEVERITIES  # noqa: E402
from aigvqa.zoo import resolve_model  # noqa: E402

READING = "colour.co_hue_shift"


def severity_srocc(col: dict[str, np.ndarray], prefix: str, levels: int, applied: list[float]) -> tuple[float, float]:
    """(pooled SROCC of applied severity vs reading, mean within-clip SROCC) for one artifact."""
    per_clip = np.column_stack([col["original"]] + [col[f"{prefix}@{i}"] for i in range(levels)])
    pooled = stats.spearmanr(np.repeat(applied, per_clip.shape[0]), per_clip.T.ravel())[0]
    within = [stats.spearmanr(range(levels + 1), row)[0] for row in per_clip]
    return float(pooled), float(np.nanmean(within))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=modern_eval.DEFAULT_DATA)
    parser.add_argument("--model", default="default", help="the reference: bundled model name or model directory")
    parser.add_argument("--clips", type=int, default=4, help="clips per source repository")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-reference", action="store_true", help="skip the bundled model's dimension")
    args = parser.parse_args()
    if not (args.data / "manifest.json").exists():
        sys.exit(f"{args.data}: no manifest.json (modern clips not found; pass --data)")
    cache = FeatureCache()
    entries = modern_eval.select(args.data, args.clips)
    sets = [modern_eval.make_clip_set(e, args.data, cache.root / "modern_eval", args.frames) for e in entries]
    names = list(sets[0])
    model = QualityModel.load(resolve_model(str(args.model)))
    items = [Item(video=s[n], prompt=e["prompt"]) for e, s in zip(entries, sets, strict=True) for n in names]
    table = extract_features(items, [("colour", {})], videos_dir="/", sampling=model.sampling, cache=cache,
                             workers=args.workers, progress=False)  # fmt: skip
    values = table.values[:, table.names.index(READING)].reshape(len(entries), len(names))
    col = {n: values[:, j] for j, n in enumerate(names)}
    k = len(SEVERITIES)
    applied = [0.0, *SEVERITIES.values()]
    print(f"colour drift on {len(entries)} modern eval clips (first {args.frames} frames), reading {READING} (degrees)")
    print("aigvqa artifacts: pooled SROCC vs applied severity / within-clip / mean by level")
    for a in ARTIFACTS:
        pooled, within = severity_srocc(col, a, k, applied)
        means = [float(np.mean(col["original"]))] + [float(np.mean(col[f"{a}@{i}"])) for i in range(k)]
        print(f"  {a:<12} {pooled:6.3f}  {within:6.3f}  {np.round(means, 2).tolist()}")
    print("artifacts by other code: pooled SROCC vs strength")
    for e in ext_degrade.DEGRADERS:
        pooled, _ = severity_srocc(col, f"ext_{e}", ext_degrade.LEVELS, list(range(ext_degrade.LEVELS + 1)))
        print(f"  {e:<12} {pooled:6.3f}")
    print(f"originals: median {np.median(col['original']):.2f} deg, 90th pct {np.quantile(col['original'], 0.9):.2f}")
    shifts = {n: float(np.median(np.abs(col[n] - col["original"]))) for n in modern_eval.INVARIANCES}
    print("invariances, median |change| (deg): " + ", ".join(f"{n} {v:.2f}" for n, v in shifts.items()))
    if args.no_reference or not model.has_dimensions():
        return
    ref_names = ["original"] + [f"color_drift@{i}" for i in range(k)]
    ref_items = [Item(video=s[n], prompt=e["prompt"]) for e, s in zip(entries, sets, strict=True) for n in ref_names]
    opts = RunOptions(videos_dir=Path("/"), cache=cache, workers=args.workers, progress=False)
    _, ref_table = predict(model, ref_items, opts)
    arts = list(model.dims_.artifacts)
    dims = model.dimensions_array(ref_table)[:, arts.index("color_drift")].reshape(len(entries), len(ref_names))
    dcol = {n: dims[:, j] for j, n in enumerate(ref_names)}
    pooled, within = severity_srocc(dcol, "color_drift", k, applied)
    print(f"reference, {args.model}'s color_drift dimension: pooled SROCC {pooled:.3f}, within-clip {within:.3f}, "
          f"median on the originals {np.median(dcol['original']):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
