"""Challenge metrics agree with scipy; Score = (PLCC + SROCC) / 2; bootstrap CI; degenerate inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from aigvqa.metrics import bootstrap_score, correlations, evaluate, fast_score, logistic_fit


def _data(seed: int, n: int = 80, noise: float = 0.7):
    rng = np.random.default_rng(seed)
    y = rng.uniform(1, 5, n)
    pred = 0.6 * y + rng.normal(0, noise, n) + 0.3
    return pred, y


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_evaluate_matches_scipy(seed):
    pred, y = _data(seed, n=50 + 10 * seed)
    m = evaluate(pred, y, n_boot=200, seed=0)
    assert m["plcc"] == pytest.approx(stats.pearsonr(pred, y)[0], abs=1e-6)
    assert m["srocc"] == pytest.approx(stats.spearmanr(pred, y)[0], abs=1e-6)
    assert m["krcc"] == pytest.approx(stats.kendalltau(pred, y)[0], abs=1e-6)
    assert m["rmse"] == pytest.approx(math.sqrt(np.mean((pred - y) ** 2)), abs=1e-6)
    assert m["score"] == pytest.approx((m["plcc"] + m["srocc"]) / 2, abs=1e-12)
    assert m["n"] == len(y)


def test_ties_match_scipy():
    rng = np.random.default_rng(5)
    y = rng.integers(1, 6, 60).astype(float)  # MOS-like ties
    pred = np.round(y + rng.normal(0, 1, 60))
    m = correlations(pred, y)
    assert m["srocc"] == pytest.approx(stats.spearmanr(pred, y)[0], abs=1e-6)
    assert m["krcc"] == pytest.approx(stats.kendalltau(pred, y)[0], abs=1e-6)


def test_accepts_lists_and_is_symmetric_in_correlation():
    pred, y = _data(7)
    a = correlations(list(pred), list(y))
    b = correlations(y, pred)
    for key in ("plcc", "srocc", "krcc", "rmse", "score"):
        assert a[key] == pytest.approx(b[key], abs=1e-12)


def test_fast_score_agrees_with_full_score():
    pred, y = _data(11)
    assert fast_score(pred, y) == pytest.approx(correlations(pred, y)["score"], abs=1e-9)


def test_perfect_and_inverted_predictions():
    y = np.linspace(1, 5, 30)
    assert evaluate(y, y, n_boot=50)["score"] == pytest.approx(1.0)
    assert evaluate(-y, y, n_boot=50)["score"] == pytest.approx(-1.0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_bootstrap_ci_contains_score(seed):
    pred, y = _data(seed, n=120)
    m = evaluate(pred, y, n_boot=300, seed=seed)
    assert m["score_ci_low"] < m["score"] < m["score_ci_high"]
    assert -1 <= m["score_ci_low"] and m["score_ci_high"] <= 1
    assert m["score_ci_high"] - m["score_ci_low"] < 0.5


def test_bootstrap_is_deterministic_for_a_seed():
    pred, y = _data(3)
    assert bootstrap_score(pred, y, n_boot=200, seed=42) == bootstrap_score(pred, y, n_boot=200, seed=42)
    assert bootstrap_score(pred, y, n_boot=200, seed=42) != bootstrap_score(pred, y, n_boot=200, seed=43)
    first = evaluate(pred, y, n_boot=200, seed=9)
    assert first == evaluate(pred, y, n_boot=200, seed=9)


def test_bootstrap_ci_narrows_with_more_items():
    small = evaluate(*_data(0, n=40), n_boot=300)
    large = evaluate(*_data(0, n=400), n_boot=300)
    assert large["score_ci_high"] - large["score_ci_low"] < small["score_ci_high"] - small["score_ci_low"]


def test_logistic_plcc_helps_on_monotone_nonlinear_relation():
    rng = np.random.default_rng(0)
    pred = np.sort(rng.uniform(-4, 4, 100))
    y = 1 + 4 / (1 + np.exp(-2 * pred)) + rng.normal(0, 0.02, 100)  # saturating, monotone
    m = evaluate(pred, y, n_boot=50)
    assert m["plcc_logistic"] >= m["plcc"] - 1e-9
    assert m["plcc_logistic"] > 0.99 > m["plcc"]
    fitted = logistic_fit(pred, y)
    assert fitted.shape == pred.shape
    assert np.sqrt(np.mean((fitted - y) ** 2)) < 0.1  # mapped onto the target scale


def test_logistic_plcc_never_much_worse_on_linear_data():
    pred, y = _data(2)
    m = evaluate(pred, y, n_boot=50)
    assert m["plcc_logistic"] >= m["plcc"] - 1e-3


@pytest.mark.parametrize("which", ["pred", "target"])
def test_constant_input_gives_nan_correlations_without_crashing(which):
    y = np.linspace(1, 5, 25)
    const = np.full(25, 3.0)
    pred, target = (const, y) if which == "pred" else (y, const)
    m = evaluate(pred, target, n_boot=100)
    for key in ("plcc", "plcc_logistic", "srocc", "krcc", "score"):
        assert math.isnan(m[key]), key
    assert math.isfinite(m["rmse"])
    # an interval around an undefined score would be misleading
    assert math.isnan(m["score_ci_low"]) and math.isnan(m["score_ci_high"])


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_tiny_samples_do_not_crash(n):
    # e.g. a small group in 'aigvqa evaluate --by'
    pred = np.arange(n, dtype=float)
    y = pred**2 + 1
    m = evaluate(pred, y, n_boot=50)
    assert m["n"] == n
    if n >= 2:
        assert m["srocc"] == pytest.approx(1.0)
    else:
        assert math.isnan(m["score"])
