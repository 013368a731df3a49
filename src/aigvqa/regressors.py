"""Regressors from features to scores, each registered under one name.

A regressor has ``fit(X, y)``, ``predict(X)``, ``save(dir, stem)``, ``load(dir, stem)`` and
``importances(names)``. ``X`` may contain NaN (failed or undefined features).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS


class Regressor(ABC):
    """Base class: plain constructor parameters, learned state set by ``fit``."""

    name: str = ""

    def __init__(self, seed: int = 0, **params: Any):
        self.seed = seed
        self.params = params

    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray) -> Regressor: ...

    @abstractmethod
    def predict(self, X: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def save(self, directory: Path, stem: str) -> None: ...

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, stem: str, seed: int = 0, **params: Any) -> Regressor: ...

    def importances(self, names: list[str]) -> dict[str, float]:
        return {}


@REGRESSORS.register("lightgbm")
class LightGBMRegressor(Regressor):
    """Gradient-boosted trees (LightGBM), seeded and deterministic.

    The number of boosting rounds is chosen by internal K-fold validation (early stopping on
    the validation L2 loss), then the model is refit on all data with that many rounds.
    """

    name = "lightgbm"
    DEFAULTS: dict[str, Any] = {
        "objective": "regression",
        "learning_rate": 0.03,
        "num_leaves": 15,
        "min_data_in_leaf": 10,
        "feature_fraction": 0.5,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "max_bin": 63,
        "verbosity": -1,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
    }

    def __init__(self, seed: int = 0, max_rounds: int = 2000, folds: int = 5, **params: Any):
        super().__init__(seed, **params)
        self.max_rounds = max_rounds
        self.folds = folds
        self.booster = None

    def _params(self, n: int) -> dict[str, Any]:
        p = dict(self.DEFAULTS)
        if n < 400:  # small labelled sets: shallower trees, smaller leaves
            p.update(num_leaves=7, min_data_in_leaf=5)
        p.update(self.params)
        p["seed"] = self.seed
        return p

    def fit(self, X: np.ndarray, y: np.ndarray) -> LightGBMRegressor:
        import lightgbm as lgb

        params = self._params(len(y))
        data = lgb.Dataset(X, y, free_raw_data=False, params={"max_bin": params["max_bin"]})
        rounds = self.max_rounds
        if self.folds >= 2 and len(y) >= 4 * self.folds:
            result = lgb.cv(
                params,
                data,
                num_boost_round=self.max_rounds,
                nfold=self.folds,
                stratified=False,
                shuffle=True,
                seed=self.seed,
                callbacks=[lgb.early_stopping(100, verbose=False)],
            )
            rounds = max(20, len(next(iter(result.values()))))
        self.booster = lgb.train(params, data, num_boost_round=rounds)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.booster.predict(X, num_threads=1)

    def save(self, directory: Path, stem: str) -> None:
        self.booster.save_model(str(directory / f"{stem}.lgb.txt"))

    @classmethod
    def load(cls, directory: Path, stem: str, seed: int = 0, **params: Any) -> LightGBMRegressor:
        import lightgbm as lgb

        model = cls(seed, **params)
        model.booster = lgb.Booster(model_file=str(directory / f"{stem}.lgb.txt"))
        return model

    def importances(self, names: list[str]) -> dict[str, float]:
        gain = self.booster.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        return {n: float(g) / total for n, g in zip(names, gain, strict=False)}


@REGRESSORS.register("ridge")
class RidgeRegressor(Regressor):
    """Linear ridge regression on standardised features (NaN → training median).

    The penalty is chosen by efficient leave-one-out validation (scikit-learn's RidgeCV).
    """

    name = "ridge"

    def __init__(self, seed: int = 0, alphas: tuple[float, ...] = (0.1, 1, 10, 100, 1000), **params):
        super().__init__(seed, **params)
        self.alphas = tuple(alphas)
        self.state: dict[str, np.ndarray] = {}

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        s = self.state
        X = np.where(np.isnan(X), s["median"], X)
        return (X - s["mean"]) / s["scale"]

    def fit(self, X: np.ndarray, y: np.ndarray) -> RidgeRegressor:
        from sklearn.linear_model import RidgeCV

        median = np.nanmedian(np.where(np.all(np.isnan(X), axis=0), 0.0, X), axis=0)
        median = np.nan_to_num(median)
        filled = np.where(np.isnan(X), median, X)
        scale = filled.std(axis=0)
        self.state = {"median": median, "mean": filled.mean(axis=0), "scale": np.where(scale > 0, scale, 1.0)}
        ridge = RidgeCV(alphas=self.alphas).fit(self._prepare(X), y)
        self.state.update(coef=np.asarray(ridge.coef_), intercept=np.array([ridge.intercept_]))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._prepare(X) @ self.state["coef"] + self.state["intercept"][0]

    def save(self, directory: Path, stem: str) -> None:
        payload = {k: v.tolist() for k, v in self.state.items()}
        (directory / f"{stem}.ridge.json").write_text(json.dumps(payload))

    @classmethod
    def load(cls, directory: Path, stem: str, seed: int = 0, **params: Any) -> RidgeRegressor:
        model = cls(seed, **params)
        payload = json.loads((directory / f"{stem}.ridge.json").read_text())
        model.state = {k: np.asarray(v, dtype=float) for k, v in payload.items()}
        return model

    def importances(self, names: list[str]) -> dict[str, float]:
        w = np.abs(self.state["coef"])
        total = float(w.sum()) or 1.0
        return {n: float(v) / total for n, v in zip(names, w, strict=False)}


def make_regressor(name: str, seed: int = 0, **params: Any) -> Regressor:
    """Instantiate a registered regressor."""
    return REGRESSORS.get(name)(seed=seed, **params)


def list_regressors() -> list[str]:
    return REGRESSORS.names()
