"""The learned damage: rises with every artifact on clips it never saw, and the score loses it."""

from __future__ import annotations

import numpy as np
import pytest

from aigvqa.artifacts import ARTIFACTS
from aigvqa.damage import ArtifactSubspace, DamageModel
from aigvqa.extract import FeatureTable
from aigvqa.model import QualityModel

NAMES = [f"spatial.f{j}" for j in range(12)] + [f"temporal.g{j}" for j in range(6)] + ["lexical.lex_chars"]
SEVERITIES = (0.05, 0.2, 0.5, 0.9)
WEIGHTS = {a: 0.6 for a in ARTIFACTS}


def _families(n_clips: int, seed: int):
    """Synthetic family rows. Artifact k raises feature k with its severity, and also lowers the
    next feature (as noise hides blur), with a clip-specific gain; clips differ widely along every
    feature; a rescaled copy moves the last video feature only."""
    rng = np.random.default_rng(seed)
    rows, arts, sev, fams, scales = [], [], [], [], []
    for c in range(n_clips):
        base = rng.normal(0, 0.5, len(NAMES))
        gain = rng.uniform(0.5, 1.5)
        for a in [None, *ARTIFACTS, "size"]:
            for s in [0.0] if a in (None, "size") else SEVERITIES:
                x = base.copy()
                if a == "size":
                    x[17] += 0.8
                elif a is not None:
                    k = ARTIFACTS.index(a)
                    x[k] += 2.0 * gain * s
                    x[k + 1] -= 0.5 * gain * s
                rows.append(x)
                arts.append(None if a == "size" else a)
                sev.append(s)
                fams.append(f"clip{seed}-{c}")
                scales.append(2.0 if a == "size" else 1.0)
    return FeatureTable(NAMES, np.array(rows), {}, {}), arts, np.array(sev), fams, np.array(scales)


def _by_family(values):
    """(source, {artifact: values at SEVERITIES}, rescaled) per family, in row order."""
    out, i = [], 0
    step = 1 + len(ARTIFACTS) * len(SEVERITIES) + 1
    while i < len(values):
        block = values[i : i + step]
        copies = {a: block[1 + k * len(SEVERITIES) : 1 + (k + 1) * len(SEVERITIES)] for k, a in enumerate(ARTIFACTS)}
        out.append((block[0], copies, block[-1]))
        i += step
    return out


def test_damage_rises_with_every_artifact_on_unseen_clips():
    table, arts, sev, fams, scales = _families(60, seed=0)
    damage = DamageModel().fit(table.values, table.names, fams, arts, sev, scales, WEIGHTS)
    test = _families(12, seed=1)[0]
    d = damage.predict(test.values, test.names)
    for source, copies, rescaled in _by_family(d):
        for a, levels in copies.items():
            assert np.all(np.diff(np.concatenate([[source], levels])) > 0), a
        assert abs(rescaled - source) < 0.1 * (copies["blur"][-1] - source)
    # each feature's share adds up to the damage
    np.testing.assert_allclose(damage.contributions(test.values, test.names).sum(axis=1), d, atol=1e-9)
    again = DamageModel.from_dict(damage.to_dict())
    np.testing.assert_array_equal(again.predict(test.values, test.names), d)


def test_the_artifact_subspace_takes_out_what_artifacts_move():
    table, arts, sev, fams, scales = _families(60, seed=0)
    sub = ArtifactSubspace(per_artifact=1).fit(table.values, table.names, fams, arts, sev, scales)
    test = _families(6, seed=2)[0]
    content = sub.remove(test.values, test.names)
    video = [test.names.index(c) for c in sub.columns_]
    moved_before = np.abs(test.values[1:37, video] - test.values[0, video]).max()
    moved_after = np.abs(content[1:37, video] - content[0, video]).max()
    assert moved_after < 0.05 * moved_before
    assert content[:, -1].tolist() == test.values[:, -1].tolist()  # the prompt's columns are kept
    again = ArtifactSubspace.from_dict(sub.to_dict())
    np.testing.assert_array_equal(again.remove(test.values, test.names), content)


def _model() -> QualityModel:
    dims = {"params": {"n_estimators": 20}, "damage": {"weight": 1.0, "project": 1}}
    return QualityModel(features="spatial,temporal,lexical", regressor="ridge", artifact_dims=dims)


def test_a_score_with_damage_falls_with_every_artifact(tmp_path):
    table, arts, sev, fams, scales = _families(60, seed=0)
    model = _model().fit_dimensions(table, arts, sev, family=fams, scale=scales)
    sources = np.array([a is None and s == 1.0 for a, s in zip(arts, scales, strict=True)])
    rated = table.subset(np.flatnonzero(sources))
    # human scores that reward what an artifact also moves (as FETV rewards busy texture)
    y = 3.0 + 0.4 * rated.values[:, 0] + 0.3 * rated.values[:, 12] + 0.2 * rated.values[:, -1]
    model.fit(rated, y)
    assert model.scores_with_damage() and model.has_dimensions()
    test = _families(12, seed=3)[0]
    scores = model.predict_raw(test)
    for source, copies, _ in _by_family(scores):
        for a, levels in copies.items():
            assert np.all(levels < source), a
    np.testing.assert_allclose(model.explain(test).sum(axis=1), scores, atol=1e-9)
    assert np.all(model.damage(test)[1:37] > model.damage(test)[0])
    model.save(tmp_path / "m")
    loaded = QualityModel.load(tmp_path / "m")
    assert loaded.scores_with_damage()
    np.testing.assert_array_equal(loaded.predict(test), model.predict(test))


def test_damage_needs_each_rows_family_and_size():
    table, arts, sev, _, _ = _families(4, seed=0)
    with pytest.raises(ValueError, match="source clip and size factor"):
        _model().fit_dimensions(table, arts, sev)
    with pytest.raises(ValueError, match="must be >= 0"):
        DamageModel(spread=-1.0)


def test_explanations_of_a_score_with_damage_add_up():
    """The damage's share is split exactly over the video features, so baseline + by_artifact +
    bound is the score, and the stack's blocks gain an "artifacts" share (minus the damage)."""
    from aigvqa.explain import explain_rows

    table, arts, sev, fams, scales = _families(60, seed=0)
    model = QualityModel(
        features="spatial,temporal,lexical",
        regressor="stack",
        regressor_params={"blocks": [{"name": "video", "features": "spatial,temporal", "regressor": "ridge"},
                                     {"name": "prompt", "features": "lexical", "regressor": "ridge"}]},
        artifact_dims={"params": {"n_estimators": 20}, "damage": {"weight": 1.0, "project": 1}},
    ).fit_dimensions(table, arts, sev, family=fams, scale=scales)  # fmt: skip
    sources = np.flatnonzero([a is None and s == 1.0 for a, s in zip(arts, scales, strict=True)])
    rated = table.subset(sources)
    model.fit(rated, 3.0 + 0.4 * rated.values[:, 0] + 0.2 * rated.values[:, -1])
    test = _families(3, seed=4)[0]
    scores = model.predict(test)
    for e, s in zip(explain_rows(model, test, scores), scores, strict=True):
        assert e.baseline + sum(e.by_artifact.values()) + e.bound == pytest.approx(s, abs=1e-9)
    shares, baseline = model.explain_blocks(test)
    np.testing.assert_allclose(shares["artifacts"], -model.damage(test))
    np.testing.assert_allclose(baseline + sum(shares.values()), model.predict_raw(test), atol=1e-9)
