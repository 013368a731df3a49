"""A stacking block's ``max_share``: the prompt block cannot move a score by more than its bound.

Tiny synthetic stacks only (no shared data): a video block on ``temporal`` columns and a prompt
block on ``lexical`` columns, with a prompt row far outside anything seen in training."""

from __future__ import annotations

import numpy as np
import pytest

from aigvqa.extract import FeatureTable
from aigvqa.model import QualityModel
from aigvqa.regressors import make_regressor
from aigvqa.regressors.stacking import bounded_share

NAMES = [f"temporal.t{i}" for i in range(3)] + ["lexical.a", "lexical.b", "lexical.lex_chars"]
VIDEO = {"name": "video", "features": "temporal", "regressor": "ridge"}
PROMPT = {"name": "prompt", "features": "lexical", "regressor": "ridge", "absent_if_zero": "lexical.lex_chars"}
BOUND = 0.1


def _data(n: int = 120, seed: int = 0):
    """Both blocks informative; the prompt's own share spreads well beyond ``BOUND``."""
    rng = np.random.default_rng(seed)
    video, prompt = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
    chars = rng.integers(5, 60, size=(n, 1)).astype(float)
    y = 3.0 + 0.5 * video @ np.array([1.0, -0.5, 0.2]) + 0.4 * prompt @ np.array([1.0, 0.5])
    return np.hstack([video, prompt, chars]), y


def _stack(max_share: float | None = BOUND):
    prompt = PROMPT if max_share is None else {**PROMPT, "max_share": max_share}
    model = make_regressor("stack", seed=0, blocks=[VIDEO, prompt])
    model.set_feature_names(NAMES)
    return model


def _with_extreme_prompts(X: np.ndarray) -> np.ndarray:
    """The first rows with prompt features 50 times as far out as any training row, both ways."""
    extreme = X[:6].copy()
    extreme[:3, 3:5] = 50 * np.abs(X[:, 3:5]).max()
    extreme[3:, 3:5] = -50 * np.abs(X[:, 3:5]).max()
    return extreme


def test_an_extreme_prompt_cannot_move_the_score_by_more_than_max_share():
    X, y = _data()
    bounded, free = _stack().fit(X, y), _stack(None).fit(X, y)
    extreme = _with_extreme_prompts(X)
    no_prompt = extreme.copy()
    no_prompt[:, 3:] = 0.0  # absent prompt: the prompt block gives its centre, share 0
    free_move = free.predict(extreme) - free.predict(no_prompt)
    assert np.abs(free_move).min() > 10 * BOUND  # unbounded, the wording alone moves the score far
    move = bounded.predict(extreme) - bounded.predict(no_prompt)
    assert np.all(np.abs(move) <= BOUND + 1e-12) and np.abs(move).min() > 0.99 * BOUND
    assert np.all(np.sign(move) == np.sign(free_move))
    shares = bounded.block_contributions(extreme)
    np.testing.assert_allclose(shares["prompt"], move, atol=1e-9)
    np.testing.assert_allclose(shares["video"], free.block_contributions(extreme)["video"], atol=1e-12)


def test_the_bound_keeps_the_order_of_prompts_and_leaves_small_shares_nearly_alone():
    X, y = _data()
    bounded, free = _stack().fit(X, y), _stack(None).fit(X, y)
    raw = free.block_contributions(X)["prompt"]
    kept = bounded.block_contributions(X)["prompt"]
    order = np.argsort(raw)
    assert np.all(np.diff(kept[order]) >= 0) and np.all(np.abs(kept) <= BOUND)
    small = np.abs(raw) < 0.2 * BOUND
    assert small.any()
    np.testing.assert_allclose(kept[small], raw[small], rtol=0.02)
    s = np.linspace(-1, 1, 201)
    assert np.all(np.diff(bounded_share(s, 0.25)) > 0) and np.array_equal(bounded_share(s, None), s)


def test_explanations_still_sum_to_the_score():
    X, y = _data()
    stack = _stack().fit(X, y)
    rows = np.vstack([X, _with_extreme_prompts(X)])
    rows[-1, 3:] = 0.0  # and a row without a prompt
    pred = stack.predict(rows)
    contrib = stack.contributions(rows)
    np.testing.assert_allclose(contrib.sum(axis=1), pred, atol=1e-9)
    shares = stack.block_contributions(rows)
    np.testing.assert_allclose(sum(shares.values()) + stack.block_baseline(), pred, atol=1e-9)
    # the prompt columns' contributions shrink with the share: an extreme prompt's are small
    assert np.abs(contrib[-6:-1, 3:6].sum(axis=1)).max() < 2 * BOUND
    assert np.abs(stack.block_contributions(rows[-1:])["prompt"]).max() == 0.0


def test_without_max_share_predictions_are_unchanged():
    X, y = _data()
    stack = _stack(None).fit(X, y)
    P = np.column_stack([m.predict(X[:, c]) for m, c in zip(stack.models, stack.columns, strict=True)])
    np.testing.assert_array_equal(stack.predict(X), stack.intercept + P @ stack.weights)


def test_save_and_load_keep_the_bound(tmp_path):
    X, y = _data()
    stack = _stack().fit(X, y)
    stack.save(tmp_path, "main")
    params = {"blocks": [VIDEO, {**PROMPT, "max_share": BOUND}]}
    loaded = type(stack).load(tmp_path, "main", 0, **params)
    extreme = _with_extreme_prompts(X)
    np.testing.assert_array_equal(loaded.predict(extreme), stack.predict(extreme))
    assert np.abs(loaded.block_contributions(extreme)["prompt"]).max() <= BOUND + 1e-12


def test_a_quality_model_round_trip_keeps_the_bound(tmp_path):
    X, y = _data()
    recipe = {"group_by": "lexical", "blocks": [VIDEO, {**PROMPT, "max_share": BOUND}]}
    model = QualityModel(features="temporal,lexical", regressor="stack", regressor_params=recipe)
    model.fit(FeatureTable(list(NAMES), X), y)
    table = FeatureTable(list(NAMES), np.vstack([X[:10], _with_extreme_prompts(X)]))
    model.save(tmp_path / "model")
    loaded = QualityModel.load(tmp_path / "model")
    assert loaded.regressor_params["blocks"][1]["max_share"] == BOUND
    np.testing.assert_array_equal(loaded.predict(table), model.predict(table))
    shares, _ = loaded.explain_blocks(table)
    assert np.abs(shares["prompt"]).max() <= BOUND + 1e-12
    # the prompt-only fallback model (used when a video fails) is bounded too
    assert np.abs(loaded.fallback_.block_contributions(table.values[:, 3:])["prompt"]).max() <= BOUND + 1e-12


@pytest.mark.parametrize("value", [0, -0.1, float("nan"), float("inf"), "0.1", True, [0.1]])
def test_an_invalid_max_share_is_a_clear_error(value):
    with pytest.raises(ValueError, match=r"block 'prompt': max_share must be a number > 0"):
        make_regressor("stack", blocks=[VIDEO, {**PROMPT, "max_share": value}])


def test_max_share_null_means_no_bound():
    stack = make_regressor("stack", blocks=[VIDEO, {**PROMPT, "max_share": None}])
    assert stack.blocks[1]["max_share"] is None
