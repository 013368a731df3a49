"""Morphing: smooth motion that no camera move explains.

A camera move shifts, turns or zooms the whole picture (an affine flow); a moving object moves
a bounded part of it, with sharp edges. Warping, the rubbery morphing of generated video, bends
the whole picture smoothly and a little differently from moment to moment: after the best affine
fit is taken out of the optical flow, what is left is spread over the frame and smooth. This
extractor measures that residual flow, smoothed over a twenty-fourth of the frame, at its lower
percentiles (still background that moves anyway, which object motion does not reach).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from aigvqa.features.base import FeatureExtractor
from aigvqa.features.spatial import magnitude
from aigvqa.features.temporal import HELD_CHANGE, frame_changes
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip

_PERCENTILES = (10, 25, 50)
_DOWN = 4  # the residual flow's measuring grid: a quarter of the motion frames' size


def affine_residual(flow: np.ndarray) -> np.ndarray:
    """``flow`` (H, W, 2) less its least-squares affine fit."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    design = np.column_stack([np.ones(xs.size, np.float32), xs.ravel(), ys.ravel()])
    coef, *_ = np.linalg.lstsq(design, flow.reshape(-1, 2), rcond=None)
    return flow - (design @ coef).reshape(h, w, 2).astype(np.float32)


@EXTRACTORS.register("morph")
class SmoothMorph(FeatureExtractor):
    """Non-rigid smooth motion on up to ``max_pairs`` evenly spaced pairs of consecutive motion
    frames that are not held frames: DIS optical flow, averaged onto a grid of a quarter of the
    frames' size, less its affine fit, smoothed with a Gaussian of a twenty-fourth of the frame's
    longer side; its length (a fraction of the frame diagonal) at the 10th, 25th and 50th
    percentile over the frame, each the median over the pairs, and the unsmoothed residual's
    25th percentile."""

    name = "morph"
    version = "3"  # 3: numpy's magnitude (cv2.magnitude gave different last bits from call to call)
    concurrent = True
    measures = "warping/morphing: smooth motion over the whole frame that no camera move explains"
    artifacts = (("", "warping"),)

    def __init__(self, max_pairs: int = 12):
        if int(max_pairs) < 1:
            raise ValueError(f"morph: max_pairs must be at least 1, got {max_pairs!r}")
        self.max_pairs = int(max_pairs)

    def config(self) -> dict[str, Any]:
        return {"max_pairs": self.max_pairs}

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        clip = self.decoded(clip)
        greys = clip.grey_motion()
        keys = [f"mo_smooth_p{q}" for q in _PERCENTILES] + ["mo_raw_p25"]
        n_pairs = len(greys) - 1
        h, w = greys.shape[1:] if greys.ndim == 3 else (0, 0)
        if n_pairs < 1 or min(h, w) < 32:  # DIS needs a regular pyramid (see temporal._flow_frame)
            return dict.fromkeys(keys, 0.0)
        # held pairs (a repeated frame) show no motion at all: they are pacing's, not warping's
        moving = np.flatnonzero(frame_changes(greys) >= HELD_CHANGE)
        if moving.size == 0:
            return dict.fromkeys(keys, 0.0)
        pairs = moving[np.unique(np.linspace(0, moving.size - 1, min(self.max_pairs, moving.size)).round().astype(int))]
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        # the residual is measured at a quarter of the size (an area average of the flow): its
        # smoothed part loses nothing there, and the fit, the blur and the percentiles cost a sixteenth
        size = (max(1, w // _DOWN), max(1, h // _DOWN))
        diag, sigma = math.hypot(h, w), max(h, w) / 24.0 / _DOWN
        rows = []
        for p in pairs:
            flow = cv2.resize(dis.calc(greys[p], greys[p + 1], None), size, interpolation=cv2.INTER_AREA)
            resid = affine_residual(flow)  # displacements stay in the motion frames' pixels
            smooth = cv2.GaussianBlur(resid, (0, 0), sigma)
            length = magnitude(smooth[..., 0], smooth[..., 1]) / diag
            raw = magnitude(resid[..., 0], resid[..., 1]) / diag
            rows.append([*np.percentile(length, _PERCENTILES), np.percentile(raw, 25)])
        med = np.median(np.array(rows, dtype=np.float64), axis=0)
        return {k: float(v) for k, v in zip(keys, med, strict=True)}
