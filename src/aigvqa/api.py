"""The Python API: load a model, score clips (files or frames in memory), explain, train, predict,
evaluate. The ``aigvqa`` command line is a thin layer over these functions.

```python
import aigvqa

scorer = aigvqa.load("default")
result = scorer.score("clip.mp4", prompt="a corgi surfing a wave")
print(result.score, result.reasons)
```
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from aigvqa import __version__
from aigvqa.cache import FeatureCache
from aigvqa.data import DataError, Item, load_items
from aigvqa.deep_options import DeepOptions
from aigvqa.explain import Explanation, explain_rows
from aigvqa.extract import FeatureTable, extract_frames_features
from aigvqa.model import ModelError, QualityModel
from aigvqa.pipeline import RunOptions

PathLike = Union[str, os.PathLike]
#: A video: a file path, or frames in memory ((T, H, W, 3) uint8 NumPy array or torch tensor).
Video = Any
Data = Union[PathLike, Sequence[Item], Sequence[dict]]

__all__ = [
    "CVSummary",
    "DeepOptions",
    "Predictions",
    "ScoreResult",
    "Scorer",
    "TrainingSummary",
    "cross_validate",
    "evaluate",
    "list_models",
    "load",
    "predict",
    "run_options",
    "train",
]


# -- results ---------------------------------------------------------------------------------
@dataclass
class ScoreResult:
    """One video's score: ``score`` (1–5 for the bundled models), the artifacts that cost it most
    (``reasons``), how much of each artifact it shows (``dims``, when the model has them) and,
    when the video could not be read, why (``error``; ``score`` is then the model's fallback)."""

    video: str
    score: float
    reasons: list[tuple[str, float]] = field(default_factory=list)
    dims: dict[str, float] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``video``, ``score``, ``reasons``, ``dims`` (when known), ``error``."""
        record: dict[str, Any] = {"video": self.video, "score": self.score, "error": self.error}
        record["reasons"] = [{"artifact": a, "cost": c} for a, c in self.reasons]
        if self.dims is not None:
            record["dims"] = dict(self.dims)
        return record


@dataclass
class TrainingSummary:
    """What :func:`train` did: items used, unreadable videos left out, augmented copies, time."""

    n_items: int
    errors: dict[int, str]  # item index -> why its video could not be read
    n_copies: int
    seconds: float
    videos: list[str] = field(default_factory=list)  # the items' videos, in order


@dataclass
class Predictions:
    """Scores for every input item, in input order. ``errors`` maps the index of an item whose
    video could not be read to the reason; that item got the model's ``fallback`` score."""

    items: list[Item]
    scores: np.ndarray
    errors: dict[int, str]
    fallback: str
    seconds: float

    @property
    def videos(self) -> list[str]:
        return [it.video for it in self.items]

    def to_payload(self) -> list[dict[str, Any]]:
        """The challenge's submission list: ``[{"video", "predict_score"}, ...]``."""
        from aigvqa.submission import predictions_payload

        return predictions_payload(self.items, self.scores)

    def error_records(self) -> list[dict[str, Any]]:
        """One record per failed video: index, video, reason, fallback kind and the score given."""
        return [
            {"index": i, "video": self.items[i].video, "reason": self.errors[i], "fallback": self.fallback,
             "predict_score": float(self.scores[i])}
            for i in sorted(self.errors)
        ]  # fmt: skip


CVSummary = dict  # {"folds", "repeats", "n", "plcc": {median, min, max, std}, "srocc": ..., "score": ...}


# -- loading ---------------------------------------------------------------------------------
def list_models() -> list[dict[str, Any]]:
    """Every bundled model's card (``name``, ``summary``, ``data``, ``licence``, accuracy, limits...)."""
    from aigvqa.zoo import list_bundled

    return list_bundled()


def _load_model(spec: PathLike) -> QualityModel:
    from aigvqa.zoo import resolve_model

    try:
        return QualityModel.load(resolve_model(spec))
    except FileNotFoundError as exc:
        raise ModelError(str(exc)) from None


def _cache(cache: bool | FeatureCache | None) -> FeatureCache | None:
    if isinstance(cache, FeatureCache):
        return cache
    return FeatureCache() if cache else None


def run_options(
    videos: PathLike | None = None,
    *,
    workers: int | None = None,
    executor: str = "local",
    address: str | None = None,
    cache: bool | FeatureCache | None = True,
    progress: bool = False,
) -> RunOptions:
    """Where and how extraction runs (never what it gives): the videos folder, worker processes
    (``None``: all cores; ``0``: in this process), ``"local"`` or ``"ray"``, the feature cache."""
    from aigvqa.executors import default_workers, get_executor, require_executor

    if videos is not None and not Path(videos).is_dir():
        raise DataError(f"--videos {videos}: not a directory")
    get_executor(executor)
    if address and executor != "ray":
        raise ValueError("--address is only used with --executor ray")
    if workers is not None and workers < 0:
        raise ValueError(f"--workers must be 0 or more, got {workers}")
    if videos is not None:
        require_executor(executor)  # e.g. ray not installed: say so before any work
    return RunOptions(
        videos_dir=videos,
        cache=_cache(cache),
        # with ray, no workers means as many tasks as the cluster has CPUs
        workers=workers if workers is not None else (0 if executor == "ray" else default_workers()),
        executor=executor,
        executor_options={"address": address} if executor == "ray" else {},
        progress=progress,
    )


def load(
    name_or_dir: PathLike = "default",
    *,
    device: str | None = None,
    offline: bool = False,
    cache: bool | FeatureCache | None = True,
    workers: int | None = 0,
) -> Scorer:
    """A :class:`Scorer` for a bundled model's name (see :func:`list_models`) or a model directory.

    ``device`` and ``offline`` apply to a deep model's backbones; ``cache`` (default on) keeps
    the features of files in the feature cache; ``workers`` are the processes
    :meth:`Scorer.score_many` uses (``0``: this process; ``None``: all cores).
    """
    from aigvqa.deep_options import override_runtime

    model = _load_model(name_or_dir)
    override_runtime(model, device, offline)
    return Scorer(model, name=str(name_or_dir), cache=cache, workers=workers)


# -- scoring ---------------------------------------------------------------------------------
def _is_path(video: Video) -> bool:
    return isinstance(video, (str, os.PathLike))


def _label(video: Video, index: int) -> str:
    return str(video) if _is_path(video) else f"<frames {index}>"


class Scorer:
    """Scores videos with one model: files by path, or frames held in memory.

    Build one with :func:`load` or :func:`train`. The model is read once; scoring never
    changes it, so one scorer can score any number of clips, and the same clip always gets the
    same score.
    """

    def __init__(
        self,
        model: QualityModel,
        *,
        name: str | None = None,
        cache: bool | FeatureCache | None = True,
        workers: int | None = 0,
        training: TrainingSummary | None = None,
    ):
        if not hasattr(model, "regressor_"):
            raise ModelError("the model is not trained: fit it, or load a model directory")
        self.model = model
        self.name = name
        self.cache = _cache(cache)
        self.workers = workers
        self.training = training

    def __repr__(self) -> str:
        return f"Scorer({self.name or 'trained model'}: {self.model.features} -> {self.model.regressor})"

    @property
    def has_dimensions(self) -> bool:
        """Whether the model estimates artifact dimensions (``ScoreResult.dims``)."""
        return self.model.has_dimensions()

    def features(
        self,
        videos: Sequence[Video],
        prompts: Sequence[str | None] | None = None,
        *,
        fps: float | Sequence[float | None] | None = None,
        workers: int | None = None,
        progress: bool = False,
    ) -> FeatureTable:
        """The model's feature table for ``videos`` (paths and/or frames), one row each, in order."""
        n = len(videos)
        prompt_list = [p or "" for p in (prompts if prompts is not None else [None] * n)]
        if len(prompt_list) != n:
            raise ValueError(f"{n} videos but {len(prompt_list)} prompts")
        fps_list = list(fps) if isinstance(fps, Sequence) else [fps] * n
        if len(fps_list) != n:
            raise ValueError(f"{n} videos but {len(fps_list)} frame rates")
        names = self.model.feature_names_
        files = [i for i, v in enumerate(videos) if _is_path(v)]
        arrays = [i for i, v in enumerate(videos) if not _is_path(v)]
        parts: list[tuple[list[int], FeatureTable]] = []
        if files:
            from aigvqa.pipeline import featurize

            items = [Item(video=str(Path(videos[i]).expanduser().resolve()), prompt=prompt_list[i]) for i in files]
            run = run_options(
                "/" if self.model.needs_video() else None,
                workers=self.workers if workers is None else workers,
                cache=self.cache,
                progress=progress,
            )
            parts.append((files, featurize(self.model, items, run, known_names=names)))
        if arrays:
            for i in arrays:
                if fps_list[i] is None:
                    raise ValueError(f"video {i}: frames in memory need their frame rate: pass fps=")
            table = extract_frames_features(
                [(videos[i], float(fps_list[i])) for i in arrays], [prompt_list[i] for i in arrays],
                self.model.extractor_specs(), self.model.sampling, self.cache, known_names=names,
            )  # fmt: skip
            parts.append((arrays, table))
        return _merge(parts, n, names)

    def _results(self, videos: Sequence[Video], table: FeatureTable, reasons: bool) -> list[ScoreResult]:
        scores = self.model.predict(table)
        explained = reasons and not self.model.regressor_.uses_sequences
        explanations = explain_rows(self.model, table, scores) if explained else [None] * len(videos)
        dims = self.model.dimensions(table) if self.has_dimensions else [None] * len(videos)
        return [
            ScoreResult(_label(v, i), float(s), e.reasons() if e is not None and e.error is None else [], d,
                        table.errors.get(i))
            for i, (v, s, e, d) in enumerate(zip(videos, scores, explanations, dims, strict=True))
        ]  # fmt: skip

    def score(self, video: Video, prompt: str | None = None, *, fps: float | None = None,
              reasons: bool = True) -> ScoreResult:  # fmt: skip
        """Score one video: a file path, or frames in memory ((T, H, W, 3) uint8 RGB NumPy array
        or torch tensor) with their frame rate ``fps``. Frames decoded from a lossless file get
        that file's score. ``reasons=False`` skips the explanation (faster, e.g. for rewards)."""
        return self.score_many([video], [prompt], fps=[fps], reasons=reasons)[0]

    def score_many(
        self,
        videos: Sequence[Video],
        prompts: Sequence[str | None] | None = None,
        *,
        fps: float | Sequence[float | None] | None = None,
        workers: int | None = None,
        reasons: bool = True,
        progress: bool = False,
    ) -> list[ScoreResult]:
        """Score many videos (paths and/or frames), in order, with the feature cache and ``workers``
        processes as ``predict`` uses them. A video that cannot be read gets a result whose
        ``error`` says why (and the fallback score): one bad file never loses the batch."""
        videos = list(videos)
        table = self.features(videos, prompts, fps=fps, workers=workers, progress=progress)
        return self._results(videos, table, reasons)

    def explain(self, video: Video, prompt: str | None = None, *, fps: float | None = None,
                top: int = 5) -> Explanation:  # fmt: skip
        """Why ``video`` got its score: each artifact's, extractor's and feature's share."""
        return self.explain_many([video], [prompt], fps=[fps], top=top)[0]

    def explain_many(
        self,
        videos: Sequence[Video],
        prompts: Sequence[str | None] | None = None,
        *,
        fps: float | Sequence[float | None] | None = None,
        top: int = 5,
        workers: int | None = None,
    ) -> list[Explanation]:
        """:meth:`explain` for many videos, in order (dimensions in ``Explanation.dims`` when known)."""
        if self.model.regressor_.uses_sequences:
            raise ModelError(f"the {self.model.regressor} regressor gives no explanations")
        videos = list(videos)
        table = self.features(videos, prompts, fps=fps, workers=workers)
        explanations = explain_rows(self.model, table, self.model.predict(table), top)
        if self.has_dimensions:
            for expl, dims in zip(explanations, self.model.dimensions(table), strict=True):
                expl.dims = dims
        return explanations

    def save(self, directory: PathLike) -> Path:
        """Write the model directory (``aigvqa.load(directory)`` reads it back)."""
        self.model.save(directory)
        return Path(directory)


def _merge(parts: list[tuple[list[int], FeatureTable]], n: int, names: list[str]) -> FeatureTable:
    """Tables of row subsets put back in the order of the rows they came from."""
    if len(parts) == 1 and parts[0][0] == list(range(n)):
        return parts[0][1]
    values = np.full((n, len(names)), np.nan)
    errors: dict[int, str] = {}
    sequences: dict[str, list] = {}
    for rows, table in parts:
        values[rows] = table.values
        errors.update({rows[i]: e for i, e in table.errors.items()})
        for key, seq in table.sequences.items():
            merged = sequences.setdefault(key, [None] * n)
            for i, row in enumerate(rows):
                merged[row] = seq[i]
    return FeatureTable(list(names), values, errors, sequences)


# -- training, prediction, evaluation ------------------------------------------------------
def _items(data: Data, target: str | None = None, require_target: bool = False) -> list[Item]:
    if isinstance(data, (str, os.PathLike)):
        return load_items(data, target=target, require_target=require_target)
    items = []
    for i, entry in enumerate(data):
        if isinstance(entry, Item):
            items.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("video"), str):
            meta = {k: v for k, v in entry.items() if k not in ("video", "prompt")}
            items.append(Item(entry["video"], str(entry.get("prompt") or ""), meta))
        else:
            raise DataError(f"item {i}: expected an Item or a dict with a string 'video'")
    if require_target and target:
        for i, it in enumerate(items):
            if it.meta.get(target) is None:
                raise DataError(f"item {i} ({it.video}): missing field '{target}' (the target)")
    return items


