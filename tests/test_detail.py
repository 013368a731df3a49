"""The detail extractor sees a light blur at the video's own resolution."""

from __future__ import annotations

import cv2
import numpy as np

from aigvqa.features.detail import NativeDetail
from aigvqa.video import Clip, clip_from_frames


def _scene(n: int = 4, h: int = 540, w: int = 960, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 1.0)
    img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX)
    return np.repeat(img[None], n, axis=0).round().astype(np.uint8)


def _detail(frames: np.ndarray) -> dict[str, float]:
    return NativeDetail().extract(clip_from_frames(frames, 12.0), "")


def _blurred(frames: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])


def test_a_light_blur_lowers_the_finest_detail_step_by_step_and_noise_raises_it():
    scene = _scene()
    readings = [_detail(scene)] + [_detail(_blurred(scene, s)) for s in (0.5, 1.0, 2.0)]
    for key in ("dt_lapvar_log", "dt_lap_ratio_01", "dt_edge_steepness"):
        values = [r[key] for r in readings]
        assert all(np.diff(values) < 0), (key, values)
    noisy = np.clip(scene + np.random.default_rng(1).normal(0, 4, scene.shape), 0, 255).astype(np.uint8)
    assert _detail(noisy)["dt_lapvar_log"] > readings[0]["dt_lapvar_log"]


def test_without_native_crops_the_samples_are_read_and_tiny_frames_read_zero():
    clip = clip_from_frames(_scene(n=2, h=64, w=96), 12.0)
    bare = Clip(clip.frames, clip.motion, clip.motion_fps, clip.info, clip.frame_numbers)
    out = NativeDetail().extract(bare, "")
    assert list(out) == ["dt_lapvar_log", "dt_lap_ratio_01", "dt_lap_ratio_02", "dt_edge_steepness"]
    # a clip under 512 pixels: its crops are its samples (grey by another conversion: close, not equal)
    full = NativeDetail().extract(clip, "")
    assert all(abs(out[k] - full[k]) < 0.05 * abs(full[k]) + 0.01 for k in out), (out, full)
    assert set(_detail(_scene(n=2, h=10, w=12)).values()) == {0.0}
