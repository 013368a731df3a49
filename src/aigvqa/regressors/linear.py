"""Ridge regression on standardised features (regressor ``ridge``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS
from aigvqa.regressors.base import Regressor, Sequences, _standardize, _standardizer


@REGRESSORS.register("ridge")
class RidgeRegressor(Regressor):
    """Linear ridge regression on standardised features (NaN → training median).

    The penalty is chosen by efficient leave-one-out validation (scikit-learn's RidgeCV).
    """

    name = "ridge"

    def __init__(self, seed: int = 0, alphas: tuple[float, ...] = (0.1, 1, 10, 100, 1000, 10000), **params):
        super().__init__(seed, **params)
        self.alphas = tuple(alphas)
        self.state: dict[str, np.ndarray] = {}

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        return _standardize(X, self.state)

    def fit(self, X: np.ndarray, y: np.ndarray, sequences: Sequences = None) -> RidgeRegressor:
        from sklearn.linear_model import RidgeCV

        self.state = _standardizer(X)
        ridge = RidgeCV(alphas=self.alphas).fit(self._prepare(X), y)
        self.state.update(coef=np.asarray(ridge.coef_), intercept=np.array([ridge.intercept_]))
        return self

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
