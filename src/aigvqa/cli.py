"""The ``aigvqa`` command line: validate, train, predict, evaluate, cv, score, explain, report, rank, demo, list."""

from __future__ import annotations

import functools
import json
import math
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from aigvqa import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Predict the human quality score (MOS) of AI-generated videos.",
)
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)

VideosOpt = Annotated[Optional[Path], typer.Option("--videos", help="Folder holding the video files.")]
WorkersOpt = Annotated[
    Optional[int],
    typer.Option(
        "--workers",
        help="Extraction worker processes [default: all cores; 0: none, extract in this process, so a "
        "decoder crash ends the run; ray: 0 or unset = the cluster's CPUs].",
    ),
]
ExecutorOpt = Annotated[str, typer.Option("--executor", help="'local' processes or 'ray'.")]
AddressOpt = Annotated[Optional[str], typer.Option("--address", help="Ray cluster address (with --executor ray).")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the feature cache.")]
RegressorOpt = Annotated[
    Optional[str], typer.Option(help="Regressor (see 'aigvqa list') [default: blend of ridge, knn, lightgbm].")
]
ModelDirOpt = Annotated[
    str,
    typer.Option("--model", help="A bundled model's name (see 'aigvqa list') or a directory from 'aigvqa train'."),
]
PromptOpt = Annotated[str, typer.Option(help="The prompt that generated the videos.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
BackboneOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--backbone",
        help="Deep backbone: a timm model for 'timm' (e.g. convnext_base.fb_in22k_ft_in1k), an open_clip model "
        "for 'clip' (e.g. ViT-B-16); EXTRACTOR=NAME when both are used (repeatable).",
    ),
]
WeightsOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--weights",
        help="Backbone weights: a local file (safetensors or torch state dict) or, for clip, an open_clip tag "
        "(e.g. openai); EXTRACTOR=FILE when both are used (default: the library's own cache).",
    ),
]
OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="Never touch the network: weights from files or the local cache only.")
]
DeviceOpt = Annotated[
    Optional[str], typer.Option("--device", help="Deep backbones and mlp head: auto, cuda, cuda:N, mps, cpu.")
]
HeadOpt = Annotated[
    Optional[str],
    typer.Option("--head", help="mlp: neural fusion head over per-frame deep features (or a regressor name)."),
]


class CLIError(Exception):
    """An error reported to the user as one message, without a traceback."""


