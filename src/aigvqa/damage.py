"""Artifact damage: one number that rises with every artifact a clip shows, learned without human labels.

A :class:`DamageModel` is linear in the video features (spatial and temporal measures), each
standardised by its median and spread over the training clips. It learns from families of
graded copies (:mod:`aigvqa.families`) with a pairwise objective inside each family:

- a copy degraded by artifact ``a`` at severity ``s`` must score at least ``margin * w_a * s``
  above its source, and a stronger copy of the same artifact at least ``margin * w_a * (s2 - s1)``
  above a weaker one (squared hinge); a pair whose required gap ``g`` is small weighs
  ``g ** -faint`` (normalised), so the faintest copies, the hardest to tell from their source,
  count as much as the obvious ones (``faint`` 0: every pair alike);
- a copy at another size must score what its source does (squared difference);
- over the sources themselves the damage should spread little (``spread`` weighs its variance),
  so it moves with what a clip's own copies add, not with what sets clips apart;
- a small L2 penalty (``decay``).

A linear function of the features answers to the faintest change of them, where a tree ensemble
is flat over most small steps, and the direction in which an artifact moves the features is the
same at every strength, so the order learned on mild and strong copies holds for a trace too.
Each feature's share of the damage is exact (``w_j * z_j``), which ``aigvqa explain`` reports.

:class:`ArtifactSubspace` holds the directions in which the artifacts move the standardised
features (a few per artifact, and those of a change of size). A score that should answer to
artifacts only through the damage reads the video features with these directions removed: its
content part then barely moves when an artifact is added, and the damage decides the order.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from aigvqa.dimensions import VIDEO_PREFIXES


class DamageModel:
    """Linear, pairwise-trained damage on the video feature columns (see the module docstring)."""

    def __init__(self, margin: float = 1.0, invariance: float = 1.0, spread: float = 0.3, decay: float = 1e-3,
                 faint: float = 1.0, clip: float = 8.0, max_iter: int = 3000):  # fmt: skip
        if min(margin, invariance, spread, decay, faint) < 0 or clip <= 0:
            raise ValueError("damage: margin, invariance, spread, decay and faint must be >= 0 and clip > 0")
        self.margin, self.invariance, self.faint = float(margin), float(invariance), float(faint)
        self.spread, self.decay = float(spread), float(decay)
        self.clip, self.max_iter = float(clip), int(max_iter)

    def get_params(self) -> dict[str, Any]:
        return {"margin": self.margin, "invariance": self.invariance, "spread": self.spread, "decay": self.decay,
                "faint": self.faint, "clip": self.clip, "max_iter": self.max_iter}  # fmt: skip

    def _standardise(self, X: np.ndarray, names: list[str]) -> np.ndarray:
        idx = [names.index(c) for c in self.columns_]
        return _standardised(np.asarray(X, dtype=float)[:, idx], self.center_, self.scale_, self.clip)

    def fit(
        self,
        X: np.ndarray,
        names: list[str],
        family: list[str],
        artifact: list[str | None],
        severity: np.ndarray,
        scale: np.ndarray,
        weights: dict[str, float],
    ) -> DamageModel:
        """Learn from family rows: ``X`` (columns ``names``), the family each row belongs to, the
        artifact applied (None: the source or a rescaled copy), its severity, the copy's size factor
        (1 for the source) and each artifact's weight ``w_a`` (the margin per unit of severity)."""
        from scipy.optimize import minimize

        cols = [n.startswith(VIDEO_PREFIXES) for n in names]
        if not any(cols):
            raise ValueError("damage needs the video features (spatial, temporal)")
        self.columns_ = [n for n, keep in zip(names, cols, strict=True) if keep]
        severity, scale = np.asarray(severity, dtype=float), np.asarray(scale, dtype=float)
        source = _sources(artifact, scale)
        self.center_, self.scale_ = _robust_scaling(np.asarray(X, dtype=float)[:, np.flatnonzero(cols)][source])
        Z = self._standardise(X, names)
        lo, hi, gap, same_a, same_b = _pairs(family, artifact, severity, source, weights)
        if not len(lo):
            raise ValueError("damage: no graded copies to learn from")
        dP, dS = Z[hi] - Z[lo], Z[same_a] - Z[same_b]
        B = Z[source] - Z[source].mean(axis=0)
        need = self.margin * gap
        weight = gap ** -self.faint
        weight /= weight.mean()
        nP, nS, nB = len(lo), max(len(same_a), 1), len(B)

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            h = np.minimum(dP @ w - need, 0.0)
            ds, bv = dS @ w, B @ w
            value = (weight * h) @ h / nP + self.invariance * ds @ ds / nS + self.spread * bv @ bv / nB
            grad = (2 * dP.T @ (weight * h) / nP + 2 * self.invariance * dS.T @ ds / nS
                    + 2 * self.spread * B.T @ bv / nB + 2 * self.decay * w)  # fmt: skip
            value += self.decay * w @ w
            return float(value), grad

        res = minimize(loss, np.zeros(Z.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter})
        self.coef_ = np.asarray(res.x, dtype=float)
        self.offset_ = float(np.median(Z[source] @ self.coef_))  # a typical clean clip reads 0
        return self

    def predict(self, X: np.ndarray, names: list[str]) -> np.ndarray:
        """The damage of each row (about 0 for a typical clean clip; higher: more artifacts)."""
        return self._standardise(X, names) @ self.coef_ - self.offset_

    def contributions(self, X: np.ndarray, names: list[str]) -> np.ndarray:
        """(n, columns) each video feature's exact share of the damage, relative to a typical clean clip."""
        Z = self._standardise(X, names)
        return Z * self.coef_[None, :] - self.offset_ / len(self.coef_)

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.get_params(), "columns": self.columns_, "center": self.center_.tolist(),
                "scale": self.scale_.tolist(), "coef": self.coef_.tolist(), "offset": self.offset_}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DamageModel:
        model = cls(**d["params"])
        model.columns_ = list(d["columns"])
        model.center_, model.scale_ = np.asarray(d["center"], float), np.asarray(d["scale"], float)
        model.coef_, model.offset_ = np.asarray(d["coef"], float), float(d["offset"])
        return model


