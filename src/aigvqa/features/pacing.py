"""Frame pacing: how often a clip holds a frame, and for how long.

A generator or an encoder that drops frames shows the previous frame again: the picture holds,
then jumps to catch up. Stutter is many short holds all through a clip, freezing a few long
ones. Both show as consecutive motion frames that do not differ (mean absolute grey difference
under ``hold`` levels); this extractor counts the runs of such holds and their lengths, and how
far the picture jumps after a hold compared with its usual change between frames.

A faint artifact on a held frame (a trace of noise, a flicker of gain, a slight warp) makes it
differ by more than those few levels, so a hold stops reading as one. The still-pair share
counts holds where those cannot reach: on frames an eighth of the size (noise averages out),
with each frame's brightness and contrast matched to the one before (flicker's gain cancels).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from aigvqa.features.base import FeatureExtractor
from aigvqa.features.temporal import HELD_CHANGE, frame_changes
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip


def hold_runs(held: np.ndarray) -> list[int]:
    """Lengths of the runs of True in ``held`` (one flag per pair of consecutive frames)."""
    runs, n = [], 0
    for h in held:
        if h:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    if n:
        runs.append(n)
    return runs


def still_changes(greys: np.ndarray, factor: int = 8) -> np.ndarray:
    """Mean absolute grey change between consecutive (T, H, W) ``greys`` shrunk ``factor`` times
    (area average), each frame's mean and spread first matched to the previous frame's, (T - 1,)."""
    t, h, w = greys.shape[:3]
    if t < 2:
        return np.zeros(0)
    size = (max(1, w // factor), max(1, h // factor))
    small = np.stack([cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in greys]).astype(np.float32)
    mean = small.mean(axis=(1, 2), keepdims=True)
    spread = small.std(axis=(1, 2), keepdims=True) + np.float32(1e-3)
    matched = (small[1:] - mean[1:]) / spread[1:] * spread[:-1] + mean[:-1]
    return np.abs(matched - small[:-1]).mean(axis=(1, 2)).astype(np.float64)


@EXTRACTORS.register("pacing")
class FramePacing(FeatureExtractor):
    """Holds on consecutive motion frames: runs of held frames per frame pair, their mean and
    longest length, the share of held frames in short runs (at most ``short`` pairs), and the
    log ratio of the change just after a hold to the median change between moving frames; and
    the still-pair share, the share of pairs that hold on frames an eighth of the size with
    brightness and contrast matched (:func:`still_changes`), which a trace of noise or flicker
    on a held frame mostly leaves held."""

    name = "pacing"
    version = "2"
    concurrent = True
    measures = "stutter and freezing: how often the picture holds, for how long, and the jump after a hold"
    artifacts = (("", "stutter"),)

    def __init__(self, hold: float = HELD_CHANGE, short: int = 2):
        if not float(hold) > 0:
            raise ValueError(f"pacing: hold must be a positive number of grey levels, got {hold!r}")
        if int(short) < 1:
            raise ValueError(f"pacing: short must be at least 1 frame pair, got {short!r}")
        self.hold = float(hold)
        self.short = int(short)

    def config(self) -> dict[str, Any]:
        return {"hold": self.hold, "short": self.short}

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        clip = self.decoded(clip)
        greys = clip.grey_motion()
        diffs = frame_changes(greys)
        if diffs.size == 0:
            return {"pc_hold_runs": 0.0, "pc_hold_run_mean": 0.0, "pc_hold_run_max": 0.0, "pc_short_hold_share": 0.0,
                    "pc_jump_log_ratio": 0.0, "pc_still_share": 0.0}  # fmt: skip
        held = diffs < self.hold
        runs = hold_runs(held)
        moving = diffs[~held]
        after = [diffs[i + 1] for i in range(len(diffs) - 1) if held[i] and not held[i + 1]]
        usual = float(np.median(moving)) if moving.size else 0.0
        jump = math.log((float(np.mean(after)) + 1.0) / (usual + 1.0)) if after else 0.0
        n_held = sum(runs)
        return {
            "pc_hold_runs": len(runs) / diffs.size,
            "pc_hold_run_mean": float(np.mean(runs)) if runs else 0.0,
            "pc_hold_run_max": float(max(runs)) if runs else 0.0,
            "pc_short_hold_share": sum(r for r in runs if r <= self.short) / n_held if n_held else 0.0,
            "pc_jump_log_ratio": jump,
            "pc_still_share": float(np.mean(still_changes(greys) < self.hold)),
        }
