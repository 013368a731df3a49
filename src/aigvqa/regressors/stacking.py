"""Stacking over feature blocks (regressor ``stack``): one model per block, combined by weights
fitted on cross-fitted, out-of-fold predictions.

A wide block (1,280 backbone columns) appended to a narrow one (a few dozen temporal
features) in one model swamps it on a small training set. Stacking gives each block its own
model and lets a second level decide how much each block's prediction is worth:

1. the rows are split into seeded folds (``folds``; with ``group_by``, rows with identical
   values in those columns, e.g. the same prompt, stay in one fold), and every block's model
   is fitted on the other folds and predicts the held-out one: out-of-fold predictions;
2. the second level fits ``y ≈ b + Σ w_k · p_k`` on them with non-negative weights (NNLS;
   ``combine="mean"``: equal weights), so a block that does not help gets weight 0. With
   ``combine_on="labelled"`` it fits on the rows with human labels only, when ``fit`` is told
   which they are: augmented copies (targets made by a rule, not rated) teach the blocks, but
   how much each block's prediction is worth is judged against people. A block that people's
   scores do not need can then get weight 0 even if it is the one that sees artifacts: measure
   the artifact contract (``benchmarks/sensitivity.py``) of such a recipe. Default ``"all"``;
3. every block's model is refitted on all rows; a prediction is ``b + Σ w_k · f_k(x)``.

Blocks are given as ``{"name", "features", "regressor", "params", "absent_if_zero"}``:
``features`` is a feature spec (groups or extractor names, as ``--features``), ``regressor``
any registered regressor (default ``ridge``), ``params`` its settings. ``absent_if_zero`` names
a column (e.g. ``lexical.lex_chars``) that is 0 when the block's input is missing (no prompt):
such a row's block prediction is replaced by the block's mean out-of-fold prediction, so a
missing input moves the score neither up nor down (its explained share is 0), and the block's
model learns from the rows that have its input only (when at least ``2 * folds`` do). Every column
must belong to a block (a column may be in several) or to ``unread``, a feature spec of
extractors no block reads (e.g. ``"colour"``, extracted for the artifact dimensions only); a
block with no column in the table (e.g. in the prompt-only fallback model) is left out. The
explanation splits each score into a baseline and one share per block.

``max_share`` bounds a block's share (its weighted deviation ``s = w_k · (p_k(x) − mean p_k)``
from its training mean) on the score scale: the share used is ``m · tanh(s / m)``, smooth and
strictly increasing, so the block's order among rows is kept, a small share is nearly unchanged
(``s = m / 2`` loses 8%) and no row moves the score by more than ``m``. It is meant for a block
whose input can be far from anything in training (the prompt block of a model trained on a few
dozen prompts): unfamiliar wording then cannot dominate a clip's score. The weights are fitted
without it; it acts at prediction, in the explanations too (the block's feature contributions
are scaled by the same factor, so the parts still sum to the score).

``exclude`` lists columns the block does not read, by name or shell-style pattern (e.g.
``"spatial.sp_pair_*_shape_s0_mean"``): for measures that something other than quality moves
more than quality does (the finest-scale texture statistics, which pixel noise drives), leaving
them to the artifact dimensions. Each pattern must match one of the block's columns (a typo is an
error, not a silent no-op); an excluded column counts as deliberately unread.

``familiarity`` names a prompt extractor that gives each row its content words as exact ids
(``"terms"``: the per-row array ``terms.ids``). The block then keeps the ids of every training
row with input, and when scoring multiplies its share by the row's **familiarity**: the fraction
of the row's content words that occur in some training prompt (1 for a prompt without content
words). Wording the block learned keeps its whole share; a prompt of which it knows half the
words moves the score half as far; a prompt of wholly unknown words moves it not at all. Unlike
``max_share`` it tells familiar from unfamiliar wording, so it leaves the scores of prompts seen
in training as they were. It acts at prediction, as ``max_share`` (applied first, then the
bound), and in the explanations.
"""

from __future__ import annotations

