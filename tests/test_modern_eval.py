"""benchmarks/modern_eval.py's figures from scores: pairs, first step, and their intervals over clips."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

_DIR = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(_DIR))  # modern_eval imports ext_degrade from its folder
_spec = importlib.util.spec_from_file_location("modern_eval", _DIR / "modern_eval.py")
modern_eval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(modern_eval)


def _names() -> list[str]:
    from aigvqa.artifacts import ARTIFACTS
    from aigvqa.sensitivity import SEVERITIES

    levels = len(SEVERITIES)
    return (["original"] + [f"{a}@{k}" for a in ARTIFACTS for k in range(levels)]
            + [f"ext_{e}@{k}" for e in modern_eval.ext_degrade.DEGRADERS for k in range(modern_eval.ext_degrade.LEVELS)]
            + list(modern_eval.INVARIANCES))  # fmt: skip


def _ordered_scores(clips: int, rng: np.random.Generator) -> np.ndarray:
    """Scores that fall with every artifact's level (each clip its own level)."""
    names = _names()
    S = np.empty((clips, len(names)))
    base = rng.uniform(3, 4, clips)
    for j, n in enumerate(names):
        level = int(n.split("@")[1]) + 1 if "@" in n else 0
        S[:, j] = base - 0.1 * level
    return S


def test_scores_that_always_fall_hold_every_pair_in_every_resample():
    S = _ordered_scores(8, np.random.default_rng(0))
    out = modern_eval.score_figures(S, _names())
    assert out["contract_overall"] == 1.0 and out["ext_first_step"] == 1.0
    intervals = modern_eval.clip_intervals(S, _names(), draws=50)
    assert all(v == [1.0, 1.0] for v in intervals.values())


def test_paired_intervals_are_zero_for_the_same_scores_and_see_one_failing_clip():
    names = _names()
    S = _ordered_scores(10, np.random.default_rng(1))
    same = modern_eval.clip_intervals(S, names, baseline=S, draws=50)
    assert all(v == [0.0, 0.0] for v in same.values())
    worse = S.copy()
    worse[0, names.index("blur@0")] = worse[0, 0] + 0.5  # one clip's trace of blur raises its score
    diff = modern_eval.clip_intervals(worse, names, baseline=S, draws=200)
    low, high = diff["contract_first_step"]
    assert low < 0 and high == 0.0  # a resample without clip 0 shows no loss; none shows a gain
