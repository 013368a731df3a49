"""Similarity-weighted nearest neighbours (regressor ``knn``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS
from aigvqa.regressors.base import ArrayStateMixin, Regressor, Sequences, _standardize, _standardizer, merge_duplicates


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