def _model_and_items(data: Data, config, features, regressor, target: str, seed: int,
                     deep: DeepOptions | None) -> tuple[QualityModel, list[Item]]:  # fmt: skip
    """The unfitted model a recipe and options describe, and the labelled items."""
    from aigvqa.recipes import model_params

    d = deep or DeepOptions()
    params = model_params(config, features=features, regressor=regressor, target=target, seed=seed,
                          backbone=d.backbone, weights=d.weights, offline=d.offline, device=d.device,
                          head=d.head)  # fmt: skip
    return QualityModel(**params), _items(data, target=target, require_target=True)


def train(
    data: Data,
    *,
    videos: PathLike | None = None,
    out: PathLike | None = None,
    config: PathLike | dict[str, Any] | None = None,
    features: str | None = None,
    regressor: str | None = None,
    target: str = "gt_score",
    seed: int = 0,
    workers: int | None = 0,
    executor: str = "local",
    address: str | None = None,
    cache: bool | FeatureCache | None = True,
    progress: bool = False,
    deep: DeepOptions | None = None,
) -> Scorer:
    """Learn a model from labelled videos and return its :class:`Scorer` (written to ``out`` when given).

    ``workers``: extraction processes (``0``, the default: this process; ``None``: all cores). Like
    PyTorch's DataLoader workers, they import your script again: with ``workers`` other than 0, keep a
    script's work under ``if __name__ == "__main__":``.

    ``data`` is a training JSON file (a list of ``{video, prompt, gt_score}``) or a list of items;
    ``config`` a recipe (JSON file or dict, e.g. ``recipes/default_model.json``); options given
    here override the recipe; ``deep`` sets the deep path's backbones, weights, device and head.
    Unreadable videos are left out and listed in ``scorer.training.errors``.
    """
    from aigvqa.pipeline import train as train_model

    model, items = _model_and_items(data, config, features, regressor, target, seed, deep)
    run = run_options(videos if model.needs_video() else None, workers=workers, executor=executor,
                      address=address, cache=cache, progress=progress)  # fmt: skip
    start = time.perf_counter()
    model, table = train_model(model, items, run)
    seconds = time.perf_counter() - start
    if out is not None:
        model.save(out)
    n_own = len(items) - len(table.errors)
    summary = TrainingSummary(len(items), dict(table.errors), max(0, model.n_train_ - n_own), seconds,
                              [it.video for it in items])
    return Scorer(model, name=str(out) if out is not None else None, cache=cache, workers=workers,
                  training=summary)  # fmt: skip


