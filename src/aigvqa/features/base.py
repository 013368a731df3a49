"""The feature-extractor interface every extractor implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

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
    # decodes nothing here: gets the file (``extract_file``) instead of a decoded clip, so a later
    # stage can read it itself (the fine-tuning regressor decodes in its data-loader workers);
    # its output is never cached (it names this run's file)
    reads_file: ClassVar[bool] = False
    # reads :attr:`aigvqa.video.Clip.native_next` (each spatial sample's neighbour at full size),
    # which the reader keeps only when an extractor of the clip asks for it
    native_pairs: ClassVar[bool] = False

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

    def decoded(self, clip: Clip | None) -> Clip:
        """``clip`` itself, or a clear error when a video extractor is given none."""
        if clip is None:
            raise ValueError(f"the '{self.name}' extractor needs a decoded clip")
        return clip

    def extract_file(self, path: str, digest: str) -> dict[str, Any]:
        """Output of a ``reads_file`` extractor for the video at ``path`` (content ``digest``)."""
        raise NotImplementedError(f"the '{self.name}' extractor does not read files itself")


class FrameExtractor(FeatureExtractor):
    """An extractor that measures each spatial sample (``clip.frames``) on its own and pools
    the measures. The reader can hand it each frame as soon as the frame is decoded
    (:func:`aigvqa.video.read_clip`'s ``on_frame``), so measuring overlaps decoding; the
    features are those of :meth:`extract` on the finished clip."""

    def frames_used(self, count: int) -> np.ndarray:
        """Positions in ``clip.frames`` (of ``count``) that are measured (default: all)."""
        return np.arange(count)

    @abstractmethod
    def measure_frame(self, frame: np.ndarray, width: int) -> dict[str, float]:
        """Measures of one (h, w, 3) uint8 RGB sample of a video ``width`` pixels wide."""

    @abstractmethod
    def pool(self, measures: list[dict[str, float]]) -> dict[str, float]:
        """Features of a clip from the measures of its frames (in frame order)."""

    def extract(
        self, clip: Clip | None, prompt: str, measured: Mapping[int, dict[str, float] | Exception] | None = None
    ) -> dict[str, float]:
        """Features of a clip. ``measured`` holds the measures (or the exception raised) of
        frames already measured while decoding, keyed by frame number (``clip.frame_numbers``);
        the other frames are measured now."""
        clip = self.decoded(clip)
        if len(clip.frames) == 0:
            raise ValueError(f"the '{self.name}' extractor needs at least one frame")
        width = clip.info.width or clip.frames.shape[2]
        measures = []
        for i in self.frames_used(len(clip.frames)):
            known = measured.get(clip.frame_numbers[i]) if measured and clip.frame_numbers else None
            if isinstance(known, Exception):
                raise known
            if known is None:
                known = self.measure_frame(np.ascontiguousarray(clip.frames[i]), width)
            measures.append(known)
        return self.pool(measures)