def friendly(fn):
    """Turn expected failures into a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from aigvqa.data import DataError
        from aigvqa.model import ModelError
        from aigvqa.video import VideoError

        try:
            return fn(*args, **kwargs)
        except (
            CLIError,
            DataError,
            ModelError,
            VideoError,
            ValueError,
            KeyError,
            ImportError,
            FileNotFoundError,
        ) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            err.print(f"[bold red]error:[/] {escape(str(message))}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("interrupted: features computed so far are cached; rerun to continue")
            raise typer.Exit(130) from None

    return wrapper


def _load_recipe(path: Optional[Path]) -> dict:
    """QualityModel parameters from a JSON recipe (``--config``); keys starting with ``_`` are
    comments. Unknown keys are reported, not passed on."""
    if path is None:
        return {}
    try:
        params = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CLIError(f"--config {path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CLIError(f"--config {path}: not valid JSON ({exc})") from None
    if not isinstance(params, dict):
        raise CLIError(f"--config {path}: expected a JSON object of model settings")
    params = {k: v for k, v in params.items() if not k.startswith("_")}
    known = {"features", "regressor", "regressor_params", "target", "seed", "sampling", "extractor_config", "augment"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise CLIError(f"--config {path}: unknown settings {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if isinstance(params.get("sampling"), dict):
        from aigvqa.video import SamplingConfig

        try:
            SamplingConfig(**params["sampling"])
        except TypeError as exc:
            raise CLIError(f"--config {path}: bad 'sampling' ({exc})") from None
    if params.get("augment") is not None:
        from aigvqa.augment import AugmentConfig

        if not isinstance(params["augment"], dict):
            raise CLIError(f"--config {path}: 'augment' must be an object of augmentation settings")
        try:
            AugmentConfig.from_dict(params["augment"])
        except ValueError as exc:
            raise CLIError(f"--config {path}: {exc}") from None
    return params


def _model_params(config, features, regressor, target, seed, backbone, weights, offline, device, head) -> dict:
    """QualityModel parameters: command-line options over the ``--config`` recipe over defaults."""
    from aigvqa.deep_options import apply_deep_options
    from aigvqa.features import DEFAULT_FEATURES

    params = _load_recipe(config)
    if features:
        params["features"] = features
    params.setdefault("features", DEFAULT_FEATURES)
    if regressor:
        params["regressor"] = regressor
    params.update(target=target, seed=seed)
    return apply_deep_options(params, backbone, weights, offline, device, head, regressor)


def _run_options(videos, workers, executor, address, no_cache, quiet):
    from aigvqa.cache import FeatureCache
    from aigvqa.executors import default_workers, get_executor, require_executor
    from aigvqa.pipeline import RunOptions

    if videos is not None and not videos.is_dir():
        raise CLIError(f"--videos {videos}: not a directory")
    get_executor(executor)
    if address and executor != "ray":
        raise CLIError("--address is only used with --executor ray")
    if workers is not None and workers < 0:
        raise CLIError(f"--workers must be 0 or more, got {workers}")
    if videos is not None:
        require_executor(executor)  # e.g. ray not installed: say so before any work
    options = {"address": address} if executor == "ray" else {}
    return RunOptions(
        videos_dir=videos,
        cache=None if no_cache else FeatureCache(),
        # with ray, no --workers means as many tasks as the cluster has CPUs
        workers=workers if workers is not None else (0 if executor == "ray" else default_workers()),
        executor=executor,
        executor_options=options,
        progress=not quiet and sys.stderr.isatty(),
    )


def _report_errors(items, errors: dict[int, str], what: str, fallback: str | None = None) -> None:
    if not errors:
        return
    tail = f"; they get the {fallback} score" if fallback else ""
    err.print(f"[yellow]{len(errors)} of {len(items)} videos could not be {what}{tail}:[/]")
    for i in sorted(errors)[:20]:
        err.print(f"  {items[i].video}: {errors[i]}", highlight=False, markup=False)
    if len(errors) > 20:
        err.print(f"  … and {len(errors) - 20} more")


@app.command()
@friendly
def validate(
    data_json: Annotated[Path, typer.Argument(help="Challenge JSON file (train, val or test).")],
    videos: VideosOpt = None,
    target: Annotated[str, typer.Option(help="Numeric field checked when present.")] = "gt_score",
    workers: WorkersOpt = None,
) -> None:
    """Check a challenge JSON file and, with --videos, that every video exists and decodes."""
    from aigvqa.data import load_items

    start = time.perf_counter()
    items = load_items(data_json, target=target)
    n_target = sum(1 for it in items if target in it.meta)
    prompts = len({it.prompt for it in items})
    out.print(f"{data_json}: {len(items)} items, {prompts} unique prompts, {n_target} with '{target}'")
    if n_target:
        vals = [float(it.meta[target]) for it in items if target in it.meta]
        out.print(f"  {target}: min {min(vals):.3f}, median {statistics.median(vals):.3f}, max {max(vals):.3f}")
    if videos is None:
        out.print(f"  valid ({time.perf_counter() - start:.2f} s)")
        return
    if not videos.is_dir():
        raise CLIError(f"--videos {videos}: not a directory")
    from aigvqa.extract import map_local
    from aigvqa.video import probe_safely

    paths = [str(videos / it.video) for it in items]
    infos = {}
    failures = {}
    probes = map_local(
        probe_safely, paths, workers or os.cpu_count() or 1, ordered=True, on_crash=lambda _, reason: (None, reason)
    )
    for i, (info, problem) in enumerate(probes):
        if problem:
            failures[i] = problem
        else:
            infos[i] = info
    if infos:
        res = Counter(f"{v.width}x{v.height}" for v in infos.values())
        durations = [v.duration for v in infos.values()]
        fps = Counter(f"{v.fps:.3g}" for v in infos.values())
        codecs = Counter(v.codec for v in infos.values())
        out.print(f"  decodable: {len(infos)}; resolutions: " + ", ".join(f"{k} ({c})" for k, c in res.most_common(6)))
        out.print(
            f"  duration s: min {min(durations):.2f}, median {statistics.median(durations):.2f}, "
            f"max {max(durations):.2f}; fps: " + ", ".join(f"{k} ({c})" for k, c in fps.most_common(5))
        )
        out.print("  codecs: " + ", ".join(f"{k} ({c})" for k, c in codecs.most_common(5)))
    if failures:
        _report_errors(items, failures, "decoded")
        raise typer.Exit(1)
    out.print(f"  all {len(items)} videos decode ({time.perf_counter() - start:.1f} s)")


@app.command()
@friendly
def train(
    train_json: Annotated[Path, typer.Argument(help="Training JSON with video, prompt and the target.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    videos: VideosOpt = None,
    target: Annotated[str, typer.Option(help="Numeric item field to learn.")] = "gt_score",
    features: Annotated[Optional[str], typer.Option(help="Feature groups/extractors, e.g. 'classic,prompt'.")] = None,
    regressor: RegressorOpt = None,
    config: Annotated[Optional[Path], typer.Option(help="JSON recipe of model settings.")] = None,
    seed: int = 0,
    strict: Annotated[bool, typer.Option(help="Fail if any video cannot be read.")] = False,
    workers: WorkersOpt = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    no_cache: NoCacheOpt = False,
    quiet: QuietOpt = False,
    backbone: BackboneOpt = None,
    weights: WeightsOpt = None,
    offline: OfflineOpt = False,
    device: DeviceOpt = None,
    head: HeadOpt = None,
) -> None:
    """Learn a quality model from labelled videos."""
    from aigvqa.data import load_items
    from aigvqa.model import QualityModel
    from aigvqa.pipeline import train as train_model

    params = _model_params(config, features, regressor, target, seed, backbone, weights, offline, device, head)
    model = QualityModel(**params)
    items = load_items(train_json, target=target, require_target=True)
    run = _run_options(videos if model.needs_video() else None, workers, executor, address, no_cache, quiet)
    start = time.perf_counter()
    model, table = train_model(model, items, run)
    elapsed = time.perf_counter() - start
    _report_errors(items, table.errors, "read; they are left out of training")
    if strict and table.errors:
        raise typer.Exit(1)
    model.save(out_dir)
    n_own = len(items) - len(table.errors)
    copies = f" + {model.n_train_ - n_own} augmented copies" if model.n_train_ > n_own else ""
    out.print(
        f"trained on {n_own} of {len(items)} items{copies}, {len(model.feature_names_)} features, "
        f"{model.regressor} regressor, target '{target}' ({elapsed:.1f} s, {elapsed / len(items):.3f} s/item)"
    )
    if model.top_features(15):  # the neural head reports no importances
        table_out = Table(title="most important features", show_edge=False)
        table_out.add_column("feature")
        table_out.add_column("importance", justify="right")
        for name, value in model.top_features(15):
            table_out.add_row(name, f"{value:.3f}")
        out.print(table_out)
    out.print(f"model written to {out_dir}")


@app.command()
@friendly
def predict(
    input_json: Annotated[Path, typer.Argument(help="JSON list of {video, prompt}.")],
    out_path: Annotated[Path, typer.Option("--out", help="Predictions JSON to write.")],
    model_dir: ModelDirOpt = "default",
    videos: VideosOpt = None,
    zip_path: Annotated[Optional[Path], typer.Option("--zip", help="Also write the CodaLab submission zip.")] = None,
    strict: Annotated[bool, typer.Option(help="Exit non-zero if any video cannot be read.")] = False,
    workers: WorkersOpt = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    no_cache: NoCacheOpt = False,
    quiet: QuietOpt = False,
    device: DeviceOpt = None,
    offline: OfflineOpt = False,
) -> None:
    """Score every item; writes the challenge predictions file (and errors beside it)."""
    from aigvqa.data import load_items
    from aigvqa.deep_options import describe_weights, override_runtime, uses_gpu
    from aigvqa.pipeline import predict as predict_items
    from aigvqa.submission import errors_path, predictions_payload, readme_text, write_json_atomic, write_submission_zip

    model = _load_model(model_dir)
    override_runtime(model, device, offline)
    items = load_items(input_json)
    if model.needs_video() and videos is None:
        raise CLIError(f"the model in {model_dir} uses video features: pass --videos DIR")
    run = _run_options(videos if model.needs_video() else None, workers, executor, address, no_cache, quiet)
    start = time.perf_counter()
    scores, table = predict_items(model, items, run)
    elapsed = time.perf_counter() - start
    write_json_atomic(out_path, predictions_payload(items, scores))
    errs_file = errors_path(out_path)
    if table.errors:
        write_json_atomic(
            errs_file,
            [
                {
                    "index": i,
                    "video": items[i].video,
                    "reason": table.errors[i],
                    "fallback": model.fallback_kind(),
                    "predict_score": float(scores[i]),
                }
                for i in sorted(table.errors)
            ],
        )
        _report_errors(items, table.errors, "read", fallback=model.fallback_kind())
        err.print(f"errors listed in {errs_file}")
    elif errs_file.exists():
        errs_file.unlink()
    out.print(f"{len(items)} predictions written to {out_path} ({elapsed / len(items):.3f} s/video)")
    if zip_path:
        description = (
            f"aigvqa {__version__}: features [{model.features}] -> {model.regressor} regressor "
            f"trained on {model.n_train_} items (target '{model.target}'); {describe_weights(model)}."
        )
        from aigvqa.zoo import is_bundled, resolve_model

        bundled = is_bundled(resolve_model(model_dir))
        if bundled:
            description += f" Bundled model '{model_dir}': trained on FETV (extra data, CC BY 4.0)."
        per_video = elapsed / len(items)
        readme = readme_text(per_video, uses_gpu=uses_gpu(model), extra_data=bundled, description=description)
        write_submission_zip(zip_path, out_path, readme)
        out.print(f"submission written to {zip_path}")
    if strict and table.errors:
        raise typer.Exit(1)


def _load_predictions(path: Path) -> dict[str, float]:
    from aigvqa.data import DataError

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(raw, list):
        raise DataError(f"{path}: expected a JSON list of {{video, predict_score}}")
    preds: dict[str, float] = {}
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("video"), str):
            raise DataError(f"{path}, item {i}: expected an object with a string 'video'")
        score = entry.get("predict_score")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise DataError(f"{path}, item {i} ({entry['video']}): 'predict_score' must be a finite number")
        if entry["video"] in preds:
            raise DataError(f"{path}, item {i}: duplicate video {entry['video']!r}")
        preds[entry["video"]] = float(score)
    return preds


@app.command()
@friendly
def evaluate(
    pred_json: Annotated[Path, typer.Argument(help="Predictions: JSON list of {video, predict_score}.")],
    labels_json: Annotated[Path, typer.Argument(help="Labels: JSON list of {video, prompt, gt_score}.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    by: Annotated[Optional[str], typer.Option(help="Also report per value of this label field.")] = None,
    target: str = "gt_score",
) -> None:
    """Compare predictions with labels: PLCC, SROCC, KRCC, RMSE, Score (+ bootstrap 95% CI)."""
    from aigvqa.data import load_items
    from aigvqa.metrics import evaluate as metrics

    preds = _load_predictions(pred_json)
    labels = load_items(labels_json, target=target, require_target=True)
    missing = [it.video for it in labels if it.video not in preds]
    if missing:
        raise CLIError(
            f"{len(missing)} of {len(labels)} labelled videos have no prediction in {pred_json} "
            f"(e.g. {', '.join(missing[:3])})"
        )
    extra = len(preds) - len(labels)
    if extra > 0:
        err.print(f"[yellow]note:[/] {extra} predictions have no label and are ignored")
    p = np.array([preds[it.video] for it in labels])
    y = np.array([float(it.meta[target]) for it in labels])
    result = _metric_dict(metrics(p, y))
    if by:
        groups: dict[str, list[int]] = {}
        for i, it in enumerate(labels):
            if by not in it.meta:
                raise CLIError(f"{labels_json}, item {i} ({it.video}): missing field '{by}' for --by")
            groups.setdefault(str(it.meta[by]), []).append(i)
        result["groups"] = {g: _metric_dict(metrics(p[idx], y[idx])) for g, idx in sorted(groups.items())}
    if as_json:
        print(json.dumps(result))
        return
    _print_metrics(result)


def _metric_dict(m: dict) -> dict:
    keys = ("plcc", "plcc_logistic", "srocc", "krcc", "rmse", "score", "n")
    d = {k: m[k] for k in keys}
    d["score_ci95"] = [m["score_ci_low"], m["score_ci_high"]]
    return d


def _print_metrics(result: dict) -> None:
    t = Table(show_edge=False)
    for col in ("group", "n", "PLCC", "PLCC(logistic)", "SROCC", "KRCC", "RMSE", "Score", "Score 95% CI"):
        t.add_column(col, justify="right")

    def row(name, m):
        lo, hi = m["score_ci95"]
        t.add_row(
            name,
            str(m["n"]),
            *(f"{m[k]:.4f}" for k in ("plcc", "plcc_logistic", "srocc", "krcc", "rmse", "score")),
            f"[{lo:.3f}, {hi:.3f}]",
        )

    row("all", result)
    for g, m in result.get("groups", {}).items():
        row(g, m)
    out.print(t)


@app.command()
@friendly
def cv(
    data_json: Annotated[Path, typer.Argument(help="Labelled JSON file.")],
    videos: VideosOpt = None,
    folds: int = 5,
    repeats: int = 3,
    group_by: Annotated[
        Optional[str], typer.Option(help="Keep items sharing this field in one fold (e.g. prompt).")
    ] = None,
    target: str = "gt_score",
    features: Annotated[Optional[str], typer.Option(help="Feature groups/extractors.")] = None,
    regressor: RegressorOpt = None,
    config: Annotated[Optional[Path], typer.Option(help="JSON recipe of model settings.")] = None,
    seed: int = 0,
    oof: Annotated[Optional[Path], typer.Option(help="Write out-of-fold predictions (first repeat) here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    workers: WorkersOpt = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    no_cache: NoCacheOpt = False,
    quiet: QuietOpt = False,
    backbone: BackboneOpt = None,
    weights: WeightsOpt = None,
    offline: OfflineOpt = False,
    device: DeviceOpt = None,
    head: HeadOpt = None,
) -> None:
    """Repeated K-fold cross-validation: median and spread of PLCC, SROCC and Score."""
    from aigvqa.data import load_items
    from aigvqa.model import QualityModel
    from aigvqa.pipeline import cross_validate
    from aigvqa.submission import predictions_payload, write_json_atomic

    params = _model_params(config, features, regressor, target, seed, backbone, weights, offline, device, head)
    model = QualityModel(**params)
    items = load_items(data_json, target=target, require_target=True)
    run = _run_options(videos if model.needs_video() else None, workers, executor, address, no_cache, quiet)
    result = cross_validate(model, items, run, folds=folds, repeats=repeats, group_by=group_by)
    summary = result.summary()
    if oof:
        write_json_atomic(oof, predictions_payload(items, result.oof[0]))
    if as_json:
        print(json.dumps({"folds": folds, "repeats": repeats, "n": len(items), **summary}))
        return
    t = Table(title=f"{repeats}× {folds}-fold CV on {len(items)} items ({model.features})", show_edge=False)
    for col in ("metric", "median", "min", "max", "std"):
        t.add_column(col, justify="right")
    for key, s in summary.items():
        t.add_row(key.upper() if key != "score" else "Score", *(f"{s[k]:.4f}" for k in ("median", "min", "max", "std")))
    out.print(t)


def _file_items(videos: list[Path], prompt: str) -> list:
    """Items for video files named on the command line (absolute paths, one prompt)."""
    from aigvqa.data import Item

    return [Item(video=str(v.resolve()), prompt=prompt) for v in videos]


def _load_model(spec: str):
    """The model ``--model`` names: a bundled model or a model directory (clear errors otherwise)."""
    from aigvqa.model import ModelError, QualityModel
    from aigvqa.zoo import resolve_model

    try:
        return QualityModel.load(resolve_model(spec))
    except FileNotFoundError as exc:
        raise ModelError(str(exc)) from None


def _predict_items(items: list, model_dir: str, videos_dir: Path, workers: Optional[int], no_cache: bool):
    """(model, scores, feature table) for items whose videos are in ``videos_dir``; the one place
    where score, explain and report load their model."""
    from aigvqa.pipeline import predict as predict_items

    model = _load_model(model_dir)
    run = _run_options(videos_dir, workers, "local", None, no_cache, True)
    scores, table = predict_items(model, items, run)
    return model, scores, table


def _predict_files(videos: list[Path], model_dir: str, prompt: str, workers: Optional[int], no_cache: bool):
    """(model, scores, feature table) for video files named on the command line."""
    return _predict_items(_file_items(videos, prompt), model_dir, Path("/"), workers, no_cache)


@app.command()
@friendly
def score(
    videos: Annotated[list[Path], typer.Argument(help="Video files to score.")],
    model_dir: ModelDirOpt = "default",
    prompt: PromptOpt = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per video.")] = False,
    workers: WorkersOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Score video files directly: per video, the score and the two artifacts that cost it most."""
    from aigvqa.explain import explain_rows, format_reasons

    model, scores, table = _predict_files(videos, model_dir, prompt, workers, no_cache)
    explanations = explain_rows(model, table, scores) if not model.regressor_.uses_sequences else None
    for i, (v, s) in enumerate(zip(videos, scores, strict=True)):
        expl = explanations[i] if explanations else None
        if as_json:
            record = {"video": str(v), "score": float(s), "error": table.errors.get(i)}
            record["reasons"] = [{"artifact": a, "cost": c} for a, c in expl.reasons()] if expl else []
            print(json.dumps(record))
        elif i in table.errors:
            print(f"{v}\t{s:.2f}\t(fallback score: {table.errors[i]})")
        else:
            print(f"{v}\t{s:.2f}\t{format_reasons(expl) if expl else ''}".rstrip())


