"""End-to-end steps on items: featurise → fit / predict / cross-validate."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aigvqa.augment import AugmentConfig
from aigvqa.cache import FeatureCache
from aigvqa.data import DataError, Item
from aigvqa.dimensions import drop_factors
from aigvqa.extract import FeatureTable, extract_features
from aigvqa.metrics import correlations
from aigvqa.model import QualityModel


@dataclass
class RunOptions:
    """How extraction runs: never changes the results, only where and how fast."""

    videos_dir: str | os.PathLike | None = None
    cache: FeatureCache | None = None
    workers: int = 0  # 0: in this process; N >= 1: N worker processes
    executor: str = "local"
    executor_options: dict[str, Any] = field(default_factory=dict)
    progress: bool = True


def fingerprint(items: list[Item], target: str) -> str:
    """A digest of the training items (names, prompts, targets) stored with a model."""
    h = hashlib.blake2b(digest_size=12)
    for it in items:
        h.update(json.dumps([it.video, it.prompt, it.meta.get(target)]).encode())
    return h.hexdigest()


def featurize(
    model: QualityModel, items: list[Item], run: RunOptions, known_names: list[str] | None = None
) -> FeatureTable:
    """Extract the features ``model`` uses for ``items``."""
    return extract_features(
        items,
        model.extractor_specs(),
        videos_dir=run.videos_dir,
        sampling=model.sampling,
        cache=run.cache,
        workers=run.workers,
        executor=run.executor,
        known_names=known_names,
        progress=run.progress,
        executor_options=run.executor_options,
    )


def target_values(items: list[Item], target: str, source: str = "training data") -> np.ndarray:
    """The numeric target of every item, with a clear error naming the first item lacking it."""
    values = []
    for i, it in enumerate(items):
        v = it.meta.get(target)
        if v is None:
            raise DataError(f"{source}, item {i} ({it.video}): missing field '{target}' (the target)")
        values.append(float(v))
    return np.asarray(values)


def with_augmentation(model: QualityModel, items: list[Item], run: RunOptions) -> tuple[list[Item], np.ndarray]:
    """``items`` followed by their degraded copies when ``model.augment`` asks for them, and the
    index of each row's source item (``arange`` for the items themselves)."""
    from aigvqa.augment import AUGMENT_FOLDER, AugmentConfig, augmented_items
    from aigvqa.cache import default_cache_dir

    own = np.arange(len(items))
    if not model.augment or not model.needs_video():
        return items, own
    root = (run.cache.root if run.cache is not None else default_cache_dir()) / AUGMENT_FOLDER
    config = AugmentConfig.from_dict(model.augment)
    copies, sources = augmented_items(items, run.videos_dir, root, config, model.target, run.workers)
    return items + copies, np.concatenate([own, np.asarray(sources, dtype=int)])