class ArtifactSubspace:
    """The directions in which artifacts (and changes of size) move the standardised video features:
    the top ``per_artifact`` principal directions of each artifact's feature changes per unit of
    severity over the families, orthonormalised. :meth:`remove` takes them out of a table's video
    columns, so what reads the result barely moves when an artifact is added."""

    def __init__(self, per_artifact: int = 3, clip: float = 8.0):
        if per_artifact < 1:
            raise ValueError("damage: project must be >= 1 directions per artifact (or 0: no projection)")
        self.per_artifact, self.clip = int(per_artifact), float(clip)

    def fit(self, X: np.ndarray, names: list[str], family: list[str], artifact: list[str | None],
            severity: np.ndarray, scale: np.ndarray) -> ArtifactSubspace:  # fmt: skip
        cols = [n.startswith(VIDEO_PREFIXES) for n in names]
        self.columns_ = [n for n, keep in zip(names, cols, strict=True) if keep]
        Xv = np.asarray(X, dtype=float)[:, np.flatnonzero(cols)]
        scale, severity = np.asarray(scale, dtype=float), np.asarray(severity, dtype=float)
        source = _sources(artifact, scale)
        self.center_, self.scale_ = _robust_scaling(Xv[source])
        Z = _standardised(Xv, self.center_, self.scale_, self.clip)
        base = {f: i for i, f in enumerate(family) if source[i]}
        groups: dict[str, list[np.ndarray]] = {}
        for i, (f, a) in enumerate(zip(family, artifact, strict=True)):
            if source[i] or f not in base:
                continue
            step = Z[i] - Z[base[f]]
            groups.setdefault(a or "size", []).append(step / np.sqrt(severity[i]) if a else step)
        directions = []
        for key in sorted(groups):
            _, _, vt = np.linalg.svd(np.array(groups[key]), full_matrices=False)
            directions.append(vt[: self.per_artifact])
        if not directions:
            raise ValueError("damage: no graded copies to find the artifacts' directions from")
        q, _ = np.linalg.qr(np.vstack(directions).T)
        self.basis_ = q  # (columns, k) orthonormal
        return self

    def remove(self, X: np.ndarray, names: list[str]) -> np.ndarray:
        """``X`` with its video columns standardised and the artifact directions removed (NaN kept)."""
        idx = [names.index(c) for c in self.columns_]
        out = np.array(X, dtype=float, copy=True)
        raw = out[:, idx]
        Z = _standardised(raw, self.center_, self.scale_, self.clip)
        # rounded: a column that lies in the subspace reads exactly 0, not rounding noise that a
        # later standardisation would blow up
        Z = np.round(Z - (Z @ self.basis_) @ self.basis_.T, 9)
        out[:, idx] = np.where(np.isnan(raw), np.nan, Z)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"per_artifact": self.per_artifact, "clip": self.clip, "columns": self.columns_,
                "center": self.center_.tolist(), "scale": self.scale_.tolist(),
                "basis": self.basis_.tolist()}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArtifactSubspace:
        sub = cls(d["per_artifact"], d["clip"])
        sub.columns_ = list(d["columns"])
        sub.center_, sub.scale_ = np.asarray(d["center"], float), np.asarray(d["scale"], float)
        sub.basis_ = np.asarray(d["basis"], float).reshape(len(sub.columns_), -1)
        return sub


