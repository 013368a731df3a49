"""The temporal grain extractor tells noise (new in every frame) from texture (which stays)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aigvqa.features import resolve_features
from aigvqa.features.grain import TemporalGrain
from aigvqa.video import clip_from_frames


def _scene(n: int = 16, size: int = 128, seed: int = 0) -> np.ndarray:
    """A still, richly textured picture with a square sliding across it."""
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (size, size, 3)).astype(np.float32), (0, 0), 0.8)
    frames = np.repeat(texture[None], n, axis=0)
    for t in range(n):
        frames[t, 40:72, 10 + 4 * t : 42 + 4 * t] = 220.0
    return frames


def _grain(frames: np.ndarray) -> dict[str, float]:
    return TemporalGrain().extract(clip_from_frames(np.clip(frames, 0, 255).astype(np.uint8), 8.0), "")


def _noisy(frames: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return frames + rng.normal(0, sigma, frames.shape).astype(np.float32)


def test_texture_reads_no_grain_and_noise_raises_it_at_every_strength():
    scene = _scene()
    clean = _grain(scene)["gr_grain_median"]
    assert clean < 0.5  # sharp texture that stays put is not grain
    readings = [_grain(_noisy(scene, s))["gr_grain_median"] for s in (1.0, 2.0, 4.0, 8.0)]
    assert clean < readings[0] and all(np.diff(readings) > 0)


def test_blur_and_size_leave_a_clean_clip_clean():
    scene = _scene()
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 2.0) for f in scene])
    half = np.stack([cv2.resize(f, (64, 64), interpolation=cv2.INTER_AREA) for f in scene])
    noisy = _grain(_noisy(scene, 2.0))["gr_grain_median"]
    for other in (blurred, half):
        assert _grain(other)["gr_grain_median"] < 0.5 < noisy


def test_same_clip_same_numbers_and_keys():
    scene = _noisy(_scene(), 3.0)
    a, b = _grain(scene), _grain(scene.copy())
    assert a == b
    assert list(a) == ["gr_grain_median", "gr_grain_p90", "gr_still_share"]
    assert 0.0 < a["gr_still_share"] <= 1.0


def test_a_single_frame_reads_zero():
    assert _grain(_scene(n=1)) == {"gr_grain_median": 0.0, "gr_grain_p90": 0.0, "gr_still_share": 0.0}


def test_settings_are_checked_and_the_extractor_is_registered():
    assert "grain" in resolve_features("video,grain")
    with pytest.raises(ValueError, match="still"):
        TemporalGrain(still=0)
    with pytest.raises(ValueError, match="min_still"):
        TemporalGrain(min_still=1.0)
