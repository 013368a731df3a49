"""Degradations of generated video, at graded severities, for augmentation and tests.

Every artifact takes a severity ``s`` in [0, 1] (0: none) and draws its random parameters
from a seeded generator, so the same ``(clip, artifact, severity, seed)`` always gives the
same frames. Strengths are relative to the frame size (``min(width, height) / 96``) and
rates to seconds, so an artifact looks alike at any resolution and frame rate.

``degrade`` applies artifacts to the decoded frames of a real clip.
"""

from __future__ import annotations

import io
import math

import av
import cv2
import numpy as np

# every degradation, by name; severity 1 is about the worst seen in generated clips
ARTIFACTS = ("blur", "noise", "flicker", "freeze", "stutter", "jitter", "warp", "color_drift", "compression")
TIME_ARTIFACTS = ("freeze", "stutter")  # these repeat frames instead of changing pixels
# order in which artifacts are applied to a frame: time, geometry, optics, colour, sensor, codec
ORDER = {"freeze": 0, "stutter": 0, "jitter": 1, "warp": 2, "blur": 3, "flicker": 4, "color_drift": 5,
         "noise": 6, "compression": 7}
# libx264's assembly reads memory it never wrote (in its lookahead): the same frames gave
# different bytes from one encode to the next. Its portable C code does not.
X264_C_CODE = {"x264-params": "asm=0"}


