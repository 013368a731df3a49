"""The challenge workflow: ``validate``, ``train``, ``predict``, ``evaluate`` and ``cv``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from aigvqa.cli.common import (
    AddressOpt,
    BackboneOpt,
    ConfigOpt,
    DeviceOpt,
    ExecutorOpt,
    HeadOpt,
    JsonOpt,
    ModelDirOpt,
    NoCacheOpt,
    OfflineOpt,
    QuietOpt,
    RegressorOpt,
    VideosOpt,
    WeightsOpt,
    WorkersOpt,
    app,
    err,
    friendly,
    out,
    print_metrics,
    progress_shown,
    report_errors,
)


@app.command()
@friendly
def validate(
    data_json: Annotated[Path, typer.Argument(help="Challenge JSON file (train, val or test).")],
    videos: VideosOpt = None,
    target: Annotated[str, typer.Option(help="Numeric field checked when present.")] = "gt_score",
    workers: WorkersOpt = None,
) -> None:
    """Check a challenge JSON file and, with --videos, that every video exists and decodes."""
    from aigvqa.validation import validate as check

    report = check(data_json, videos=videos, target=target, workers=workers)
    n = len(report.items)
    out.print(f"{data_json}: {n} items, {report.n_prompts} unique prompts, {len(report.target_values)} with '{target}'")
    if (t := report.target_summary()) is not None:
        out.print(f"  {target}: min {t['min']:.3f}, median {t['median']:.3f}, max {t['max']:.3f}")
    if not report.checked_videos:
        out.print(f"  valid ({report.seconds:.2f} s)")
        return
    if report.infos:
        summary = report.video_summary()
        d = report.durations()
        out.print(f"  decodable: {len(report.infos)}; resolutions: "
                  + ", ".join(f"{k} ({c})" for k, c in summary["resolution"]))  # fmt: skip
        out.print(
            f"  duration s: min {d['min']:.2f}, median {d['median']:.2f}, max {d['max']:.2f}; fps: "
            + ", ".join(f"{k} ({c})" for k, c in summary["fps"])
        )
        out.print("  codecs: " + ", ".join(f"{k} ({c})" for k, c in summary["codec"]))
    if report.failures:
        report_errors([it.video for it in report.items], report.failures, "decoded")
        raise typer.Exit(1)
    out.print(f"  all {n} videos decode ({report.seconds:.1f} s)")


@app.command()
@friendly
def train(
    train_json: Annotated[Path, typer.Argument(help="Training JSON with video, prompt and the target.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    videos: VideosOpt = None,
    target: Annotated[str, typer.Option(help="Numeric item field to learn.")] = "gt_score",
    features: Annotated[Optional[str], typer.Option(help="Feature groups/extractors, e.g. 'classic,prompt'.")] = None,
    regressor: RegressorOpt = None,
    config: ConfigOpt = None,
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
    from aigvqa.api import train as train_model
    from aigvqa.deep_options import DeepOptions

    scorer = train_model(
        train_json, videos=videos, out=out_dir, config=config, features=features, regressor=regressor,
        target=target, seed=seed, workers=workers, executor=executor, address=address, cache=not no_cache,
        progress=progress_shown(quiet), deep=DeepOptions(backbone, weights, offline, device, head),
    )  # fmt: skip
    done, model = scorer.training, scorer.model
    report_errors(done.videos, done.errors, "read; they are left out of training")
    if strict and done.errors:
        raise typer.Exit(1)
    n_own = done.n_items - len(done.errors)
    copies = f" + {done.n_copies} augmented copies" if done.n_copies else ""
    out.print(
        f"trained on {n_own} of {done.n_items} items{copies}, {len(model.feature_names_)} features, "
        f"{model.regressor} regressor, target '{target}' ({done.seconds:.1f} s, "
        f"{done.seconds / done.n_items:.3f} s/item)"
    )
    if model.top_features(15):  # the neural head reports no importances
        table = Table(title="most important features", show_edge=False)
        table.add_column("feature")
        table.add_column("importance", justify="right")
        for name, value in model.top_features(15):
            table.add_row(name, f"{value:.3f}")
        out.print(table)
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
    from aigvqa.api import predict as predict_items
    from aigvqa.submission import errors_path

    preds = predict_items(
        input_json, videos=videos, model=model_dir, out=out_path, zip=zip_path, workers=workers, executor=executor,
        address=address, cache=not no_cache, progress=progress_shown(quiet), device=device, offline=offline,
    )  # fmt: skip
    if preds.errors:
        report_errors(preds.videos, preds.errors, "read", fallback=preds.fallback)
        err.print(f"errors listed in {errors_path(out_path)}")
    n = len(preds.items)
    out.print(f"{n} predictions written to {out_path} ({preds.seconds / max(n, 1):.3f} s/video)")
    if zip_path:
        out.print(f"submission written to {zip_path}")
    if strict and preds.errors:
        raise typer.Exit(1)


@app.command()
@friendly
def evaluate(
    pred_json: Annotated[Path, typer.Argument(help="Predictions: JSON list of {video, predict_score}.")],
    labels_json: Annotated[Path, typer.Argument(help="Labels: JSON list of {video, prompt, gt_score}.")],
    as_json: JsonOpt = False,
    by: Annotated[Optional[str], typer.Option(help="Also report per value of this label field.")] = None,
    target: str = "gt_score",
) -> None:
    """Compare predictions with labels: PLCC, SROCC, KRCC, RMSE, Score (+ bootstrap 95% CI)."""
    from aigvqa.api import evaluate as metrics

    result = metrics(pred_json, labels_json, by=by, target=target)
    unlabelled = result.pop("unlabelled")
    if unlabelled:
        err.print(f"[yellow]note:[/] {unlabelled} predictions have no label and are ignored")
    if as_json:
        print(json.dumps(result))
        return
    print_metrics(result)


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
    config: ConfigOpt = None,
    seed: int = 0,
    oof: Annotated[Optional[Path], typer.Option(help="Write out-of-fold predictions (first repeat) here.")] = None,
    as_json: JsonOpt = False,
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
    from aigvqa.api import cross_validate
    from aigvqa.deep_options import DeepOptions

    result = cross_validate(
        data_json, videos=videos, folds=folds, repeats=repeats, group_by=group_by, config=config, features=features,
        regressor=regressor, target=target, seed=seed, oof=oof, workers=workers, executor=executor, address=address,
        cache=not no_cache, progress=progress_shown(quiet), deep=DeepOptions(backbone, weights, offline, device, head),
    )  # fmt: skip
    used = result.pop("features")
    if as_json:
        print(json.dumps(result))
        return
    t = Table(title=f"{repeats}× {folds}-fold CV on {result['n']} items ({used})", show_edge=False)
    for col in ("metric", "median", "min", "max", "std"):
        t.add_column(col, justify="right")
    for key in ("plcc", "srocc", "score"):
        s = result[key]
        t.add_row(key.upper() if key != "score" else "Score", *(f"{s[k]:.4f}" for k in ("median", "min", "max", "std")))
    out.print(t)

