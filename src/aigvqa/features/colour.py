"""Colour drift: how far the clip's colours rotate in hue and change in saturation from its
start to its end."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from aigvqa.features.base import FeatureExtractor
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip


def to_hsv(frames: np.ndarray) -> np.ndarray:
    """RGB ``frames`` (n, h, w, 3) as one uint8 HSV image (n·h, w, 3), hue on 0..255."""
    n, h, w = frames.shape[:3]
    return cv2.cvtColor(np.ascontiguousarray(frames).reshape(n * h, w, 3), cv2.COLOR_RGB2HSV_FULL)


def hue_histogram(hsv: np.ndarray, bins: int) -> np.ndarray:
    """Normalised hue histogram of ``hsv`` (:func:`to_hsv`), each pixel weighted by its
    saturation times its value, so grey and dark pixels, whose hue is noise, count little."""
    hsv = hsv.astype(np.float32)
    weight = hsv[..., 1] * hsv[..., 2] / (255.0 * 255.0)
    hist, _ = np.histogram(hsv[..., 0], bins=bins, range=(0, 256), weights=weight)
    return hist / max(float(hist.sum()), 1e-9)


def circular_shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The circular shift (in bins, sub-bin by a parabola through the peak) that best maps
    histogram ``a`` onto ``b``, and the log of how much better it matches than no shift."""
    n = len(a)
    corr = np.array([float(np.dot(np.roll(a, j), b)) for j in range(n)])
    j = int(np.argmax(corr))
    left, mid, right = corr[j - 1], corr[j], corr[(j + 1) % n]
    curvature = left - 2 * mid + right
    offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    shift = (j + offset + n / 2) % n - n / 2
    return float(shift), float(np.log((mid + 1e-9) / (corr[0] + 1e-9)))


def mean_saturation(hsv: np.ndarray) -> float:
    """Mean saturation (0..1) of ``hsv`` (:func:`to_hsv`), each pixel weighted by its value."""
    v = hsv[..., 2].astype(np.float64) + 1.0
    return float((hsv[..., 1] * v).sum() / (255.0 * v.sum()))


@EXTRACTORS.register("colour")
class ColourDrift(FeatureExtractor):
    """Colour drift: the hue rotation and the saturation change between the first and the last
    sixth of the clip's motion frames (the consecutive samples that span the whole clip).

    The hue histograms of the two ends (saturation × value weighted) are aligned by circular
    cross-correlation: a colour drift rotates every hue by the same angle, so the histogram
    shifts by it, while content that comes and goes changes its shape, not its position. A clip
    whose colours do not drift reads 0 degrees whatever its content or size.
    """

    name = "colour"
    version = "1"
    measures = "colour drift: hue rotation and saturation change from the clip's start to its end"
    artifacts = (("", "colour drift"),)

    def __init__(self, bins: int = 72, side: int = 128):
        if int(bins) < 8:
            raise ValueError(f"colour: bins must be at least 8, got {bins!r}")
        if int(side) < 16:
            raise ValueError(f"colour: side must be at least 16, got {side!r}")
        self.bins = int(bins)
        self.side = int(side)

    def config(self) -> dict[str, Any]:
        return {"bins": self.bins, "side": self.side}

    def _small(self, frames: np.ndarray) -> np.ndarray:
        h, w = frames.shape[1:3]
        scale = self.side / max(h, w)
        if scale >= 1:
            return frames
        size = (max(2, round(w * scale)), max(2, round(h * scale)))
        return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        clip = self.decoded(clip)
        frames = self._small(clip.motion)
        k = max(1, len(frames) // 6)
        start, end = to_hsv(frames[:k]), to_hsv(frames[-k:])  # each converted once, read twice
        shift, gain = circular_shift(hue_histogram(start, self.bins), hue_histogram(end, self.bins))
        sat_start, sat_end = mean_saturation(start), mean_saturation(end)
        return {
            "co_hue_shift": abs(shift) * 360.0 / self.bins,
            "co_hue_gain": gain,
            "co_sat_change": abs(float(np.log((sat_end + 1e-3) / (sat_start + 1e-3)))),
        }
