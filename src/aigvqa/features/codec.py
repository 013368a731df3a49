"""Codec traces: coding-block edges and flattened blocks, measured at the video's own resolution.

A low bitrate leaves its mark on the coding grid: steps in brightness where two 8x8 (or 16x16)
blocks meet, and blocks whose detail was quantised away to one flat level. Both are only seen
at the resolution the video was coded at: the spatial samples, downscaled to 512 pixels, blur a
720p clip's 8-pixel grid to 3 pixels and lose most of it. So this extractor reads
:attr:`aigvqa.video.Clip.native`, a centre crop of each spatial sample at full size with its
corner on the coding grid. A clip held without those crops (built by hand) is measured on its
spatial samples, the grid scaled to their size (its flat-block share then reads 0).
"""

from __future__ import annotations

import cv2
import numpy as np

from aigvqa.features.base import FeatureExtractor
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip, native_greys


def step_profiles(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean absolute brightness step between neighbouring columns (one value per column boundary)
    and between neighbouring rows, of a uint8 grey image."""
    g = grey.astype(np.int16)
    return np.abs(np.diff(g, axis=1)).mean(axis=0), np.abs(np.diff(g, axis=0)).mean(axis=1)


def grid_ratio(profile: np.ndarray, period: float) -> float:
    """The step across the lines of a block grid of ``period`` pixels relative to the step midway
    between them, from a :func:`step_profiles` profile; 1.0 (no evidence) when the grid is finer
    than 3 pixels or the image holds fewer than two blocks."""
    n = profile.size
    if period < 3.0 or n < 2 * period:
        return 1.0
    k = np.arange(1, int(n / period) + 1)
    edges = np.unique(np.clip(np.round(k * period).astype(int) - 1, 0, n - 1))
    mids = np.setdiff1d(np.unique(np.clip(np.round((k - 0.5) * period).astype(int) - 1, 0, n - 1)), edges)
    if edges.size == 0 or mids.size == 0:
        return 1.0
    return float((profile[edges].mean() + 0.1) / (profile[mids].mean() + 0.1))


def flat_block_share(grey: np.ndarray, size: int = 4, levels: int = 1) -> float:
    """Share of the grid-aligned ``size`` x ``size`` blocks whose pixels span at most ``levels`` grey
    levels (detail quantised away), among the blocks of the frame."""
    h, w = grey.shape[0] // size * size, grey.shape[1] // size * size
    if h == 0 or w == 0:
        return 0.0
    kernel = np.ones((size, size), np.uint8)  # anchored at its corner: each block's max and min at its top-left pixel
    top = cv2.dilate(grey[:h, :w], kernel, anchor=(0, 0))[::size, ::size]
    bottom = cv2.erode(grey[:h, :w], kernel, anchor=(0, 0))[::size, ::size]
    return float(np.mean(cv2.subtract(top, bottom) <= levels))


@EXTRACTORS.register("codec")
class CodecTraces(FeatureExtractor):
    """Coding-block traces at the video's own resolution: the brightness step across the 8- and
    16-pixel block grid relative to inside blocks (1: no grid seen), and the share of flat 4x4
    blocks, each the mean over the spatial samples (and the grid steps' worst sample)."""

    name = "codec"
    version = "2"
    concurrent = True
    measures = "compression: coding-block edges and flattened blocks at the video's own resolution"
    artifacts = (("", "compression"),)

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        clip = self.decoded(clip)
        greys, scale = native_greys(clip)
        b8, b16 = [], []
        for g in greys:
            cols, rows = step_profiles(g)
            b8.append(0.5 * (grid_ratio(cols, 8.0 * scale) + grid_ratio(rows, 8.0 * scale)))
            b16.append(0.5 * (grid_ratio(cols, 16.0 * scale) + grid_ratio(rows, 16.0 * scale)))
        flat = [flat_block_share(g) for g in greys] if scale == 1.0 else [0.0]
        return {
            "cd_block8_mean": float(np.mean(b8)),
            "cd_block8_max": float(np.max(b8)),
            "cd_block16_mean": float(np.mean(b16)),
            "cd_flat4_mean": float(np.mean(flat)),
        }
