"""tools/sensitive_columns.py: which columns an artifact moves, relative to their spread across clips."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

_PATH = Path(__file__).resolve().parents[1] / "tools" / "sensitive_columns.py"
_spec = importlib.util.spec_from_file_location("sensitive_columns", _PATH)
sensitive_columns = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sensitive_columns)


def test_a_column_the_artifact_moves_past_the_clips_spread_reads_high_and_others_low():
    rng = np.random.default_rng(0)
    clean = rng.normal(size=(20, 3))  # three columns, 20 clips, spread about 1 each
    meta, rows = [], []
    for i in range(20):
        meta.append({"family": f"c{i}", "artifact": None, "severity": 0.0, "scale": 1.0})
        rows.append(clean[i])
        for sev in (0.1, 0.5):
            meta.append({"family": f"c{i}", "artifact": "noise", "severity": sev, "scale": 1.0})
            rows.append(clean[i] + np.array([2.0 * (sev <= 0.2), 0.05, 5.0 * (sev > 0.2)]))
        meta.append({"family": f"c{i}", "artifact": "noise", "severity": 0.1, "scale": 0.5})  # rescaled: ignored
        rows.append(clean[i] + 100.0)
    rel = sensitive_columns.sensitivity(np.array(rows), meta, "noise", 0.2)
    spread = clean.std(axis=0)
    np.testing.assert_allclose(rel, [2.0 / spread[0], 0.05 / spread[1], 0.0], rtol=1e-9)
    assert rel[0] > 1.5 and rel[1] < 0.1 and rel[2] == 0.0  # column c moves only above severity 0.2
