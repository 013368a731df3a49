"""The colour-drift extractor: it reads the hue rotation a clip's colours go through, whatever
the content, its size or its movement, and grows with the severity of aigvqa's colour drift."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import aigvqa.features  # noqa: F401  (registers the extractors)
from aigvqa.artifacts import degrade
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip, VideoInfo


def _clip(frames: np.ndarray, fps: float = 10.0) -> Clip:
    t, h, w = frames.shape[:3]
    info = VideoInfo(width=w, height=h, fps=fps, n_frames=t, duration=t / fps, codec="raw")
    return Clip(frames=frames[:: max(1, t // 8)], motion=frames, motion_fps=fps, info=info)


def _colourful(t: int = 24, h: int = 96, w: int = 128, seed: int = 0, pan: float = 1.0) -> np.ndarray:
    """A natural-looking scene panned ``pan`` pixels a frame: smooth texture whose hues lie in a
    few bands (a uniform spread of hues looks the same after any rotation, to a viewer too)."""
    rng = np.random.default_rng(seed)
    shape = (h // 8 + 8, w // 8 + 8 + t)
    band = rng.choice([20, 110, 160], size=shape).astype(np.float32)  # orange, green, blue (of 256)
    value = rng.uniform(90, 250, size=shape).astype(np.float32)
    size = (shape[1] * 8, shape[0] * 8)
    hue = cv2.resize(band + rng.uniform(-8, 8, size=shape).astype(np.float32), size, interpolation=cv2.INTER_NEAREST)
    val = cv2.resize(value, size, interpolation=cv2.INTER_CUBIC)
    hsv = np.stack([hue, np.full_like(hue, 190), np.clip(val, 0, 255)], axis=-1).astype(np.uint8)
    big = cv2.GaussianBlur(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL), (0, 0), 1.5)
    return np.stack([big[:h, round(i * pan) : round(i * pan) + w] for i in range(t)])


def _rotate_hue(frames: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate every frame's hue by a growing angle, 0 at the first frame, ``degrees`` at the last."""
    out = []
    for i, f in enumerate(frames):
        hsv = cv2.cvtColor(f, cv2.COLOR_RGB2HSV_FULL).astype(np.int32)
        hsv[..., 0] = (hsv[..., 0] + round(degrees * i / (len(frames) - 1) * 256 / 360)) % 256
        out.append(cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB_FULL))
    return np.stack(out)


def _read(frames: np.ndarray, **settings) -> dict[str, float]:
    return EXTRACTORS.get("colour")(**settings).extract(_clip(frames), "")


def test_a_clip_whose_colours_stay_reads_no_drift_even_while_its_content_moves():
    f = _read(_colourful(pan=2.0))
    assert f["co_hue_shift"] < 3.0 and f["co_sat_change"] < 0.05


@pytest.mark.parametrize("degrees", [20.0, 45.0, 90.0])
def test_a_hue_rotation_reads_as_its_angle(degrees):
    f = _read(_rotate_hue(_colourful(), degrees))
    # the end sixth of the clip is compared with the first: the mean rotation between them
    assert f["co_hue_shift"] == pytest.approx(degrees * (1 - 1 / 6 * 20 / 23), abs=6.0)


def test_the_reading_does_not_depend_on_the_clip_size():
    frames = _rotate_hue(_colourful(h=192, w=256), 40.0)
    half = np.stack([cv2.resize(f, (128, 96), interpolation=cv2.INTER_AREA) for f in frames])
    assert _read(frames)["co_hue_shift"] == pytest.approx(_read(half)["co_hue_shift"], abs=2.0)


def test_aigvqa_colour_drift_raises_the_reading_with_its_severity():
    frames = list(_colourful(t=24))
    readings = [
        _read(np.stack(degrade(frames, 10.0, [("color_drift", s)], seed=3) if s else frames))["co_hue_shift"]
        for s in (0.0, 0.1, 0.3, 0.6, 0.9)
    ]
    assert readings == sorted(readings) and readings[1] > readings[0] + 1.0, readings


def test_settings_are_checked_and_a_clip_is_required():
    with pytest.raises(ValueError, match="bins"):
        EXTRACTORS.get("colour")(bins=4)
    with pytest.raises(ValueError, match="decoded clip"):
        EXTRACTORS.get("colour")().extract(None, "a prompt")
    assert EXTRACTORS.get("colour")(bins=36, side=64).config() == {"bins": 36, "side": 64}


@pytest.mark.parametrize("artifact", ["blur", "noise", "flicker", "jitter", "compression"])
def test_other_artifacts_do_not_read_as_colour_drift(artifact):
    frames = list(_colourful(t=24))
    strong = _read(np.stack(degrade(frames, 10.0, [(artifact, 0.9)], seed=3)))
    assert strong["co_hue_shift"] < 2.0, strong