import fnmatch
import json
import numbers
from pathlib import Path
from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS
from aigvqa.regressors.base import OrderPairs, Regressor, Sequences, make_regressor

FORMAT = 1
BLOCK_KEYS = {"name", "features", "regressor", "params", "absent_if_zero", "max_share", "familiarity", "exclude"}


def _extractor(column: str) -> str:
    return column.split(".", 1)[0]


def _spec_extractors(spec: str) -> set[str]:
    from aigvqa.features import resolve_features

    return set(resolve_features(spec))


def group_folds(n: int, folds: int, groups: np.ndarray | None, seed: int) -> np.ndarray:
    """Fold number of every row: seeded, rows of one group (identical rows of ``groups``) together."""
    if groups is None or groups.shape[1] == 0:
        inverse = np.arange(n)
    else:
        _, inverse = np.unique(np.nan_to_num(groups, nan=np.inf), axis=0, return_inverse=True)
        inverse = inverse.ravel()
    n_groups = int(inverse.max()) + 1 if n else 0
    fold_of_group = np.empty(n_groups, dtype=int)
    fold_of_group[np.random.default_rng(seed).permutation(n_groups)] = np.arange(n_groups) % max(1, folds)
    return fold_of_group[inverse]


def nonnegative_weights(P: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights ≥ 0 and intercept of the least-squares fit ``y ≈ b + P @ w`` (equal weights if all
    would be zero)."""
    from scipy.optimize import nnls

    mean_p, mean_y = P.mean(axis=0), float(y.mean())
    w, _ = nnls(P - mean_p, y - mean_y)
    if not np.any(w > 0):
        w = np.full(P.shape[1], 1.0 / P.shape[1])
    return w, mean_y - float(mean_p @ w)


def _max_share(block: str, value: Any) -> float | None:
    """A block's ``max_share``, checked: None (no bound) or a finite number > 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"stack: block {block!r}: max_share must be a number > 0 (the most its share may move a score, "
            f"on the score scale) or null for no bound, got {value!r}"
        )
    return float(value)


def _exclude(block: str, value: Any) -> list[str]:
    """A block's ``exclude``, checked: a list of column names or shell-style patterns."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(
            f"stack: block {block!r}: exclude must be a list of column names or patterns "
            f"(e.g. [\"spatial.sp_mscn_*_s0_*\"]), got {value!r}"
        )
    return list(value)


def _familiarity(block: str, value: Any) -> str | None:
    """A block's ``familiarity`` extractor, checked: None or the name of a registered extractor."""
    from aigvqa.registry import EXTRACTORS

    if value is None:
        return None
    if not isinstance(value, str) or value not in EXTRACTORS:
        raise ValueError(
            f"stack: block {block!r}: familiarity must name the extractor of the prompt's word ids "
            f"(e.g. \"terms\"), got {value!r}"
        )
    return value


def familiarity(ids: list[np.ndarray | None], known: np.ndarray) -> np.ndarray:
    """Per row, the fraction of its word ids in ``known`` (sorted); 1 for a row without words."""
    out = np.ones(len(ids))
    for i, row in enumerate(ids):
        if row is not None and len(row):
            out[i] = float(np.isin(row, known, assume_unique=True).mean())
    return out


def bounded_share(share: np.ndarray, max_share: float | None) -> np.ndarray:
    """``max_share · tanh(share / max_share)``: smooth, strictly increasing, inside ±max_share."""
    if max_share is None:
        return share
    return max_share * np.tanh(np.asarray(share, dtype=float) / max_share)


