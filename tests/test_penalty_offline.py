"""tools/penalty_offline.py: a guard on top of the score, measured again from saved per-video rows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from aigvqa.artifacts import ARTIFACTS
from aigvqa.sensitivity import contract_variants

_PATH = Path(__file__).resolve().parents[1] / "tools" / "penalty_offline.py"
_spec = importlib.util.spec_from_file_location("penalty_offline", _PATH)
penalty_offline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(penalty_offline)

SAVED = {"on_top": True, "drop": 0.0, "drop_by_artifact": {"noise": 1.0}, "deadzone": 0.03}
NEW = {**SAVED, "drop_by_artifact": {"noise": 1.0, "blur": 1.0}, "deadzone_by_artifact": {"noise": 0.01},
       "cap_by_artifact": {"blur": 0.05}}  # fmt: skip


def test_the_content_part_is_kept_and_the_new_guard_applied_to_it():
    rng = np.random.default_rng(0)
    dims = rng.uniform(0, 0.2, size=(30, len(ARTIFACTS)))
    content = rng.uniform(1.5, 4.5, size=30)
    old = penalty_offline.factors(dims, SAVED, ARTIFACTS)
    scores = 1 + (content - 1) * old
    same = penalty_offline.rescored(scores, old, dims, SAVED, ARTIFACTS)
    np.testing.assert_allclose(same, scores, rtol=1e-12)
    new = penalty_offline.rescored(scores, old, dims, NEW, ARTIFACTS)
    kn, kb = ARTIFACTS.index("noise"), ARTIFACTS.index("blur")
    noise = np.clip((dims[:, kn] - 0.01) / 0.99, 0, 1)  # its own deadzone
    blur = np.minimum(np.clip((dims[:, kb] - 0.03) / 0.97, 0, 1), 0.05)  # the common deadzone, capped
    expected = (1 - noise) * (1 - blur)
    np.testing.assert_allclose(new, 1 + (content - 1) * expected, rtol=1e-9)
    assert np.all(new <= scores + 1e-12)  # a lower deadzone and one more guard never raise a score


def test_held_out_rows_are_regrouped_by_fold_as_the_benchmark_scored_them(tmp_path):
    m = len(contract_variants(""))
    rows, folds = [], []
    for fold, n in ((0, 2), (1, 3)):
        originals = 4.0 - 0.1 * np.arange(n) - fold
        copies = originals[:, None] - 0.01 * (1 + np.arange(m))[None, :]  # every copy lower, stronger lower
        rows.append(np.concatenate([originals, copies.ravel()]))
        folds.append(np.full(n * (1 + m), fold))
    scores = np.concatenate(rows)
    dims = np.zeros((len(scores), len(ARTIFACTS)))
    path = tmp_path / "held.npz"
    np.savez(path, scores=scores, factors=np.ones(len(scores)), dims=dims, fold=np.concatenate(folds),
             artifacts=np.array(ARTIFACTS, dtype=str), variants=m)  # fmt: skip
    before, after = penalty_offline.held_out(path, SAVED)
    np.testing.assert_allclose(before.original, [4.0, 3.9, 3.0, 2.9, 2.8])
    assert before.overall() == 1.0 and before.first_step_rate() == 1.0
    np.testing.assert_allclose(after.original, before.original)  # clean readings: the guard costs nothing
