"""mkdocs hook: the bundled models' cards, rendered from ``src/aigvqa/zoo/*/card.json`` at build time.

A page holding the marker ``<!-- cards -->`` gets one section per bundled model. Known keys come
first in a fixed order with their own headings; every other key is rendered generically (text,
lists and nested objects), so a key added to a card appears without a change here. A structured
key with a ``<key>_lines`` twin (``accuracy`` and ``accuracy_lines``) is shown by its lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MARKER = "<!-- cards -->"
ZOO = Path("src") / "aigvqa" / "zoo"
CARD_FILE = "card.json"
# known keys: their order and headings; anything else follows, titled from its key
TITLES = {
    "summary": "Summary",
    "requires": "Requires",
    "data": "Training data",
    "licence": "Licence",
    "recipe": "Recipe and rebuild",
    "augmentation": "Augmentation",
    "accuracy_lines": "Accuracy",
    "sensitivity_lines": "Artifact sensitivity",
    "limits": "Limits",
}


def _title(key: str) -> str:
    return TITLES.get(key) or key.removesuffix("_lines").replace("_", " ").capitalize()


def _render(value: Any, indent: int = 0) -> list[str]:
    """Markdown lines for one card value: text as a paragraph, lists and objects as nested bullets."""
    pad = "    " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, dict | list):
                lines.append(f"{pad}- **{key}**:")
                lines.extend(_render(item, indent + 1))
            else:
                lines.append(f"{pad}- **{key}**: {_scalar(item)}")
        return lines
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict | list):
                lines.append(f"{pad}-")
                lines.extend(_render(item, indent + 1))
            else:
                lines.append(f"{pad}- {_scalar(item)}")
        return lines
    return [pad + _scalar(value)]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def render_card(name: str, card: dict[str, Any]) -> str:
    """One bundled model's card as a Markdown section."""
    shown = [k for k in TITLES if k in card]
    shown += [k for k in card if k not in TITLES and k != "name" and f"{k}_lines" not in card]
    lines = [f"### `{name}`", ""]
    for key in shown:
        lines += [f"**{_title(key)}**", ""]
        lines += _render(card[key]) + [""]
    return "\n".join(lines)


def render_cards(root: Path) -> str:
    """Every bundled model's card under ``root`` (the repository), sorted by name."""
    sections = []
    for path in sorted((root / ZOO).glob(f"*/{CARD_FILE}")):
        if (path.parent / "model.json").is_file():
            sections.append(render_card(path.parent.name, json.loads(path.read_text(encoding="utf-8"))))
    if not sections:
        raise RuntimeError(f"no bundled model cards under {root / ZOO}")
    return "\n".join(sections)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    root = Path(config["config_file_path"]).resolve().parent
    return markdown.replace(MARKER, render_cards(root))
