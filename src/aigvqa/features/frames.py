"""The ``frames`` extractor: names each video's file for the fine-tuning regressor.

It decodes nothing; its one column, ``frames.present``, is always 1. Its per-row arrays ``frames.path`` (the file)
and ``frames.digest`` (its content digest) tell the ``finetune`` regressor which video each
row is; that regressor decodes the frames itself, in its data-loader worker processes, and
keeps them in a memory-mapped frame cache keyed by the digest (:mod:`aigvqa.finetune.frames`).
Never cached itself: the path belongs to this run.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from aigvqa.features.base import FeatureExtractor
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip


@EXTRACTORS.register("frames")
class FrameFiles(FeatureExtractor):
    """The video file and its content digest, for regressors that decode frames themselves."""

    name = "frames"
    version = "1"
    reads_file: ClassVar[bool] = True
    measures = "nothing by itself: the video file for the fine-tuning regressor ('finetune'), which learns from pixels"

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, Any]:
        raise ValueError("the 'frames' extractor reads the file itself (extract_file), not a decoded clip")

    def extract_file(self, path: str, digest: str) -> dict[str, Any]:
        # one constant column, so a stack block of "frames" has a column to own
        return {"present": 1.0, "__arrays__": {"path": np.array(str(path)), "digest": np.array(str(digest))}}