def _sources(artifact: list[str | None], scale: np.ndarray) -> np.ndarray:
    source = np.array([a is None and s == 1.0 for a, s in zip(artifact, scale, strict=True)], dtype=bool)
    if not source.any():
        raise ValueError("damage: no family sources (rows without artifact at size 1)")
    return source


def _robust_scaling(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and 10-90 percentile spread of each column (1 where a column is constant)."""
    lo, hi = np.nanpercentile(X, [10, 90], axis=0)
    spread = np.nan_to_num(hi - lo)
    return np.nan_to_num(np.nanmedian(X, axis=0)), np.where(spread > 1e-9, spread, 1.0)


def _standardised(X: np.ndarray, center: np.ndarray, scale: np.ndarray, clip: float) -> np.ndarray:
    """``(X - center) / scale``, NaN read as the center, clipped to ``[-clip, clip]``."""
    return np.clip(np.nan_to_num((X - center) / scale, nan=0.0), -clip, clip)


def _pairs(
    family: list[str], artifact: list[str | None], severity: np.ndarray, source: np.ndarray, weights: dict[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ordered pairs inside each family: (less damaged, more damaged, required gap), and the
    (source, rescaled copy) pairs that must read alike."""
    rows: dict[str, list[int]] = {}
    for i, f in enumerate(family):
        rows.setdefault(f, []).append(i)
    lo, hi, gap, same_a, same_b = [], [], [], [], []
    for members in rows.values():
        base = [i for i in members if source[i]]
        if not base:
            continue
        b = base[0]
        by_artifact: dict[str, list[int]] = {}
        for i in members:
            if artifact[i] is not None:
                by_artifact.setdefault(artifact[i], []).append(i)
            elif i != b:
                same_a.append(b)
                same_b.append(i)
        for a, copies in sorted(by_artifact.items()):
            chain = [(0.0, b)] + sorted((float(severity[i]), i) for i in copies)
            for (s1, i1), (s2, i2) in itertools.combinations(chain, 2):
                if s2 > s1:
                    lo.append(i1)
                    hi.append(i2)
                    gap.append(float(weights.get(a, 0.6)) * (s2 - s1))
    as_int = lambda v: np.asarray(v, dtype=int)  # noqa: E731
    return as_int(lo), as_int(hi), np.asarray(gap, dtype=float), as_int(same_a), as_int(same_b)
