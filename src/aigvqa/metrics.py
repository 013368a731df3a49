"""Challenge metrics: PLCC, SROCC, KRCC, RMSE, Score = (PLCC + SROCC) / 2."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import optimize, stats


def _logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    return (b1 - b2) / (1.0 + np.exp(-(x - b3) / (np.abs(b4) + 1e-12))) + b2


def logistic_params(pred: np.ndarray, target: np.ndarray, p0=None) -> np.ndarray | None:
    """The 4-parameter logistic's parameters fitted to the targets, or None if the fit fails.

    ``p0`` is the starting point (default: from the data's range, mean and spread).
    """
    pred = np.asarray(pred, dtype=float)
    target = np.asarray(target, dtype=float)
    if len(pred) < 4:  # fewer points than the 4 parameters: curve_fit raises TypeError
        return None
    if p0 is None:
        p0 = [target.max(), target.min(), float(np.mean(pred)), float(np.std(pred)) or 1.0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = optimize.curve_fit(_logistic4, pred, target, p0=p0, maxfev=20000)
        return params
    except (RuntimeError, ValueError, optimize.OptimizeWarning):
        return None


def logistic_curve(x: np.ndarray, params: np.ndarray) -> np.ndarray:
    """The fitted logistic evaluated at ``x`` (saturates quietly far from its centre)."""
    with np.errstate(over="ignore"):
        return _logistic4(np.asarray(x, dtype=float), *params)


def logistic_fit(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Map predictions through the 4-parameter logistic fitted to the targets (VQEG practice)."""
    pred = np.asarray(pred, dtype=float)
    params = logistic_params(pred, target)
    return pred if params is None else logistic_curve(pred, params)


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


REPORTED = ("plcc", "plcc_logistic", "srocc", "krcc", "rmse", "score", "n")


def reported(pred, target, n_boot: int = 1000, seed: int = 0) -> dict:
    """:func:`evaluate` as ``aigvqa evaluate`` reports it: the metrics of :data:`REPORTED` and
    ``score_ci95`` = [low, high]."""
    m = evaluate(pred, target, n_boot=n_boot, seed=seed)
    return {**{k: m[k] for k in REPORTED}, "score_ci95": [m["score_ci_low"], m["score_ci_high"]]}


def fast_score(pred: np.ndarray, target: np.ndarray) -> float:
    """(PLCC + SROCC) / 2 without the extras, for tuning loops."""
    pred = np.asarray(pred, dtype=float)
    target = np.asarray(target, dtype=float)
    if np.ptp(pred) == 0 or np.ptp(target) == 0:
        return 0.0
    plcc, srocc = _plcc_srocc(pred, target)
    return float((plcc + srocc) / 2)


def _plcc_srocc(pred: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """PLCC and SROCC with plain NumPy (no scipy.stats call overhead), for non-constant inputs."""
    plcc = np.corrcoef(pred, target)[0, 1]
    srocc = np.corrcoef(stats.rankdata(pred), stats.rankdata(target))[0, 1]
    return plcc, srocc


def bootstrap_score(pred: np.ndarray, target: np.ndarray, n_boot: int = 1000, seed: int = 0):
    """Percentile bootstrap 95% interval of Score (resampling items with replacement)."""
    n = len(pred)
    if n < 3 or np.ptp(pred) == 0 or np.ptp(target) == 0:  # Score itself is undefined
        return float("nan"), float("nan")
    scores = [fast_score(pred[idx], target[idx]) for idx in _resamples(n, n_boot, seed)]
    return float(np.percentile(scores, 2.5)), float(np.percentile(scores, 97.5))


def _resamples(n: int, n_boot: int, seed: int):
    """``n_boot`` seeded draws of ``n`` item indices with replacement (the same for a seed)."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield rng.integers(0, n, n)


METRIC_NAMES = ("plcc", "plcc_logistic", "srocc", "krcc", "rmse", "score")


def bootstrap_intervals(pred, target, n_boot: int = 1000, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap 95% interval of every metric in :data:`METRIC_NAMES`.

    Items are resampled with replacement, ``n_boot`` times, with the same draws as
    :func:`bootstrap_score` for the same seed (so the Score interval is the one ``evaluate``
    reports); each resample recomputes every metric, the logistic fit included (started from
    the full-sample fit). Resamples
    where a metric is undefined (constant predictions) are left out of its interval.
    """
    pred = np.asarray(pred, dtype=float)
    target = np.asarray(target, dtype=float)
    nan = (float("nan"), float("nan"))
    if len(pred) < 3 or np.ptp(pred) == 0 or np.ptp(target) == 0:
        return dict.fromkeys(METRIC_NAMES, nan)
    values: dict[str, list[float]] = {k: [] for k in METRIC_NAMES}
    start = logistic_params(pred, target)  # each resample's fit starts from the full-sample fit
    for idx in _resamples(len(pred), n_boot, seed):
        p, t = pred[idx], target[idx]
        values["rmse"].append(float(np.sqrt(np.mean((p - t) ** 2))))
        if np.ptp(p) == 0 or np.ptp(t) == 0:  # Score 0 as in bootstrap_score; the rest undefined
            values["score"].append(0.0)
            continue
        plcc, srocc = _plcc_srocc(p, t)
        values["plcc"].append(float(plcc))
        values["srocc"].append(float(srocc))
        values["score"].append(float((plcc + srocc) / 2))
        values["krcc"].append(float(stats.kendalltau(p, t)[0]))
        params = logistic_params(p, t, p0=start)
        fitted = p if params is None else logistic_curve(p, params)
        values["plcc_logistic"].append(float(np.corrcoef(fitted, t)[0, 1]) if np.ptp(fitted) else float("nan"))
    out = {}
    for k, v in values.items():
        finite = np.asarray(v)[np.isfinite(v)]
        out[k] = (float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))) if len(finite) else nan
    return out
