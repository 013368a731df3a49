"""Artifact dimensions: how much of each artifact a clip shows, from 0 (none seen) to 1 (severe).

One LightGBM regressor per artifact maps the video features a model already computes (spatial
and temporal measures) to the severity applied to the clip. They are learned without human
labels, from families of graded copies (:mod:`aigvqa.families`): a clip reads 0 on every
dimension, its copy degraded by artifact ``a`` at severity ``s`` reads ``s`` on ``a`` and 0 on
the others, a rescaled copy reads 0 everywhere.

The score of a model with dimensions is monotone decreasing in them by construction
(:func:`penalty_factor`): ``score = floor + (q - floor) * prod_a (1 - w_a * d_a)``, where ``q``
is what the clip's content and prompt are worth and ``w_a`` the share of the headroom above
the scale's floor that artifact ``a`` costs at severity 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aigvqa.artifacts import ARTIFACTS

if TYPE_CHECKING:  # lightgbm is imported where it is used: a CLI command that needs no model starts fast
    import lightgbm as lgb

VIDEO_PREFIXES = ("spatial.", "temporal.", "colour.", "grain.")  # what the pixels show, read by every dimension
# features read only by the dimensions named: a measure made for one artifact (the 'codec'
# extractor's coding-block traces) teaches that artifact's estimate and leaves the others as they are
OWN_PREFIXES: dict[str, tuple[str, ...]] = {
    "codec.": ("compression",), "detail.": ("blur",), "pacing.": ("freeze",), "morph.": ("warp",),
}  # fmt: skip
DEFAULT_PARAMS: dict[str, Any] = {
    "n_estimators": 400, "learning_rate": 0.04, "num_leaves": 15, "min_child_samples": 12,
    "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.7, "reg_lambda": 1.0,
}  # fmt: skip
DECIMALS = 3  # estimates are reported to three decimals
# the name each dimension has among the features' artifact labels (aigvqa.explain)
LABELS = {"freeze": "frozen frames", "jitter": "camera shake", "warp": "warping", "color_drift": "colour"}


class DimensionModel:
    """Per-artifact severity estimators on the video feature columns."""

    def __init__(self, artifacts: tuple[str, ...] = ARTIFACTS, params: dict[str, Any] | None = None, seed: int = 0):
        self.artifacts = tuple(artifacts)
        self.params = {**DEFAULT_PARAMS, **(params or {})}
        self.seed = seed

    def _columns(self, names: list[str]) -> np.ndarray:
        return np.array([n.startswith(VIDEO_PREFIXES) for n in names], dtype=bool)

    def _own_columns(self, names: list[str]) -> dict[str, list[str]]:
        return {a: [n for n in names if any(n.startswith(p) and a in arts for p, arts in OWN_PREFIXES.items())]
                for a in self.artifacts}  # fmt: skip

    def _inputs(self, artifact: str) -> list[str]:
        return self.columns_ + self.own_columns_.get(artifact, [])

    def fit(self, X: np.ndarray, names: list[str], artifact: list[str | None], severity: np.ndarray) -> DimensionModel:
        """Learn from rows of features ``X`` (columns ``names``), each the copy of a clip degraded by
        ``artifact`` (None: the clip itself or a rescaled copy) at ``severity``."""
        import lightgbm as lgb

        cols = self._columns(names)
        if not cols.any():
            raise ValueError("dimensions need the video features (spatial, temporal)")
        self.columns_ = [n for n, keep in zip(names, cols, strict=True) if keep]
        self.own_columns_ = self._own_columns(names)
        X = np.asarray(X, dtype=float)
        sev = np.asarray(severity, dtype=float)
        self.boosters_: dict[str, lgb.Booster] = {}
        for k, a in enumerate(self.artifacts):
            y = np.where(np.array([x == a for x in artifact]), sev, 0.0)
            reg = lgb.LGBMRegressor(**self.params, random_state=self.seed + k, n_jobs=1, deterministic=True,
                                    force_row_wise=True, verbose=-1)  # fmt: skip
            reg.fit(X[:, [names.index(c) for c in self._inputs(a)]], y)
            self.boosters_[a] = reg.booster_
        return self

    def predict(self, X: np.ndarray, names: list[str]) -> np.ndarray:
        """(n, len(artifacts)) estimates in [0, 1]."""
        X = np.asarray(X, dtype=float)
        out = np.column_stack([
            self.boosters_[a].predict(X[:, [names.index(c) for c in self._inputs(a)]], num_threads=1)
            for a in self.artifacts
        ])  # fmt: skip
        return np.clip(out, 0.0, 1.0)

    # -- persistence: one LightGBM text file per artifact, settings in the model's model.json --
    def save(self, directory: Path, prefix: str = "dims") -> dict[str, Any]:
        for a, booster in self.boosters_.items():
            booster.save_model(str(directory / f"{prefix}.{a}.lgb.txt"))
        own = {a: c for a, c in self.own_columns_.items() if c}
        return {"artifacts": list(self.artifacts), "params": self.params, "seed": self.seed,
                "columns": self.columns_, **({"own_columns": own} if own else {}), "prefix": prefix}  # fmt: skip

    @classmethod
    def load(cls, directory: Path, meta: dict[str, Any]) -> DimensionModel:
        import lightgbm as lgb

        model = cls(tuple(meta["artifacts"]), meta.get("params"), int(meta.get("seed", 0)))
        model.columns_ = list(meta["columns"])
        model.own_columns_ = {a: list(c) for a, c in (meta.get("own_columns") or {}).items()}
        prefix = meta.get("prefix", "dims")
        model.boosters_ = {a: lgb.Booster(model_file=str(directory / f"{prefix}.{a}.lgb.txt")) for a in model.artifacts}
        return model


def check_direct(spec: Any, names: list[str], artifacts: tuple[str, ...] = ARTIFACTS) -> dict[str, dict[str, Any]]:
    """An ``artifact_dims`` ``"direct"`` setting, checked: ``{artifact: {"feature": column, "zero":
    value read as 0, "one": value read as 1}}``, each column among ``names``."""
    if not isinstance(spec, dict):
        raise ValueError(f'artifact_dims "direct" must map artifacts to readings, got {spec!r}')
    for a, r in spec.items():
        where = f'artifact_dims "direct"[{a!r}]'
        if a not in artifacts:
            raise ValueError(f"{where}: not one of {', '.join(artifacts)}")
        if not isinstance(r, dict) or set(r) != {"feature", "zero", "one"}:
            raise ValueError(f'{where} must be {{"feature": column, "zero": number, "one": number}}, got {r!r}')
        if r["feature"] not in names:
            raise ValueError(f"{where}: feature {r['feature']!r} is not among the model's columns "
                             "(add its extractor to the recipe's features)")  # fmt: skip
        if not all(isinstance(r[k], (int, float)) for k in ("zero", "one")) or r["zero"] == r["one"]:
            got = f"{r['zero']!r}, {r['one']!r}"
            raise ValueError(f'{where}: "zero" and "one" must be two different numbers, got {got}')
    return spec


def direct_readings(spec: dict[str, dict[str, Any]], X: np.ndarray, names: list[str],
                    artifacts: tuple[str, ...] = ARTIFACTS) -> np.ndarray:  # fmt: skip
    """(n, artifacts) readings taken straight from one measure each (:func:`check_direct`): the
    measure rescaled so that ``zero`` reads 0 and ``one`` reads 1, clipped to [0, 1]; NaN for
    artifacts without one and where the measure is missing (e.g. H.264's quantiser on a GIF)."""
    out = np.full((len(X), len(artifacts)), np.nan)
    for a, r in spec.items():
        x = np.asarray(X, dtype=float)[:, names.index(r["feature"])]
        out[:, artifacts.index(a)] = np.clip((x - r["zero"]) / (r["one"] - r["zero"]), 0.0, 1.0)
    return out


def drop_factors(spec: dict[str, Any] | None, artifacts: tuple[str, ...] = ARTIFACTS) -> dict[str, float]:
    """Each artifact's share of the headroom at severity 1 under a ``"penalty"``-like setting:
    its own in ``drop_by_artifact``, else ``drop`` (0.6 when absent)."""
    spec = spec or {}
    own = spec.get("drop_by_artifact") or {}
    return {a: float(own.get(a, spec.get("drop", 0.6))) for a in artifacts}


def penalty_weights(spec: dict[str, Any] | None, artifacts: tuple[str, ...] = ARTIFACTS) -> np.ndarray:
    """:func:`drop_factors` as an array in the order of ``artifacts`` (a penalty's ``w_a``)."""
    factors = drop_factors(spec, artifacts)
    return np.array([factors[a] for a in artifacts])


def penalty_deadzones(spec: dict[str, Any] | None, artifacts: tuple[str, ...] = ARTIFACTS) -> np.ndarray:
    """Each artifact's deadzone under a ``"penalty"``-like setting: its own in
    ``"deadzone_by_artifact"``, else ``"deadzone"`` (0 when absent); a reading up to it costs
    nothing (what a clean clip may read). Checked: numbers in [0, 1), for known artifacts."""
    spec = spec or {}

    def checked(t: Any, where: str) -> float:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t < 1.0:
            raise ValueError(f'artifact_dims "penalty": {where} must be a number in [0, 1), got {t!r}')
        return float(t)

    base = checked(spec.get("deadzone", 0.0), "deadzone")
    own = spec.get("deadzone_by_artifact") or {}
    if not isinstance(own, dict):
        raise ValueError(f'artifact_dims "penalty": deadzone_by_artifact must map artifacts to numbers, got {own!r}')
    for a, t in own.items():
        if a not in artifacts:
            raise ValueError(
                f'artifact_dims "penalty": deadzone_by_artifact names {a!r}, not one of {", ".join(artifacts)}'
            )
        checked(t, f"deadzone_by_artifact[{a!r}]")
    return np.array([float(own.get(a, base)) for a in artifacts])


def penalty_caps(spec: dict[str, Any] | None, artifacts: tuple[str, ...] = ARTIFACTS) -> np.ndarray:
    """Each artifact's cap under a ``"penalty"``-like setting (``"cap_by_artifact"``; 1 when absent):
    the most of its reading (after the deadzone) the penalty counts, so a reading above it costs no
    more; checked: numbers in (0, 1], for known artifacts."""
    caps = (spec or {}).get("cap_by_artifact") or {}
    if not isinstance(caps, dict):
        raise ValueError(f'artifact_dims "penalty": cap_by_artifact must map artifacts to numbers, got {caps!r}')
    for a, c in caps.items():
        if a not in artifacts:
            raise ValueError(f'artifact_dims "penalty": cap_by_artifact names {a!r}, not one of {", ".join(artifacts)}')
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0.0 < c <= 1.0:
            raise ValueError(f'artifact_dims "penalty": cap_by_artifact[{a!r}] must be a number in (0, 1], got {c!r}')
    return np.array([float(caps.get(a, 1.0)) for a in artifacts])


def penalised_dims(dims: np.ndarray, spec: dict[str, Any] | None, artifacts: tuple[str, ...] = ARTIFACTS) -> np.ndarray:
    """The readings a ``"penalty"``-like setting counts, (n, artifacts): each above its deadzone
    (:func:`penalty_deadzones`), rescaled to ``(d - t) / (1 - t)``, and no more than its cap
    (:func:`penalty_caps`)."""
    t = penalty_deadzones(spec, artifacts)[None, :]
    return np.minimum(np.clip((dims - t) / (1.0 - t), 0.0, 1.0), penalty_caps(spec, artifacts)[None, :])


def penalty_factor(dims: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``prod_a (1 - w_a * d_a)`` per row: 1 for a clean clip, smaller with every artifact
    (strictly decreasing in each dimension where ``w_a > 0``)."""
    return np.prod(1.0 - np.clip(dims, 0, 1) * np.asarray(weights, dtype=float)[None, :], axis=1)


def artifact_costs(dims: np.ndarray, weights: np.ndarray, headroom: np.ndarray) -> np.ndarray:
    """Each artifact's share (<= 0) of the score it takes: the total ``(factor - 1) * headroom``
    split in proportion to ``-log(1 - w_a d_a)``."""
    logs = -np.log(np.clip(1.0 - np.clip(dims, 0, 1) * np.asarray(weights)[None, :], 1e-9, 1.0))
    total = (penalty_factor(dims, weights) - 1.0) * np.asarray(headroom, dtype=float)
    share = np.divide(logs, logs.sum(axis=1, keepdims=True), out=np.zeros_like(logs),
                      where=logs.sum(axis=1, keepdims=True) > 0)  # fmt: skip
    return share * total[:, None]


def as_dicts(dims: np.ndarray, artifacts: tuple[str, ...], failed: set[int]) -> list[dict[str, float] | None]:
    """One ``{artifact: estimate}`` per row (rounded), None for failed rows."""
    return [
        None if i in failed else {a: round(float(v), DECIMALS) for a, v in zip(artifacts, row, strict=True)}
        for i, row in enumerate(dims)
    ]