def predict(
    data: Data,
    *,
    videos: PathLike | None = None,
    model: PathLike | Scorer = "default",
    out: PathLike | None = None,
    zip: PathLike | None = None,
    workers: int | None = 0,
    executor: str = "local",
    address: str | None = None,
    cache: bool | FeatureCache | None = True,
    progress: bool = False,
    device: str | None = None,
    offline: bool = False,
) -> Predictions:
    """Score every item of a challenge JSON file (or list of items), in input order
    (``workers`` as in :func:`train`: this process by default).

    With ``out``, writes the predictions file (and ``<out>.errors.json`` listing unreadable
    videos with their fallback scores); with ``zip``, the CodaLab submission zip with its
    ``readme.txt`` fact sheet too.
    """
    from aigvqa.pipeline import predict as predict_items

    scorer = model if isinstance(model, Scorer) else load(model, device=device, offline=offline)
    fitted = scorer.model
    items = _items(data)
    if fitted.needs_video() and videos is None:
        raise DataError(f"the model {scorer.name or ''} uses video features: pass the videos folder (--videos DIR)")
    run = run_options(videos if fitted.needs_video() else None, workers=workers, executor=executor,
                      address=address, cache=cache, progress=progress)  # fmt: skip
    start = time.perf_counter()
    scores, table = predict_items(fitted, items, run)
    result = Predictions(items, scores, dict(table.errors), fitted.fallback_kind(), time.perf_counter() - start)
    if out is not None:
        write_predictions(result, out)
    if zip is not None:
        if out is None:
            raise ValueError("the submission zip holds the predictions file: pass out= too")
        write_submission(result, scorer, out, zip)
    return result


