"""Temporal grain: how much the picture changes, pixel to pixel, where it does not move.

Noise is drawn anew for every frame; texture stays where it is. So in the parts of a frame that
do not move (where the change from the previous frame, smoothed over a few pixels, is under a
grey level), what changes from frame to frame at the finest scale is grain, not detail. A
spatial measure of fine-scale energy cannot tell noise from texture (both raise it; on FETV the
better generators made busier texture); this one reads a clean clip's texture, sharp or soft, as
the same small value, rises with noise at every strength, and is moved neither by blur nor by a
change of size. Flicker, shake and warping raise it too (they make still parts change); a
re-encode at a low bitrate lowers it (compression smooths grain away).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from aigvqa.features.base import FeatureExtractor
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip

_MAD_TO_SIGMA = 1.4826  # a median absolute deviation times this is a Gaussian's sigma


class StillPixelExtractor(FeatureExtractor):
    """An extractor that reads the pixels where the picture does not move between two frames:
    those whose frame-to-frame change, blurred with sigma 2, is under ``still`` grey levels; a
    pair of frames counts when at least ``min_still`` of its pixels are still."""

    def __init__(self, still: float = 1.0, min_still: float = 0.05):
        if not float(still) > 0:
            raise ValueError(f"{self.name}: still must be a positive number of grey levels, got {still!r}")
        if not 0.0 <= float(min_still) < 1.0:
            raise ValueError(f"{self.name}: min_still must be in [0, 1), got {min_still!r}")
        self.still = float(still)
        self.min_still = float(min_still)

    def config(self) -> dict[str, Any]:
        return {"still": self.still, "min_still": self.min_still}

    def still_mask(self, change: np.ndarray) -> np.ndarray:
        """The still pixels of a float32 frame-to-frame ``change``."""
        return np.abs(cv2.GaussianBlur(change, (0, 0), 2.0)) < self.still


@EXTRACTORS.register("grain")
class TemporalGrain(StillPixelExtractor):
    """Temporal grain on consecutive motion frames: per pair, the robust spread (1.4826 x the
    median absolute value) of the frame difference's fine-scale part (minus its Gaussian blur of
    sigma 1) over the still pixels (the difference blurred with sigma 2 under ``still`` grey
    levels); pooled as the median and 90th percentile over the pairs with at least
    ``min_still`` of their pixels still, and the mean share of still pixels."""

    name = "grain"
    version = "1"
    concurrent = True
    measures = "temporal grain: fine-scale frame-to-frame change where the picture is still (noise, not texture)"
    artifacts = (("", "noise"),)

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        clip = self.decoded(clip)
        grays = clip.grey_motion().astype(np.float32)
        grain, shares = [], []
        for i in range(len(grays) - 1):
            change = grays[i + 1] - grays[i]
            still = self.still_mask(change)
            share = float(still.mean())
            shares.append(share)
            if share < self.min_still:
                continue
            fine = change - cv2.GaussianBlur(change, (0, 0), 1.0)
            grain.append(_MAD_TO_SIGMA * float(np.median(np.abs(fine[still]))))
        values = np.asarray(grain, dtype=np.float64)
        return {
            "gr_grain_median": float(np.median(values)) if values.size else 0.0,
            "gr_grain_p90": float(np.percentile(values, 90)) if values.size else 0.0,
            "gr_still_share": float(np.mean(shares)) if shares else 0.0,
        }
