"""Degradations written independently of ``aigvqa.artifacts`` (plain OpenCV and numpy), as a user
checking the model would write them: the benchmarks measure the model on these too, so that it is
not only judged by the artifact generator it was trained on.

Each takes uint8 RGB frames, a frame rate, a strength level 0..3 (3 strongest) and a seed.
"""

from __future__ import annotations

import io

import av
import cv2
import numpy as np

LEVELS = 4
# the aigvqa dimension each one should raise
DIMENSION = {"blur": "blur", "noise": "noise", "flicker": "flicker", "held": "stutter", "shake": "jitter",
             "h264": "compression"}  # fmt: skip


def _unit(frames: list[np.ndarray]) -> float:
    return min(frames[0].shape[:2]) / 480.0


def blur(frames, fps, level, seed):
    sigma = [0.5, 1.0, 1.6, 2.6][level] * _unit(frames)
    return [cv2.GaussianBlur(f, (0, 0), sigma) for f in frames]


def noise(frames, fps, level, seed):
    rng = np.random.default_rng(seed)
    sd = [2.0, 4.0, 8.0, 16.0][level]
    return [np.clip(f + rng.normal(0, sd, f.shape), 0, 255).astype(np.uint8) for f in frames]


def flicker(frames, fps, level, seed):
    rng = np.random.default_rng(seed)
    amp = [0.03, 0.06, 0.10, 0.18][level]
    gains = 1 + amp * np.clip(rng.standard_normal(len(frames)), -2, 2)
    return [np.clip(f * g, 0, 255).astype(np.uint8) for f, g in zip(frames, gains, strict=True)]


def held(frames, fps, level, seed):
    rng = np.random.default_rng(seed)
    p = [0.1, 0.25, 0.4, 0.6][level]
    out = [frames[0]]
    for f in frames[1:]:
        out.append(out[-1] if rng.random() < p else f)
    return out


def shake(frames, fps, level, seed):
    rng = np.random.default_rng(seed)
    amp = [1.0, 2.0, 4.0, 8.0][level] * _unit(frames)
    h, w = frames[0].shape[:2]
    out = []
    for f in frames:
        dx, dy = rng.uniform(-amp, amp, 2)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        out.append(cv2.warpAffine(f, m, (w, h), borderMode=cv2.BORDER_REFLECT))
    return out


def h264(frames, fps, level, seed):
    crf = [30, 35, 40, 46][level]
    h, w = frames[0].shape[:2]
    h2, w2 = h - h % 2, w - w % 2
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        st = out.add_stream("libx264", rate=max(1, round(fps)))
        st.width, st.height, st.pix_fmt = w2, h2, "yuv420p"
        # x264's assembly reads memory it never wrote: its C code makes the same copy every time
        st.options = {"crf": str(crf), "preset": "medium", "threads": "1", "x264-params": "asm=0"}
        for f in frames:
            for p in st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:h2, :w2]), format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    buf.seek(0)
    with av.open(buf) as inp:
        dec = [f.to_ndarray(format="rgb24") for f in inp.decode(video=0)]
    return [cv2.resize(d, (w, h)) if (h2, w2) != (h, w) else d for d in dec]


DEGRADERS = {"blur": blur, "noise": noise, "flicker": flicker, "held": held, "shake": shake, "h264": h264}
