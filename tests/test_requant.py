"""The requant extractor reads re-compression ghosts on consecutive frames at the video's own size."""

from __future__ import annotations

import cv2
import numpy as np

from aigvqa.artifacts import degrade
from aigvqa.augment import rescale, write_lossless
from aigvqa.features import resolve_features
from aigvqa.features.requant import RequantGhost
from aigvqa.video import RUN_FRAMES, RUN_START, Clip, clip_from_frames, read_clip


def _scene(n: int = 20, h: int = 288, w: int = 352, seed: int = 0) -> np.ndarray:
    """Soft gradients with a little fine texture, panning: what a coder has to spend bits on."""
    rng = np.random.default_rng(seed)
    fine = rng.uniform(0, 255, (h + 64, w + 64, 3)).astype(np.float32)
    big = 0.8 * cv2.GaussianBlur(fine, (0, 0), 5.0) + 0.2 * cv2.GaussianBlur(fine, (0, 0), 1.0)
    big = cv2.normalize(big, None, 20, 235, cv2.NORM_MINMAX)
    return np.stack([big[t : t + h, 2 * t : 2 * t + w] for t in range(n)]).round().astype(np.uint8)


def _requant(frames: np.ndarray) -> dict[str, float]:
    return RequantGhost().extract(clip_from_frames(frames, 24.0), "")


def test_a_clip_coded_near_the_lowest_rung_changes_less_there_than_its_source():
    scene = _scene()
    clean = _requant(scene)
    for s in (0.04, 0.1):  # libx264 CRF 27 and 28: a trace of compression
        coded = _requant(np.stack(degrade(list(scene), 24.0, [("compression", s)], seed=1)))
        assert coded["rq_ratio_26_30"] < clean["rq_ratio_26_30"] - 0.05, (s, coded, clean)
        assert coded["rq_change_26"] < clean["rq_change_26"]  # what CRF 26 would remove is gone


def test_size_barely_moves_the_ghost_and_noise_is_not_read_as_coding():
    scene = _scene()
    clean = _requant(scene)["rq_ratio_26_30"]
    coded = _requant(np.stack(degrade(list(scene), 24.0, [("compression", 0.06)], seed=1)))["rq_ratio_26_30"]
    for copy in (rescale(list(scene), 0.5), rescale(list(scene), 2.0)):
        assert abs(_requant(np.stack(copy))["rq_ratio_26_30"] - clean) < 0.5 * (clean - coded)
    noisy = _requant(np.stack(degrade(list(scene), 24.0, [("noise", 0.2)], seed=1)))["rq_ratio_26_30"]
    assert noisy > coded


def test_the_run_is_consecutive_native_frames_and_a_file_reads_as_its_frames(tmp_path):
    frames = _scene(n=20, h=600, w=1100)
    clip = clip_from_frames(frames, 24.0)
    assert clip.native_run.shape == (RUN_FRAMES, 512, 512)
    grey = cv2.cvtColor(frames[RUN_START], cv2.COLOR_RGB2GRAY)
    y0, x0 = (600 - 512) // 2 // 16 * 16, (1100 - 512) // 2 // 16 * 16
    assert np.abs(clip.native_run[0].astype(int) - grey[y0 : y0 + 512, x0 : x0 + 512]).max() <= 1
    write_lossless(tmp_path / "c.mkv", list(frames), 24.0)
    from_file = read_clip(tmp_path / "c.mkv")
    assert np.array_equal(from_file.native_run, clip.native_run)
    first = RequantGhost().extract(from_file, "")
    assert first == RequantGhost().extract(read_clip(tmp_path / "c.mkv"), "")  # same input, same output
    assert first == RequantGhost().extract(clip, "")


def test_short_tiny_and_hand_built_clips_get_every_key():
    keys = {"rq_change_26", "rq_ratio_26_30", "rq_ratio_30_34"}
    short = clip_from_frames(_scene(n=3), 24.0)  # fewer frames than the run: the last ones
    assert short.native_run.shape[0] == 3
    assert set(RequantGhost().extract(short, "")) == keys
    tiny = RequantGhost().extract(clip_from_frames(np.zeros((4, 8, 8, 3), np.uint8), 24.0), "")
    assert tiny == dict.fromkeys(keys, 0.0)
    full = clip_from_frames(_scene(n=8), 24.0)
    by_hand = Clip(full.frames, full.motion, full.motion_fps, full.info)  # no native crops
    out = RequantGhost().extract(by_hand, "")
    assert set(out) == keys and all(np.isfinite(v) for v in out.values())
    assert "requant" in resolve_features("requant")
