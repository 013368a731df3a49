"""Utilities: ``demo`` (train and evaluate on synthetic clips), ``cache`` and ``list``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from aigvqa.cli.common import WorkersOpt, app, friendly, out, print_metrics, progress_shown


@app.command()
@friendly
def demo(
    workdir: Annotated[Optional[Path], typer.Option(help="Where to write the clips [default: a temp dir].")] = None,
    clips: Annotated[int, typer.Option(help="Number of synthetic clips.")] = 150,
    workers: WorkersOpt = None,
) -> None:
    """Generate synthetic clips with graded artifacts, train, predict and evaluate."""
    import time

    from aigvqa.demo import run_demo

    start = time.perf_counter()
    result = run_demo(workdir, clips=clips, workers=workers, progress=progress_shown(False), say=out.print)
    out.print("4/4 evaluation on held-out clips:")
    print_metrics(result.metrics)
    out.print("most important features: " + ", ".join(result.top_features))
    out.print(f"done in {time.perf_counter() - start:.1f} s; model in {result.root / 'model'}")


@app.command()
@friendly
def cache(
    clean: Annotated[
        bool,
        typer.Option("--clean", help="Delete temporary files left by runs killed mid-write (older than 1 h) "
                     "and degraded copies an older aigvqa made."),
    ] = False,
) -> None:
    """Show where the feature cache is, what it holds per extractor, its degraded copies, and
    what can be cleaned."""
    from aigvqa.augment import AUGMENT_FOLDER, copy_folder_prefix
    from aigvqa.cache import FeatureCache
    from aigvqa.families import FAMILY_FOLDER, family_folder_prefix
    from aigvqa.sensitivity import SENSITIVITY_FOLDER

    store = FeatureCache()
    current = {AUGMENT_FOLDER: copy_folder_prefix(), FAMILY_FOLDER: family_folder_prefix(),
               SENSITIVITY_FOLDER: copy_folder_prefix()}  # fmt: skip
    usage = store.usage(copies=current)
    out.print(f"feature cache: {store.root}" + ("" if store.root.is_dir() else " (empty, not created yet)"))
    t = Table(show_edge=False)
    for col in ("extractor", "entries", "MB"):
        t.add_column(col, justify="left" if col == "extractor" else "right")
    for name, count in usage.entries.items():
        t.add_row(name, str(count), f"{usage.bytes[name] / 1e6:.1f}")
    if usage.entries:
        out.print(t)
    for kind, size in usage.copy_bytes.items():
        out.print(f"degraded copies ({kind}): {size / 1e6:.1f} MB")
    stale = len(usage.stale_temporaries)
    outdated = len(usage.outdated_copies)
    if clean:
        out.print(f"removed {store.remove_stale_temporaries(usage)} leftover temporary files")
        out.print(f"removed {store.remove_outdated_copies(usage)} folders of outdated copies")
    else:
        if stale:
            out.print(f"{stale} leftover temporary files from interrupted runs; 'aigvqa cache --clean' removes them")
        if outdated:
            out.print(f"{outdated} folders of copies an older aigvqa made (never read again); "
                      "'aigvqa cache --clean' removes them")


@app.command("list")
def list_components() -> None:
    """List bundled models, feature groups, feature extractors and regressors."""
    from aigvqa.api import list_models
    from aigvqa.features import FEATURE_GROUPS, list_extractors
    from aigvqa.regressors import list_regressors

    for card in list_models():
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
