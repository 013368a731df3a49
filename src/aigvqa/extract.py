"""Feature extraction for a list of items: read → decode/sample → extract (cached).

Videos are processed independently (in worker processes or Ray tasks); results are keyed by
item index, so the output never depends on the number of workers or the executor. A video
that cannot be read or processed yields a row of NaNs and a named error, never a lost item.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

import aigvqa.features  # noqa: F401  (registers the built-in extractors)
from aigvqa.cache import FeatureCache, file_digest, settings_digest, text_digest
from aigvqa.data import Item
from aigvqa.executors import EXECUTORS, get_executor, map_local  # noqa: F401  (map_local: re-exported)
from aigvqa.features.base import FeatureExtractor, FrameExtractor
from aigvqa.registry import EXTRACTORS
from aigvqa.threads import video_cores, videos_per_worker
from aigvqa.video import DECODER_VERSION, Clip, SamplingConfig, VideoError, clip_from_frames, read_clip

ExtractorSpec = tuple[str, dict[str, Any]]


@dataclass
class FeatureTable:
    """Features of a list of items: one row per item, NaN rows for failed videos."""

    names: list[str]
    values: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)
    sequences: dict[str, list[np.ndarray | None]] = field(default_factory=dict)

    def columns(self, prefixes: Iterable[str]) -> np.ndarray:
        """Boolean mask of the columns whose names start with any of ``prefixes``.

        Column names are ``"<extractor>.<feature>"``, so ``f"{extractor}."`` selects an extractor.
        """
        prefixes = tuple(prefixes)
        return np.array([n.startswith(prefixes) for n in self.names], dtype=bool)

    def subset(self, rows: np.ndarray) -> FeatureTable:
        """The table restricted to ``rows`` (indices), errors and sequences re-indexed."""
        rows = np.asarray(rows, dtype=int)
        where = {int(old): new for new, old in enumerate(rows)}
        errors = {where[i]: e for i, e in self.errors.items() if i in where}
        sequences = {k: [v[i] for i in rows] for k, v in self.sequences.items()}
        return FeatureTable(self.names, self.values[rows], errors, sequences)

    def append(self, other: FeatureTable) -> FeatureTable:
        """The rows of this table followed by those of ``other`` (same columns and sequences)."""
        if other.names != self.names or set(other.sequences) != set(self.sequences):
            raise ValueError("append: the tables have different columns or sequences")
        n = len(self.values)
        errors = {**self.errors, **{n + i: e for i, e in other.errors.items()}}
        sequences = {k: list(v) + list(other.sequences[k]) for k, v in self.sequences.items()}
        return FeatureTable(self.names, np.concatenate([self.values, other.values]), errors, sequences)


@dataclass(frozen=True)
class VideoTask:
    """Everything a worker needs to featurise one video (picklable)."""

    index: int
    path: str
    extractors: tuple[ExtractorSpec, ...]
    sampling: SamplingConfig
    cache_root: str | None
    prompt: str = ""  # handed only to extractors with ``needs_prompt`` (part of their cache key)
    digest: str | None = None  # the file's content digest, when the parent has computed it


@dataclass
class VideoResult:
    index: int
    features: dict[str, dict[str, Any]]  # extractor name -> features
    error: str | None = None


_EXTRACTORS: dict[str, FeatureExtractor] = {}


def _instance(name: str, config: dict[str, Any]) -> FeatureExtractor:
    key = name + repr(sorted(config.items()))
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = EXTRACTORS.get(name)(**config)
    return _EXTRACTORS[key]


def _settings(extractor: FeatureExtractor, sampling: SamplingConfig | None) -> str:
    settings = {"name": extractor.name, "version": extractor.version, "config": extractor.config()}
    if sampling is not None:
        settings["sampling"] = sampling.to_dict()
        settings["decoder"] = DECODER_VERSION
        # OpenCV's optical flow and resampling change in the last digits between releases
        # (4.14 to 5.0 moves 17 of the 64 temporal features): features never mix versions
        settings["opencv"] = _opencv_version()
    return settings_digest(settings)


def _opencv_version() -> str:
    return str(cv2.__version__)


def _content_key(extractor: FeatureExtractor, digest: str, prompt: str) -> str:
    """Cache content key: the video digest, combined with the prompt's for ``needs_prompt``
    extractors (classic extractors keep the plain video digest)."""
    if getattr(extractor, "needs_prompt", False):
        return text_digest(f"{digest}:{text_digest(prompt)}")
    return digest


def _task_digest(task: VideoTask) -> tuple[str | None, str | None]:
    """``(content digest, None)``, or ``(None, why the file cannot be read)``."""
    if task.digest is not None:
        return task.digest, None
    try:
        return file_digest(task.path), None
    except FileNotFoundError:
        return None, "file not found"
    except IsADirectoryError:
        return None, "is a directory, not a video file"
    except OSError as exc:
        return None, f"cannot read file ({exc.strerror or exc})"


def _cached_features(
    task: VideoTask, extractors: list[FeatureExtractor], cache: FeatureCache | None, digest: str
) -> tuple[dict[str, dict[str, Any]], list[tuple[FeatureExtractor, str]]]:
    """Features the cache holds for the video, and the (extractor, settings key) it lacks."""
    results: dict[str, dict[str, Any]] = {}
    missing = []
    for ex in extractors:
        if ex.reads_file:  # names the file for a later stage (e.g. fine-tuning): cheap, never cached
            results[ex.name] = ex.extract_file(task.path, digest)
            continue
        key = _settings(ex, task.sampling)
        cached = cache.get(ex.name, key, _content_key(ex, digest, task.prompt)) if cache else None
        if cached is not None:
            results[ex.name] = cached
        else:
            missing.append((ex, key))
    return results, missing


UNREADABLE = "_unreadable"  # cache namespace recording why a file's content cannot be decoded


@functools.lru_cache(maxsize=1)
def _unreadable_key() -> str:
    """Settings key of unreadable-file entries: a newer reader or FFmpeg tries again."""
    import av

    return settings_digest({"decoder": DECODER_VERSION, "av": av.__version__, "libav": av.library_versions})


def _known_unreadable(cache: FeatureCache | None, digest: str) -> str | None:
    """The recorded reason why content ``digest`` cannot be decoded, if any."""
    entry = cache.get(UNREADABLE, _unreadable_key(), digest) if cache else None
    reason = (entry or {}).get("__arrays__", {}).get("reason")
    return str(reason) if reason is not None else None


def _put(cache: FeatureCache | None, name: str, key: str, content: str, features: dict[str, Any]) -> None:
    if cache is None:
        return
    try:
        cache.put(name, key, content, features)
    except OSError:  # a full or read-only cache costs speed, never results
        pass


def lookup_video_task(task: VideoTask) -> VideoResult | VideoTask:
    """The cheap part of a task, done before dispatching: hash the file and read the cache.

    Returns the finished result when the cache holds every feature of the video (or the file
    cannot be read), else the task with its digest filled in, for a worker to compute.
    """
    digest, problem = _task_digest(task)
    if digest is None:
        return VideoResult(task.index, {}, problem)
    if task.cache_root is not None:
        cache = FeatureCache(task.cache_root)
        if (reason := _known_unreadable(cache, digest)) is not None:
            return VideoResult(task.index, {}, reason)
        extractors = [_instance(name, cfg) for name, cfg in task.extractors]
        results, missing = _cached_features(task, extractors, cache, digest)
        if not missing:
            return VideoResult(task.index, results)
    return replace(task, digest=digest)


def run_video_task(task: VideoTask) -> VideoResult:
    """Featurise one video: cached extractors are read, the rest computed from one decode."""
    cache = FeatureCache(task.cache_root) if task.cache_root is not None else None
    extractors = [_instance(name, cfg) for name, cfg in task.extractors]
    digest, problem = _task_digest(task)
    if digest is None:
        return VideoResult(task.index, {}, problem)
    if (reason := _known_unreadable(cache, digest)) is not None:
        return VideoResult(task.index, {}, reason)
    results, missing = _cached_features(task, extractors, cache, digest)
    if missing:
        measured = _FrameMeasures([ex for ex, _ in missing])
        try:
            pairs = any(ex.native_pairs for ex, _ in missing)
            clip = read_clip(task.path, task.sampling, measured if measured.extractors else None, native_pairs=pairs)
        except VideoError as exc:  # depends only on the bytes: remembered, not retried
            _put(cache, UNREADABLE, _unreadable_key(), digest, {"__arrays__": {"reason": np.array(exc.reason)}})
            return VideoResult(task.index, {}, exc.reason)
        except MemoryError:
            return VideoResult(task.index, {}, "out of memory while decoding")
        except Exception as exc:  # a decoder bug must not lose the batch either
            return VideoResult(task.index, {}, f"cannot decode video ({type(exc).__name__}: {exc})")
        outcomes = _extract_in_order(clip, [ex for ex, _ in missing], task.prompt, measured.taken)
        for (ex, key), (feats, exc) in zip(missing, outcomes, strict=True):
            if exc is not None:  # an extractor bug must not lose the batch
                outcomes.close()  # runs no later extractor; waits for those already in threads
                return VideoResult(task.index, {}, f"feature extractor '{ex.name}' failed: {type(exc).__name__}: {exc}")
            _put(cache, ex.name, key, _content_key(ex, digest, task.prompt), feats)
            results[ex.name] = feats
    return VideoResult(task.index, results)


Outcome = tuple[dict[str, Any] | None, Exception | None]
Measured = dict[int, dict[str, float] | Exception]


class _FrameMeasures:
    """``read_clip``'s ``on_frame``: measures each spatial sample for the clip's
    :class:`FrameExtractor` s while the rest of the video is decoded (what each raises is kept
    and raised by its ``extract``; after one failure an extractor measures no more frames)."""

    def __init__(self, extractors: list[FeatureExtractor]) -> None:
        self.extractors = [ex for ex in extractors if isinstance(ex, FrameExtractor)]
        self.taken: dict[str, Measured] = {ex.name: {} for ex in self.extractors}
        self.failed: set[str] = set()

    def __call__(self, number: int, frame: np.ndarray, width: int) -> None:
        for ex in self.extractors:
            if ex.name in self.failed:
                continue
            try:
                self.taken[ex.name][number] = ex.measure_frame(frame, width)
            except Exception as exc:
                self.taken[ex.name][number] = exc
                self.failed.add(ex.name)


def _extract_one(ex: FeatureExtractor, clip: Clip, prompt: str, measured: Measured | None = None) -> Outcome:
    prompt = prompt if getattr(ex, "needs_prompt", False) else ""
    try:
        if isinstance(ex, FrameExtractor):
            return ex.extract(clip, prompt, measured), None
        return ex.extract(clip, prompt), None
    except Exception as exc:
        return None, exc


def _extract_in_order(
    clip: Clip, extractors: list[FeatureExtractor], prompt: str, measured: dict[str, Measured] | None = None
) -> Iterator[Outcome]:
    """``(features, None)`` or ``(None, exception)`` per extractor, in order; a caller that
    stops at a failure runs no later extractor in this thread. ``measured`` holds, per
    extractor name, the frames a :class:`FrameExtractor` measured while the clip was read.

    When the video may use more than one core, the extractors marked ``concurrent`` start
    side by side in threads at once: each only reads the clip, so the features are those of a
    run one after the other.
    """
    measured = measured or {}
    together = [i for i, ex in enumerate(extractors) if ex.concurrent]
    threads = min(len(together), video_cores())
    if threads < 2:
        for ex in extractors:
            yield _extract_one(ex, clip, prompt, measured.get(ex.name))
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="aigvqa-extract") as pool:
        futures = {i: pool.submit(_extract_one, extractors[i], clip, prompt, measured.get(extractors[i].name))
                   for i in together}  # fmt: skip
        for i, ex in enumerate(extractors):
            yield futures[i].result() if i in futures else _extract_one(ex, clip, prompt, measured.get(ex.name))


def crashed_video_task(task: VideoTask, reason: str) -> VideoResult:
    """The result of a task whose worker died (see :mod:`aigvqa.executors`)."""
    return VideoResult(task.index, {}, reason)


def _progress(total: int, enabled: bool):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled or total == 0,
    )


def _prompt_features(
    extractors: list[FeatureExtractor], prompts: list[str], cache: FeatureCache | None
) -> list[dict[str, dict[str, float]]]:
    """Per prompt (in ``prompts`` order): extractor name → features, computed once per unique prompt."""
    unique = sorted(set(prompts))
    per_prompt: dict[str, dict[str, dict[str, float]]] = {p: {} for p in unique}
    for ex in extractors:
        key = _settings(ex, None)
        todo = []
        for p in unique:
            cached = cache.get(ex.name, key, text_digest(p)) if cache else None
            if cached is None:
                todo.append(p)
            else:
                per_prompt[p][ex.name] = cached
        if todo:
            batch = getattr(ex, "extract_many", None)
            computed = batch(todo) if batch else [ex.extract(None, p) for p in todo]
            for p, feats in zip(todo, computed, strict=True):
                _put(cache, ex.name, key, text_digest(p), feats)
                per_prompt[p][ex.name] = feats
    return [per_prompt[p] for p in prompts]


def extract_features(
    items: list[Item],
    extractors: list[ExtractorSpec],
    videos_dir: str | os.PathLike | None = None,
    sampling: SamplingConfig | None = None,
    cache: FeatureCache | None = None,
    workers: int = 0,
    executor: str = "local",
    known_names: list[str] | None = None,
    progress: bool = True,
    executor_options: dict[str, Any] | None = None,
) -> FeatureTable:
    """Extract the named features for every item, in item order.

    ``known_names`` (from a trained model) fixes the column order and fills the names of
    extractors for which no video succeeded.
    """
    sampling = sampling or SamplingConfig()
    instances = [_instance(name, cfg) for name, cfg in extractors]
    video_specs = tuple((n, c) for (n, c), ex in zip(extractors, instances, strict=False) if ex.needs_video)
    prompt_ex = [ex for ex in instances if not ex.needs_video]
    if video_specs and videos_dir is None:
        names = ", ".join(n for n, _ in video_specs)
        raise ValueError(f"feature extractors {names} need videos: pass the videos directory")
    rows: list[dict[str, dict[str, Any]]] = [{} for _ in items]
    errors: dict[int, str] = {}
    if video_specs:
        # absolute paths: workers (Ray tasks on other nodes included) may run elsewhere
        root = os.path.abspath(cache.root) if cache else None
        videos_root = Path(os.path.abspath(videos_dir))
        tasks = [
            VideoTask(i, str(videos_root / it.video), video_specs, sampling, root, it.prompt)
            for i, it in enumerate(items)
        ]
        run = get_executor(executor)
        with _progress(len(tasks), progress) as bar:
            job = bar.add_task("videos", total=len(tasks), rate="")
            done = 0
            start = time.perf_counter()
            # cache hits and unreadable files are settled here; only the rest go to workers,
            # so a fully cached run starts no worker at all
            looked_up = [lookup_video_task(t) for t in tasks]
            settled = [r for r in looked_up if isinstance(r, VideoResult)]
            todo = [t for t in looked_up if isinstance(t, VideoTask)]
            options = dict(executor_options or {})
            if executor == "local":  # a worker with two cores or more runs two videos at a time
                options.setdefault("threads", videos_per_worker(workers))
            results = run(run_video_task, todo, workers, on_crash=crashed_video_task, **options)
            for result in itertools.chain(settled, results):
                rows[result.index] = result.features
                if result.error is not None:
                    errors[result.index] = result.error
                done += 1
                rate = done / max(time.perf_counter() - start, 1e-9)
                bar.update(job, advance=1, rate=f"{rate:5.2f} videos/s")
    if prompt_ex:
        prompt_rows = _prompt_features(prompt_ex, [it.prompt for it in items], cache)
        for row, feats in zip(rows, prompt_rows, strict=True):
            row.update(feats)
    return _assemble(rows, [ex.name for ex in instances], errors, known_names)


def extract_frames_features(
    videos: list[tuple[Any, float]],
    prompts: list[str],
    extractors: list[ExtractorSpec],
    sampling: SamplingConfig | None = None,
    cache: FeatureCache | None = None,
    known_names: list[str] | None = None,
) -> FeatureTable:
    """Features of clips held in memory: ``videos`` is a list of (frames, fps), frames as
    :func:`aigvqa.video.as_frames` takes them. Each clip is sampled as a file holding the same
    frames would be, so it gets that file's features. Frames are not cached (prompt features
    are); a clip that cannot be used gets a NaN row and a named error, like an unreadable file."""
    sampling = sampling or SamplingConfig()
    instances = [_instance(name, cfg) for name, cfg in extractors]
    video_ex = [ex for ex in instances if ex.needs_video]
    prompt_ex = [ex for ex in instances if not ex.needs_video]
    rows: list[dict[str, dict[str, Any]]] = [{} for _ in videos]
    errors: dict[int, str] = {}
    for i, ((frames, fps), prompt) in enumerate(zip(videos, prompts, strict=True)):
        try:
            clip = clip_from_frames(frames, fps, sampling, native_pairs=any(ex.native_pairs for ex in video_ex))
        except (TypeError, ValueError) as exc:
            errors[i] = str(exc)
            continue
        outcomes = _extract_in_order(clip, video_ex, prompt)
        for ex, (feats, exc) in zip(video_ex, outcomes, strict=True):
            if exc is not None:
                outcomes.close()
                errors[i] = f"feature extractor '{ex.name}' failed: {type(exc).__name__}: {exc}"
                rows[i] = {}
                break
            rows[i][ex.name] = feats
    if prompt_ex:
        for row, feats in zip(rows, _prompt_features(prompt_ex, list(prompts), cache), strict=True):
            row.update(feats)
    return _assemble(rows, [ex.name for ex in instances], errors, known_names)


def _assemble(
    rows: list[dict[str, dict[str, Any]]],
    order: list[str],
    errors: dict[int, str],
    known_names: list[str] | None,
) -> FeatureTable:
    names_by_ex: dict[str, list[str]] = {}
    for ex_name in order:
        for row in rows:
            if ex_name in row:
                names_by_ex[ex_name] = [f"{ex_name}.{k}" for k in row[ex_name] if k != "__arrays__"]
                break
    if known_names is not None:
        names = list(known_names)
    else:
        absent = [n for n in order if n not in names_by_ex]
        if absent:
            raise VideoError("(all videos)", f"no video could be featurised by {', '.join(absent)}")
        names = [n for ex_name in order for n in names_by_ex[ex_name]]
    column = {n: j for j, n in enumerate(names)}
    values = np.full((len(rows), len(names)), np.nan)
    sequences: dict[str, list[np.ndarray | None]] = {}
    for i, row in enumerate(rows):
        for ex_name, feats in row.items():
            for k, v in feats.items():
                if k == "__arrays__":
                    for arr_name, arr in v.items():
                        seq = sequences.setdefault(f"{ex_name}.{arr_name}", [None] * len(rows))
                        seq[i] = arr
                elif (col := column.get(f"{ex_name}.{k}")) is not None:
                    values[i, col] = v
    return FeatureTable(names, values, errors, sequences)
