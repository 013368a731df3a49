"""The pacing extractor tells stutter (many short holds) from freezing (a few long ones)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aigvqa.artifacts import degrade
from aigvqa.features.pacing import FramePacing, hold_runs
from aigvqa.video import clip_from_frames


def _pan(n: int = 48, size: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (size, size + 2 * n, 3)).astype(np.float32), (0, 0), 2.0)
    return np.stack([big[:, 2 * t : 2 * t + size] for t in range(n)]).clip(0, 255).astype(np.uint8)


def _pacing(frames: np.ndarray) -> dict[str, float]:
    return FramePacing().extract(clip_from_frames(frames, 24.0), "")


def test_a_smooth_clip_holds_nothing_stutter_holds_often_and_briefly_freezing_long():
    pan = _pan()
    clean = _pacing(pan)
    assert clean["pc_hold_runs"] == 0.0 and clean["pc_hold_run_max"] == 0.0
    stutter = _pacing(np.stack(degrade(list(pan), 24.0, [("stutter", 0.5)], seed=2)))
    freeze = _pacing(np.stack(degrade(list(pan), 24.0, [("freeze", 0.5)], seed=2)))
    assert stutter["pc_hold_runs"] > freeze["pc_hold_runs"] > 0
    assert freeze["pc_hold_run_max"] > stutter["pc_hold_run_max"]
    assert stutter["pc_short_hold_share"] > freeze["pc_short_hold_share"]
    assert stutter["pc_jump_log_ratio"] > 0.3  # after a dropped frame the picture jumps ahead


def test_runs_and_degenerate_clips():
    assert hold_runs(np.array([True, True, False, True, False, False, True])) == [2, 1, 1]
    assert hold_runs(np.array([], bool)) == []
    single = _pacing(_pan(n=1))
    assert set(single.values()) == {0.0}
    with pytest.raises(ValueError, match="hold must be"):
        FramePacing(hold=0)


def test_a_faint_artifact_on_held_frames_leaves_the_still_share_where_the_hold_count_fails():
    pan = _pan(n=24, size=256)  # the motion frames' usual size
    held = np.repeat(pan[::2], 2, axis=0)  # every frame shown twice: half the pairs hold
    clean = _pacing(held)
    assert clean["pc_still_share"] == pytest.approx(clean["pc_hold_runs"]) and clean["pc_still_share"] > 0.4
    assert _pacing(pan)["pc_still_share"] == 0.0  # a pan moves in every pair
    for artifact, kept in (("flicker", 1.0), ("noise", 0.7)):
        faint = _pacing(np.stack(degrade(list(held), 24.0, [(artifact, 0.1)], seed=3)))
        assert faint["pc_hold_runs"] < 0.1  # a trace breaks the exact holds ...
        assert faint["pc_still_share"] >= kept * clean["pc_still_share"]  # ... not the still ones
