"""Measure a guard (a ``"penalty"`` acting ``"on_top"`` of a model's score) without retraining.

    python tools/penalty_offline.py PENALTY [--modern modern.npz] [--held-out sensitivity.npz]

``PENALTY`` is a recipe (its ``artifact_dims.penalty`` is taken) or a JSON file holding a penalty
object. The ``.npz`` files are what ``benchmarks/modern_eval.py --per-clip`` and
``benchmarks/sensitivity.py --per-clip`` save: each scored video's score, the penalty factor it
was given and its artifact dimensions. A guard on top of the score multiplies the headroom above 1
by its factor, so the content part is ``1 + (score - 1) / factor`` and the new score is
``1 + (content - 1) * factor'`` with ``factor'`` computed from the saved dimensions by the same code
the model uses (:func:`aigvqa.dimensions.penalised_dims`). Prints, side by side, the figures of
the penalty the files were made with and of ``PENALTY``: on the modern eval clips the contract for
aigvqa's and other code's artifacts and the invariances; on the held-out FETV clips the contract
and the rescaled copies' median change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from aigvqa.dimensions import penalised_dims, penalty_factor, penalty_weights  # noqa: E402
from aigvqa.sensitivity import SensitivityResult, result_from_scores  # noqa: E402


def load_penalty(path: Path) -> dict:
    """The penalty object of a recipe, or the file's own object."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    if "artifact_dims" not in spec:
        return spec
    penalty = (spec["artifact_dims"] or {}).get("penalty")
    if penalty is None:
        sys.exit(f"{path}: the recipe's artifact_dims has no penalty")
    return penalty


def factors(dims: np.ndarray, penalty: dict, artifacts: tuple[str, ...]) -> np.ndarray:
    """The penalty's factor for each row of dimensions (n, artifacts), as the model computes it."""
    return penalty_factor(penalised_dims(dims, penalty, artifacts), penalty_weights(penalty, artifacts))


def rescored(
    scores: np.ndarray, old: np.ndarray, dims: np.ndarray, penalty: dict, artifacts: tuple[str, ...]
) -> np.ndarray:
    """Scores with ``penalty`` in place of the one that gave the factors ``old``."""
    if np.any(old <= 1e-9):
        sys.exit("a saved factor is 0: the content part cannot be recovered from that score")
    content = 1.0 + (scores - 1.0) / old
    return 1.0 + (content - 1.0) * factors(dims, penalty, artifacts)


def modern(path: Path, penalty: dict) -> tuple[dict, dict]:
    """``modern_eval``'s score figures with the saved penalty and with ``penalty``."""
    import modern_eval

    z = np.load(path)
    arts = tuple(str(a) for a in z["artifacts"])
    S, F, D = z["scores"], z["factors"], z["dims"]
    names = [str(n) for n in z["names"]]
    new = rescored(S.ravel(), F.ravel(), D.reshape(S.size, -1), penalty, arts).reshape(S.shape)
    return modern_eval.score_figures(S, names), modern_eval.score_figures(new, names)


def held_out(path: Path, penalty: dict) -> tuple[SensitivityResult, SensitivityResult]:
    """``benchmarks/sensitivity.py``'s result with the saved penalty and with ``penalty``."""
    z = np.load(path)
    arts = tuple(str(a) for a in z["artifacts"])
    new = rescored(z["scores"], z["factors"], z["dims"], penalty, arts)
    out = []
    for scores in (z["scores"], new):
        parts = []
        for fold in np.unique(z["fold"]):
            rows = scores[z["fold"] == fold]
            parts.append(result_from_scores(rows, len(rows) // (1 + int(z["variants"]))))
        out.append(SensitivityResult.concatenate(parts))
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("penalty", type=Path, help="a recipe or a JSON penalty object")
    parser.add_argument("--modern", type=Path, help="benchmarks/modern_eval.py --per-clip output")
    parser.add_argument("--held-out", type=Path, help="benchmarks/sensitivity.py --per-clip output")
    args = parser.parse_args()
    penalty = load_penalty(args.penalty)
    print(f"penalty: {json.dumps(penalty)}")
    if args.modern:
        before, after = modern(args.modern, penalty)
        for key, title in (("contract", "modern, aigvqa's artifacts"), ("ext", "modern, other code's artifacts")):
            print(f"{title}: ordered pairs / original > mildest, saved -> this penalty")
            for a in before[key]:
                b, n = before[key][a], after[key][a]
                print(f"  {a:<12} {b['pairs']:.3f} / {b['first_step']:.3f} -> {n['pairs']:.3f} / {n['first_step']:.3f}")
            print(f"  {'overall':<12} {before[key + '_overall']:.3f} / {before[key + '_first_step']:.3f} -> "
                  f"{after[key + '_overall']:.3f} / {after[key + '_first_step']:.3f}")  # fmt: skip
        shifts = [f"{k} {before['invariances'][k]:.3f} -> {v:.3f}" for k, v in after["invariances"].items()]
        print("  invariances, median |change|: " + ", ".join(shifts))
    if args.held_out:
        before, after = held_out(args.held_out, penalty)
        print(f"held-out FETV ({len(before.original)} clips): ordered pairs / original > trace, saved -> this penalty")
        for a in before.degraded:
            print(f"  {a:<12} {before.pair_rate(a):.3f} / {before.first_step_rate(a):.3f} -> "
                  f"{after.pair_rate(a):.3f} / {after.first_step_rate(a):.3f}")  # fmt: skip
        print(f"  {'overall':<12} {before.overall():.3f} / {before.first_step_rate():.3f} -> "
              f"{after.overall():.3f} / {after.first_step_rate():.3f}")  # fmt: skip
        shifts = [f"x{s:g} {before.scale_shift(s):.3f} -> {after.scale_shift(s):.3f}" for s in before.rescaled]
        print("  rescaled, median |change|: " + ", ".join(shifts))


if __name__ == "__main__":
    main()
