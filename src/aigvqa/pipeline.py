"""End-to-end steps on items: featurise → fit / predict / cross-validate."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aigvqa.cache import FeatureCache
from aigvqa.data import DataError, Item
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
    from aigvqa.augment import AugmentConfig, augmented_items
    from aigvqa.cache import default_cache_dir

    own = np.arange(len(items))
    if not model.augment or not model.needs_video():
        return items, own
    root = (run.cache.root if run.cache is not None else default_cache_dir()) / "augmented"
    config = AugmentConfig.from_dict(model.augment)
    copies, sources = augmented_items(items, run.videos_dir, root, config, model.target, run.workers)
    return items + copies, np.concatenate([own, np.asarray(sources, dtype=int)])


def train(model: QualityModel, items: list[Item], run: RunOptions) -> tuple[QualityModel, FeatureTable]:
    """Featurise the training items (and their augmented copies) and fit ``model`` on their targets.
    The returned table holds the rows of ``items`` only."""
    rows, _ = with_augmentation(model, items, run)
    y = target_values(rows, model.target)
    table = featurize(model, rows, run)
    labelled = np.arange(len(rows)) < len(items)  # the copies' targets are made, not rated
    model.fit(table, y, fingerprint=fingerprint(items, model.target), labelled=labelled)
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
) -> CVResult:
    """Repeated, seeded K-fold CV; features are extracted (or read from cache) once. Augmented
    copies of a clip join the training folds of that clip only."""
    rows, sources = with_augmentation(model, items, run)
    y_all = target_values(rows, model.target)
    y = y_all[: len(items)]
    table = featurize(model, rows, run)
    oof = np.zeros((repeats, len(items)))
    results = []
    for r in range(repeats):
        ids = fold_ids(items, folds, model.seed + r, group_by)
        for k in range(folds):
            test = np.flatnonzero(ids == k)
            train_rows = np.flatnonzero(ids[sources] != k)
            # the prompt-only fallback model is only needed when a held-out video failed
            params = {**model.get_params(), "fallback": any(int(i) in table.errors for i in test)}
            fitted = QualityModel(**params).fit(
                table.subset(train_rows), y_all[train_rows], labelled=train_rows < len(items)
            )
            oof[r, test] = fitted.predict(table.subset(test))
        results.append(correlations(oof[r], y))
    return CVResult(results, oof)
