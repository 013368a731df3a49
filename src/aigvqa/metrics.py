"""Challenge metrics: PLCC, SROCC, KRCC, RMSE, Score = (PLCC + SROCC) / 2."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize, stats


def _logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    return (b1 - b2) / (1.0 + np.exp(-(x - b3) / (np.abs(b4) + 1e-12))) + b2


def logistic_fit(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Map predictions through the 4-parameter logistic fitted to the targets (VQEG practice)."""
    pred = np.asarray(pred, dtype=float)
    target = np.asarray(target, dtype=float)
    if len(pred) < 4:  # fewer points than the 4 parameters: curve_fit raises TypeError
        return pred
    p0 = [target.max(), target.min(), float(np.mean(pred)), float(np.std(pred)) or 1.0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = optimize.curve_fit(_logistic4, pred, target, p0=p0, maxfev=20000)
        return _logistic4(pred, *params)
    except (RuntimeError, ValueError, optimize.OptimizeWarning):
        return pred


def _corr(fn, a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(fn(a, b)[0])


def correlations(pred, target) -> dict[str, float]:
    """PLCC (raw), SROCC, KRCC, RMSE and Score of predictions against targets."""
    pred = np.asarray(pred, dtype=float)
    target = np.asarray(target, dtype=float)
    plcc = _corr(stats.pearsonr, pred, target)
    srocc = _corr(stats.spearmanr, pred, target)
    return {
        "plcc": plcc,
        "srocc": srocc,
        "krcc": _corr(stats.kendalltau, pred, target),
        "rmse": float(np.sqrt(np.mean((pred - target) ** 2))),
        "score": (plcc + srocc) / 2,
    }


def evaluate(pred, target, n_boot: int = 1000, seed: int = 0) -> dict[str, float]:
    """All challenge metrics plus the logistic-fitted PLCC and a bootstrap 95% CI of Score."""
    pred = np.asarray(pred, dtype=float)
    target = np.asarray(target, dtype=float)
    result = correlations(pred, target)
    fitted = logistic_fit(pred, target)
    result["plcc_logistic"] = _corr(stats.pearsonr, fitted, target)
    result["n"] = int(len(pred))
    lo, hi = bootstrap_score(pred, target, n_boot=n_boot, seed=seed)
    result["score_ci_low"] = lo
    result["score_ci_high"] = hi
    return result


def fast_score(pred: np.ndarray, target: np.ndarray) -> float:
    """(PLCC + SROCC) / 2 without the extras, for tuning loops."""
    pred = np.asarray(pred, dtype=float)
    target = np.asarray(target, dtype=float)
    if np.ptp(pred) == 0 or np.ptp(target) == 0:
        return 0.0
    plcc = np.corrcoef(pred, target)[0, 1]
    srocc = np.corrcoef(stats.rankdata(pred), stats.rankdata(target))[0, 1]
    return float((plcc + srocc) / 2)


def bootstrap_score(pred: np.ndarray, target: np.ndarray, n_boot: int = 1000, seed: int = 0):
    """Percentile bootstrap 95% interval of Score (resampling items with replacement)."""
    n = len(pred)
    if n < 3 or np.ptp(pred) == 0 or np.ptp(target) == 0:  # Score itself is undefined
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        scores.append(fast_score(pred[idx], target[idx]))
    return float(np.percentile(scores, 2.5)), float(np.percentile(scores, 97.5))
