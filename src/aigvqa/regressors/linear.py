"""Ridge regression on standardised features (regressor ``ridge``), optionally also taught by
label-free order pairs (a clip above its own artifact copies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS
from aigvqa.regressors.base import OrderPairs, Regressor, Sequences, _standardize, _standardizer


@REGRESSORS.register("ridge")
class RidgeRegressor(Regressor):
    """Linear ridge regression on standardised features (NaN → training median).

    The penalty is chosen by efficient leave-one-out validation (scikit-learn's RidgeCV).

    With ``pair_weight`` > 0 and order pairs given (:meth:`set_order_pairs`: a clip and its
    own graded artifact copies, which need no human label), the fit is refined to also keep
    their order: the loss adds ``pair_weight * n * mean(max(0, pair_margin * s + f(worse) -
    f(better))^2)`` (a copy at severity ``s`` should score at least ``pair_margin * s`` below
    its source) and ``pair_weight * pair_invariance * n * mean((f(a) - f(b))^2)`` over the
    pairs that should score alike (a rescaled copy), ``n`` the number of labelled rows. A
    linear score fitted to a few hundred human labels can reward what an artifact does to the
    features (noise adds the fine texture that went with better clips); the pairs take that
    reward away where the labels do not pin it down. Without pairs, or with ``pair_weight``
    0, it is plain ridge.
    """

    name = "ridge"

    def __init__(
        self,
        seed: int = 0,
        alphas: tuple[float, ...] = (0.1, 1, 10, 100, 1000, 10000),
        pair_weight: float = 0.0,
        pair_margin: float = 0.5,
        pair_invariance: float = 1.0,
        **params,
    ):
        super().__init__(seed, **params)
        if min(pair_weight, pair_margin, pair_invariance) < 0:
            raise ValueError("ridge: pair_weight, pair_margin and pair_invariance must be >= 0")
        self.alphas = tuple(alphas)
        self.pair_weight, self.pair_margin = float(pair_weight), float(pair_margin)
        self.pair_invariance = float(pair_invariance)
        self.pairs: OrderPairs | None = None
        self.state: dict[str, np.ndarray] = {}

    def set_order_pairs(self, pairs: OrderPairs | None) -> None:
        self.pairs = pairs

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        return _standardize(X, self.state)

    def fit(self, X: np.ndarray, y: np.ndarray, sequences: Sequences = None) -> RidgeRegressor:
        from sklearn.linear_model import RidgeCV

        self.state = _standardizer(X)
        Z = self._prepare(X)
        ridge = RidgeCV(alphas=self.alphas).fit(Z, y)
        coef, intercept = np.asarray(ridge.coef_, dtype=float), float(ridge.intercept_)
        if self.pair_weight > 0 and self.pairs is not None and len(self.pairs):
            coef, intercept = self._refine(Z, np.asarray(y, dtype=float), float(ridge.alpha_), coef, intercept)
        self.state.update(coef=coef, intercept=np.array([intercept]))
        return self

    def _refine(
        self, Z: np.ndarray, y: np.ndarray, alpha: float, coef: np.ndarray, intercept: float
    ) -> tuple[np.ndarray, float]:
        """Minimise the ridge loss plus the order-pair terms, from the plain ridge solution."""
        from scipy.optimize import minimize

        p = self.pairs
        order = self._prepare(p.worse) - self._prepare(p.better)  # f(worse) - f(better) = order @ w
        alike = self._prepare(p.same_a) - self._prepare(p.same_b)
        gap = self.pair_margin * np.asarray(p.severity, dtype=float)
        n = len(y)
        k_order = self.pair_weight * n / max(len(order), 1)
        k_alike = self.pair_weight * self.pair_invariance * n / max(len(alike), 1)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            w, b = theta[:-1], theta[-1]
            r = Z @ w + b - y
            h = np.maximum(0.0, gap + order @ w)
            e = alike @ w
            value = r @ r + alpha * (w @ w) + k_order * (h @ h) + k_alike * (e @ e)
            grad = 2 * (Z.T @ r + alpha * w + k_order * (order.T @ h) + k_alike * (alike.T @ e))
            return float(value), np.append(grad, 2 * r.sum())

        res = minimize(loss, np.append(coef, intercept), jac=True, method="L-BFGS-B", options={"maxiter": 3000})
        return np.asarray(res.x[:-1]), float(res.x[-1])

    def predict(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        return np.einsum("ij,j->i", self._prepare(X), self.state["coef"]) + self.state["intercept"][0]

    def save(self, directory: Path, stem: str) -> None:
        payload = {k: v.tolist() for k, v in self.state.items()}
        (directory / f"{stem}.ridge.json").write_text(json.dumps(payload))

    @classmethod
    def load(cls, directory: Path, stem: str, seed: int = 0, **params: Any) -> RidgeRegressor:
        model = cls(seed, **params)
        payload = json.loads((directory / f"{stem}.ridge.json").read_text())
        model.state = {k: np.asarray(v, dtype=float) for k, v in payload.items()}
        return model

    def contributions(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        """Coefficient × standardised value per feature; the intercept is the baseline."""
        parts = self._prepare(X) * self.state["coef"]
        return np.hstack([parts, np.full((len(X), 1), self.state["intercept"][0])])

    def importances(self, names: list[str]) -> dict[str, float]:
        w = np.abs(self.state["coef"])
        total = float(w.sum()) or 1.0
        return {n: float(v) / total for n, v in zip(names, w, strict=False)}
