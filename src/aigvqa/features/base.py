"""The feature-extractor interface every extractor implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from aigvqa.video import Clip


class FeatureExtractor(ABC):
    """Turns one item (its decoded clip and/or its prompt) into named numbers.

    Subclasses set ``name`` (the registry key), ``version`` (bump it whenever the output
    changes: it is part of the cache key), ``needs_video`` and a one-line ``measures``
    saying which quality aspect or artifact the features capture. Constructor keyword
    arguments are the extractor's settings; :meth:`config` returns them for the cache key.
    ``extract`` must be deterministic and always return the same keys in the same order.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    needs_video: ClassVar[bool] = True
    # a video extractor whose output also depends on the prompt (e.g. prompt–frame alignment):
    # it receives the item's prompt and its cache entries are keyed by video *and* prompt
    needs_prompt: ClassVar[bool] = False
    measures: ClassVar[str] = ""
    pretrained: ClassVar[str] = ""  # the pretrained model a fixed-weight extractor uses, if any
    # what each feature is evidence of, for explanations ("blur", "flicker", …): the first
    # (key substring, artifact) pair whose substring occurs in a feature key names it; a key
    # that matches none is labelled with the extractor's name
    artifacts: ClassVar[tuple[tuple[str, str], ...]] = ()
    # may run in a thread beside the clip's other extractors (it only reads the clip and
    # releases the GIL in its heavy work, as OpenCV and NumPy do); the output never changes
    concurrent: ClassVar[bool] = False

    @classmethod
    def artifact_of(cls, key: str) -> str:
        """The artifact or quality aspect one of this extractor's feature keys measures."""
        for part, artifact in cls.artifacts:
            if part in key:
                return artifact
        return cls.name

    def config(self) -> dict[str, Any]:
        """Settings that change the output (part of the cache key)."""
        return {}

    @abstractmethod
    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        """Features of one item. ``clip`` is None for extractors with ``needs_video = False``."""
