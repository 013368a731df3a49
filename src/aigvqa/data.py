"""Reading and validating challenge JSON files.

Train items are ``{"video", "prompt", "gt_score"}``; val/test items ``{"video", "prompt"}``.
Unknown fields are kept as metadata. Every error names the file, the item and the field.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class DataError(Exception):
    """Invalid input data; the message names the file, item index and field."""


@dataclass(frozen=True)
class Item:
    """One challenge item: a video file name, its prompt and any other fields."""

    video: str
    prompt: str
    meta: dict[str, Any] = field(default_factory=dict)

    def target(self, name: str) -> float | None:
        value = self.meta.get(name)
        return None if value is None else float(value)


def _where(path: Path, index: int | None = None, item: Any = None) -> str:
    where = str(path)
    if index is not None:
        where += f", item {index}"
        if isinstance(item, dict) and isinstance(item.get("video"), str):
            where += f" ({item['video']})"
    return where


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_items(path: str | os.PathLike, target: str | None = None, require_target: bool = False) -> list[Item]:
    """Load and validate a challenge JSON list.

    With ``target`` set, that field must be a finite number in every item when
    ``require_target`` is true (training) and, where present, in any case.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read file ({exc})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(raw, list):
        raise DataError(f"{path}: expected a JSON list of items, got a JSON {type(raw).__name__}")
    if not raw:
        raise DataError(f"{path}: the list of items is empty")
    items: list[Item] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw):
        where = _where(path, i, entry)
        if not isinstance(entry, dict):
            raise DataError(f"{where}: expected an object, got {type(entry).__name__}")
        for key in ("video", "prompt"):
            if key not in entry:
                raise DataError(f"{where}: missing field '{key}'")
            if not isinstance(entry[key], str):
                raise DataError(f"{where}: field '{key}' must be a string, got {type(entry[key]).__name__}")
        video = entry["video"]
        if not video.strip():
            raise DataError(f"{where}: field 'video' is empty")
        if video in seen:
            raise DataError(f"{where}: duplicate video name {video!r} (first at item {seen[video]})")
        seen[video] = i
        if target is not None:
            if target not in entry:
                if require_target:
                    raise DataError(f"{where}: missing field '{target}' (the training target)")
            else:
                value = entry[target]
                if not _numeric(value):
                    raise DataError(f"{where}: field '{target}' must be a number, got {value!r}")
                if not math.isfinite(value):
                    raise DataError(f"{where}: field '{target}' must be finite, got {value!r}")
        meta = {k: v for k, v in entry.items() if k not in ("video", "prompt")}
        items.append(Item(video=video, prompt=entry["prompt"], meta=meta))
    return items


def targets(items: list[Item], name: str) -> list[float]:
    """The values of field ``name`` for items that have it, as floats."""
    return [float(it.meta[name]) for it in items]
