"""The quality model: a feature specification plus a regressor, saved as a model directory.

``QualityModel`` follows scikit-learn's conventions: plain constructor parameters, learned
state set by :meth:`fit` (attributes ending in ``_``), :meth:`predict` on a feature table.
Items whose video failed get a fallback score: a prompt-only regressor when the model has
prompt features, else the training mean.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from aigvqa import __version__
from aigvqa.damage import ArtifactSubspace, DamageModel
from aigvqa.dimensions import (
    VIDEO_PREFIXES,
    DimensionModel,
    artifact_costs,
    as_dicts,
    check_direct,
    direct_readings,
    drop_factors,
    penalised_dims,
    penalty_caps,
    penalty_deadzones,
    penalty_factor,
    penalty_weights,
)
from aigvqa.extract import FeatureTable
from aigvqa.features import DEFAULT_FEATURES, resolve_features
from aigvqa.registry import EXTRACTORS, REGRESSORS
from aigvqa.regressors import OrderPairs, Regressor, make_regressor
from aigvqa.video import SamplingConfig

FORMAT_VERSION = 1
MODEL_FILE = "model.json"
DAMAGE_KEYS = frozenset(
    {"weight", "project", "drop_by_artifact", "margin", "invariance", "spread", "decay", "faint", "clip"}
)
DAMAGE_FILE = "damage.json"  # the learned damage and artifact directions of a model with "damage"


class ModelError(Exception):
    """A model directory that is missing, damaged or incompatible."""


def _rows(sequences: dict[str, list], rows: np.ndarray) -> dict[str, list]:
    """The per-row arrays (``FeatureTable.sequences``) restricted to ``rows``."""
    return {k: [v[i] for i in rows] for k, v in sequences.items()}


def _usual_permissions(directory: Path) -> None:
    """Give a model directory the permissions of a normally created one (``mkdtemp`` makes it
    private, and some writers create private files), so it can be shared like any folder."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)
    for path in directory.iterdir():
        path.chmod(0o666 & ~umask)