class Artifact:
    """One degradation with severity ``s`` in [0, 1] of an ``n_frames`` clip; its random
    parameters are drawn from ``rng`` at construction. Frames are float32 RGB (0..255)."""

    def __init__(self, name: str, s: float, rng: np.random.Generator, n_frames: int,
                 width: int, height: int, fps: int):
        self.name, self.s = name, float(s)
        self.n, self.w, self.h, self.fps = n_frames, width, height, fps
        self.unit = min(width, height) / 96.0
        self.times = np.arange(n_frames) / fps
        getattr(self, f"_init_{name}")(rng)

    def source_index(self, i: int) -> int:
        """Which source frame is shown at output frame ``i`` (time artifacts repeat frames)."""
        return int(self.src[i]) if self.name in TIME_ARTIFACTS else i

    def apply(self, frame: np.ndarray, i: int) -> np.ndarray:
        """Degrade output frame ``i`` (float32 RGB, possibly in place)."""
        if self.name in TIME_ARTIFACTS or self.name == "compression" or self.s <= 0:
            return frame
        return getattr(self, f"_apply_{self.name}")(frame, i)

    # -- stutter: short holds of one to a few frames all through the clip (dropped frames,
    # uneven frame pacing), unlike freeze's few long holds
    def _init_stutter(self, rng: np.random.Generator) -> None:
        p_hold = 0.15 + 0.6 * self.s  # share of frames that repeat the previous one
        max_hold = 1 + round(3 * self.s)
        src = np.arange(self.n)
        i = 1
        while i < self.n:
            if rng.random() < p_hold:
                hold = int(rng.integers(1, max_hold + 1))
                src[i : i + hold] = src[i - 1]
                i += hold
            i += 1
        # time catches up after each hold (frames are dropped, the clip keeps its length)
        self.src = src if self.s > 0 else np.arange(self.n)

    # -- compression: encoding at a low bitrate (applied to the whole clip by ``degrade``)
    def _init_compression(self, rng: np.random.Generator) -> None:
        self.crf = round(26 + 25 * self.s)  # libx264 CRF: 26 good .. 51 worst

    # -- freeze: a fraction s of the frames repeat the last shown one, then time jumps
    def _init_freeze(self, rng: np.random.Generator) -> None:
        n_frozen = round(self.s * (self.n - 1))
        live = self.n - n_frozen
        k = int(min(max(n_frozen, 1), rng.integers(1, 4), live))
        anchors = np.sort(rng.choice(live, size=k, replace=False))
        lengths = rng.multinomial(n_frozen, np.full(k, 1 / k)) if n_frozen else np.zeros(k, int)
        frozen = []
        for j in range(live):
            frozen.append(False)
            hit = np.nonzero(anchors == j)[0]
            if hit.size:
                frozen.extend([True] * int(lengths[hit[0]]))
        src = np.arange(self.n)
        for p in range(1, self.n):
            if frozen[p]:
                src[p] = src[p - 1]
        self.src = src

    # -- blur: Gaussian, sigma grows with s and breathes over time
    def _init_blur(self, rng: np.random.Generator) -> None:
        var = rng.uniform(0, 0.5)
        f, phi = rng.uniform(0.3, 1.2), rng.uniform(0, 2 * np.pi)
        self.sigma = self.s * 2.4 * self.unit * (1 + var * np.sin(2 * np.pi * f * self.times
                                                                 + phi))

    def _apply_blur(self, frame: np.ndarray, i: int) -> np.ndarray:
        sigma = float(self.sigma[i])
        if sigma < 0.2:
            return frame
        f = int(sigma // 3)
        if f < 2:
            return cv2.GaussianBlur(frame, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        # large sigma: blur a downscaled copy (same look, far cheaper)
        small = cv2.resize(frame, (max(1, self.w // f), max(1, self.h // f)),
                           interpolation=cv2.INTER_AREA)
        s_small = math.sqrt(max(sigma ** 2 / f ** 2 - 0.25, 0.25))
        small = cv2.GaussianBlur(small, (0, 0), s_small, borderType=cv2.BORDER_REFLECT)
        return cv2.resize(small, (self.w, self.h), interpolation=cv2.INTER_LINEAR)

    # -- noise: temporally independent Gaussian grain, from fine per-pixel sensor noise to coarse
    # film grain (up to half a unit), from mostly luminance to strongly coloured
    def _init_noise(self, rng: np.random.Generator) -> None:
        self.rng = np.random.default_rng(rng.integers(2 ** 63))
        self.sigma_n = self.s * 32.0
        self.grain = max(1, round(math.exp(rng.uniform(0.0, math.log(max(1.0, self.unit / 2))))))
        self.chroma = rng.uniform(0.2, 1.0)

    def _apply_noise(self, frame: np.ndarray, i: int) -> np.ndarray:
        g = self.grain
        gh, gw = -(-self.h // g), -(-self.w // g)
        z = self.rng.standard_normal((gh, gw, 3), dtype=np.float32)
        z = z[..., :1] + np.float32(self.chroma) * z[..., 1:] @ np.array(
            [[1, -0.5, -0.5], [0, 0.87, -0.87]], np.float32)
        if g > 1:
            z = cv2.resize(z, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        frame += np.float32(self.sigma_n) * z
        return frame

    # -- flicker: per-frame brightness and colour-gain oscillation plus random kicks
    def _init_flicker(self, rng: np.random.Generator) -> None:
        f = min(rng.uniform(1.5, 4.0), 0.45 * self.fps)
        phi = rng.uniform(0, 2 * np.pi)
        z = np.clip(rng.standard_normal(self.n), -2.5, 2.5)
        wave = 0.6 * np.sin(2 * np.pi * f * self.times + phi) + 0.5 * z
        self.gain = (1 + self.s * 0.32 * wave)[:, None] * (
            1 + self.s * 0.07 * rng.standard_normal((self.n, 3)))
        self.offset = self.s * 10 * np.clip(rng.standard_normal(self.n), -2.5, 2.5)

    def _apply_flicker(self, frame: np.ndarray, i: int) -> np.ndarray:
        frame *= self.gain[i].astype(np.float32)
        frame += np.float32(self.offset[i])
        return frame

    # -- jitter: random per-frame translation and small rotation (camera shake)
    def _init_jitter(self, rng: np.random.Generator) -> None:
        amp = self.s * 3.2 * self.unit
        white = rng.standard_normal((self.n, 3))
        shake = np.zeros_like(white)
        for t in range(self.n):  # partly correlated (AR(1)) so it reads as shake
            shake[t] = 0.45 * (shake[t - 1] if t else 0) + white[t]
        self.dxy = amp * shake[:, :2]
        self.rot = self.s * 1.2 * shake[:, 2]

    def _apply_jitter(self, frame: np.ndarray, i: int) -> np.ndarray:
        m = cv2.getRotationMatrix2D((self.w / 2, self.h / 2), float(self.rot[i]), 1.0)
        m[:, 2] += self.dxy[i]
        return cv2.warpAffine(frame, m, (self.w, self.h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)

    # -- warp: smooth random displacement field morphing over time (cv2.remap)
    def _init_warp(self, rng: np.random.Generator) -> None:
        gh, gw = int(rng.integers(3, 6)), int(rng.integers(4, 7))
        self.key_dt = rng.uniform(0.35, 0.8)
        n_keys = math.ceil(self.times[-1] / self.key_dt) + 2
        self.keys = rng.standard_normal((n_keys, gh, gw, 2)).astype(np.float32)
        self.amp = np.float32(self.s * 4.5 * self.unit)
        ys, xs = np.mgrid[0:self.h, 0:self.w].astype(np.float32)
        self.xs, self.ys = xs, ys

    def _apply_warp(self, frame: np.ndarray, i: int) -> np.ndarray:
        u = self.times[i] / self.key_dt
        k = int(u)
        a = u - k
        a = np.float32(a * a * (3 - 2 * a))  # smoothstep between keyframes
        field = (1 - a) * self.keys[k] + a * self.keys[k + 1]
        field = cv2.resize(field, (self.w, self.h), interpolation=cv2.INTER_CUBIC)
        map_x = self.xs + self.amp * field[..., 0]
        map_y = self.ys + self.amp * field[..., 1]
        return cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)

    # -- color_drift: hue rotation and saturation change growing over the clip
    def _init_color_drift(self, rng: np.random.Generator) -> None:
        prog = self.times / max(self.times[-1], 1e-6)
        prog = prog ** rng.uniform(0.7, 1.5)
        hue = np.deg2rad(self.s * 110 * rng.choice([-1, 1]) * prog)
        sat = 1 + self.s * 0.7 * rng.choice([-1, 1]) * prog
        yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322],
                        [0.211, -0.523, 0.312]])
        inv = np.linalg.inv(yiq)
        self.mats = []
        for h, s in zip(hue, sat, strict=True):
            rot = np.array([[1, 0, 0], [0, s * np.cos(h), -s * np.sin(h)],
                            [0, s * np.sin(h), s * np.cos(h)]])
            self.mats.append((inv @ rot @ yiq).astype(np.float32))

    def _apply_color_drift(self, frame: np.ndarray, i: int) -> np.ndarray:
        return cv2.transform(frame, self.mats[i])


def degrade(frames: list[np.ndarray], fps: float, artifacts: list[tuple[str, float]], seed: int) -> list[np.ndarray]:
    """Apply ``(name, severity)`` artifacts to uint8 RGB ``frames`` (a whole clip); same seed, same result."""
    if not frames:
        return []
    for name, s in artifacts:
        if name not in ORDER:
            raise ValueError(f"unknown artifact {name!r}; choose from {', '.join(ARTIFACTS)}")
        if not 0 <= s <= 1:
            raise ValueError(f"artifact {name!r}: severity must be in [0, 1], got {s}")
    h, w = frames[0].shape[:2]
    rng = np.random.default_rng(seed)
    fps_i = max(1, round(fps))
    ordered = sorted(artifacts, key=lambda a: ORDER[a[0]])
    arts = [Artifact(name, s, rng, len(frames), w, h, fps_i) for name, s in ordered]
    out = []
    for i in range(len(frames)):
        src = i
        for art in arts:
            src = art.source_index(src)
        frame = frames[src].astype(np.float32)
        for art in arts:
            frame = art.apply(frame, i)
        out.append(np.clip(frame + np.float32(0.5), 0, 255).astype(np.uint8))
    for art in arts:
        if art.name == "compression" and art.s > 0:
            out = _h264_roundtrip(out, fps_i, art.crf)
    return out


def encode_h264(frames: list[np.ndarray], fps: float, crf: int, preset: str = "veryfast") -> bytes:
    """RGB frames as an H.264 MP4 file's bytes, coded with libx264 at ``crf`` (single-threaded,
    bit-exact): the same frames give the same bytes in any process and after any other work.

    libx264 runs its portable C code (its assembly's lookahead read memory it never wrote, and
    copies changed from call to call), the RGB -> YUV 4:2:0 conversion is OpenCV's fixed-point
    one, every byte handed to the encoder is set, line padding included, and an odd size is padded
    by edge replication (yuv420p needs even sizes)."""
    from fractions import Fraction

    h, w = frames[0].shape[:2]
    pad_h, pad_w = h % 2, w % 2
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4", options={"fflags": "+bitexact"}) as out:
        stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w + pad_w, h + pad_h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset, "threads": "1", "flags": "+bitexact",
                          **X264_C_CODE}
        for f in frames:
            if pad_h or pad_w:
                f = np.pad(f, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
            for packet in stream.encode(_yuv420_frame(np.ascontiguousarray(f))):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def _h264_roundtrip(frames: list[np.ndarray], fps: int, crf: int) -> list[np.ndarray]:
    """Encode with libx264 at ``crf`` (:func:`encode_h264`) and decode back: real codec artifacts."""
    h, w = frames[0].shape[:2]
    with av.open(io.BytesIO(encode_h264(frames, fps, crf))) as inp:
        decoded = [_rgb_from_yuv420(f)[:h, :w] for f in inp.decode(video=0)]
    return decoded[: len(frames)] + [decoded[-1]] * (len(frames) - len(decoded))


def _yuv420_frame(rgb: np.ndarray) -> av.VideoFrame:
    """An encoder frame of an even-sized RGB image, every buffer byte set (padding zeroed)."""
    h, w = rgb.shape[:2]
    flat = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).reshape(-1)  # Y, then U, then V (half size)
    n_y, n_c = h * w, (h // 2) * (w // 2)
    planes = (flat[:n_y].reshape(h, w), flat[n_y : n_y + n_c].reshape(h // 2, w // 2),
              flat[n_y + n_c :].reshape(h // 2, w // 2))
    frame = av.VideoFrame(w, h, "yuv420p")
    for plane, data in zip(frame.planes, planes, strict=True):
        full = np.zeros(plane.buffer_size, np.uint8)
        rows = full[: plane.line_size * data.shape[0]].reshape(data.shape[0], plane.line_size)
        rows[:, : data.shape[1]] = data
        plane.update(full)
    return frame


def _rgb_from_yuv420(frame: av.VideoFrame) -> np.ndarray:
    """RGB of a decoded 4:2:0 frame, by the inverse of :func:`_yuv420_frame`'s conversion."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
