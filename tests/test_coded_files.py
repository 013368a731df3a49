"""benchmarks/coded_files.py's figures from scores: pairs and first step per artifact and overall."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

_DIR = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(_DIR))  # coded_files imports modern_eval and ext_degrade from its folder
_spec = importlib.util.spec_from_file_location("coded_files", _DIR / "coded_files.py")
coded_files = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(coded_files)


def _falling(clips: int) -> np.ndarray:
    """Scores that fall with every copy's strength (the recoded files by their rate)."""
    names = coded_files.names()
    S = np.empty((clips, len(names)))
    for j, n in enumerate(names):
        if n == "original":
            level = 0
        elif "@" in n:
            level = int(n.split("@")[1]) + 1
        else:
            level = coded_files.LOW_RATES.index(int(n.removeprefix("recoded_crf"))) + 1
        S[:, j] = 4.0 - 0.1 * level + np.arange(clips) * 0.01
    return S


def test_scores_that_fall_with_strength_hold_every_pair():
    f = coded_files.figures(_falling(4))
    assert set(f) == {*coded_files.ext_degrade.DEGRADERS, "recoded", "overall"}
    assert all(v == (1.0, 1.0) for v in f.values())


def test_a_copy_above_its_original_breaks_its_pairs_and_first_step():
    S = _falling(4)
    names = coded_files.names()
    S[0, names.index("ext_noise@0")] = 5.0  # one clip's mildest noise copy scores above everything
    f = coded_files.figures(S)
    # that clip loses 1 of its 10 noise pairs (the copy above the original; it still tops its stronger copies)
    assert f["noise"] == (1.0 - 1 / 40, 0.75)
    assert f["blur"] == (1.0, 1.0) and f["recoded"] == (1.0, 1.0)
    assert np.isclose(f["overall"][0], (6 + 0.975) / 7) and np.isclose(f["overall"][1], (6 + 0.75) / 7)
