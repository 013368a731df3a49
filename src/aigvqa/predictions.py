"""Prediction files: reading the challenge's ``{video, predict_score}`` lists and the errors file
``predict`` writes beside them, joining them with items and labels, ranking their groups
(:func:`rank_predictions`) and reporting on them (:func:`write_report`)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from aigvqa.data import DataError, load_items
from aigvqa.ranking import DEFAULT_N_BOOT, GroupRank, rank_groups
from aigvqa.report import ClipView, ReportItem, ReportOptions, build_report, frame_strip
from aigvqa.submission import errors_path


def _read_list(path: Path, what: str) -> list:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(raw, list):
        raise DataError(f"{path}: expected a JSON list of {what}")
    return raw


def load_predictions(path: str | os.PathLike) -> dict[str, float]:
    """A predictions file as ``{video: score}``; names the file, item and field of any problem."""
    path = Path(path)
    preds: dict[str, float] = {}
    for i, entry in enumerate(_read_list(path, "{video, predict_score}")):
        if not isinstance(entry, dict) or not isinstance(entry.get("video"), str):
            raise DataError(f"{path}, item {i}: expected an object with a string 'video'")
        score = entry.get("predict_score")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise DataError(f"{path}, item {i} ({entry['video']}): 'predict_score' must be a finite number")
        if entry["video"] in preds:
            raise DataError(f"{path}, item {i}: duplicate video {entry['video']!r}")
        preds[entry["video"]] = float(score)
    return preds


def load_prediction_errors(pred_path: str | os.PathLike) -> dict[str, dict]:
    """The errors file that ``predict`` writes beside the predictions, by video (empty if none)."""
    path = errors_path(pred_path)
    if not path.exists():
        return {}
    errors = {}
    for i, entry in enumerate(_read_list(path, "{video, reason, ...}")):
        if not isinstance(entry, dict) or not isinstance(entry.get("video"), str):
            raise DataError(f"{path}, item {i}: expected an object with a string 'video'")
        if not isinstance(entry.get("reason"), str):
            raise DataError(f"{path}, item {i} ({entry['video']}): 'reason' must be a string")
        errors[entry["video"]] = entry
    return errors


def joined_items(
    pred_path: str | os.PathLike,
    data_path: str | os.PathLike | None = None,
    labels_path: str | os.PathLike | None = None,
    by: str | None = None,
    target: str = "gt_score",
) -> tuple[list[ReportItem], list[str]]:
    """Each prediction with its prompt, label, ``by`` group and failure, and notes on what did not match."""
    preds = load_predictions(pred_path)
    errors = load_prediction_errors(pred_path)
    data = {it.video: it for it in load_items(data_path)} if data_path else {}
    labels = {it.video: it for it in load_items(labels_path, target=target, require_target=True)} if labels_path else {}
    if by and not (data_path or labels_path):
        raise DataError(f"--by {by}: the field is read from --data or --labels; pass one of them")
    items = []
    for video, score in preds.items():
        d, lab = data.get(video), labels.get(video)
        group = None
        if by:
            found = [it.meta[by] for it in (d, lab) if it is not None and by in it.meta]
            if not found:
                where = " or ".join(str(p) for p in (data_path, labels_path) if p)
                raise DataError(f"--by {by}: prediction {video!r} has no '{by}' in {where}")
            group = str(found[0])
        e = errors.get(video, {})
        items.append(ReportItem(
            video, score, prompt=(d or lab).prompt if (d or lab) else None,
            mos=float(lab.meta[target]) if lab is not None else None, group=group,
            error=e.get("reason"), fallback=e.get("fallback"),
        ))  # fmt: skip
    notes = []
    if data_path and (unknown := sum(v not in data for v in preds)):
        notes.append(f"{unknown} of {len(preds)} predictions are not in {data_path}")
    if labels_path:
        if unlabelled := sum(v not in labels for v in preds):
            notes.append(f"{unlabelled} of {len(preds)} predictions have no label in {labels_path}")
        if no_pred := sum(v not in preds for v in labels):
            notes.append(f"{no_pred} of {len(labels)} labelled items in {labels_path} have no prediction")
    if stray := sorted(set(errors) - set(preds)):
        notes.append(f"{len(stray)} videos in the errors file have no prediction (e.g. {stray[0]})")
    return items, notes


@dataclass
class RankResult:
    """Groups ranked by mean predicted score (see :mod:`aigvqa.ranking`), with what was left out."""

    by: str
    groups: list[GroupRank]
    n: int
    failed_included: int
    notes: list[str]

    def to_dict(self, n_boot: int, seed: int) -> dict:
        payload = {"by": self.by, "n": self.n, "n_boot": n_boot, "seed": seed, "failed_included": self.failed_included}
        return {**payload, "groups": [g.to_dict() for g in self.groups]}


def rank_predictions(
    predictions: str | os.PathLike,
    data: str | os.PathLike,
    by: str,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    skip_failed: bool = False,
) -> RankResult:
    """Rank the groups of ``by`` (generator, checkpoint...) read from ``data`` by mean predicted
    score, with bootstrap 95% intervals and the probability each beats the next."""
    if n_boot < 1:
        raise ValueError(f"--n-boot must be at least 1, got {n_boot}")
    items, notes = joined_items(predictions, data, None, by)
    failed = sum(it.error is not None for it in items)
    if skip_failed:
        items = [it for it in items if it.error is None]
        if not items:
            raise DataError(f"{predictions}: every video failed; nothing to rank")
    elif failed:
        notes.append(f"items with a fallback score (their video failed): {failed}; --skip-failed leaves them out")
    ranking = rank_groups([it.score for it in items], [it.group for it in items], [it.prompt for it in items],
                          n_boot=n_boot, seed=seed)  # fmt: skip
    return RankResult(by, ranking, len(items), 0 if skip_failed else failed, notes)


@dataclass
class ReportSummary:
    """What :func:`write_report` wrote."""

    path: Path
    n: int
    failed: int
    clips: int
    bytes: int
    notes: list[str]


def _clip_views(items: list[ReportItem], videos: Path, model: str | None, n: int, workers, cache):
    """The ``n`` lowest- and highest-scored readable clips with frame strips and, with a model, the
    artifacts that cost them most (and their dimensions when the model has them)."""
    from aigvqa.api import load
    from aigvqa.video import VideoError

    readable = sorted((it for it in items if it.error is None), key=lambda it: (it.score, it.video))
    lowest = readable[: min(n, len(readable))]
    highest = readable[len(lowest):][::-1][:n]
    views = []
    for it in lowest + highest:
        try:
            views.append(ClipView(it, strip=frame_strip(videos / it.video)))
        except VideoError as exc:
            views.append(ClipView(it, strip_error=exc.reason))
    if model is not None and views:
        scorer = load(model, cache=cache, workers=workers)
        paths = [str(videos / v.item.video) for v in views]
        if scorer.model.regressor_.uses_sequences:
            for v in views:
                v.note = f"the {scorer.model.regressor} regressor gives no explanations"
        else:
            prompts = [v.item.prompt or "" for v in views]
            for v, expl in zip(views, scorer.explain_many(paths, prompts), strict=True):
                if expl.error is not None:
                    v.note = f"the model could not read this video: {expl.error}"
                    continue
                v.reasons = expl.reasons(3)
                v.dims = expl.dims
                if abs(expl.score - v.item.score) > 0.005:
                    v.note = f"the model given scores this clip {expl.score:.3f}; the artifacts explain that score"
    return views[: len(lowest)], views[len(lowest):]


def write_report(
    predictions: str | os.PathLike,
    out: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    videos: str | os.PathLike | None = None,
    model: str | None = None,
    by: str | None = None,
    clips: int = 5,
    target: str = "gt_score",
    n_boot: int = 1000,
    seed: int = 0,
    workers: int | None = None,
    cache: bool = True,
) -> ReportSummary:
    """Write a self-contained HTML report of a predictions file: score distribution, failures,
    accuracy against ``labels``, groups of ``by``, and (with ``videos``) the lowest- and
    highest-scored clips, explained by ``model`` when given."""
    if n_boot < 1 or clips < 0:
        raise ValueError("--n-boot must be at least 1 and --clips 0 or more")
    if model is not None and videos is None:
        raise ValueError("--model explains the clips shown with --videos: pass --videos DIR too")
    if videos is not None and not Path(videos).is_dir():
        raise DataError(f"--videos {videos}: not a directory")
    items, notes = joined_items(predictions, data, labels, by, target)
    lowest, highest = _clip_views(items, Path(videos), model, clips, workers, cache) if videos else ([], [])
    sources = {"predictions": predictions, "data": data, "labels": labels, "videos": videos, "model": model}
    opts = ReportOptions(
        title=f"aigvqa report: {Path(predictions).name}", sources={k: str(v) for k, v in sources.items() if v},
        by=by, target=target, n_boot=n_boot, seed=seed, notes=notes,
    )  # fmt: skip
    text = build_report(items, opts, lowest, highest)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    failed = sum(it.error is not None for it in items)
    return ReportSummary(out, len(items), failed, len(lowest) + len(highest), len(text), notes)