def soft_bound(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Keep scores inside ``(lo, hi)`` without ties: the identity in the middle of the range and
    an exponential approach to each end in its outer tenth (strictly increasing, smooth), so
    the ranking of every clip is kept."""
    x = np.asarray(x, dtype=float)
    m = 0.1 * (hi - lo)
    if m <= 0:
        return x
    top, bottom = hi - m, lo + m
    out = x.copy()
    above, below = x > top, x < bottom
    out[above] = hi - m * np.exp(-(x[above] - top) / m)
    out[below] = lo + m * np.exp((x[below] - bottom) / m)
    return out


class QualityModel:
    """Predicts a quality score from features of a video and its prompt."""

    def __init__(
        self,
        features: str = DEFAULT_FEATURES,
        regressor: str = "blend",
        regressor_params: dict[str, Any] | None = None,
        target: str = "gt_score",
        seed: int = 0,
        sampling: SamplingConfig | None = None,
        extractor_config: dict[str, dict[str, Any]] | None = None,
        fallback: bool = True,
        augment: dict[str, Any] | None = None,
        artifact_dims: dict[str, Any] | None = None,
    ):
        self.features = features
        self.regressor = regressor
        self.regressor_params = regressor_params or {}
        self.target = target
        self.seed = seed
        if isinstance(sampling, dict):  # from a JSON recipe or model.json
            sampling = SamplingConfig(**sampling)
        self.sampling = sampling or SamplingConfig()
        self.extractor_config = extractor_config or {}
        self.fallback = fallback
        # artifact augmentation of the training clips (aigvqa.augment.AugmentConfig settings); used by
        # aigvqa.pipeline when training, recorded in model.json
        self.augment = dict(augment) if augment else None
        # artifact dimensions (aigvqa.dimensions): families of graded copies to learn them from
        # ("families"), estimator settings ("params") and what each costs the score ("penalty")
        self.artifact_dims = dict(artifact_dims) if artifact_dims else None
        self.dims_: DimensionModel | None = None
        # with "damage" in artifact_dims: the pairwise-learned damage the score loses (aigvqa.damage)
        # and the artifacts' directions, removed from the features the rest of the score reads
        self.damage_: DamageModel | None = None
        self.subspace_: ArtifactSubspace | None = None

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters, as in scikit-learn (clone with ``QualityModel(**p)``)."""
        return {
            "features": self.features,
            "regressor": self.regressor,
            "regressor_params": dict(self.regressor_params),
            "target": self.target,
            "seed": self.seed,
            "sampling": self.sampling,
            "extractor_config": dict(self.extractor_config),
            "fallback": self.fallback,
            "augment": dict(self.augment) if self.augment else None,
            "artifact_dims": dict(self.artifact_dims) if self.artifact_dims else None,
        }

    # -- what to extract -------------------------------------------------------------
    def extractor_specs(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, settings) of every feature extractor the model uses, in column order."""
        return [(n, dict(self.extractor_config.get(n, {}))) for n in resolve_features(self.features)]

    def needs_video(self) -> bool:
        return any(EXTRACTORS.get(n).needs_video for n, _ in self.extractor_specs())

    def _prompt_prefixes(self) -> list[str]:
        return [f"{n}." for n, _ in self.extractor_specs() if not EXTRACTORS.get(n).needs_video]

    # -- artifact dimensions -----------------------------------------------------------------
    def fit_dimensions(
        self,
        table: FeatureTable,
        artifact: list[str | None],
        severity: np.ndarray,
        family: list[str] | None = None,
        scale: np.ndarray | None = None,
    ) -> QualityModel:
        """Learn the artifact dimensions from rows of graded copies (:mod:`aigvqa.dimensions`), and,
        when ``artifact_dims`` has ``"damage"``, the damage and the artifacts' directions
        (:mod:`aigvqa.damage`: ``family`` names each row's source clip, ``scale`` its size factor);
        call before :meth:`fit`."""
        spec = self._damage_spec()
        if spec is not None:  # checked before any fitting
            if family is None or scale is None:
                raise ValueError("the damage needs each family row's source clip and size factor")
            unknown = sorted(set(spec) - DAMAGE_KEYS)
            if unknown or "weight" not in spec:
                raise ValueError(
                    f'artifact_dims "damage": needs "weight"; unknown settings {unknown}; known: {sorted(DAMAGE_KEYS)}'
                )
        ok = np.array([i not in table.errors for i in range(len(artifact))], dtype=bool)
        params = (self.artifact_dims or {}).get("params")
        arts = [a for a, k in zip(artifact, ok, strict=True) if k]
        sev = np.asarray(severity, dtype=float)[ok]
        if (self.artifact_dims or {}).get("direct"):  # checked before any fitting
            check_direct(self.artifact_dims["direct"], table.names)
        self.dims_ = DimensionModel(params=params, seed=self.seed).fit(table.values[ok], table.names, arts, sev)
        if spec is not None:
            fams = [f for f, k in zip(family, ok, strict=True) if k]
            sizes = np.asarray(scale, dtype=float)[ok]
            options = {k: v for k, v in spec.items() if k not in ("weight", "project", "drop_by_artifact")}
            self.damage_ = DamageModel(**options).fit(
                table.values[ok], table.names, fams, arts, sev, sizes, self._drop_weights()
            )
            project = int(spec.get("project", 0))
            self.subspace_ = None
            if project:
                self.subspace_ = ArtifactSubspace(project).fit(table.values[ok], table.names, fams, arts, sev, sizes)
        return self

    def _damage_spec(self) -> dict[str, Any] | None:
        spec = (self.artifact_dims or {}).get("damage")
        return dict(spec) if spec else None

    def _drop_weights(self) -> dict[str, float]:
        """Each artifact's share of the headroom at severity 1 (the damage's margins per unit of severity)."""
        spec = self.artifact_dims or {}
        pen = spec.get("penalty") or {}
        own = {**(pen.get("drop_by_artifact") or {}), **((spec.get("damage") or {}).get("drop_by_artifact") or {})}
        return drop_factors({**pen, "drop_by_artifact": own})

    def anchored(self) -> bool:
        """Whether the unlabelled clips' families train the score too (``"anchored": true`` in
        ``artifact_dims``): each member's target is the score a first fit gives its family's source,
        lowered as an augmented copy's label is (:meth:`aigvqa.augment.AugmentConfig.target`)."""
        value = (self.artifact_dims or {}).get("anchored", False)
        if isinstance(value, dict):
            self.anchored_min_severity()
            value = True
        if not isinstance(value, bool):
            raise ValueError(f'artifact_dims "anchored" must be true, false or {{"min_severity": s}}, got {value!r}')
        if value and ((self.scores_with_dimensions() and not self.penalty_on_top()) or self._damage_spec()):
            raise ValueError('artifact_dims "anchored" works with no "penalty" (or one "on_top") and no "damage"')
        return value

    def anchored_min_severity(self) -> float:
        """The least severity of a degraded copy that trains an anchored score (``"anchored":
        {"min_severity": s}``; 0 with ``true``): fainter copies teach the dimensions only."""
        value = (self.artifact_dims or {}).get("anchored", False)
        if not isinstance(value, dict):
            return 0.0
        unknown = sorted(set(value) - {"min_severity"})
        s = value.get("min_severity", 0.0)
        if unknown or isinstance(s, bool) or not isinstance(s, int | float) or not 0 <= s <= 1:
            raise ValueError(f'artifact_dims "anchored" takes only "min_severity", a number in [0, 1], got {value!r}')
        return float(s)

    def scores_with_damage(self) -> bool:
        """Whether the score loses the learned damage (``"damage"`` in ``artifact_dims``)."""
        return self.damage_ is not None

    def damage(self, table: FeatureTable) -> np.ndarray:
        """What the damage takes from each row's score (>= 0 means lower; 0 for a typical clean clip;
        NaN for failed rows). Raises :class:`ModelError` for a model without damage."""
        if self.damage_ is None:
            raise ModelError('this model has no damage; train it with "damage" in its recipe\'s "artifact_dims"')
        out = self._damage_cost(table)
        out[sorted(table.errors)] = np.nan
        return out

    def _damage_weight(self) -> float:
        return float(self._damage_spec()["weight"])

    def _damage_cost(self, table: FeatureTable) -> np.ndarray:
        """``weight * damage`` per row (failed rows included)."""
        return self._damage_weight() * self.damage_.predict(table.values, table.names)

    def has_dimensions(self) -> bool:
        """Whether the model estimates artifact dimensions."""
        return self.dims_ is not None

    def scores_with_dimensions(self) -> bool:
        """Whether the score uses the artifact dimensions (``artifact_dims`` has a ``"penalty"``).
        Without one the dimensions are a diagnostic: the score is the one the recipe without
        ``artifact_dims`` gives, and the labelled clips' graded copies train no score."""
        return bool(self.artifact_dims) and self.artifact_dims.get("penalty") is not None

    def _dims_array(self, table: FeatureTable) -> np.ndarray:
        if self.dims_ is None:
            raise ModelError(
                'this model has no artifact dimensions; train it with a recipe that has "artifact_dims" '
                "(e.g. the bundled 'default')"
            )
        learned, direct = self._readings(table)
        return learned if direct is None else np.fmax(learned, direct)

    def _readings(self, table: FeatureTable) -> tuple[np.ndarray, np.ndarray | None]:
        """The learned estimates, and the readings taken straight from one measure (``"direct"``
        in ``artifact_dims``, e.g. the compression of an H.264 file from its quantiser; NaN where
        none), None without any."""
        learned = self.dims_.predict(table.values, table.names)
        spec = (self.artifact_dims or {}).get("direct")
        if not spec:
            return learned, None
        check_direct(spec, table.names, self.dims_.artifacts)
        return learned, direct_readings(spec, table.values, table.names, self.dims_.artifacts)

    def dimensions_array(self, table: FeatureTable) -> np.ndarray:
        """(n, artifacts) estimates in [0, 1]; failed rows are NaN."""
        out = self._dims_array(table)
        out[sorted(table.errors)] = np.nan
        return out

    def dimensions(self, table: FeatureTable) -> list[dict[str, float] | None]:
        """Per row ``{artifact: estimate in [0, 1]}`` (None where the video failed)."""
        dims = self._dims_array(table)
        return as_dicts(dims, self.dims_.artifacts, set(table.errors))

    def penalty_on_top(self) -> bool:
        """Whether the penalty acts on top of the recipe's own score (``"on_top": true`` in the
        ``"penalty"``): the content part is then trained as without ``artifact_dims`` (on the
        targets themselves, without the labelled clips' graded copies), and the product of the
        dimensions lowers what it gives. Use it for artifacts the content part cannot see or even
        rewards, with a per-artifact ``drop_by_artifact`` and ``"drop": 0`` for the rest."""
        return self.scores_with_dimensions() and bool(self.artifact_dims["penalty"].get("on_top", False))

    def copies_train_score(self) -> bool:
        """Whether the labelled clips' graded copies train the score (a penalty not on top: the
        content part then learns the targets with the artifacts' cost taken back out)."""
        return self.scores_with_dimensions() and not self.penalty_on_top()

    def _penalty(self) -> dict[str, Any] | None:
        return self.artifact_dims["penalty"] if self.dims_ is not None and self.scores_with_dimensions() else None

    def _weights(self) -> np.ndarray:
        return penalty_weights(self._penalty(), self.dims_.artifacts)

    def _penalised_dims(self, table: FeatureTable) -> np.ndarray:
        """The dimensions the penalty reads: with ``"deadzone": t`` in the penalty (or an artifact's
        own in ``"deadzone_by_artifact"``) a reading up to ``t`` (what clean clips may read) costs
        nothing, and above it ``(d - t) / (1 - t)``; with
        ``"cap_by_artifact"`` an artifact's reading counts up to its cap (a trace costs, more of
        it is left to the content part, which learned strong artifacts from the augmented copies).
        An artifact with a ``"direct"`` reading is priced by that reading alone (0 where it is
        missing): its learned estimate, which other artifacts can lower, costs nothing."""
        dims, direct = self._readings(table)
        if direct is not None:  # an artifact with a direct reading is priced by it alone
            own = [a in self.artifact_dims["direct"] for a in self.dims_.artifacts]
            dims[:, own] = np.nan_to_num(direct[:, own], nan=0.0)
        return penalised_dims(dims, self._penalty(), self.dims_.artifacts)

    def penalty_factors(self, table: FeatureTable) -> np.ndarray:
        """``prod_a (1 - w_a d_a)`` per row (1 where the model has no penalty or the video failed)."""
        n = len(table.values)
        if self._penalty() is None:
            return np.ones(n)
        f = penalty_factor(self._penalised_dims(table), self._weights())
        f[sorted(table.errors)] = 1.0
        return f

    def _q_values(self, table: FeatureTable) -> np.ndarray:
        """The features ``q`` (content and prompt) reads: with ``"content": "prompt"`` in
        ``artifact_dims`` (and a penalty) the video's columns are held at 0, so the video moves the score through
        its artifact dimensions alone (monotone decreasing by construction)."""
        if self.subspace_ is not None:  # the score reads the artifacts through the damage only
            return self.subspace_.remove(table.values, table.names)
        if (self.artifact_dims or {}).get("content") != "prompt" or self._penalty() is None:
            return table.values
        X = table.values.copy()
        video = np.array([n.startswith(VIDEO_PREFIXES) for n in table.names], dtype=bool)
        X[:, video] = np.where(np.isnan(X[:, video]), np.nan, 0.0)
        return X

    def _floor(self) -> float:
        return float((self._penalty() or {}).get("floor", 1.0))

    def dimension_costs(self, table: FeatureTable) -> np.ndarray | None:
        """(n, artifacts) share of each artifact in the score (<= 0; see :meth:`explain`), or None."""
        if self._penalty() is None:
            return None
        base = self.regressor_.contributions(self._q_values(table)[:1], _rows(table.sequences, np.arange(1)))[0, -1]
        headroom = np.full(len(table.values), base - self._floor())
        costs = artifact_costs(self._penalised_dims(table), self._weights(), headroom)
        costs[sorted(table.errors)] = np.nan
        return costs

    # -- learning ------------------------------------------------------------------------
    def fit(
        self,
        table: FeatureTable,
        y: np.ndarray,
        fingerprint: str = "",
        labelled: np.ndarray | None = None,
        pairs: OrderPairs | None = None,
    ) -> QualityModel:
        """Learn from the rows of ``table`` whose videos were featurised. ``labelled`` marks the
        rows whose targets are human labels (default: all; augmented copies are not). ``pairs``
        (:meth:`order_pairs`) are label-free rows that must keep an order, for the regressors
        that learn from them (``ridge`` with ``pair_weight``)."""
        penalty_deadzones((self.artifact_dims or {}).get("penalty"))  # checked before any fitting
        penalty_caps((self.artifact_dims or {}).get("penalty"))
        y = np.asarray(y, dtype=float)
        ok = np.array([i not in table.errors for i in range(len(y))], dtype=bool)
        if ok.sum() < 2:
            raise ValueError("fewer than two training items could be featurised")
        self.feature_names_ = list(table.names)
        self.target_mean_ = float(y[ok].mean())
        self.target_range_ = (float(y[ok].min()), float(y[ok].max()))
        self.n_train_ = int(ok.sum())
        self.fingerprint_ = fingerprint
        y_rated = y  # the fallback (a failed video: no dimensions) learns the targets themselves
        if self._penalty() is not None and self.copies_train_score():
            # what the content and prompt are worth: the target with the artifacts' cost taken back out
            # (a copy at severity s of a clip scored y, y - w s (y - floor), gets back about y)
            floor = self._floor()
            factor = np.maximum(self.penalty_factors(table), 0.2)
            y = np.clip(floor + (y - floor) / factor, *self.target_range_)
        self.regressor_ = make_regressor(self.regressor, self.seed, **self.regressor_params)
        self.regressor_.set_feature_names(self.feature_names_)
        self.regressor_.set_order_pairs(pairs)
        # per-row arrays (frames, prompt tokens) for the neural regressors; the others ignore them
        rated = np.ones(len(y), dtype=bool) if labelled is None else np.asarray(labelled, dtype=bool)
        marks = self.regressor_.uses_labelled  # only such regressors take ``labelled``
        self.regressor_.fit(
            self._q_values(table)[ok], y[ok], sequences=_rows(table.sequences, np.flatnonzero(ok)),
            **({"labelled": rated[ok]} if marks else {}),
        )  # fmt: skip
        self.importances_ = self.regressor_.importances(self.feature_names_)
        prompt_cols = table.columns(self._prompt_prefixes())
        self.fallback_columns_ = [n for n, keep in zip(table.names, prompt_cols, strict=False) if keep]
        self.fallback_: Regressor | None = None
        if self.fallback and self.fallback_columns_ and self.needs_video():
            self.fallback_ = make_regressor(self.regressor, self.seed, **self.regressor_params)
            self.fallback_.set_feature_names(self.fallback_columns_)
            self.fallback_.fit(
                table.values[:, prompt_cols], y_rated, sequences=self._prompt_sequences(table),
                **({"labelled": rated} if marks else {}),
            )  # fmt: skip
        return self

    def order_pairs(
        self,
        table: FeatureTable,
        better: np.ndarray,
        worse: np.ndarray,
        severity: np.ndarray,
        same_a: np.ndarray,
        same_b: np.ndarray,
    ) -> OrderPairs:
        """:class:`OrderPairs` of rows of ``table`` (given by index), in the columns the score reads;
        call after :meth:`fit_dimensions` (a recipe with ``"damage"`` reads projected columns)."""
        X = self._q_values(table)
        return OrderPairs(X[np.asarray(better, dtype=int)], X[np.asarray(worse, dtype=int)],
                          np.asarray(severity, dtype=float), X[np.asarray(same_a, dtype=int)],
                          X[np.asarray(same_b, dtype=int)])  # fmt: skip

    def predict(self, table: FeatureTable) -> np.ndarray:
        """Scores for every row, on the scale of the training targets (never outside their range:
        see :func:`soft_bound`); failed rows get the fallback score."""
        return soft_bound(self.predict_raw(table), *self.target_range_)

    def part_predictions(self, table: FeatureTable) -> dict[str, np.ndarray]:
        """What each model inside the regressor scores every row alone (a ``stack``'s blocks, a
        ``blend``'s members, e.g. ``"video.lightgbm"``), before any guard; empty for a single
        regressor. A diagnostic: which part moves a score (``benchmarks/modern_eval.py --parts``)."""
        self._check_columns(table)
        return self.regressor_.parts(self._q_values(table), table.sequences)

    def _check_columns(self, table: FeatureTable) -> None:
        if table.names != self.feature_names_:
            raise ModelError("feature columns differ from those the model was trained on")

    def predict_raw(self, table: FeatureTable) -> np.ndarray:
        """The regressor's scores before bounding (what :meth:`explain` attributes)."""
        self._check_columns(table)
        scores = np.asarray(self.regressor_.predict(self._q_values(table), sequences=table.sequences), dtype=float)
        if self._penalty() is not None:  # monotone decreasing in every artifact dimension
            floor = self._floor()
            scores = floor + (scores - floor) * self.penalty_factors(table)
        if self.damage_ is not None:  # the artifacts' cost, learned from graded copies
            scores = scores - self._damage_cost(table)
        failed = np.array(sorted(table.errors), dtype=int)
        if failed.size:
            scores[failed] = self._fallback(table, failed)
        return scores

    def explain(self, table: FeatureTable) -> np.ndarray:
        """Additive contributions (n, d + 1) of each feature to each row's score; the last column
        is the baseline (training-set level). Rows sum to :meth:`predict_raw`'s scores, except
        failed rows (their contributions are NaN) and the neural head (not attributable)."""
        if self.regressor_.uses_sequences:
            raise ModelError(
                f"the '{self.regressor}' regressor uses a neural network on sequences (frames or prompt tokens), "
                "which cannot attribute its score to features; explain works with tabular regressors"
            )
        contrib = self.regressor_.contributions(self._q_values(table), sequences=table.sequences)
        if self._penalty() is not None:  # the features' shares shrink with the artifacts' factor
            contrib[:, :-1] *= self.penalty_factors(table)[:, None]  # the rest: dimension_costs
        if self.damage_ is not None:  # each video feature's share of the damage, exact
            idx = [self.feature_names_.index(c) for c in self.damage_.columns_]
            contrib[:, idx] -= self._damage_weight() * self.damage_.contributions(table.values, table.names)
        contrib[sorted(table.errors)] = np.nan
        return contrib

    def explain_blocks(self, table: FeatureTable) -> tuple[dict[str, np.ndarray], float] | None:
        """Each feature block's share of each row's score and the baseline they start from, for
        regressors built from blocks (``stack``); None for the others. Failed rows are NaN."""
        if not hasattr(self.regressor_, "block_contributions"):
            return None
        shares = self.regressor_.block_contributions(self._q_values(table), sequences=table.sequences)
        costs = self.dimension_costs(table)
        if costs is not None:
            factor = self.penalty_factors(table)
            shares = {k: v * factor for k, v in shares.items()}
            shares["artifacts"] = np.nansum(costs, axis=1)
        if self.damage_ is not None:
            shares["artifacts"] = -self.damage(table)
        for v in shares.values():
            v[sorted(table.errors)] = np.nan
        return shares, self.regressor_.block_baseline()

    def _fallback(self, table: FeatureTable, rows: np.ndarray) -> np.ndarray:
        if self.fallback_ is None:
            return np.full(len(rows), self.target_mean_)
        cols = [self.feature_names_.index(n) for n in self.fallback_columns_]
        X = table.values[np.ix_(rows, cols)]
        sequences = _rows(self._prompt_sequences(table), rows)
        return np.asarray(self.fallback_.predict(X, sequences=sequences), dtype=float)

    def _prompt_sequences(self, table: FeatureTable) -> dict[str, list]:
        """The per-row arrays of prompt extractors (e.g. token ids), which failed videos still have."""
        prefixes = tuple(self._prompt_prefixes())
        return {k: v for k, v in table.sequences.items() if k.startswith(prefixes)}

    def fallback_kind(self) -> str:
        return "prompt-only model" if self.fallback_ is not None else "training mean"

    def top_features(self, k: int = 15) -> list[tuple[str, float]]:
        return sorted(self.importances_.items(), key=lambda kv: -kv[1])[:k]

    # -- persistence ---------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the model directory atomically (a damaged half-written directory is impossible).
        Under torchrun (``RANK`` > 0) only the first process writes: all hold the same model."""
        directory = Path(directory)
        if os.environ.get("RANK", "0") not in ("", "0"):
            return directory
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}-"))
        try:
            self.regressor_.save(tmp, "main")
            if self.fallback_ is not None:
                self.fallback_.save(tmp, "fallback")
            dims_meta = self.dims_.save(tmp) if self.dims_ is not None else None
            if self.damage_ is not None:
                learned = {"damage": self.damage_.to_dict(),
                           "subspace": self.subspace_.to_dict() if self.subspace_ is not None else None}  # fmt: skip
                (tmp / DAMAGE_FILE).write_text(json.dumps(learned))
            meta = {
                "format": FORMAT_VERSION,
                "aigvqa_version": __version__,
                "features": self.features,
                "extractors": self.extractor_specs(),
                "extractor_config": self.extractor_config,
                "sampling": asdict(self.sampling),
                "regressor": self.regressor,
                "regressor_params": self.regressor_params,
                "seed": self.seed,
                "target": self.target,
                "target_mean": self.target_mean_,
                "target_range": list(self.target_range_),
                "n_train": self.n_train_,
                "train_fingerprint": self.fingerprint_,
                "feature_names": self.feature_names_,
                "fallback": self.fallback,
                "augment": self.augment,
                "artifact_dims": self.artifact_dims,
                "dims": dims_meta,
                "fallback_columns": self.fallback_columns_ if self.fallback_ is not None else [],
                "importances": dict(self.top_features(len(self.importances_))),
            }
            (tmp / MODEL_FILE).write_text(json.dumps(meta, indent=1))
            _usual_permissions(tmp)
            if directory.exists():
                shutil.rmtree(directory)
            tmp.rename(directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> QualityModel:
        """Load a model directory written by :meth:`save`, with clear errors when it is unusable."""
        directory = Path(directory)
        meta_path = directory / MODEL_FILE
        if not meta_path.exists():
            raise ModelError(
                f"{directory}: not a model directory ({MODEL_FILE} missing); train one with 'aigvqa train'"
            )
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelError(f"{meta_path}: damaged model file ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise ModelError(
                f"{meta_path}: model format {found!r} is not supported by aigvqa {__version__} "
                f"(expected {FORMAT_VERSION}); retrain the model"
            )
        try:
            if meta["regressor"] not in REGRESSORS:
                raise ModelError(f"{meta_path}: unknown regressor {meta['regressor']!r}")
            model = cls(
                features=meta["features"],
                regressor=meta["regressor"],
                regressor_params=meta["regressor_params"],
                target=meta["target"],
                seed=meta["seed"],
                sampling=SamplingConfig(**meta["sampling"]),
                extractor_config=meta.get("extractor_config", {}),
                fallback=meta.get("fallback", True),
                augment=meta.get("augment"),
                artifact_dims=meta.get("artifact_dims"),
            )
            model.feature_names_ = list(meta["feature_names"])
            model.target_mean_ = float(meta["target_mean"])
            model.target_range_ = tuple(meta["target_range"])
            model.n_train_ = int(meta["n_train"])
            model.fingerprint_ = meta["train_fingerprint"]
            model.importances_ = dict(meta["importances"])
            model.fallback_columns_ = list(meta["fallback_columns"])
            model.dims_ = DimensionModel.load(directory, meta["dims"]) if meta.get("dims") else None
            if model._damage_spec() is not None:
                learned = json.loads((directory / DAMAGE_FILE).read_text())
                model.damage_ = DamageModel.from_dict(learned["damage"])
                model.subspace_ = ArtifactSubspace.from_dict(learned["subspace"]) if learned.get("subspace") else None
            reg_cls = REGRESSORS.get(meta["regressor"])
            model.regressor_ = reg_cls.load(directory, "main", meta["seed"], **meta["regressor_params"])
            model.fallback_ = (
                reg_cls.load(directory, "fallback", meta["seed"], **meta["regressor_params"])
                if model.fallback_columns_
                else None
            )
        except ModelError:
            raise
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise ModelError(
                f"{directory}: damaged or incompatible model directory ({type(exc).__name__}: {exc})"
            ) from None
        except Exception as exc:  # e.g. a truncated LightGBM file
            raise ModelError(f"{directory}: damaged model files ({type(exc).__name__}: {exc})") from None
        return model
