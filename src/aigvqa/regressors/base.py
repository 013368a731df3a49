"""The regressor interface, its factory, and the preprocessing helpers the families share.

A regressor has ``fit(X, y, sequences=None)``, ``predict(X, sequences=None)``,
``save(dir, stem)``, ``load(dir, stem)`` and ``importances(names)``. ``X`` may contain NaN
(failed or undefined features). ``sequences`` are the feature table's per-frame arrays
(``FeatureTable.sequences``: name → one (K, D) array or None per row, aligned with ``X``);
regressors with ``uses_sequences = False`` (trees, ridge) ignore them. Regressors with
``uses_labelled = True`` (``stack``) also take ``fit(..., labelled=mask)``: which training rows
carry a human label, as opposed to a target made by artifact augmentation.

Before ``fit`` a regressor may be given :class:`OrderPairs` (``set_order_pairs``): label-free
rows that must keep an order (a clip above its own artifact copy) or score alike (a clip and
its rescaled copy). Regressors that can learn from them (``ridge`` with ``pair_weight``) do;
the others ignore them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS

Sequences = dict[str, list[np.ndarray | None]] | None


@dataclass(frozen=True)
class OrderPairs:
    """Feature rows that must keep an order, learned without human labels.

    Row ``i`` of ``better`` should score above row ``i`` of ``worse`` by a gap that grows with
    ``severity[i]`` (the artifact's strength in the worse row, 0..1); row ``j`` of ``same_a``
    and of ``same_b`` should score alike. Columns are those of the ``X`` given to ``fit``.
    """

    better: np.ndarray
    worse: np.ndarray
    severity: np.ndarray
    same_a: np.ndarray
    same_b: np.ndarray

    def __post_init__(self) -> None:
        if not (len(self.better) == len(self.worse) == len(self.severity) and len(self.same_a) == len(self.same_b)):
            raise ValueError("order pairs: better/worse/severity and same_a/same_b must have matching lengths")

    def columns(self, cols: np.ndarray) -> OrderPairs:
        """The same pairs on the columns ``cols`` only (a stacking block's)."""
        return OrderPairs(self.better[:, cols], self.worse[:, cols], self.severity, self.same_a[:, cols],
                          self.same_b[:, cols])  # fmt: skip

    def __len__(self) -> int:
        return len(self.severity) + len(self.same_a)


class Regressor(ABC):
    """Base class: plain constructor parameters, learned state set by ``fit``."""

    name: str = ""
    uses_sequences: bool = False  # whether fit/predict use the per-frame ``sequences``
    uses_labelled: bool = False  # whether fit takes ``labelled`` (rows with human labels)

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

    def set_feature_names(self, names: list[str]) -> None:
        """The column names of the ``X`` that ``fit`` will get; regressors that treat groups of
        columns differently (``stack``) need them, the others ignore them."""
        return None

    def set_order_pairs(self, pairs: OrderPairs | None) -> None:
        """Label-free order pairs (see :class:`OrderPairs`) on the columns of the ``X`` that
        ``fit`` will get; regressors that cannot learn from them ignore them."""
        return None

    def importances(self, names: list[str]) -> dict[str, float]:
        return {}

    def parts(self, X: np.ndarray, sequences: Sequences = None) -> dict[str, np.ndarray]:
        """The predictions of the models this one combines, by name (a ``blend``'s members, a
        ``stack``'s blocks and their parts as ``block.member``), each as that model alone would
        score the rows; empty for a single model."""
        return {}

    def contributions(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        """Per-row additive explanation, shape (n, d + 1): one column per feature plus a last
        "baseline" column; each row sums to the prediction. Models that cannot attribute
        their prediction to features put all of it in the baseline column."""
        out = np.zeros((len(X), X.shape[1] + 1))
        out[:, -1] = self.predict(X, sequences)
        return out


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


def make_regressor(name: str, seed: int = 0, **params: Any) -> Regressor:
    """Instantiate a registered regressor."""
    return REGRESSORS.get(name)(seed=seed, **params)


def list_regressors() -> list[str]:
    return REGRESSORS.names()
