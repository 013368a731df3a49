"""What every command shares: the typer app, its consoles, option types and error handling."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

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
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
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
ConfigOpt = Annotated[Optional[Path], typer.Option(help="JSON recipe of model settings.")]


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


def progress_shown(quiet: bool) -> bool:
    """A progress bar only on a terminal, and never with ``--quiet``."""
    return not quiet and sys.stderr.isatty()


def report_errors(videos: list[str], errors: dict[int, str], what: str, fallback: str | None = None) -> None:
    """List the videos that failed (at most 20) on stderr."""
    if not errors:
        return
    tail = f"; they get the {fallback} score" if fallback else ""
    err.print(f"[yellow]{len(errors)} of {len(videos)} videos could not be {what}{tail}:[/]")
    for i in sorted(errors)[:20]:
        err.print(f"  {videos[i]}: {errors[i]}", highlight=False, markup=False)
    if len(errors) > 20:
        err.print(f"  … and {len(errors) - 20} more")


def print_metrics(result: dict) -> None:
    """The metrics of :func:`aigvqa.evaluate` as a table, a row per group."""
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


def print_notes(notes: list[str]) -> None:
    for note in notes:
        err.print(f"[yellow]note:[/] {escape(note)}")
