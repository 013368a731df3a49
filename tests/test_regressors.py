"""Regressors: learning, persistence and additive explanations."""

from __future__ import annotations

import numpy as np
import pytest

from aigvqa.regressors import REGRESSORS, make_regressor


def _data(n: int = 120, d: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = 3 + X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=n)
    X[::17, 2] = np.nan  # missing values must be tolerated
    return X, y


@pytest.mark.parametrize("name", ["lightgbm", "ridge", "knn", "svr", "blend"])
def test_learns_saves_and_explains(name, tmp_path):
    X, y = _data()
    Xt, yt = _data(40, seed=1)
    model = make_regressor(name, seed=0).fit(X, y)
    pred = model.predict(Xt)
    assert np.corrcoef(pred, yt)[0, 1] > 0.6
    model.save(tmp_path, "main")
    loaded = REGRESSORS.get(name).load(tmp_path, "main", seed=0)
    np.testing.assert_allclose(loaded.predict(Xt), pred)
    contrib = model.contributions(Xt)
    assert contrib.shape == (len(Xt), X.shape[1] + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), pred, rtol=1e-6, atol=1e-6)


def test_knn_returns_neighbours_targets_and_merges_duplicates():
    X = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.1]])
    y = np.array([1.0, 3.0, 5.0, 5.0])
    model = make_regressor("knn", k=1).fit(X, y)
    # the two identical rows are one neighbour with their mean target
    np.testing.assert_allclose(model.predict(np.array([[0.0, 1.0], [1.0, 0.05]])), [2.0, 5.0])


def test_blend_is_the_mean_of_its_members():
    X, y = _data()
    blend = make_regressor("blend", members=("ridge", "lightgbm")).fit(X, y)
    members = [make_regressor(m).fit(X, y).predict(X) for m in ("ridge", "lightgbm")]
    np.testing.assert_allclose(blend.predict(X), np.mean(members, axis=0))


def test_weighted_blend_and_member_params():
    X, y = _data()
    blend = make_regressor(
        "blend", members=("ridge", "knn"), weights=(3, 1), member_params={"knn": {"k": 3}}
    ).fit(X, y)
    ridge = make_regressor("ridge").fit(X, y).predict(X)
    knn = make_regressor("knn", k=3).fit(X, y).predict(X)
    np.testing.assert_allclose(blend.predict(X), 0.75 * ridge + 0.25 * knn)
    np.testing.assert_allclose(blend.contributions(X).sum(axis=1), blend.predict(X), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="weights must be 2 non-negative numbers"):
        make_regressor("blend", members=("ridge", "knn"), weights=(1,))
    with pytest.raises(ValueError, match="member_params for svr, which are not members"):
        make_regressor("blend", members=("ridge", "knn"), member_params={"svr": {}})


def test_lightgbm_is_deterministic():
    X, y = _data()
    a = make_regressor("lightgbm", seed=3).fit(X, y).predict(X)
    b = make_regressor("lightgbm", seed=3).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)


def test_svr_prediction_matches_scikit_learn():
    """The saved-array SVR predicts exactly what scikit-learn's fitted SVR predicts."""
    from sklearn.svm import SVR

    from aigvqa.regressors.base import _standardize

    X, y = _data()
    X = np.nan_to_num(X)
    model = make_regressor("svr", C=1.0).fit(X, y)
    reference = SVR(C=1.0, epsilon=0.1, gamma="scale").fit(_standardize(X, model.state), y)
    Xt = np.nan_to_num(_data(30, seed=2)[0])
    np.testing.assert_allclose(model.predict(Xt), reference.predict(_standardize(Xt, model.state)), atol=1e-8)


def test_prompt_only_recipe_loads():
    from pathlib import Path

    from aigvqa.model import QualityModel
    from aigvqa.recipes import load_recipe as _load_recipe

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "prompt_only.json"
    model = QualityModel(**_load_recipe(recipe))
    assert model.features == "prompt,minilm_tokens" and not model.needs_video()
    blend = make_regressor(model.regressor, **model.regressor_params)
    assert blend.members == ("svr", "knn", "lightgbm", "minilm_ft") and blend.uses_sequences


def test_merge_duplicates_keeps_order_and_averages_targets():
    from aigvqa.regressors.base import merge_duplicates

    X = np.array([[3.0], [1.0], [3.0], [2.0]])
    rows, targets, counts = merge_duplicates(X, np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(rows.ravel(), [3.0, 1.0, 2.0])
    np.testing.assert_array_equal(targets, [2.0, 2.0, 4.0])
    np.testing.assert_array_equal(counts, [2, 1, 1])
    unique = np.array([[5.0], [4.0]])
    np.testing.assert_array_equal(merge_duplicates(unique, np.array([1.0, 2.0]))[0], unique)


@pytest.mark.parametrize("name", ["lightgbm", "ridge", "knn", "svr", "blend"])
def test_a_rows_score_does_not_depend_on_its_position(name):
    """Same input, same output: shuffling the items to score leaves each item's score bit-identical."""
    X, y = _data(150, d=37)
    Xt, _ = _data(61, d=37, seed=1)
    model = make_regressor(name, seed=0).fit(X, y)
    pred = model.predict(Xt)
    perm = np.random.default_rng(2).permutation(len(Xt))
    np.testing.assert_array_equal(model.predict(np.ascontiguousarray(Xt[perm])), pred[perm])
    np.testing.assert_array_equal(model.predict(Xt[5:6]), pred[5:6])


def test_scores_stay_inside_the_training_range_in_the_same_order():
    from aigvqa.model import soft_bound

    x = np.linspace(-3, 9, 500)
    b = soft_bound(x, 1.0, 5.0)
    assert b.min() > 1.0 and b.max() < 5.0
    assert np.all(np.diff(b) > 0)  # strictly increasing: no ties, the ranking is kept
    middle = (x > 1.4) & (x < 4.6)
    np.testing.assert_array_equal(b[middle], x[middle])  # the middle of the range is untouched


def test_lightgbm_fits_rows_that_are_all_the_same():
    """Clips that all share one prompt give the prompt-only fallback identical rows: they merge
    into one, and LightGBM must still fit (their mean) instead of stopping on an empty bag."""
    X = np.tile([[1.0, 2.0, 3.0]], (8, 1))
    y = np.linspace(3.0, 4.0, 8)
    model = make_regressor("lightgbm", seed=0).fit(X, y)
    assert np.allclose(model.predict(X), y.mean())
