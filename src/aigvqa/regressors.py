"""Regressors from features to scores, each registered under one name.

A regressor has ``fit(X, y, sequences=None)``, ``predict(X, sequences=None)``,
``save(dir, stem)``, ``load(dir, stem)`` and ``importances(names)``. ``X`` may contain NaN
(failed or undefined features). ``sequences`` are the feature table's per-frame arrays
(``FeatureTable.sequences``: name → one (K, D) array or None per row, aligned with ``X``);
regressors with ``uses_sequences = False`` (trees, ridge) ignore them.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS

Sequences = dict[str, list[np.ndarray | None]] | None


class Regressor(ABC):
    """Base class: plain constructor parameters, learned state set by ``fit``."""

    name: str = ""
    uses_sequences: bool = False  # whether fit/predict use the per-frame ``sequences``

    def __init__(self, seed: int = 0, **params: Any):
        self.seed = seed
        self.params = params

    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray, sequences: Sequences = None) -> Regressor: ...

    @abstractmethod
    def predict(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray: ...

    @abstractmethod
    def save(self, directory: Path, stem: str) -> None: ...

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, stem: str, seed: int = 0, **params: Any) -> Regressor: ...

    def importances(self, names: list[str]) -> dict[str, float]:
        return {}

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Per-row additive explanation, shape (n, d + 1): one column per feature plus a last
        "baseline" column; each row sums to the prediction. Models that cannot attribute
        their prediction to features put all of it in the baseline column."""
        out = np.zeros((len(X), X.shape[1] + 1))
        out[:, -1] = self.predict(X)
        return out


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

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Exact TreeSHAP contributions from LightGBM (``pred_contrib``)."""
        return np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=1), dtype=float)

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

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Coefficient × standardised value per feature; the intercept is the baseline."""
        parts = self._prepare(X) * self.state["coef"]
        return np.hstack([parts, np.full((len(X), 1), self.state["intercept"][0])])

    def importances(self, names: list[str]) -> dict[str, float]:
        w = np.abs(self.state["coef"])
        total = float(w.sum()) or 1.0
        return {n: float(v) / total for n, v in zip(names, w, strict=False)}


def _standardizer(X: np.ndarray) -> dict[str, np.ndarray]:
    """Per-column median (for NaN), mean and scale, for standardising features."""
    median = np.nan_to_num(np.nanmedian(np.where(np.all(np.isnan(X), axis=0), 0.0, X), axis=0))
    filled = np.where(np.isnan(X), median, X)
    scale = filled.std(axis=0)
    return {"median": median, "mean": filled.mean(axis=0), "scale": np.where(scale > 0, scale, 1.0)}


