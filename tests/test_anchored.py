"""Anchored training: the unlabelled clips' families of graded copies train the score, each member
anchored to the score a first fit gives its family's source."""

from __future__ import annotations

import numpy as np
import pytest

from aigvqa.augment import AugmentConfig
from aigvqa.data import Item
from aigvqa.extract import FeatureTable
from aigvqa.model import QualityModel
from aigvqa.pipeline import Families, _fit

NAMES = ["spatial.texture", "spatial.grain", "spatial.other", "temporal.motion"]
# each family: its source, a half-size copy and three noisy copies (artifact, severity, size)
MEMBERS = [(None, 0.0, 1.0), (None, 0.0, 0.5), ("noise", 0.1, 1.0), ("noise", 0.4, 1.0), ("noise", 0.9, 1.0)]


def _labelled(n: int = 120, seed: int = 0) -> tuple[FeatureTable, np.ndarray]:
    """Rated clips: people reward texture; grain is unrelated to their scores."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (n, len(NAMES)))
    y = 3.0 + 0.6 * X[:, 0] + 0.1 * rng.normal(size=n)
    return FeatureTable(NAMES, X), y


def _unlabelled(n_clips: int = 12, seed: int = 1) -> tuple[Families, FeatureTable]:
    """Families whose noise adds both texture and grain (what a trace of noise does to the features)."""
    rng = np.random.default_rng(seed)
    items, rows, arts, sevs = [], [], [], []
    for c in range(n_clips):
        base = rng.normal(0, 1, len(NAMES))
        base[1] = -2.0 + 0.1 * rng.normal()  # a clean clip shows little grain
        for a, s, scale in MEMBERS:
            x = base.copy()
            if a == "noise":
                x[0] += 1.5 * s + 0.5
                x[1] += 4.0 * s + 1.0
            name = "base.mkv" if (a is None and scale == 1.0) else f"copy_{a}_{s}_{scale}.mkv"
            meta = {"family": f"clip{c}.mp4", "artifact": a, "severity": s, "scale": scale}
            items.append(Item(f"/fam/{c}/{name}", "", meta))
            rows.append(x)
            arts.append(a)
            sevs.append(s)
    fam = Families(items, np.full(len(items), -1), arts, np.array(sevs))
    return fam, FeatureTable(NAMES, np.array(rows))


def _model(anchored: bool | dict) -> QualityModel:
    dims = {"params": {"n_estimators": 20}, "anchored": anchored}
    return QualityModel(features="spatial,temporal", regressor="ridge", artifact_dims=dims, augment={"drop": 0.6})


def _noise_steps(model: QualityModel, fam: Families, fam_table: FeatureTable) -> np.ndarray:
    """Score of each noisy copy minus its family's source."""
    p = model.predict(fam_table).reshape(-1, 5)
    return p[:, 2:] - p[:, :1]


def test_anchored_families_teach_the_score_that_noise_lowers_it():
    table, y = _labelled()
    fam, fam_table = _unlabelled()
    rows = np.arange(len(fam.items))
    labelled = np.ones(len(y), dtype=bool)
    plain = _fit(_model(False), table, y, labelled, fam, fam_table, rows)
    anchored = _fit(_model(True), table, y, labelled, fam, fam_table, rows)
    assert np.all(_noise_steps(plain, fam, fam_table) > 0)  # rated clips alone reward the texture noise adds
    steps = _noise_steps(anchored, fam, fam_table)
    assert np.all(steps < 0), steps
    assert np.all(np.diff(steps, axis=1) < 0)  # more noise, lower score
    assert anchored.n_train_ == len(y) + len(fam.items)


def test_anchored_targets_follow_the_source_and_the_augmentation_drop():
    fam, _ = _unlabelled(n_clips=2)
    rows = np.arange(len(fam.items))
    scores = np.array([4.0, 3.9, 3.5, 3.2, 2.0, 3.0, 3.1, 2.9, 2.5, 2.0])
    scores[5] = np.nan  # the second family's source failed
    t = fam.anchored_targets(rows, scores, AugmentConfig(drop=0.6))
    np.testing.assert_allclose(t[:5], [4.0, 4.0, 4.0 - 0.06 * 3, 4.0 - 0.24 * 3, 4.0 - 0.54 * 3])
    assert np.isnan(t[5:]).all()


def test_anchored_min_severity_leaves_faint_copies_to_the_dimensions():
    table, y = _labelled()
    fam, fam_table = _unlabelled()
    rows = np.arange(len(fam.items))
    labelled = np.ones(len(y), dtype=bool)
    model = _fit(_model({"min_severity": 0.2}), table, y, labelled, fam, fam_table, rows)
    n_families = len(fam.items) // len(MEMBERS)
    faint = sum(1 for a, s, _ in MEMBERS if a is not None and s < 0.2) * n_families  # each family's 0.1 copy
    assert model.n_train_ == len(y) + len(fam.items) - faint
    steps = _noise_steps(model, fam, fam_table)
    assert np.all(steps[:, 1:] < 0), steps  # the copies it learned from still lower the score


def test_anchored_is_checked():
    with pytest.raises(ValueError, match="anchored"):
        QualityModel(artifact_dims={"anchored": "yes"}).anchored()
    for bad in ({"min_severity": 1.5}, {"min_severity": "0.2"}, {"severity": 0.2}):
        with pytest.raises(ValueError, match="min_severity"):
            QualityModel(artifact_dims={"anchored": bad}).anchored()
    assert QualityModel(artifact_dims={"anchored": {"min_severity": 0.2}}).anchored_min_severity() == 0.2
    with pytest.raises(ValueError, match="penalty"):
        QualityModel(artifact_dims={"anchored": True, "penalty": {"drop": 0.6}}).anchored()
    on_top = {"on_top": True, "drop": 0.0, "drop_by_artifact": {"noise": 1.0}}
    assert QualityModel(artifact_dims={"anchored": True, "penalty": on_top}).anchored()
    assert not QualityModel(artifact_dims={"families": {}}).anchored()
