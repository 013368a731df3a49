"""The coherence extractor reads the fine detail that stays put between frames: blur lowers it,
noise (new in every frame) does not raise it; the reader keeps each sample's neighbour."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aigvqa.augment import write_lossless
from aigvqa.features import resolve_features
from aigvqa.features.coherence import CoherentDetail
from aigvqa.synthetic import write_video
from aigvqa.video import Clip, clip_from_frames, native_crop, read_clip

KEYS = ["ch_fine_half", "ch_fine_quarter", "ch_still_share"]


def _scene(n: int = 16, size: int = 160, seed: int = 0) -> np.ndarray:
    """A still, finely textured picture with a square sliding across it (float32 RGB)."""
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (size, size, 3)).astype(np.float32), (0, 0), 0.7)
    frames = np.repeat(texture[None], n, axis=0)
    for t in range(n):
        frames[t, 40:72, 10 + 4 * t : 42 + 4 * t] = 220.0
    return frames


def _uint8(frames: np.ndarray) -> np.ndarray:
    return np.clip(frames, 0, 255).round().astype(np.uint8)


def _coherence(frames: np.ndarray) -> dict[str, float]:
    return CoherentDetail().extract(clip_from_frames(_uint8(frames), 8.0, native_pairs=True), "")


def _noisy(frames: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return frames + rng.normal(0, sigma, frames.shape).astype(np.float32)


def test_blur_lowers_it_step_by_step_and_noise_does_not_raise_it():
    scene = _scene()
    clean = _coherence(scene)
    blurred = [_coherence(np.stack([cv2.GaussianBlur(f, (0, 0), s) for f in scene])) for s in (0.5, 1.0, 2.0)]
    for key in ("ch_fine_half", "ch_fine_quarter"):
        steps = [clean[key]] + [b[key] for b in blurred]
        assert all(np.diff(steps) < 0), (key, steps)
        for sigma in (1.0, 2.0, 4.0):  # a spatial fine-detail measure rises with each of these
            assert _coherence(_noisy(scene, sigma))[key] < clean[key] + 0.05, (key, sigma)


def test_the_reader_keeps_each_samples_neighbour_as_frames_in_memory_do(tmp_path):
    frames = _uint8(_scene(n=10, size=96))
    clip = clip_from_frames(frames, 8.0, native_pairs=True)
    greys = [native_crop(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)) for f in frames]
    for k, number in enumerate(clip.frame_numbers):
        neighbour = number + 1 if number + 1 < len(frames) else number - 1  # the last frame pairs backwards
        assert np.abs(clip.native_next[k].astype(int) - greys[neighbour]).max() <= 1
    assert clip.frame_numbers[-1] == len(frames) - 1  # the backward pair is exercised
    write_lossless(tmp_path / "c.mkv", list(frames), 8.0)
    write_video(tmp_path / "c.gif", list(frames), 8, codec="gif")  # a GIF's header gives no frame count
    for path in (tmp_path / "c.mkv", tmp_path / "c.gif"):
        from_file = read_clip(path, native_pairs=True)
        assert from_file.frame_numbers == clip.frame_numbers
        expected = clip.native_next if path.suffix == ".mkv" else clip_from_frames(
            np.stack([f for f in _decoded(path)]), 8.0, native_pairs=True).native_next
        assert np.array_equal(from_file.native_next, expected), path.suffix
    assert read_clip(tmp_path / "c.mkv").native_next is None  # kept only when asked for


def _decoded(path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_same_clip_same_numbers_fixed_keys_and_a_clip_built_by_hand():
    scene = _noisy(_scene(), 3.0)
    a, b = _coherence(scene), _coherence(scene.copy())
    assert a == b and list(a) == KEYS
    assert 0.0 < a["ch_still_share"] <= 1.0
    clip = clip_from_frames(_uint8(scene), 8.0, native_pairs=True)
    by_hand = Clip(clip.frames, clip.motion, clip.motion_fps, clip.info)  # no full-size crops: motion pairs
    assert list(CoherentDetail().extract(by_hand, "")) == KEYS
    single = CoherentDetail().extract(clip_from_frames(_uint8(scene[:1]), 8.0, native_pairs=True), "")
    assert list(single) == KEYS and all(np.isfinite(list(single.values())))


def test_settings_are_checked_and_the_extractor_is_registered():
    assert "coherence" in resolve_features("video,coherence")
    assert CoherentDetail.native_pairs
    with pytest.raises(ValueError, match="still"):
        CoherentDetail(still=0)
    with pytest.raises(ValueError, match="min_still"):
        CoherentDetail(min_still=1.0)
