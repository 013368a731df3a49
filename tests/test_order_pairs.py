"""Order pairs: a clip's own graded artifact copies teach the score, without human labels, that
an artifact lowers it (``ridge`` with ``pair_weight``)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.test_anchored import NAMES, _labelled, _unlabelled

from aigvqa.extract import FeatureTable
from aigvqa.model import QualityModel
from aigvqa.pipeline import _fit
from aigvqa.regressors import OrderPairs, make_regressor


def _pairs(fam_table: FeatureTable, fam) -> OrderPairs:
    better, worse, severity, same_a, same_b = fam.order_index(np.arange(len(fam.items)), {})
    X = fam_table.values
    return OrderPairs(X[better], X[worse], severity, X[same_a], X[same_b])


def _steps(reg, fam_table: FeatureTable) -> np.ndarray:
    """Score of each noisy copy minus its family's source (5 members a family: source, half size, 3 noisy)."""
    p = reg.predict(fam_table.values).reshape(-1, 5)
    return p[:, 2:] - p[:, :1]


def test_order_index_pairs_each_source_with_its_copies_and_skips_failed_members():
    fam, _ = _unlabelled(n_clips=3)
    better, worse, severity, same_a, same_b = fam.order_index(np.arange(len(fam.items)), {})
    assert len(better) == 9 and len(same_a) == 3  # three noisy copies and one half-size copy a family
    assert all(fam.items[b].meta["family"] == fam.items[w].meta["family"] for b, w in zip(better, worse, strict=True))
    assert all(not fam.is_copy()[b] for b in better) and all(fam.is_copy()[w] for w in worse)
    np.testing.assert_allclose(severity, [0.1, 0.4, 0.9] * 3)
    # a failed source anchors no pair; a failed copy is left out alone
    better, worse, _, same_a, _ = fam.order_index(np.arange(len(fam.items)), {0: "decode error", 7: "decode error"})
    assert 0 not in better and 7 not in worse
    assert len(better) == 5 and len(same_a) == 2


def test_pairs_stop_a_ridge_rewarding_what_an_artifact_does_to_the_features():
    table, y = _labelled()
    fam, fam_table = _unlabelled()
    plain = make_regressor("ridge").fit(table.values, y)
    assert (_steps(plain, fam_table) > 0).mean() > 0.9  # noise adds the texture people rewarded
    ridge = make_regressor("ridge", pair_weight=5.0, pair_margin=0.5)
    ridge.set_order_pairs(_pairs(fam_table, fam))
    ridge.fit(table.values, y)
    steps = _steps(ridge, fam_table)
    assert (steps < 0).all()
    assert (np.diff(steps, axis=1) < 0).all()  # a stronger copy scores lower
    # the labels are still followed
    assert np.corrcoef(ridge.predict(table.values), y)[0, 1] > 0.8


def test_pair_weight_zero_or_no_pairs_is_plain_ridge_to_the_last_bit():
    table, y = _labelled()
    fam, fam_table = _unlabelled()
    plain = make_regressor("ridge").fit(table.values, y)
    unused = make_regressor("ridge", pair_weight=0.0)
    unused.set_order_pairs(_pairs(fam_table, fam))
    unused.fit(table.values, y)
    without = make_regressor("ridge", pair_weight=5.0).fit(table.values, y)
    for other in (unused, without):
        assert np.array_equal(other.state["coef"], plain.state["coef"])
        assert np.array_equal(other.state["intercept"], plain.state["intercept"])


def test_negative_pair_settings_are_refused():
    with pytest.raises(ValueError, match="pair_weight"):
        make_regressor("ridge", pair_weight=-1.0)


def test_a_stack_gives_each_block_the_pairs_on_its_own_columns():
    table, y = _labelled()
    fam, fam_table = _unlabelled()
    blocks = [
        {"name": "look", "features": "spatial", "regressor": "blend",
         "params": {"members": ["ridge", "knn"], "member_params": {"ridge": {"pair_weight": 5.0}}}},
        {"name": "motion", "features": "temporal", "regressor": "ridge"},
    ]  # fmt: skip
    stack = make_regressor("stack", blocks=blocks)
    stack.set_feature_names(NAMES)
    stack.set_order_pairs(_pairs(fam_table, fam))
    stack.fit(table.values, y)
    look, motion = stack.models
    assert look.models[0].pairs.better.shape[1] == 3 and motion.pairs.better.shape[1] == 1
    ridge = look.models[0]  # the member that learns from the pairs
    p = ridge.predict(fam_table.values[:, :3]).reshape(-1, 5)
    assert (p[:, 2:] < p[:, :1]).all()


def test_training_passes_the_families_pairs_to_the_score():
    table, y = _labelled()
    fam, fam_table = _unlabelled()
    scores = {}
    for weight in (0.0, 5.0):
        model = QualityModel(features="spatial,temporal", regressor="ridge", regressor_params={"pair_weight": weight},
                             artifact_dims={"params": {"n_estimators": 20}})  # fmt: skip
        _fit(model, table, y, np.ones(len(y), dtype=bool), fam, fam_table, np.arange(len(fam.items)))
        p = model.predict_raw(fam_table).reshape(-1, 5)
        scores[weight] = p[:, 2:] - p[:, :1]
    assert (scores[0.0] > 0).mean() > 0.9
    assert (scores[5.0] < 0).all()