def write_predictions(predictions: Predictions, out: PathLike) -> Path:
    """Write the predictions file, and the errors file beside it when a video failed (removing a
    stale one otherwise)."""
    from aigvqa.submission import errors_path, write_json_atomic

    path = write_json_atomic(out, predictions.to_payload())
    errs = errors_path(out)
    if predictions.errors:
        write_json_atomic(errs, predictions.error_records())
    elif errs.exists():
        errs.unlink()
    return path


def write_submission(predictions: Predictions, scorer: Scorer, out: PathLike, zip_path: PathLike) -> Path:
    """The CodaLab zip: the predictions file and a ``readme.txt`` fact sheet describing the model."""
    from aigvqa.deep_options import describe_weights, uses_gpu
    from aigvqa.submission import readme_text, write_submission_zip
    from aigvqa.zoo import is_bundled, resolve_model

    fitted = scorer.model
    description = (
        f"aigvqa {__version__}: features [{fitted.features}] -> {fitted.regressor} regressor "
        f"trained on {fitted.n_train_} items (target '{fitted.target}'); {describe_weights(fitted)}."
    )
    bundled = False
    if scorer.name is not None:
        try:
            bundled = is_bundled(resolve_model(scorer.name))
        except FileNotFoundError:
            bundled = False
    if bundled:
        description += f" Bundled model '{scorer.name}': trained on FETV (extra data, CC BY 4.0)."
    per_video = predictions.seconds / max(1, len(predictions.items))
    readme = readme_text(per_video, uses_gpu=uses_gpu(fitted), extra_data=bundled, description=description)
    return write_submission_zip(zip_path, out, readme)