@app.command()
@friendly
def explain(
    videos: Annotated[list[Path], typer.Argument(help="Video files to explain.")],
    model_dir: ModelDirOpt = "default",
    prompt: PromptOpt = "",
    top: Annotated[int, typer.Option(help="How many features to show each way.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per video.")] = False,
    workers: WorkersOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Why a video got its score: what each artifact, feature extractor and feature added or took away."""
    from aigvqa.explain import explain_rows, format_reasons
    from aigvqa.registry import EXTRACTORS

    model, scores, table = _predict_files(videos, model_dir, prompt, workers, no_cache)
    lo, hi = model.target_range_
    for video, expl in zip(videos, explain_rows(model, table, scores, top), strict=True):
        if as_json:
            print(json.dumps({"video": str(video), **expl.to_dict()}))
            continue
        if expl.error is not None:
            print(f"{expl.score:.4f}\t{video}  (fallback score: {expl.error}; nothing to explain)")
            continue
        out.print(f"[bold]{video}[/]: score {expl.score:.3f} (training scores {lo:.2f}–{hi:.2f}, mean "
                  f"{model.target_mean_:.2f}; baseline {expl.baseline:.3f})", highlight=False)  # fmt: skip
        if expl.reasons():
            out.print(f"  not higher because of: {format_reasons(expl)}", highlight=False)
        for title, parts in (("by artifact", expl.by_artifact), ("by extractor", expl.by_extractor)):
            ordered = sorted(parts.items(), key=lambda kv: kv[1])
            out.print(f"  {title}: " + ", ".join(f"{k} {v:+.3f}" for k, v in ordered), highlight=False)
        if expl.by_block:
            shares = ", ".join(f"{k} {v:+.3f}" for k, v in expl.by_block.items())
            out.print(f"  by block (from the training mean {model.target_mean_:.3f}): {shares}", highlight=False)
        for title, rows in (("pulled down by", expl.pulled_down), ("pushed up by", expl.pushed_up)):
            if rows:
                out.print(f"  {title}:")
            for name, c, v in rows:
                ex = name.split(".", 1)[0]
                measures = EXTRACTORS.get(ex).measures if ex in EXTRACTORS else ""
                out.print(f"    {c:+.3f}  {name} = {v:.4g}  [dim]({measures})[/]", highlight=False)


def _load_prediction_errors(pred_json: Path) -> dict[str, dict]:
    """The errors file that ``predict`` writes beside the predictions, by video (empty if none)."""
    from aigvqa.data import DataError
    from aigvqa.submission import errors_path

    path = errors_path(pred_json)
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(raw, list):
        raise DataError(f"{path}: expected a JSON list of {{video, reason, ...}}")
    errors = {}
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("video"), str):
            raise DataError(f"{path}, item {i}: expected an object with a string 'video'")
        if not isinstance(entry.get("reason"), str):
            raise DataError(f"{path}, item {i} ({entry['video']}): 'reason' must be a string")
        errors[entry["video"]] = entry
    return errors


def _joined_items(pred_json: Path, data_json: Optional[Path], labels_json: Optional[Path], by: Optional[str],
                  target: str) -> tuple[list, list[str]]:  # fmt: skip
    """Each prediction with its prompt, label, --by group and failure (``report.ReportItem``), and notes
    on what did not match."""
    from aigvqa.data import load_items
    from aigvqa.report import ReportItem

    preds = _load_predictions(pred_json)
    errors = _load_prediction_errors(pred_json)
    data = {it.video: it for it in load_items(data_json)} if data_json else {}
    labels = {it.video: it for it in load_items(labels_json, target=target, require_target=True)} if labels_json else {}
    if by and not (data_json or labels_json):
        raise CLIError(f"--by {by}: the field is read from --data or --labels; pass one of them")
    items = []
    for video, score in preds.items():
        d, lab = data.get(video), labels.get(video)
        group = None
        if by:
            found = [it.meta[by] for it in (d, lab) if it is not None and by in it.meta]
            if not found:
                where = " or ".join(str(p) for p in (data_json, labels_json) if p)
                raise CLIError(f"--by {by}: prediction {video!r} has no '{by}' in {where}")
            group = str(found[0])
        e = errors.get(video, {})
        items.append(ReportItem(
            video, score, prompt=(d or lab).prompt if (d or lab) else None,
            mos=float(lab.meta[target]) if lab is not None else None, group=group,
            error=e.get("reason"), fallback=e.get("fallback"),
        ))  # fmt: skip
    notes = []
    if data_json and (unknown := sum(v not in data for v in preds)):
        notes.append(f"{unknown} of {len(preds)} predictions are not in {data_json}")
    if labels_json:
        if unlabelled := sum(v not in labels for v in preds):
            notes.append(f"{unlabelled} of {len(preds)} predictions have no label in {labels_json}")
        if no_pred := sum(v not in preds for v in labels):
            notes.append(f"{no_pred} of {len(labels)} labelled items in {labels_json} have no prediction")
    if stray := sorted(set(errors) - set(preds)):
        notes.append(f"{len(stray)} videos in the errors file have no prediction (e.g. {stray[0]})")
    return items, notes


def _report_clips(items: list, videos: Path, model_dir: Optional[str], n: int, workers, no_cache):
    """The ``n`` lowest- and highest-scored readable clips with frame strips and, with a model, the
    artifacts that cost them most."""
    from aigvqa.data import Item
    from aigvqa.explain import explain_rows
    from aigvqa.report import ClipView, frame_strip
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
    if model_dir is not None and views:
        chosen = [Item(v.item.video, v.item.prompt or "") for v in views]
        model, scores, table = _predict_items(chosen, model_dir, videos, workers, no_cache)
        if model.regressor_.uses_sequences:
            for v in views:
                v.note = f"the {model.regressor} regressor gives no explanations"
        else:
            for v, expl, s in zip(views, explain_rows(model, table, scores), scores, strict=True):
                if expl.error is not None:
                    v.note = f"the model could not read this video: {expl.error}"
                    continue
                v.reasons = expl.reasons(3)
                if abs(float(s) - v.item.score) > 0.005:
                    v.note = f"the model given scores this clip {float(s):.3f}; the artifacts explain that score"
    return views[: len(lowest)], views[len(lowest):]


@app.command()
@friendly
def report(
    pred_json: Annotated[Path, typer.Argument(help="Predictions from 'aigvqa predict' (errors file beside it).")],
    out_path: Annotated[Path, typer.Option("--out", help="HTML file to write.")],
    labels: Annotated[Optional[Path], typer.Option(help="Labels JSON: scatter, metrics, per-group accuracy.")] = None,
    data: Annotated[Optional[Path], typer.Option(help="The items JSON that was predicted (prompts, fields).")] = None,
    videos: VideosOpt = None,
    model_dir: Annotated[
        Optional[str],
        typer.Option("--model", help="The model that made the predictions (a bundled name or a directory): "
                     "the clips' costliest artifacts (with --videos)."),
    ] = None,
    by: Annotated[Optional[str], typer.Option(help="Group by this field of --data or --labels (generator…).")] = None,
    clips: Annotated[int, typer.Option(help="How many lowest- and highest-scored clips to show (with --videos).")] = 5,
    target: Annotated[str, typer.Option(help="Label field.")] = "gt_score",
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for the metrics' intervals.")] = 1000,
    seed: int = 0,
    workers: WorkersOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Write a self-contained HTML report: score distribution, failures, accuracy, groups, clips."""
    from aigvqa.report import ReportOptions, build_report

    start = time.perf_counter()
    if n_boot < 1 or clips < 0:
        raise CLIError("--n-boot must be at least 1 and --clips 0 or more")
    if model_dir is not None and videos is None:
        raise CLIError("--model explains the clips shown with --videos: pass --videos DIR too")
    if videos is not None and not videos.is_dir():
        raise CLIError(f"--videos {videos}: not a directory")
    items, notes = _joined_items(pred_json, data, labels, by, target)
    for note in notes:
        err.print(f"[yellow]note:[/] {escape(note)}")
    lowest, highest = _report_clips(items, videos, model_dir, clips, workers, no_cache) if videos else ([], [])
    sources = {"predictions": str(pred_json), "data": data, "labels": labels, "videos": videos, "model": model_dir}
    opts = ReportOptions(
        title=f"aigvqa report: {pred_json.name}", sources={k: str(v) for k, v in sources.items() if v is not None},
        by=by, target=target, n_boot=n_boot, seed=seed, notes=notes,
    )  # fmt: skip
    text = build_report(items, opts, lowest, highest)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out_path)
    n_failed = sum(it.error is not None for it in items)
    out.print(
        f"report written to {out_path} ({len(items)} predictions, failed videos: {n_failed}, "
        f"clips: {len(lowest) + len(highest)}; {len(text) / 1e3:.0f} kB, {time.perf_counter() - start:.1f} s)"
    )


