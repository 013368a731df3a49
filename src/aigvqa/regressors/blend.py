"""A weighted mean of registered regressors (regressor ``blend``, the default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS
from aigvqa.regressors.base import OrderPairs, Regressor, Sequences, make_regressor


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
        self.feature_names: list[str] | None = None
        self.pairs: OrderPairs | None = None

    def set_feature_names(self, names: list[str]) -> None:
        """Passed on to the members (a ``stack`` member needs them)."""
        self.feature_names = list(names)

    def set_order_pairs(self, pairs: OrderPairs | None) -> None:
        """Passed on to the members (those that learn from order pairs use them)."""
        self.pairs = pairs

    @property
    def uses_sequences(self) -> bool:  # type: ignore[override]
        """True when a member (e.g. the fine-tuned prompt model) reads ``sequences``."""
        return any(REGRESSORS.get(m).uses_sequences for m in self.members)

    def fit(self, X: np.ndarray, y: np.ndarray, sequences: Sequences = None) -> BlendRegressor:
        self.models = []
        for m in self.members:
            model = make_regressor(m, self.seed, **self.member_params.get(m, {}))
            if self.feature_names is not None:
                model.set_feature_names(self.feature_names)
            model.set_order_pairs(self.pairs)
            self.models.append(model.fit(X, y, sequences))
        return self

    def predict(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        return np.average([m.predict(X, sequences) for m in self.models], axis=0, weights=self.weights)

    def parts(self, X: np.ndarray, sequences: Sequences = None) -> dict[str, np.ndarray]:
        """Each member's own prediction, by its name (and its own parts as ``member.part``)."""
        out: dict[str, np.ndarray] = {}
        for name, model in zip(self.members, self.models, strict=True):
            out[name] = np.asarray(model.predict(X, sequences), dtype=float)
            out.update({f"{name}.{k}": v for k, v in model.parts(X, sequences).items()})
        return out

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

    def contributions(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        """Weighted mean of the members' contributions (as the blend is of their predictions)."""
        return np.average([m.contributions(X) for m in self.models], axis=0, weights=self.weights)

    def importances(self, names: list[str]) -> dict[str, float]:
        parts = [m.importances(names) for m in self.models]
        return {n: float(np.average([p.get(n, 0.0) for p in parts], weights=self.weights)) for n in names}
