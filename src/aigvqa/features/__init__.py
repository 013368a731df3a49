"""Feature extractors (registered on import) and feature groups.

Importing this package registers every built-in extractor. None of them imports torch at
import time: the MiniLM extractor loads sentence-transformers only when first used.
"""

from __future__ import annotations

# importing a module registers its extractors; none of them imports torch at import time
from aigvqa.features import (  # noqa: F401
    bitstream,
    codec,
    coherence,
    colour,
    deep,
    detail,
    frames,
    grain,
    metadata,
    morph,
    pacing,
    pretrained,
    prompt,
    spatial,
    temporal,
)
from aigvqa.features.base import FeatureExtractor
from aigvqa.registry import EXTRACTORS

FEATURE_GROUPS: dict[str, list[str]] = {
    "video": ["spatial", "temporal"],  # what the pixels show, whatever the file's size or format
    "classic": ["spatial", "temporal", "metadata"],
    "prompt": ["lexical", "minilm"],
    "lexical": ["lexical"],
    "deep": ["clip", "timm"],  # pretrained backbones (aigvqa[deep]; GPU recommended)
}
# the default runs on the light install (no PyTorch) and leaves out the file's size, frame rate
# and duration ('metadata'), which a model would otherwise learn as shortcuts
DEFAULT_FEATURES = "video,lexical"


def resolve_features(spec: str) -> list[str]:
    """Turn ``"classic,prompt"``-style specs (group and/or extractor names, comma-separated)
    into an ordered, de-duplicated list of extractor names."""
    names: list[str] = []
    parts = [p.strip() for p in (spec or "").split(",") if p.strip()]
    if not parts:
        raise ValueError("empty feature spec; " + _known())
    for part in parts:
        if part in FEATURE_GROUPS:
            members = FEATURE_GROUPS[part]
        elif part in EXTRACTORS:
            members = [part]
        else:
            raise ValueError(f"unknown feature group or extractor {part!r}; " + _known())
        for m in members:
            if m not in names:
                names.append(m)
    return names


def _known() -> str:
    return (
        f"known groups: {', '.join(sorted(FEATURE_GROUPS))}; "
        f"known extractors: {', '.join(EXTRACTORS.names())}"
    )


def list_extractors() -> list[dict]:
    """Name, version, whether it needs the video, and what it measures, for every extractor."""
    rows = []
    for name in EXTRACTORS.names():
        cls = EXTRACTORS.get(name)
        rows.append(
            {
                "name": name,
                "version": getattr(cls, "version", "1"),
                "needs_video": bool(getattr(cls, "needs_video", True)),
                "measures": getattr(cls, "measures", ""),
                "pretrained": getattr(cls, "pretrained", ""),
            }
        )
    return rows


__all__ = [
    "DEFAULT_FEATURES",
    "FEATURE_GROUPS",
    "FeatureExtractor",
    "list_extractors",
    "resolve_features",
]