@app.command()
@friendly
def rank(
    pred_json: Annotated[Path, typer.Argument(help="Predictions: JSON list of {video, predict_score}.")],
    data: Annotated[Path, typer.Option(help="Items JSON holding the prompt and the --by field of each video.")],
    by: Annotated[str, typer.Option(help="Field to group by (e.g. generator, checkpoint, category).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,  # ranking.DEFAULT_N_BOOT
    seed: int = 0,
    skip_failed: Annotated[
        bool, typer.Option("--skip-failed", help="Leave out items whose video failed (fallback scores).")
    ] = False,
) -> None:
    """Rank groups by mean predicted score, with bootstrap 95% intervals and P(beats the next group)."""
    from aigvqa.ranking import rank_groups

    if n_boot < 1:
        raise CLIError(f"--n-boot must be at least 1, got {n_boot}")
    items, notes = _joined_items(pred_json, data, None, by, "gt_score")
    failed = sum(it.error is not None for it in items)
    if skip_failed:
        items = [it for it in items if it.error is None]
        if not items:
            raise CLIError(f"{pred_json}: every video failed; nothing to rank")
    elif failed:
        notes.append(f"items with a fallback score (their video failed): {failed}; --skip-failed leaves them out")
    for note in notes:
        err.print(f"[yellow]note:[/] {escape(note)}")
    ranking = rank_groups([it.score for it in items], [it.group for it in items], [it.prompt for it in items],
                          n_boot=n_boot, seed=seed)  # fmt: skip
    if as_json:
        payload = {"by": by, "n": len(items), "n_boot": n_boot, "seed": seed}
        payload["failed_included"] = 0 if skip_failed else failed
        print(json.dumps({**payload, "groups": [g.to_dict() for g in ranking]}))
        return
    t = Table(title=f"{len(items)} predictions by {by} (bootstrap, {n_boot} resamples)", show_edge=False)
    for col in ("rank", by, "n", "mean", "95% interval", "P(beats next)", "comparison"):
        t.add_column(col, justify="left" if col in (by, "comparison") else "right")
    for g in ranking:
        how = "" if g.paired is None else f"{'paired' if g.paired else 'unpaired'}, {g.shared_prompts} shared prompts"
        p = "" if g.p_beats_next is None else f"{g.p_beats_next:.3f}"
        t.add_row(str(g.rank), escape(g.group), str(g.n), f"{g.mean:.4f}", f"[{g.ci_low:.3f}, {g.ci_high:.3f}]", p, how)
    out.print(t)


@app.command()
@friendly
def demo(
    workdir: Annotated[Optional[Path], typer.Option(help="Where to write the clips [default: a temp dir].")] = None,
    clips: Annotated[int, typer.Option(help="Number of synthetic clips.")] = 150,
    workers: WorkersOpt = None,
) -> None:
    """Generate synthetic clips with graded artifacts, train, predict and evaluate."""
    import tempfile

    from aigvqa.cache import FeatureCache
    from aigvqa.data import Item
    from aigvqa.metrics import evaluate as metrics
    from aigvqa.model import QualityModel
    from aigvqa.pipeline import RunOptions
    from aigvqa.pipeline import predict as predict_items
    from aigvqa.pipeline import train as train_model
    from aigvqa.synthetic import make_dataset

    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="aigvqa-demo-"))
    start = time.perf_counter()
    out.print(f"1/4 generating {clips} synthetic clips with graded artifacts in {root}")
    raw = make_dataset(root, n_clips=clips, seed=0)
    items = [Item(r["video"], r["prompt"], {k: v for k, v in r.items() if k not in ("video", "prompt")}) for r in raw]
    n_train = int(len(items) * 2 / 3)
    train_items, test_items = items[:n_train], items[n_train:]
    run = RunOptions(
        videos_dir=root / "videos",
        cache=FeatureCache(root / "cache"),
        workers=workers or os.cpu_count() or 1,
        progress=sys.stderr.isatty(),
    )
    model = QualityModel(features="classic,lexical")
    out.print(f"2/4 training on {len(train_items)} clips (features: {model.features}; regressor: {model.regressor})")
    model, _ = train_model(model, train_items, run)
    model.save(root / "model")
    out.print(f"3/4 predicting {len(test_items)} held-out clips")
    scores, _ = predict_items(model, test_items, run)
    y = np.array([it.meta["gt_score"] for it in test_items])
    result = _metric_dict(metrics(scores, y))
    out.print("4/4 evaluation on held-out clips:")
    _print_metrics(result)
    out.print("most important features: " + ", ".join(n for n, _ in model.top_features(5)))
    out.print(f"done in {time.perf_counter() - start:.1f} s; model in {root / 'model'}")


