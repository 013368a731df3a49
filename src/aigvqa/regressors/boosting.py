"""Gradient-boosted trees (regressor ``lightgbm``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS
from aigvqa.regressors.base import Regressor, Sequences, merge_duplicates


@REGRESSORS.register("lightgbm")
class LightGBMRegressor(Regressor):
    """Gradient-boosted trees (LightGBM), seeded and deterministic.

    The number of boosting rounds is chosen by internal validation (early stopping on the
    validation L2 loss: K-fold on small sets, one hold-out split on large ones), then the model
    is refit on all data with that many rounds. Identical rows are merged (mean target, weight =
    count), so one prompt rendered many times is one example, never on both sides of a split.
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
        if n < 400:  # small labelled sets: shallower, randomised trees, smaller leaves
            p.update(num_leaves=7, min_data_in_leaf=5, extra_trees=True)
        elif n >= 2000:  # large sets: faster learning, larger leaves
            p.update(learning_rate=0.05, min_data_in_leaf=40, feature_fraction=0.3)
        p.update(self.params)
        if n * p.get("bagging_fraction", 1.0) < 1:  # a bag of no rows stops LightGBM (one distinct row)
            p["bagging_fraction"] = 1.0
        p["seed"] = self.seed
        return p

    def fit(self, X: np.ndarray, y: np.ndarray, sequences: Sequences = None) -> LightGBMRegressor:
        import lightgbm as lgb

        X, y, weight = merge_duplicates(X, y)
        params = self._params(len(y))
        data = lgb.Dataset(X, y, weight=weight, free_raw_data=False, params={"max_bin": params["max_bin"]})
        rounds = self.max_rounds
        if len(y) >= 2000:  # large sets: one seeded hold-out split for early stopping
            rng = np.random.default_rng(self.seed)
            held = rng.random(len(y)) < 0.15
            fit_set = lgb.Dataset(X[~held], y[~held], weight=weight[~held], params={"max_bin": params["max_bin"]})
            val_set = lgb.Dataset(X[held], y[held], weight=weight[held], reference=fit_set)
            probe = lgb.train(
                params,
                fit_set,
                num_boost_round=self.max_rounds,
                valid_sets=[val_set],
                callbacks=[lgb.early_stopping(50, verbose=False)],
            )
            rounds = max(20, int(probe.best_iteration * 1.15))
        elif self.folds >= 2 and len(y) >= 4 * self.folds:
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

    def predict(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        return self.booster.predict(X, num_threads=1)

    def save(self, directory: Path, stem: str) -> None:
        self.booster.save_model(str(directory / f"{stem}.lgb.txt"))

    @classmethod
    def load(cls, directory: Path, stem: str, seed: int = 0, **params: Any) -> LightGBMRegressor:
        import lightgbm as lgb

        model = cls(seed, **params)
        model.booster = lgb.Booster(model_file=str(directory / f"{stem}.lgb.txt"))
        return model

    def contributions(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        """Exact TreeSHAP contributions from LightGBM (``pred_contrib``)."""
        return np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=1), dtype=float)

    def importances(self, names: list[str]) -> dict[str, float]:
        gain = self.booster.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        return {n: float(g) / total for n, g in zip(names, gain, strict=False)}