def evaluate(
    predictions: PathLike | Predictions | dict[str, float],
    labels: Data,
    *,
    by: str | None = None,
    target: str = "gt_score",
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Compare predictions with labels: ``plcc``, ``plcc_logistic``, ``srocc``, ``krcc``, ``rmse``,
    ``score`` = (PLCC + SROCC) / 2, ``n``, ``score_ci95`` (bootstrap) and, with ``by``, the same
    per value of that label field under ``groups``. Every labelled video needs a prediction;
    predictions without a label are ignored (counted in ``unlabelled``)."""
    from aigvqa.metrics import reported
    from aigvqa.predictions import load_predictions

    if isinstance(predictions, Predictions):
        preds = {it.video: float(s) for it, s in zip(predictions.items, predictions.scores, strict=True)}
    elif isinstance(predictions, dict):
        preds = {str(k): float(v) for k, v in predictions.items()}
    else:
        preds = load_predictions(predictions)
    items = _items(labels, target=target, require_target=True)
    missing = [it.video for it in items if it.video not in preds]
    if missing:
        raise DataError(
            f"{len(missing)} of {len(items)} labelled videos have no prediction (e.g. {', '.join(missing[:3])})"
        )
    p = np.array([preds[it.video] for it in items])
    y = np.array([float(it.meta[target]) for it in items])
    result = reported(p, y, n_boot=n_boot, seed=seed)
    result["unlabelled"] = max(0, len(preds) - len(items))
    if by:
        groups: dict[str, list[int]] = {}
        for i, it in enumerate(items):
            if by not in it.meta:
                raise DataError(f"labels, item {i} ({it.video}): missing field '{by}' for --by")
            groups.setdefault(str(it.meta[by]), []).append(i)
        result["groups"] = {
            g: reported(p[idx], y[idx], n_boot=n_boot, seed=seed) for g, idx in sorted(groups.items())
        }
    return result


def cross_validate(
    data: Data,
    *,
    videos: PathLike | None = None,
    folds: int = 5,
    repeats: int = 3,
    group_by: str | None = None,
    config: PathLike | dict[str, Any] | None = None,
    features: str | None = None,
    regressor: str | None = None,
    target: str = "gt_score",
    seed: int = 0,
    oof: PathLike | None = None,
    workers: int | None = 0,
    executor: str = "local",
    address: str | None = None,
    cache: bool | FeatureCache | None = True,
    progress: bool = False,
    deep: DeepOptions | None = None,
) -> CVSummary:
    """Repeated K-fold cross-validation (``group_by`` keeps items sharing a field, e.g. ``prompt``,
    in one fold; ``workers`` as in :func:`train`): ``{"folds", "repeats", "n", "features", "plcc", "srocc",
    "score"}``, each metric
    as its median, min, max and std over the repeats. ``oof`` writes the first repeat's
    out-of-fold predictions in the challenge format."""
    from aigvqa.pipeline import cross_validate as run_cv
    from aigvqa.submission import predictions_payload, write_json_atomic

    model, items = _model_and_items(data, config, features, regressor, target, seed, deep)
    run = run_options(videos if model.needs_video() else None, workers=workers, executor=executor,
                      address=address, cache=cache, progress=progress)  # fmt: skip
    result = run_cv(model, items, run, folds=folds, repeats=repeats, group_by=group_by)
    if oof is not None:
        write_json_atomic(oof, predictions_payload(items, result.oof[0]))
    return {"folds": folds, "repeats": repeats, "n": len(items), "features": model.features, **result.summary()}