@app.command()
@friendly
def cache(
    clean: Annotated[
        bool, typer.Option("--clean", help="Delete temporary files left by runs killed mid-write (older than 1 h).")
    ] = False,
) -> None:
    """Show where the feature cache is, what it holds per extractor, and leftover temporaries."""
    from aigvqa.cache import FeatureCache

    store = FeatureCache()
    usage = store.usage()
    out.print(f"feature cache: {store.root}" + ("" if store.root.is_dir() else " (empty, not created yet)"))
    t = Table(show_edge=False)
    for col in ("extractor", "entries", "MB"):
        t.add_column(col, justify="left" if col == "extractor" else "right")
    for name, count in usage.entries.items():
        t.add_row(name, str(count), f"{usage.bytes[name] / 1e6:.1f}")
    if usage.entries:
        out.print(t)
    stale = len(usage.stale_temporaries)
    if clean:
        out.print(f"removed {store.remove_stale_temporaries(usage)} leftover temporary files")
    elif stale:
        out.print(f"{stale} leftover temporary files from interrupted runs; 'aigvqa cache --clean' removes them")


@app.command("list")
def list_components() -> None:
    """List bundled models, feature groups, feature extractors and regressors."""
    from aigvqa.features import FEATURE_GROUPS, list_extractors
    from aigvqa.regressors import list_regressors
    from aigvqa.zoo import list_bundled

    for card in list_bundled():
        out.print(f"[bold]bundled model '{card['name']}'[/]: {card['summary']}", highlight=False)
        for key in ("data", "licence", "recipe", "requires"):
            if card.get(key):
                out.print(f"  {key}: {card[key]}", highlight=False)
        for line in card.get("accuracy_lines", []):
            out.print(f"  accuracy: {line}", highlight=False)
        for line in card.get("sensitivity_lines", []):
            out.print(f"  artifacts: {line}", highlight=False)
        for line in card.get("limits", []):
            out.print(f"  limit: {line}", highlight=False)

    t = Table(title="feature extractors", show_edge=False)
    for col in ("name", "version", "input", "measures"):
        t.add_column(col)
    for e in list_extractors():
        t.add_row(e["name"], e["version"], "video" if e["needs_video"] else "prompt", e["measures"])
    out.print(t)
    for e in list_extractors():
        if e["pretrained"]:
            out.print(f"pretrained weights of {e['name']}: {e['pretrained']}", highlight=False)
    out.print("feature groups: " + "; ".join(f"{g} = {','.join(v)}" for g, v in FEATURE_GROUPS.items()))
    out.print("regressors: " + ", ".join(list_regressors()))


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
) -> None:
    if version:
        print(f"aigvqa {__version__}")
        raise typer.Exit()


def main() -> None:
    app()