@dataclass
class Families:
    """The family members (graded copies) made for a model with artifact dimensions: those of the
    labelled items (``source``: the item's index) and of the unlabelled clips (``source`` -1)."""

    items: list[Item]
    source: np.ndarray
    artifact: list[str | None]
    severity: np.ndarray

    def copy_targets(self, y: np.ndarray, model: QualityModel) -> np.ndarray:
        """Targets of the labelled members that are copies: ``y - w s (y - floor)`` (rescaled: ``y``)."""
        pen = (model.artifact_dims or {}).get("penalty") or {}
        factors, floor = drop_factors(pen), float(pen.get("floor", 1.0))
        out = np.full(len(self.items), np.nan)
        for i, (src, a, s) in enumerate(zip(self.source, self.artifact, self.severity, strict=True)):
            if src >= 0:
                w = factors[a] if a else 0.0
                out[i] = y[src] - w * s * max(y[src] - floor, 0.0)
        return out

    def anchored_targets(self, rows: np.ndarray, scores: np.ndarray, augment: AugmentConfig) -> np.ndarray:
        """Targets of the members ``rows`` given a first fit's ``scores`` of them: each family's
        source keeps its score, a rescaled copy gets the source's, and a copy degraded by ``a`` at
        severity ``s`` the source's lowered as an augmented copy's label is; NaN where the
        family's source could not be scored (its video failed)."""
        source, copy = {}, self.is_copy()
        for i, p in zip(rows, scores, strict=True):
            if not copy[i] and np.isfinite(p):
                source[self.items[i].meta["family"]] = float(p)
        out = np.full(len(rows), np.nan)
        for k, i in enumerate(rows):
            base = source.get(self.items[i].meta["family"])
            if base is not None:
                out[k] = augment.target(base, float(self.severity[i]), self.artifact[i])
        return out

    def rows(self, rows: np.ndarray) -> tuple[list[str | None], np.ndarray, list[str], np.ndarray]:
        """What :meth:`QualityModel.fit_dimensions` learns from, for the members ``rows``: each one's
        artifact, severity, family (its source clip) and size factor."""
        return (
            [self.artifact[i] for i in rows],
            self.severity[rows],
            [str(self.items[i].meta["family"]) for i in rows],
            np.array([float(self.items[i].meta["scale"]) for i in rows]),
        )

    def order_index(
        self, rows: np.ndarray, failed: set[int] | dict[int, str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The order pairs among the members ``rows`` (indices into ``items``), leaving out the
        ``failed`` ones: each family's source above its artifact copies (``better``, ``worse``,
        the copy's ``severity``) and alike its rescaled copies (``same_a``, ``same_b``)."""
        copy = self.is_copy()
        kept = [int(i) for i in rows if int(i) not in failed]
        source = {self.items[i].meta["family"]: i for i in kept if not copy[i]}
        better, worse, severity, same_a, same_b = [], [], [], [], []
        for i in kept:
            s = source.get(self.items[i].meta["family"])
            if s is None or not copy[i]:
                continue
            if self.artifact[i] is None:
                same_a.append(s)
                same_b.append(i)
            else:
                better.append(s)
                worse.append(i)
                severity.append(float(self.severity[i]))
        return (np.array(better, dtype=int), np.array(worse, dtype=int), np.array(severity, dtype=float),
                np.array(same_a, dtype=int), np.array(same_b, dtype=int))

    def is_copy(self) -> np.ndarray:
        """Members other than a family's source (the trimmed clip itself)."""
        return np.array([not str(it.video).endswith("base.mkv") for it in self.items], dtype=bool)


def with_families(
    model: QualityModel, items: list[Item], run: RunOptions, unlabelled: list[Item] | None = None
) -> Families | None:
    """The families of graded copies of ``items`` and of ``unlabelled`` (videos as absolute paths)
    when the model learns artifact dimensions; None otherwise."""
    from aigvqa.cache import default_cache_dir
    from aigvqa.families import FAMILY_FOLDER, FamilyConfig, family_items

    if not model.artifact_dims or not model.needs_video():
        return None
    root = (run.cache.root if run.cache is not None else default_cache_dir()) / FAMILY_FOLDER
    spec = model.artifact_dims.get("families") or {}
    labelled_cfg = FamilyConfig.from_dict(spec.get("labelled", {}))
    members, source = [], []
    for group, cfg, vdir, own in (
        (items, labelled_cfg, run.videos_dir, True),
        # an unlabelled clip's prompt teaches nothing: the dimensions read the video only, and an
        # anchored score's prompt block learns from human labels alone
        (
            [Item(it.video, "", dict(it.meta)) for it in unlabelled or []],
            FamilyConfig.from_dict(spec.get("unlabelled", {})),
            None,
            False,
        ),
    ):
        index = {it.video: i for i, it in enumerate(group)}
        for m in family_items(group, vdir, root, cfg, run.workers):
            members.append(m)
            source.append(index[m.meta["family"]] if own else -1)
    return Families(
        members,
        np.asarray(source, dtype=int),
        [m.meta["artifact"] for m in members],
        np.array([float(m.meta["severity"]) for m in members]),
    )


def featurize_unique(model: QualityModel, items: list[Item], run: RunOptions) -> FeatureTable:
    """:func:`featurize`, extracting each distinct (video, prompt) once (a family member that also
    trains the score is one video)."""
    keys = [(str(it.video), it.prompt) for it in items]
    first: dict[tuple[str, str], int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    order = sorted(first.values())
    position = {keys[i]: j for j, i in enumerate(order)}
    table = featurize(model, [items[i] for i in order], run)
    rows = [position[k] for k in keys]
    errors = {i: table.errors[r] for i, r in enumerate(rows) if r in table.errors}
    sequences = {k: [v[r] for r in rows] for k, v in table.sequences.items()}
    return FeatureTable(table.names, table.values[rows], errors, sequences)


def _fit(
    model: QualityModel,
    table: FeatureTable,
    y: np.ndarray,
    labelled: np.ndarray,
    fam: Families | None,
    fam_table: FeatureTable | None,
    fam_rows: np.ndarray,
    fingerprint_: str = "",
) -> QualityModel:
    """Fit the dimensions on the family rows ``fam_rows`` (when the model has them), then the score."""
    if fam is not None and fam_table is not None:
        artifact, severity, family, scale = fam.rows(fam_rows)
        model.fit_dimensions(fam_table.subset(fam_rows), artifact, severity, family=family, scale=scale)
    if fam is not None and fam_table is not None and model.anchored():
        faint = np.array([a is not None for a in fam.artifact]) & (fam.severity < model.anchored_min_severity())
        # the unlabelled clips' members, less the copies fainter than "min_severity"
        rows = fam_rows[(fam.source[fam_rows] < 0) & ~faint[fam_rows]]
        first = QualityModel(**{**model.get_params(), "fallback": False}).fit(table, y, labelled=labelled)
        members = fam_table.subset(rows)
        scores = first.predict(members)
        scores[sorted(members.errors)] = np.nan  # a failed video is no anchor
        targets = fam.anchored_targets(rows, scores, AugmentConfig.from_dict(model.augment or {}))
        keep = np.flatnonzero(np.isfinite(targets))
        table = table.append(members.subset(keep))
        y = np.concatenate([y, targets[keep]])
        labelled = np.concatenate([labelled, np.zeros(len(keep), dtype=bool)])
    pairs = None
    if fam is not None and fam_table is not None:  # label-free order pairs (see aigvqa.regressors.linear)
        pairs = model.order_pairs(fam_table, *fam.order_index(fam_rows, fam_table.errors))
    return model.fit(table, y, fingerprint=fingerprint_, labelled=labelled, pairs=pairs)


def train(
    model: QualityModel, items: list[Item], run: RunOptions, unlabelled: list[Item] | None = None
) -> tuple[QualityModel, FeatureTable]:
    """Featurise the training items (and their augmented copies) and fit ``model`` on their targets.
    A model with artifact dimensions learns them first from families of graded copies of ``items``
    and of the ``unlabelled`` clips (absolute paths). The returned table holds the rows of ``items`` only."""
    rows, _ = with_augmentation(model, items, run)
    y = target_values(rows, model.target)
    fam = with_families(model, items, run, unlabelled)
    if fam is not None and model.copies_train_score():  # the labelled clips' copies train the score too
        copies = np.flatnonzero((fam.source >= 0) & fam.is_copy())
        rows = rows + [fam.items[i] for i in copies]
        y = np.concatenate([y, fam.copy_targets(y, model)[copies]])
    table = featurize_unique(model, rows + ([] if fam is None else fam.items), run)
    labelled = np.arange(len(rows)) < len(items)  # the copies' targets are made, not rated
    fam_table = None if fam is None else table.subset(np.arange(len(rows), len(table.values)))
    table = table.subset(np.arange(len(rows)))
    all_fam = np.arange(0 if fam is None else len(fam.items))
    _fit(model, table, y, labelled, fam, fam_table, all_fam, fingerprint(items, model.target))
    return model, table.subset(np.arange(len(items)))


def predict(model: QualityModel, items: list[Item], run: RunOptions) -> tuple[np.ndarray, FeatureTable]:
    """Scores for every item, in order; failed videos get the model's fallback score."""
    table = featurize(model, items, run, known_names=model.feature_names_)
    return model.predict(table), table


@dataclass
class CVResult:
    """Per-repeat metrics of repeated K-fold cross-validation and pooled predictions."""

    repeats: list[dict[str, float]]
    oof: np.ndarray  # (repeats, n) out-of-fold predictions

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for key in ("plcc", "srocc", "score"):
            vals = np.array([r[key] for r in self.repeats])
            out[key] = {
                "median": float(np.median(vals)),
                "min": float(vals.min()),
                "max": float(vals.max()),
                "std": float(vals.std()),
            }
        return out


def fold_ids(items: list[Item], folds: int, seed: int, group_by: str | None) -> np.ndarray:
    """Fold index per item; with ``group_by`` no group value appears in two folds."""
    from sklearn.model_selection import GroupKFold, KFold

    n = len(items)
    if folds < 2 or folds > n:
        raise ValueError(f"folds must be between 2 and the number of items ({n}), got {folds}")
    ids = np.zeros(n, dtype=int)
    if group_by:
        groups = [it.prompt if group_by == "prompt" else str(it.meta.get(group_by)) for it in items]
        uniq = sorted(set(groups))
        if len(uniq) < folds:
            raise ValueError(f"only {len(uniq)} distinct values of '{group_by}' for {folds} folds")
        rng = np.random.default_rng(seed)
        order = {g: k for k, g in enumerate(rng.permutation(uniq))}
        splitter = GroupKFold(n_splits=folds)
        split = splitter.split(np.zeros(n), groups=[order[g] for g in groups])
    else:
        split = KFold(folds, shuffle=True, random_state=seed).split(np.zeros(n))
    for k, (_, test) in enumerate(split):
        ids[test] = k
    return ids


def cross_validate(
    model: QualityModel,
    items: list[Item],
    run: RunOptions,
    folds: int = 5,
    repeats: int = 3,
    group_by: str | None = None,
    unlabelled: list[Item] | None = None,
) -> CVResult:
    """Repeated, seeded K-fold CV; features are extracted (or read from cache) once. Augmented
    copies of a clip join the training folds of that clip only."""
    rows, sources = with_augmentation(model, items, run)
    y_all = target_values(rows, model.target)
    y = y_all[: len(items)]
    fam = with_families(model, items, run, unlabelled)
    if fam is not None and model.copies_train_score():
        copies = np.flatnonzero((fam.source >= 0) & fam.is_copy())
        rows = rows + [fam.items[i] for i in copies]
        y_all = np.concatenate([y_all, fam.copy_targets(y, model)[copies]])
        sources = np.concatenate([sources, fam.source[copies]])
    table = featurize_unique(model, rows + ([] if fam is None else fam.items), run)
    fam_table = None if fam is None else table.subset(np.arange(len(rows), len(table.values)))
    table = table.subset(np.arange(len(rows)))
    oof = np.zeros((repeats, len(items)))
    results = []
    for r in range(repeats):
        ids = fold_ids(items, folds, model.seed + r, group_by)
        for k in range(folds):
            test = np.flatnonzero(ids == k)
            train_rows = np.flatnonzero(ids[sources] != k)
            # the prompt-only fallback model is only needed when a held-out video failed
            params = {**model.get_params(), "fallback": any(int(i) in table.errors for i in test)}
            held = np.zeros(0, dtype=bool) if fam is None else (fam.source >= 0) & (ids[fam.source] == k)
            fam_rows = np.flatnonzero(~held)  # the held-out clips' families teach no dimension
            fitted = _fit(
                QualityModel(**params),
                table.subset(train_rows),
                y_all[train_rows],
                train_rows < len(items),
                fam,
                fam_table,
                fam_rows,
            )
            oof[r, test] = fitted.predict(table.subset(test))
        results.append(correlations(oof[r], y))
    return CVResult(results, oof)
