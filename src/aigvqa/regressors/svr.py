"""Support-vector regression (regressor ``svr``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS
from aigvqa.regressors.base import ArrayStateMixin, Regressor, Sequences, _standardize, _standardizer, merge_duplicates


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
