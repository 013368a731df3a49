"""The codec extractor reads coding-block traces at the video's own resolution."""

from __future__ import annotations

import cv2
import numpy as np

from aigvqa.artifacts import degrade
from aigvqa.augment import write_lossless
from aigvqa.features import resolve_features
from aigvqa.features.codec import CodecTraces, flat_block_share
from aigvqa.video import Clip, clip_from_frames, read_clip


def _scene(n: int = 12, h: int = 360, w: int = 640, seed: int = 0) -> np.ndarray:
    """Soft gradients and mid-scale texture, panning slowly: what a low bitrate blocks up."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (h + 64, w + 64, 3)).astype(np.float32), (0, 0), 6.0)
    big = cv2.normalize(big, None, 20, 235, cv2.NORM_MINMAX)
    return np.stack([big[2 * t : 2 * t + h, 3 * t : 3 * t + w] for t in range(n)]).round().astype(np.uint8)


def _codec(frames: np.ndarray) -> dict[str, float]:
    return CodecTraces().extract(clip_from_frames(frames, 12.0), "")


def test_a_low_bitrate_raises_the_block_traces_step_by_step():
    scene = _scene()

    def at(s: float) -> dict[str, float]:
        return _codec(np.stack(degrade(list(scene), 12.0, [("compression", s)], seed=1)))

    clean = _codec(scene)
    assert clean["cd_block8_mean"] < 1.05  # no grid in a clean clip
    flat = [clean["cd_flat4_mean"]] + [at(s)["cd_flat4_mean"] for s in (0.1, 0.3, 0.6, 0.9)]
    assert all(np.diff(flat) > 0), flat  # detail flattened from the faintest step on
    block8 = [at(s)["cd_block8_mean"] for s in (0.6, 0.75, 0.9)]
    assert all(np.diff(block8) > 0) and block8[-1] > 2.0, block8  # a visible grid when it is strong


def test_blur_is_not_read_as_blocks():
    scene = _scene()
    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 2.0) for f in scene])
    assert _codec(blurred)["cd_block8_mean"] < 1.1


def test_the_native_crop_is_full_size_on_the_coding_grid_and_a_file_reads_as_its_frames(tmp_path):
    frames = _scene(n=6, h=600, w=1100)
    clip = clip_from_frames(frames, 12.0)
    assert clip.frames.shape[2] == 512 and clip.native.shape == (6, 512, 512)  # spatial samples are downscaled
    write_lossless(tmp_path / "c.mkv", list(frames), 12.0)
    from_file = read_clip(tmp_path / "c.mkv")
    assert np.array_equal(from_file.native, clip.native)
    y0, x0 = (600 - 512) // 2 // 16 * 16, (1100 - 512) // 2 // 16 * 16
    grey = cv2.cvtColor(frames[clip.frame_numbers[0]], cv2.COLOR_RGB2GRAY)
    assert np.abs(clip.native[0].astype(int) - grey[y0 : y0 + 512, x0 : x0 + 512]).max() <= 1


def test_a_clip_without_native_crops_is_measured_on_its_samples_and_keys_are_fixed():
    clip = clip_from_frames(_scene(n=4), 12.0)
    bare = Clip(clip.frames, clip.motion, clip.motion_fps, clip.info, clip.frame_numbers)
    out = CodecTraces().extract(bare, "")
    assert list(out) == ["cd_block8_mean", "cd_block8_max", "cd_block16_mean", "cd_flat4_mean"]
    assert out == CodecTraces().extract(bare, "")
    assert all(np.isfinite(v) for v in out.values())
    assert resolve_features("codec") == ["codec"]


def test_flat_blocks_are_counted_on_the_grid():
    grey = np.zeros((8, 8), np.uint8)
    grey[:4, 4:] = np.arange(16, dtype=np.uint8).reshape(4, 4)  # one of the four 4x4 blocks has detail
    assert flat_block_share(grey) == 0.75


def test_a_compressed_copy_is_the_same_every_time_it_is_made():
    """The training copies are rebuilt on other machines and in other orders: the same frames and
    severity must give the same copy whatever was encoded before (x264's assembly did not)."""
    scene = list(_scene(n=16, h=158, w=300))  # half the height is odd: the chroma planes' rows
    first = np.stack(degrade(scene, 8.0, [("compression", 0.4)], seed=3))
    for k in range(6):
        other = list(_scene(n=4 + k, h=120 + 16 * k, w=250 - 2 * k, seed=k))  # other sizes in between
        degrade(other, 8.0, [("compression", 0.2 + 0.1 * k)], seed=k)
        again = np.stack(degrade(scene, 8.0, [("compression", 0.4)], seed=3))
        assert np.array_equal(first, again), f"copy {k + 2} differs from the first"