@REGRESSORS.register("stack")
class StackingRegressor(Regressor):
    """One regressor per feature block, combined by non-negative out-of-fold weights (module docs)."""

    name = "stack"
    uses_labelled = True

    def __init__(
        self,
        seed: int = 0,
        blocks: list[dict[str, Any]] | None = None,
        folds: int = 5,
        group_by: str | None = None,
        combine: str = "nnls",
        combine_on: str = "all",
        unread: str | None = None,
        **params: Any,
    ):
        super().__init__(seed, **params)
        if not blocks:
            raise ValueError('stack: give "blocks", e.g. [{"name": "classic", "features": "classic"}, ...]')
        self.blocks: list[dict[str, Any]] = []
        for i, block in enumerate(blocks):
            if not isinstance(block, dict) or not isinstance(block.get("features"), str):
                raise ValueError(f"stack: block {i} must be an object with a 'features' spec, got {block!r}")
            unknown = sorted(set(block) - BLOCK_KEYS)
            if unknown:
                raise ValueError(f"stack: block {i} has unknown keys {', '.join(unknown)}")
            name = str(block.get("name", block["features"]))
            regressor = block.get("regressor", "ridge")
            if regressor not in REGRESSORS:
                raise ValueError(
                    f"stack: block {i}: unknown regressor {regressor!r}; known: {', '.join(REGRESSORS.names())}"
                )
            self.blocks.append(
                {
                    "name": name,
                    "features": block["features"],
                    "regressor": regressor,
                    "params": dict(block.get("params", {})),
                    "absent_if_zero": block.get("absent_if_zero"),
                    "max_share": _max_share(name, block.get("max_share")),
                    "familiarity": _familiarity(name, block.get("familiarity")),
                    "exclude": _exclude(name, block.get("exclude")),
                }
            )
        names = [b["name"] for b in self.blocks]
        if len(set(names)) != len(names):
            raise ValueError(f"stack: block names must be distinct, got {names}")
        if not isinstance(folds, int) or folds < 2:
            raise ValueError(f"stack: folds must be an integer ≥ 2, got {folds!r}")
        if combine not in ("nnls", "mean"):
            raise ValueError(f"stack: combine must be 'nnls' or 'mean', got {combine!r}")
        if combine_on not in ("labelled", "all"):
            raise ValueError(f"stack: combine_on must be 'labelled' or 'all', got {combine_on!r}")
        self.folds = folds
        self.group_by = group_by
        self.combine = combine
        self.combine_on = combine_on
        if unread is not None and not isinstance(unread, str):
            raise ValueError(f"stack: unread must be a feature spec such as 'colour', got {unread!r}")
        self.unread = unread  # extractors whose columns no block reads (the artifact dimensions do)
        self.feature_names: list[str] | None = None
        self.pairs: OrderPairs | None = None
        self.active: list[int] = []  # indices into self.blocks of the blocks with columns
        self.columns: list[np.ndarray] = []  # column indices of each active block
        self.models: list[Regressor] = []
        self.weights = np.zeros(0)
        self.intercept = 0.0
        self.centres = np.zeros(0)  # mean out-of-fold prediction of each active block
        self.absent_columns: list[int | None] = []  # per active block: its absent_if_zero column
        self.known_ids: list[np.ndarray | None] = []  # per active block with familiarity: training word ids

    @property
    def uses_sequences(self) -> bool:  # type: ignore[override]
        """True when a block's regressor (e.g. the ``mlp`` head) reads ``sequences``."""
        return any(make_regressor(b["regressor"], self.seed, **b["params"]).uses_sequences for b in self.blocks)

    # -- columns ---------------------------------------------------------------------------
    def set_feature_names(self, names: list[str]) -> None:
        """Assign the table's columns to the blocks (must be called before ``fit``)."""
        self.feature_names = list(names)
        extractors = [_extractor(n) for n in names]
        unread = _spec_extractors(self.unread) if self.unread else set()
        assigned = np.array([ex in unread for ex in extractors], dtype=bool)
        self.active, self.columns = [], []
        for i, block in enumerate(self.blocks):
            members = _spec_extractors(block["features"])
            cols = np.array([j for j, ex in enumerate(extractors) if ex in members], dtype=int)
            assigned[cols] = True  # an excluded column is unread on purpose
            if len(cols):
                cols = self._without_excluded(block, cols)
            if len(cols):
                self.active.append(i)
                self.columns.append(cols)
        self.absent_columns = self._absent_columns()
        if not assigned.all():
            missing = sorted({extractors[j] for j in np.flatnonzero(~assigned)})
            raise ValueError(
                f"stack: the columns of {', '.join(missing)} are in no block; add them to a block's features "
                "(or to the stack's 'unread' when only the artifact dimensions should read them)"
            )
        if not self.active:
            raise ValueError("stack: no block has a column in this feature table")

    def _without_excluded(self, block: dict[str, Any], cols: np.ndarray) -> np.ndarray:
        """``cols`` less the columns that match the block's ``exclude`` patterns (each must match one)."""
        names = [self.feature_names[j] for j in cols]
        for pattern in block["exclude"]:
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                raise ValueError(f"stack: block {block['name']!r}: exclude pattern {pattern!r} matches none "
                                 "of the block's columns")  # fmt: skip
        keep = [not any(fnmatch.fnmatchcase(n, p) for p in block["exclude"]) for n in names]
        if not any(keep):
            raise ValueError(f"stack: block {block['name']!r}: exclude leaves the block no column")
        return cols[np.array(keep, dtype=bool)]

    def set_order_pairs(self, pairs: OrderPairs | None) -> None:
        """Label-free order pairs on the table's columns; each block's model gets them on its own
        columns (a block whose regressor cannot learn from them ignores them)."""
        self.pairs = pairs

    def _absent_columns(self) -> list[int | None]:
        """Per active block, the index of its ``absent_if_zero`` column (None: never absent)."""
        out: list[int | None] = []
        for i in self.active:
            column = self.blocks[i]["absent_if_zero"]
            if column is not None and column not in self.feature_names:
                raise ValueError(f"stack: block {self.blocks[i]['name']!r}: absent_if_zero column {column!r} "
                                 "is not in the feature table")  # fmt: skip
            out.append(None if column is None else self.feature_names.index(column))
        return out

    def _block_sequences(self, k: int, sequences: Sequences) -> Sequences:
        members = _spec_extractors(self.blocks[self.active[k]]["features"])
        return {key: v for key, v in (sequences or {}).items() if _extractor(key) in members}

    def _new_block_model(self, k: int, pairs: OrderPairs | None = None) -> Regressor:
        """Block ``k``'s regressor, unfitted, given its column names and ``pairs`` (on its columns)."""
        block = self.blocks[self.active[k]]
        model = make_regressor(block["regressor"], self.seed, **block["params"])
        model.set_feature_names([self.feature_names[j] for j in self.columns[k]])
        model.set_order_pairs(pairs)
        return model

    def _subset(self, sequences: Sequences, rows: np.ndarray) -> Sequences:
        return {key: [v[i] for i in rows] for key, v in (sequences or {}).items()}

    # -- learning --------------------------------------------------------------------------
    def fit(
        self, X: np.ndarray, y: np.ndarray, sequences: Sequences = None, labelled: np.ndarray | None = None
    ) -> StackingRegressor:
        """Fit every block and the weights; ``labelled`` marks the rows with human labels (default
        all), on which the weights are fitted with ``combine_on="labelled"``."""
        if self.feature_names is None:
            raise ValueError("stack: set_feature_names must be called before fit")
        if len(self.feature_names) != X.shape[1]:
            raise ValueError(f"stack: {X.shape[1]} columns, but {len(self.feature_names)} feature names")
        y = np.asarray(y, dtype=float)
        n, n_blocks = len(y), len(self.active)
        seqs = [self._block_sequences(k, sequences) for k in range(n_blocks)]
        groups = None
        if self.group_by:
            members = _spec_extractors(self.group_by)
            groups = X[:, [j for j, c in enumerate(self.feature_names) if _extractor(c) in members]]
        fold = group_folds(n, self.folds, groups, self.seed)
        oof = np.zeros((n, n_blocks))
        enough = len(np.unique(fold)) >= 2 and n >= 2 * self.folds
        absent = self._absent(X)
        # each block's order pairs on its own columns, subset once for all its fits
        pairs = [None if self.pairs is None else self.pairs.columns(cols) for cols in self.columns]
        # a block learns from the rows that have its input (it gives its centre for the others)
        learns = [~a if (~a).sum() >= 2 * self.folds else np.ones(n, dtype=bool) for a in absent.T]
        if enough:
            for f in np.unique(fold):
                held = np.flatnonzero(fold == f)
                for k, cols in enumerate(self.columns):
                    train = np.flatnonzero((fold != f) & learns[k])
                    model = self._new_block_model(k, pairs[k])
                    model.fit(X[np.ix_(train, cols)], y[train], self._subset(seqs[k], train))
                    oof[held, k] = model.predict(X[np.ix_(held, cols)], self._subset(seqs[k], held))
        self.models = []
        for k, cols in enumerate(self.columns):
            if learns[k].all():  # (X[:, cols] itself: the same arithmetic, to the last bit, as a subset's)
                self.models.append(self._new_block_model(k, pairs[k]).fit(X[:, cols], y, seqs[k]))
            else:
                rows = np.flatnonzero(learns[k])
                self.models.append(
                    self._new_block_model(k, pairs[k]).fit(X[np.ix_(rows, cols)], y[rows], self._subset(seqs[k], rows))
                )
        if not enough:  # too few rows to cross-fit: in-sample predictions, equal weights
            oof = np.column_stack(
                [m.predict(X[:, c], s) for m, c, s in zip(self.models, self.columns, seqs, strict=True)]
            )
        # centres: the mean out-of-fold prediction over rows with input
        self.known_ids = [self._known_ids(k, sequences, ~absent[:, k]) for k in range(n_blocks)]
        self.centres = np.array([p[~a].mean() if (~a).any() else 0.0 for p, a in zip(oof.T, absent.T, strict=True)])
        oof = np.where(absent, self.centres, oof)
        rows = self._combine_rows(n, labelled)
        if self.combine == "nnls" and enough:
            self.weights, self.intercept = nonnegative_weights(oof[rows], y[rows])
        else:
            self.weights = np.full(n_blocks, 1.0 / n_blocks)
            self.intercept = float(y[rows].mean() - oof[rows].mean(axis=0) @ self.weights)
        return self

    def _combine_rows(self, n: int, labelled: np.ndarray | None) -> np.ndarray:
        """The rows the second level is fitted on: the labelled ones (``combine_on="labelled"``,
        when there are enough of them: at least ``2 * folds``), else all."""
        everything = np.ones(n, dtype=bool)
        if labelled is None or self.combine_on == "all":
            return everything
        labelled = np.asarray(labelled, dtype=bool)
        if labelled.shape != (n,):
            raise ValueError(f"stack: labelled must be a mask of {n} rows, got shape {labelled.shape}")
        return labelled if labelled.sum() >= 2 * self.folds else everything

    def _word_ids(self, k: int, sequences: Sequences, n: int) -> list[np.ndarray | None]:
        """The word ids of each row for active block ``k``'s ``familiarity`` (clear error if absent)."""
        key = f"{self.blocks[self.active[k]]['familiarity']}.ids"
        ids = (sequences or {}).get(key)
        if ids is None or len(ids) != n:
            raise ValueError(
                f"stack: block {self.block_names()[k]!r} weighs its share by familiarity and needs the "
                f"per-row word ids {key!r}: add {key.split('.')[0]!r} to the model's features"
            )
        return ids

    def _known_ids(self, k: int, sequences: Sequences, rows: np.ndarray) -> np.ndarray | None:
        """The sorted distinct word ids of the training rows ``rows`` (mask), for a block with
        ``familiarity``; None for the others."""
        if self.blocks[self.active[k]]["familiarity"] is None:
            return None
        ids = self._word_ids(k, sequences, len(rows))
        seen = [a for a, keep in zip(ids, rows, strict=True) if keep and a is not None and len(a)]
        return np.unique(np.concatenate(seen)).astype(np.int64) if seen else np.zeros(0, dtype=np.int64)

    def familiarities(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        """(n, active blocks): each row's familiarity for each block (1 where a block has none)."""
        out = np.ones((len(X), len(self.active)))
        for k, known in enumerate(self.known_ids):
            if known is not None:
                out[:, k] = familiarity(self._word_ids(k, sequences, len(X)), known)
        return out

    def _absent(self, X: np.ndarray) -> np.ndarray:
        """(n, blocks) mask: rows whose block input is missing (its absent_if_zero column is 0)."""
        mask = np.zeros((len(X), len(self.active)), dtype=bool)
        for k, column in enumerate(self.absent_columns):
            if column is not None:
                mask[:, k] = X[:, column] == 0
        return mask

    def _block_inputs(self, X: np.ndarray, sequences: Sequences) -> list[tuple[Regressor, np.ndarray, Sequences]]:
        """Each block's model with its columns of ``X`` and its sequences."""
        return [(m, X[:, cols], self._block_sequences(k, sequences))
                for k, (m, cols) in enumerate(zip(self.models, self.columns, strict=True))]  # fmt: skip

    def _block_predictions(self, X: np.ndarray, sequences: Sequences) -> np.ndarray:
        """Each block's prediction of each row; a block whose input is absent gives its centre."""
        P = np.column_stack([m.predict(Xk, s) for m, Xk, s in self._block_inputs(X, sequences)])
        return np.where(self._absent(X), self.centres, P)

    def _bounds(self) -> list[float | None]:
        """Per active block, its ``max_share`` (None: unbounded)."""
        return [self.blocks[i]["max_share"] for i in self.active]

    def _shares(self, P: np.ndarray, familiar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(raw, used) shares of the block predictions ``P``: raw ``w_k · (p_k − centre_k)``; used:
        times the rows' ``familiar``-ity, then bounded by the block's ``max_share``."""
        raw = (P - self.centres) * self.weights
        used = raw * familiar
        for k, m in enumerate(self._bounds()):
            used[:, k] = bounded_share(used[:, k], m)
        return raw, used

    def _adjusts(self) -> bool:
        """Whether some block's share is weighed by familiarity or bounded."""
        return any(m is not None for m in self._bounds()) or any(k is not None for k in self.known_ids)

    def predict(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        P = self._block_predictions(X, sequences)
        if self._adjusts():  # an adjusted share stands for the block prediction that gives it
            raw, used = self._shares(P, self.familiarities(X, sequences))
            changed = used != raw  # elsewhere P stays as it is, to the last bit
            step = np.divide(used, self.weights, out=np.zeros_like(used), where=self.weights > 0)
            P = np.where(changed, self.centres + step, P)  # a share weighed to 0: exactly the centre
        return self.intercept + P @ self.weights

    # -- explanation -----------------------------------------------------------------------
    def block_names(self) -> list[str]:
        return [self.blocks[i]["name"] for i in self.active]

    def block_contributions(self, X: np.ndarray, sequences: Sequences = None) -> dict[str, np.ndarray]:
        """Each block's share of each row's score: ``w_k · (p_k(x) − mean out-of-fold p_k)``, bounded
        by the block's familiarity and ``max_share``; with the baseline ``b + Σ w_k · mean p_k`` (the
        training mean) they sum to the prediction."""
        _, shares = self._shares(self._block_predictions(X, sequences), self.familiarities(X, sequences))
        return dict(zip(self.block_names(), shares.T, strict=True))

    def parts(self, X: np.ndarray, sequences: Sequences = None) -> dict[str, np.ndarray]:
        """Each block model's own prediction on its columns, by block name (before its weight,
        familiarity and bounds; a row without the block's input still gets one), and its parts
        as ``block.part``."""
        out: dict[str, np.ndarray] = {}
        for name, (model, Xk, seqs) in zip(self.block_names(), self._block_inputs(X, sequences), strict=True):
            out[name] = np.asarray(model.predict(Xk, seqs), dtype=float)
            out.update({f"{name}.{p}": v for p, v in model.parts(Xk, seqs).items()})
        return out

    def block_baseline(self) -> float:
        return float(self.intercept + self.centres @ self.weights)

    def contributions(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        """Each block model's feature contributions times its weight, summed per column. A block
        whose share ``s`` is weighed by familiarity and/or bounded to ``s'``: its feature
        contributions and the part of its baseline beyond its centre are scaled by ``s' / s``, so
        rows still sum to :meth:`predict`."""
        out = np.zeros((len(X), X.shape[1] + 1))
        out[:, -1] = self.intercept
        absent = self._absent(X)
        familiar = self.familiarities(X, sequences)
        for k, (model, cols, w) in enumerate(zip(self.models, self.columns, self.weights, strict=True)):
            c = model.contributions(X[:, cols])
            c[absent[:, k]] = 0.0  # a missing input: the block's centre, all in the baseline
            c[absent[:, k], -1] = self.centres[k]
            m = self._bounds()[k]
            if m is not None or self.known_ids[k] is not None:  # centre + s, s becomes the used share
                raw = w * (c.sum(axis=1) - self.centres[k])
                factor = np.ones_like(raw)
                np.divide(bounded_share(raw * familiar[:, k], m), raw, out=factor, where=raw != 0)
                c[:, :-1] *= factor[:, None]
                c[:, -1] = self.centres[k] + factor * (c[:, -1] - self.centres[k])
            out[:, cols] += w * c[:, :-1]
            out[:, -1] += w * c[:, -1]
        return out

    def importances(self, names: list[str]) -> dict[str, float]:
        """Block importances scaled by the block's weight, normalised to sum 1."""
        total: dict[str, float] = dict.fromkeys(names, 0.0)
        for model, cols, w in zip(self.models, self.columns, self.weights, strict=True):
            block_names = [names[j] for j in cols]
            for name, v in model.importances(block_names).items():
                total[name] += float(w) * v
        s = sum(total.values()) or 1.0
        return {k: v / s for k, v in total.items()}

    # -- persistence -----------------------------------------------------------------------
    def save(self, directory: Path, stem: str) -> None:
        for k, model in enumerate(self.models):
            model.save(directory, f"{stem}.b{k}")
        state = {
            "format": FORMAT,
            "feature_names": self.feature_names,
            "blocks": [
                {"name": self.blocks[i]["name"], "columns": cols.tolist(), "weight": float(w), "centre": float(c),
                 **({} if known is None else {"known_ids": known.tolist()})}
                for i, cols, w, c, known in zip(self.active, self.columns, self.weights, self.centres,
                                                self.known_ids, strict=True)
            ],
            "intercept": self.intercept,
        }
        (Path(directory) / f"{stem}.stack.json").write_text(json.dumps(state, indent=1))

    @classmethod
    def load(cls, directory: Path, stem: str, seed: int = 0, **params: Any) -> StackingRegressor:
        model = cls(seed, **params)
        state = json.loads((Path(directory) / f"{stem}.stack.json").read_text())
        if state.get("format") != FORMAT:
            raise ValueError(f"{stem}.stack.json: format {state.get('format')!r} is not supported")
        by_name = {b["name"]: i for i, b in enumerate(model.blocks)}
        model.feature_names = list(state["feature_names"])
        model.active = [by_name[b["name"]] for b in state["blocks"]]
        model.columns = [np.asarray(b["columns"], dtype=int) for b in state["blocks"]]
        model.weights = np.array([b["weight"] for b in state["blocks"]], dtype=float)
        model.centres = np.array([b["centre"] for b in state["blocks"]], dtype=float)
        model.absent_columns = model._absent_columns()
        model.known_ids = []
        for b in state["blocks"]:
            wants = model.blocks[by_name[b["name"]]]["familiarity"] is not None
            if wants and "known_ids" not in b:
                raise ValueError(f"{stem}.stack.json: block {b['name']!r} weighs by familiarity but was saved "
                                 "without its training word ids; retrain the model")  # fmt: skip
            model.known_ids.append(np.asarray(b["known_ids"], dtype=np.int64) if wants else None)
        model.intercept = float(state["intercept"])
        model.models = []
        for k, i in enumerate(model.active):
            block = model.blocks[i]
            model.models.append(
                REGRESSORS.get(block["regressor"]).load(directory, f"{stem}.b{k}", seed, **block["params"])
            )
        return model
