"""Looking at predictions: ``report`` (a self-contained HTML page) and ``rank`` (groups with intervals)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from aigvqa.cli.common import JsonOpt, NoCacheOpt, VideosOpt, WorkersOpt, app, friendly, out, print_notes


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
    from aigvqa.predictions import write_report

    start = time.perf_counter()
    done = write_report(
        pred_json, out_path, labels=labels, data=data, videos=videos, model=model_dir, by=by, clips=clips,
        target=target, n_boot=n_boot, seed=seed, workers=workers, cache=not no_cache,
    )  # fmt: skip
    print_notes(done.notes)
    out.print(
        f"report written to {out_path} ({done.n} predictions, failed videos: {done.failed}, "
        f"clips: {done.clips}; {done.bytes / 1e3:.0f} kB, {time.perf_counter() - start:.1f} s)"
    )


@app.command()
@friendly
def rank(
    pred_json: Annotated[Path, typer.Argument(help="Predictions: JSON list of {video, predict_score}.")],
    data: Annotated[Path, typer.Option(help="Items JSON holding the prompt and the --by field of each video.")],
    by: Annotated[str, typer.Option(help="Field to group by (e.g. generator, checkpoint, category).")],
    as_json: JsonOpt = False,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,  # ranking.DEFAULT_N_BOOT
    seed: int = 0,
    skip_failed: Annotated[
        bool, typer.Option("--skip-failed", help="Leave out items whose video failed (fallback scores).")
    ] = False,
) -> None:
    """Rank groups by mean predicted score, with bootstrap 95% intervals and P(beats the next group)."""
    from aigvqa.predictions import rank_predictions

    result = rank_predictions(pred_json, data, by, n_boot=n_boot, seed=seed, skip_failed=skip_failed)
    print_notes(result.notes)
    if as_json:
        print(json.dumps(result.to_dict(n_boot, seed)))
        return
    t = Table(title=f"{result.n} predictions by {by} (bootstrap, {n_boot} resamples)", show_edge=False)
    for col in ("rank", by, "n", "mean", "95% interval", "P(beats next)", "comparison"):
        t.add_column(col, justify="left" if col in (by, "comparison") else "right")
    for g in result.groups:
        how = "" if g.paired is None else f"{'paired' if g.paired else 'unpaired'}, {g.shared_prompts} shared prompts"
        p = "" if g.p_beats_next is None else f"{g.p_beats_next:.3f}"
        t.add_row(str(g.rank), escape(g.group), str(g.n), f"{g.mean:.4f}", f"[{g.ci_low:.3f}, {g.ci_high:.3f}]", p, how)
    out.print(t)
