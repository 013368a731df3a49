"""Bundled, named models that ship inside the package and load offline.

Each model is a folder here: a model directory as ``aigvqa train`` writes it, plus
``card.json``, its model card (training data, licence, recipe, measured accuracy and
artifact sensitivity, limits). ``--model NAME`` takes a bundled model's name or a model
directory; :func:`resolve_model` decides which.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ZOO_DIR = Path(__file__).resolve().parent
CARD_FILE = "card.json"
DEFAULT_MODEL = "default"


def bundled_names() -> list[str]:
    """Names of the bundled models, sorted."""
    return sorted(p.name for p in ZOO_DIR.iterdir() if (p / CARD_FILE).is_file() and (p / "model.json").is_file())


def model_card(name: str) -> dict[str, Any]:
    """The model card of a bundled model."""
    return json.loads((ZOO_DIR / name / CARD_FILE).read_text(encoding="utf-8"))


def list_bundled() -> list[dict[str, Any]]:
    """Every bundled model's card, with its ``name``."""
    return [{"name": n, **model_card(n)} for n in bundled_names()]


def resolve_model(spec: str | Path) -> Path:
    """The model directory ``spec`` names: an existing directory, else a bundled model's name."""
    path = Path(spec)
    if path.is_dir():
        return path
    names = bundled_names()
    if str(spec) in names:
        return ZOO_DIR / str(spec)
    raise FileNotFoundError(
        f"--model {spec}: neither a model directory nor a bundled model "
        f"(bundled: {', '.join(names) or 'none'}; train one with 'aigvqa train')"
    )


def is_bundled(directory: str | Path) -> bool:
    """Whether ``directory`` is one of the bundled models."""
    return Path(directory).resolve().parent == ZOO_DIR
