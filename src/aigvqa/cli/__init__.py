"""The ``aigvqa`` command line: a thin layer over the Python API (:mod:`aigvqa.api`).

One module per command group: :mod:`~aigvqa.cli.challenge` (validate, train, predict, evaluate,
cv), :mod:`~aigvqa.cli.scoring` (score, explain), :mod:`~aigvqa.cli.reports` (report, rank) and
:mod:`~aigvqa.cli.tools` (demo, cache, list). Each parses its options, calls the API and prints.
"""

from __future__ import annotations

from typing import Annotated

import typer

from aigvqa import __version__
from aigvqa.cli import challenge, reports, scoring, tools  # noqa: F401  (register the commands)
from aigvqa.cli.common import app


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
) -> None:
    if version:
        print(f"aigvqa {__version__}")
        raise typer.Exit()


def main() -> None:
    """The ``aigvqa`` console script."""
    app()


__all__ = ["app", "main"]
