"""The morph extractor reads smooth non-rigid motion, not camera moves or held frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aigvqa.artifacts import degrade
from aigvqa.features.morph import SmoothMorph, affine_residual
from aigvqa.video import clip_from_frames


def _pan(n: int = 24, h: int = 144, w: int = 256, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (h, w + 3 * n, 3)).astype(np.float32), (0, 0), 2.0)
    big = cv2.normalize(big, None, 0, 255, cv2.NORM_MINMAX)
    return np.stack([big[:, 3 * t : 3 * t + w] for t in range(n)]).astype(np.uint8)


def _morph(frames: np.ndarray) -> dict[str, float]:
    return SmoothMorph().extract(clip_from_frames(frames, 24.0), "")


def test_warping_raises_the_residual_a_camera_pan_does_not():
    pan = _pan()
    clean = _morph(pan)["mo_smooth_p25"]
    readings = [_morph(np.stack(degrade(list(pan), 24.0, [("warp", s)], seed=3)))["mo_smooth_p25"]
                for s in (0.3, 0.6, 0.9)]  # fmt: skip
    assert clean < readings[0] and all(np.diff(readings) > 0), (clean, readings)


def test_an_affine_flow_leaves_no_residual():
    ys, xs = np.mgrid[0:40, 0:60].astype(np.float32)
    flow = np.dstack([0.5 + 0.01 * xs - 0.02 * ys, -1.0 + 0.03 * xs]).astype(np.float32)
    assert np.abs(affine_residual(flow)).max() < 1e-3


def test_held_and_tiny_clips_read_zero_and_keys_are_fixed():
    still = np.repeat(_pan(n=1), 6, axis=0)
    assert set(_morph(still).values()) == {0.0}
    tiny = _morph(_pan(n=4, h=20, w=24))
    assert list(tiny) == ["mo_smooth_p10", "mo_smooth_p25", "mo_smooth_p50", "mo_raw_p25"]
    assert _morph(_pan()) == _morph(_pan())
    with pytest.raises(ValueError, match="max_pairs"):
        SmoothMorph(max_pairs=0)