def _standardize(X: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
    return (np.where(np.isnan(X), state["median"], X) - state["mean"]) / state["scale"]


def merge_duplicates(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Identical rows merged into one: (unique rows, their mean target, their count), in the
    order of first appearance, so data without duplicates comes back unchanged."""
    rows, first, inverse, counts = np.unique(X, axis=0, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    sums = np.bincount(rank[inverse.ravel()], weights=y, minlength=len(rows))
    return X[first[order]], sums / counts[order], counts[order].astype(float)


class ArrayStateMixin:
    """``save``/``load`` for regressors whose learned state is a dict of arrays (``self.state``),
    stored as one ``<stem>.<suffix>.npz`` file."""

    suffix: str = ""
    state: dict[str, np.ndarray]

    def save(self, directory: Path, stem: str) -> None:
        np.savez(directory / f"{stem}.{self.suffix}.npz", **self.state)

    @classmethod
    def load(cls, directory: Path, stem: str, seed: int = 0, **params: Any):
        model = cls(seed, **params)
        with np.load(directory / f"{stem}.{cls.suffix}.npz", allow_pickle=False) as data:
            model.state = {k: np.array(data[k]) for k in data.files}
        return model


@REGRESSORS.register("svr")
class SVRRegressor(ArrayStateMixin, Regressor):
    """Support-vector regression (RBF kernel, scikit-learn) on standardised features.

    Identical rows are merged (mean target, weighted by count). ``C="auto"`` picks the penalty by
    internal 3-fold validation of Score. The fitted support vectors are saved as arrays, so a
    model directory does not depend on the scikit-learn version.
    """

    name = "svr"
    suffix = "svr"

    C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)

    def __init__(self, seed: int = 0, C: float | str = "auto", epsilon: float = 0.1, **params: Any):
        super().__init__(seed, **params)
        self.C = C
        self.epsilon = epsilon
        self.state: dict[str, np.ndarray] = {}

    def _choose_C(self, rows: np.ndarray, targets: np.ndarray, counts: np.ndarray) -> float:
        """With ``C="auto"``: the C of ``C_GRID`` with the best 3-fold Score (PLCC + SROCC) / 2."""
        from sklearn.model_selection import KFold
        from sklearn.svm import SVR

        from aigvqa.metrics import fast_score

        if self.C != "auto":
            return float(self.C)
        oof = {c: np.zeros(len(targets)) for c in self.C_GRID}
        for fit_idx, val_idx in KFold(3, shuffle=True, random_state=self.seed).split(rows):
            for c in self.C_GRID:
                svr = SVR(C=c, epsilon=self.epsilon, gamma="scale")
                svr.fit(rows[fit_idx], targets[fit_idx], sample_weight=counts[fit_idx])
                oof[c][val_idx] = svr.predict(rows[val_idx])
        return max(self.C_GRID, key=lambda c: fast_score(np.repeat(oof[c], counts.astype(int)),
                                                         np.repeat(targets, counts.astype(int))))  # fmt: skip

    def fit(self, X: np.ndarray, y: np.ndarray, sequences: Sequences = None) -> SVRRegressor:
        from sklearn.svm import SVR

        self.state = _standardizer(X)
        rows, targets, counts = merge_duplicates(_standardize(X, self.state), y)
        C = self._choose_C(rows, targets, counts)
        svr = SVR(C=C, epsilon=self.epsilon, gamma="scale").fit(rows, targets, sample_weight=counts)
        self.state.update(
            support=svr.support_vectors_, dual=svr.dual_coef_.ravel(), intercept=np.asarray(svr.intercept_),
            gamma=np.array([svr._gamma]), C=np.array([C]),
        )  # fmt: skip
        return self

    def predict(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        Z = _standardize(X, self.state)
        sv = self.state["support"]
        out = np.empty(len(Z))
        for start in range(0, len(Z), 1024):
            z = Z[start : start + 1024]
            # einsum, not BLAS: a row's score must not depend on where it sits in the input
            d2 = (z**2).sum(1)[:, None] + (sv**2).sum(1)[None, :] - 2 * np.einsum("ij,kj->ik", z, sv)
            kernel = np.exp(-self.state["gamma"][0] * np.maximum(d2, 0))
            out[start : start + 1024] = np.einsum("ij,j->i", kernel, self.state["dual"])
        return out + self.state["intercept"][0]



@REGRESSORS.register("knn")
class KNNRegressor(ArrayStateMixin, Regressor):
    """Similarity-weighted nearest neighbours: cosine similarity of standardised features.

    Identical training rows (e.g. one prompt rendered by several generators) are merged into
    one neighbour carrying their mean target and count, so ``k`` counts distinct items.
    """

    name = "knn"
    suffix = "knn"

    def __init__(self, seed: int = 0, k: int = 50, power: float = 4.0, **params: Any):
        super().__init__(seed, **params)
        self.k = k
        self.power = power
        self.state: dict[str, np.ndarray] = {}

    def _unit(self, X: np.ndarray) -> np.ndarray:
        Z = _standardize(X, self.state)
        return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)

    def fit(self, X: np.ndarray, y: np.ndarray, sequences: Sequences = None) -> KNNRegressor:
        self.state = _standardizer(X)
        rows, targets, counts = merge_duplicates(self._unit(X).astype(np.float32), y)
        self.state.update(points=rows, targets=targets, counts=counts, target_mean=np.array([y.mean()]))
        return self

    def predict(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        Z = self._unit(X).astype(np.float32)
        points, targets, counts = self.state["points"], self.state["targets"], self.state["counts"]
        k = min(self.k, len(points))
        out = np.empty(len(Z))
        for start in range(0, len(Z), 1024):
            # einsum, not BLAS: a BLAS product may sum in an order that depends on where a row
            # sits in memory, so a video's score would change with its position in the input
            sim = np.einsum("ij,kj->ik", Z[start : start + 1024], points)
            idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]
            w = np.maximum(np.take_along_axis(sim, idx, axis=1), 0.0) ** self.power * counts[idx]
            total = w.sum(axis=1)
            pred = (w * targets[idx]).sum(axis=1) / np.where(total > 0, total, 1.0)
            out[start : start + 1024] = np.where(total > 0, pred, self.state["target_mean"][0])
        return out



@REGRESSORS.register("blend")
class BlendRegressor(Regressor):
    """Mean of several registered regressors' predictions (default: ridge, knn, lightgbm).

    Linear, neighbour and tree models make different errors; their average ranks better
    than any one of them on the challenge's prompt features and on FETV. ``weights`` makes it a
    weighted mean (default: equal); ``member_params`` gives settings to members by name, e.g.
    ``{"minilm_ft": {"epochs": 2}}``.
    """

    name = "blend"

    def __init__(
        self,
        seed: int = 0,
        members: tuple[str, ...] = ("ridge", "knn", "lightgbm"),
        member_params: dict[str, dict[str, Any]] | None = None,
        weights: tuple[float, ...] | None = None,
        **params: Any,
    ):
        super().__init__(seed, **params)
        self.members = tuple(members)
        self.member_params = dict(member_params or {})
        self.weights = tuple(float(w) for w in weights) if weights is not None else (1.0,) * len(self.members)
        if len(self.weights) != len(self.members) or min(self.weights, default=0) < 0 or sum(self.weights) <= 0:
            raise ValueError(
                f"blend: weights must be {len(self.members)} non-negative numbers, not all zero; got {weights!r}"
            )
        unknown = sorted(set(self.member_params) - set(self.members))
        if unknown:
            raise ValueError(f"blend: member_params for {', '.join(unknown)}, which are not members")
        self.models: list[Regressor] = []

    @property
    def uses_sequences(self) -> bool:  # type: ignore[override]
        """True when a member (e.g. the fine-tuned prompt model) reads ``sequences``."""
        return any(REGRESSORS.get(m).uses_sequences for m in self.members)

    def fit(self, X: np.ndarray, y: np.ndarray, sequences: Sequences = None) -> BlendRegressor:
        self.models = [
            make_regressor(m, self.seed, **self.member_params.get(m, {})).fit(X, y, sequences) for m in self.members
        ]
        return self

    def predict(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        return np.average([m.predict(X, sequences) for m in self.models], axis=0, weights=self.weights)

    def save(self, directory: Path, stem: str) -> None:
        for i, model in enumerate(self.models):
            model.save(directory, f"{stem}.{i}")

    @classmethod
    def load(cls, directory: Path, stem: str, seed: int = 0, **params: Any) -> BlendRegressor:
        model = cls(seed, **params)
        model.models = [
            REGRESSORS.get(m).load(directory, f"{stem}.{i}", seed, **model.member_params.get(m, {}))
            for i, m in enumerate(model.members)
        ]
        return model

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Weighted mean of the members' contributions (as the blend is of their predictions)."""
        return np.average([m.contributions(X) for m in self.models], axis=0, weights=self.weights)

    def importances(self, names: list[str]) -> dict[str, float]:
        parts = [m.importances(names) for m in self.models]
        return {n: float(np.average([p.get(n, 0.0) for p in parts], weights=self.weights)) for n in names}


def make_regressor(name: str, seed: int = 0, **params: Any) -> Regressor:
    """Instantiate a registered regressor."""
    return REGRESSORS.get(name)(seed=seed, **params)


def list_regressors() -> list[str]:
    return REGRESSORS.names()


from aigvqa import heads as _heads  # noqa: E402, F401  (registers the neural "mlp" head; torch loads lazily)
from aigvqa import text_head as _text_head  # noqa: E402, F401  (registers "minilm_ft"; torch loads lazily)
