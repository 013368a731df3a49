"""Scoring files directly: ``score`` (score, reasons, artifact dimensions) and ``explain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from aigvqa.cli.common import ModelDirOpt, NoCacheOpt, PromptOpt, WorkersOpt, app, friendly, out


def _scorer(model_dir: str, workers, no_cache: bool):
    from aigvqa.api import load

    return load(model_dir, cache=not no_cache, workers=workers)


def _format_dims(dims: dict[str, float]) -> str:
    return " ".join(f"{name}={value:.2f}" for name, value in dims.items())


@app.command()
@friendly
def score(
    videos: Annotated[list[Path], typer.Argument(help="Video files to score.")],
    model_dir: ModelDirOpt = "default",
    prompt: PromptOpt = "",
    dims: Annotated[
        bool, typer.Option("--dims", help="Also print how much of each artifact each clip shows (0 none - 1 severe).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per video.")] = False,
    workers: WorkersOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Score video files directly: per video, the score and the two artifacts that cost it most."""
    from aigvqa.explain import format_reason_list

    scorer = _scorer(model_dir, workers, no_cache)
    if dims and not scorer.has_dimensions:
        raise ValueError(f"the model {model_dir} estimates no artifact dimensions (rebuild or retrain it to get them)")
    for v, r in zip(videos, scorer.score_many([str(v) for v in videos], [prompt] * len(videos)), strict=True):
        if as_json:
            record = r.to_dict()
            record["video"] = str(v)
            if not dims:
                record.pop("dims", None)
            print(json.dumps(record))
        elif r.error is not None:
            print(f"{v}\t{r.score:.2f}\t(fallback score: {r.error})")
        else:
            line = f"{v}\t{r.score:.2f}\t{format_reason_list(r.reasons)}".rstrip()
            print(f"{line}\t{_format_dims(r.dims)}" if dims and r.dims else line)


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
    from aigvqa.explain import format_reasons
    from aigvqa.registry import EXTRACTORS

    scorer = _scorer(model_dir, workers, no_cache)
    model = scorer.model
    lo, hi = model.target_range_
    explanations = scorer.explain_many([str(v) for v in videos], [prompt] * len(videos), top=top)
    for video, expl in zip(videos, explanations, strict=True):
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
        if expl.dims:
            out.print(f"  artifacts seen (0 none - 1 severe): {_format_dims(expl.dims)}", highlight=False)
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
