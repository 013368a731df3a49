"""Container-level facts about the video: geometry, frame rate, length."""

from __future__ import annotations

import math

from aigvqa.features.base import FeatureExtractor
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip


@EXTRACTORS.register("metadata")
class MetadataFeatures(FeatureExtractor):
    """Resolution, aspect ratio, frame rate, duration and frame count (low resolution, short
    or low-frame-rate outputs are typical of weaker generators)."""

    name = "metadata"
    version = "1"
    measures = "resolution, aspect ratio, frame rate, duration, frame count"
    artifacts = (("", "format"),)

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        clip = self.decoded(clip)
        info = clip.info
        w, h = float(info.width), float(info.height)
        fps = float(info.fps) if info.fps and math.isfinite(info.fps) else 0.0
        dur = float(info.duration) if info.duration and math.isfinite(info.duration) else 0.0
        return {
            "meta_width": w,
            "meta_height": h,
            "meta_log_pixels": math.log(max(w * h, 1.0)),
            "meta_aspect": w / h if h > 0 else 1.0,
            "meta_fps": fps,
            "meta_duration": dur,
            "meta_n_frames": float(info.n_frames),
        }
