"""Deterministic synthetic dataset of labelled clips that mimic generated-video artifacts.

Each clip is a procedurally generated scene (textured background, slowly panning camera,
1-3 textured shapes moving smoothly) degraded by one main artifact of known severity and,
sometimes, a milder second one. The MOS-like label falls linearly with the combined
severity. Nothing is downloaded; the same seed gives byte-identical files and labels
(with the same FFmpeg build: encoders run single-threaded with bit-exact flags).

Sizes are ``(width, height)``. Artifact strengths are defined relative to a 128x96 frame
and scale with ``min(width, height)``, and temporal rates are defined in seconds, so a
clip looks alike at any resolution and frame rate.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from aigvqa.artifacts import ORDER, X264_C_CODE, Artifact

ARTIFACTS = ("blur", "noise", "flicker", "freeze", "jitter", "warp", "color_drift")



@dataclass(frozen=True)
class _CodecSpec:
    ext: str
    pix_fmt: str
    options: dict[str, str]
    even_dims: bool


# libx264 (yuv420p) needs even width and height; the others accept any size. libx264 runs its
# portable C code (X264_C_CODE: the same frames, the same bytes).
# gif is quantised to the fixed 256-colour rgb8 palette (visible banding).
_CODECS: dict[str, _CodecSpec] = {
    "libx264": _CodecSpec(".mp4", "yuv420p",
                          {"crf": "18", "preset": "veryfast", "flags": "+bitexact",
                           **X264_C_CODE}, True),
    "libvpx-vp9": _CodecSpec(".webm", "yuv420p",
                             {"crf": "30", "b": "0", "deadline": "realtime", "cpu-used": "8",
                              "row-mt": "0", "flags": "+bitexact"}, False),
    "gif": _CodecSpec(".gif", "rgb8", {"flags": "+bitexact"}, False),
    "mjpeg": _CodecSpec(".avi", "yuvj444p",
                        {"flags": "+qscale+bitexact", "global_quality": str(118 * 3)}, False),
    "ffv1": _CodecSpec(".mkv", "bgr0", {"flags": "+bitexact"}, False),
}

CODEC_EXTENSIONS = {name: spec.ext for name, spec in _CODECS.items()}


def _codec_spec(codec: str) -> _CodecSpec:
    if codec not in _CODECS:
        raise ValueError(f"unsupported codec {codec!r}; choose one of {sorted(_CODECS)}")
    return _CODECS[codec]


def _check_size(codec: str, width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    if _codec_spec(codec).even_dims and (width % 2 or height % 2):
        raise ValueError(
            f"codec {codec!r} (yuv420p) needs even width and height, got {width}x{height}; "
            "crop or pad the frames, or use codec 'mjpeg', 'ffv1', 'gif' or 'libvpx-vp9'"
        )


class _VideoWriter:
    """Encodes RGB frames one at a time, single-threaded and bit-exact (deterministic)."""

    def __init__(self, path: str | Path, width: int, height: int, fps: int, codec: str):
        spec = _codec_spec(codec)
        _check_size(codec, width, height)
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.size = (width, height)
        self.container = av.open(str(path), mode="w", options={"fflags": "+bitexact"})
        try:
            self.stream = self.container.add_stream(codec, rate=Fraction(fps))
            self.stream.width, self.stream.height = width, height
            self.stream.pix_fmt = spec.pix_fmt
            self.stream.codec_context.thread_count = 1
            self.stream.options = dict(spec.options)
        except Exception:
            self.container.close()
            raise
        self.n = 0

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.size[1], self.size[0], 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected ({self.size[1]}, {self.size[0]}, 3) uint8 RGB frame, "
                             f"got {frame.shape} {frame.dtype}")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self.n
        self.n += 1
        for packet in self.stream.encode(vf):
            self.container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()


def write_video(path: str | Path, frames: np.ndarray | Iterable[np.ndarray], fps: int,
                codec: str = "libx264") -> Path:
    """Write ``(T, H, W, 3)`` uint8 RGB frames to ``path`` and return the path.

    Codecs: ``libx264`` (.mp4), ``libvpx-vp9`` (.webm), ``gif``, ``mjpeg`` (.avi), ``ffv1``
    (.mkv, lossless RGB); the container follows the path's extension. ``libx264`` encodes
    yuv420p and raises ``ValueError`` for odd width or height (no silent padding); the
    other codecs accept odd sizes. ``frames`` may also be any iterable of ``(H, W, 3)``
    frames. Output is deterministic for a given FFmpeg build.
    """
    path = Path(path)
    writer: _VideoWriter | None = None
    try:
        for frame in frames:
            frame = np.asarray(frame)
            if frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(f"frames must be (T, H, W, 3) RGB, got frame {frame.shape}")
            if writer is None:
                writer = _VideoWriter(path, frame.shape[1], frame.shape[0], fps, codec)
            writer.write(frame.astype(np.uint8, copy=False))
        if writer is None:
            raise ValueError("no frames to write")
    finally:
        if writer is not None:
            writer.close()
    return path


# --------------------------------------------------------------------------- scene

_SHAPE_COLORS = {
    "red": (220, 40, 40), "orange": (245, 140, 30), "yellow": (240, 215, 50),
    "green": (50, 170, 70), "teal": (30, 155, 150), "blue": (40, 80, 215),
    "purple": (135, 60, 185), "pink": (240, 110, 175), "white": (240, 240, 235),
    "black": (25, 25, 30), "brown": (135, 80, 40), "cyan": (60, 205, 230),
}
_BG_COLORS = {
    "green": (70, 130, 70), "blue": (60, 90, 150), "sandy": (200, 175, 120),
    "gray": (120, 120, 125), "purple": (105, 75, 135), "teal": (50, 125, 125),
    "orange": (200, 120, 60), "dark": (40, 40, 55), "pink": (205, 140, 160),
    "white": (225, 225, 220),
}
_BG_PATTERNS = ("striped", "wavy", "checkered", "marbled", "cloudy", "dotted", "textured")
_SHAPE_KINDS = ("circle", "square", "rectangle", "triangle", "ellipse", "diamond")
_SHAPE_TEXTURES = ("plain", "striped", "checkered", "spotted", "shiny")
_STYLES = ("cinematic", "4k", "highly detailed", "soft lighting", "minimalist", "flat design",
           "slow motion", "vibrant colors", "studio quality", "8k render", "smooth motion")


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _fractal(rng: np.random.Generator, h: int, w: int, octaves: int = 4) -> np.ndarray:
    """Smooth value noise in about [-1, 1]: random grids upsampled bicubically."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = 3 * 2 ** o
        gh, gw = max(2, cells * h // max(h, w) + 1), max(2, cells * w // max(h, w) + 1)
        grid = rng.standard_normal((gh, gw)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    return out / total


def _background(rng: np.random.Generator, h: int, w: int, scale: float
                ) -> tuple[np.ndarray, str, set[str]]:
    """A textured background (float32 RGB 0..255), its description and colour names."""
    names = list(_BG_COLORS)
    c1 = names[rng.integers(len(names))]
    c2 = c1 if rng.random() < 0.5 else names[rng.integers(len(names))]
    pattern = _BG_PATTERNS[rng.integers(len(_BG_PATTERNS))]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) / np.float32(scale)  # ~0..1 per frame
    theta = rng.uniform(0, 2 * np.pi)
    g = np.cos(theta) * xs + np.sin(theta) * ys
    g = (g - g.min()) / max(float(g.max() - g.min()), 1e-6)
    col1 = np.array(_BG_COLORS[c1], np.float32)
    col2 = np.array(_BG_COLORS[c2], np.float32) * np.float32(rng.uniform(0.7, 1.1))
    img = col1 + g[..., None] * (col2 - col1)
    k = rng.uniform(6, 16) * 2 * np.pi
    phi = rng.uniform(0, 2 * np.pi)
    a = rng.uniform(0, 2 * np.pi)
    u = np.cos(a) * xs + np.sin(a) * ys
    v = -np.sin(a) * xs + np.cos(a) * ys
    turb = _fractal(rng, h, w)
    if pattern == "striped":
        pat = np.sin(k * u + phi)
    elif pattern == "wavy":
        pat = np.sin(k * u + 2.5 * np.sin(k / 3 * v + phi))
    elif pattern == "checkered":
        pat = np.tanh(3 * np.sin(k / 2 * u) * np.sin(k / 2 * v))
    elif pattern == "marbled":
        pat = np.sin(k / 2 * u + 6 * turb)
    elif pattern == "dotted":
        pat = np.clip(np.sin(k * u) * np.sin(k * v) * 2 - 1, -1, 1)
    else:  # cloudy / textured: noise only
        pat = turb * (2.0 if pattern == "cloudy" else 1.0)
    contrast = rng.uniform(0.08, 0.2)
    shade = 1 + contrast * pat + 0.1 * turb + 0.12 * _fractal(rng, h, w, 2) * (g - 0.5)
    img *= shade.astype(np.float32)[..., None]
    if pattern == "textured":
        img += 12 * _fractal(rng, h, w, 6)[..., None]
    colours = c1 if c1 == c2 else f"{c1} and {c2}"
    desc = f"{_article(colours)} {colours} {pattern} background"
    return np.clip(img, 0, 255).astype(np.float32), desc, {c1, c2}


@dataclass
class _Shape:
    sprite: np.ndarray  # (h, w, 4) float32: RGB 0..255 + alpha 0..1
    desc: str
    circular: bool
    params: dict = field(default_factory=dict)

    def pose(self, t: float, width: int, height: int) -> tuple[float, float, float]:
        """Centre (x, y) in pixels and rotation in degrees at time ``t`` seconds."""
        p = self.params
        angle = p["a0"] + p["spin"] * t
        if self.circular:
            phase = p["phi"] + p["omega"] * t
            x = p["cx"] + p["r"] * np.cos(phase)
            y = p["cy"] + p["r"] * p["squash"] * np.sin(phase)
            return x * width, y * height, angle
        # linear motion, bouncing (triangle wave) between the margins
        out = []
        for pos, vel, lo, hi in ((p["x0"], p["vx"], p["lo_x"], p["hi_x"]),
                                 (p["y0"], p["vy"], p["lo_y"], p["hi_y"])):
            span = hi - lo
            q = (pos - lo + vel * t) % (2 * span)
            out.append(lo + (q if q <= span else 2 * span - q))
        return out[0] * width, out[1] * height, angle


def _make_shape(rng: np.random.Generator, width: int, height: int, exclude: set[str]
                ) -> _Shape:
    colors = [c for c in _SHAPE_COLORS if c not in exclude]
    cname = colors[rng.integers(len(colors))]
    kind = _SHAPE_KINDS[rng.integers(len(_SHAPE_KINDS))]
    texture = _SHAPE_TEXTURES[rng.integers(len(_SHAPE_TEXTURES))]
    m = min(width, height)
    r = max(3.0, rng.uniform(0.1, 0.22) * m)
    hw, hh = r, r
    if kind == "rectangle":
        hw, hh = r * rng.uniform(1.3, 1.7), r * rng.uniform(0.5, 0.75)
    elif kind == "ellipse":
        hw, hh = r * rng.uniform(1.2, 1.5), r * rng.uniform(0.6, 0.8)
    sw, sh = math.ceil(2 * hw) + 2, math.ceil(2 * hh) + 2
    cx, cy = sw / 2, sh / 2
    mask = np.zeros((sh * 4, sw * 4), np.uint8)  # 4x supersampled, then area-downscaled
    s4 = 16  # cv2 shift=2 gives quarter-pixel precision on the 4x canvas
    c = (int(cx * s4), int(cy * s4))
    if kind == "circle":
        cv2.circle(mask, c, int(r * s4), 255, -1, cv2.LINE_AA, 2)
    elif kind == "ellipse":
        cv2.ellipse(mask, c, (int(hw * s4), int(hh * s4)), 0, 0, 360, 255, -1, cv2.LINE_AA, 2)
    else:
        if kind in ("square", "rectangle"):
            pts = [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)]
        elif kind == "triangle":
            pts = [(0, -hh), (hw * 0.95, hh * 0.8), (-hw * 0.95, hh * 0.8)]
        else:  # diamond
            pts = [(0, -hh), (hw * 0.8, 0), (0, hh), (-hw * 0.8, 0)]
        if kind == "square":
            pts = [(x * 0.9, y * 0.9) for x, y in pts]
        poly = np.array([[(cx + x) * s4, (cy + y) * s4] for x, y in pts], np.int32)
        cv2.fillPoly(mask, [poly], 255, cv2.LINE_AA, 2)
    alpha = cv2.resize(mask, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xs, ys = (xs - cx) / r, (ys - cy) / r
    base = np.array(_SHAPE_COLORS[cname], np.float32)
    freq = rng.uniform(2.5, 5.0)
    if texture == "striped":
        a = rng.uniform(0, np.pi)
        tex = 1 + 0.3 * np.sin(freq * 2 * (np.cos(a) * xs + np.sin(a) * ys))
    elif texture == "checkered":
        tex = 1 + 0.3 * np.tanh(4 * np.sin(freq * xs) * np.sin(freq * ys))
    elif texture == "spotted":
        tex = 1 - 0.35 * (np.sin(freq * 1.5 * xs) * np.sin(freq * 1.5 * ys) > 0.6)
    elif texture == "shiny":
        tex = 1.25 - 0.5 * np.clip(np.hypot(xs + 0.35, ys + 0.35), 0, 1.2)
    else:
        tex = 1 - 0.15 * (xs + ys) / 2  # plain, with gentle shading
    rgb = np.clip(base * tex[..., None].astype(np.float32), 0, 255)
    sprite = np.dstack([rgb, alpha]).astype(np.float32)
    margin_x, margin_y = hw / width, hh / height
    circular = bool(rng.random() < 0.35)
    spins = kind != "circle" or texture != "plain"  # a plain disc shows no rotation
    params: dict = {"a0": rng.uniform(0, 360), "spin": rng.uniform(-40, 40) if spins else 0.0}
    if circular:
        params.update(cx=rng.uniform(0.35, 0.65), cy=rng.uniform(0.35, 0.65),
                      r=rng.uniform(0.12, 0.28), squash=rng.uniform(0.6, 1.3),
                      phi=rng.uniform(0, 2 * np.pi),
                      omega=rng.choice([-1, 1]) * rng.uniform(0.6, 1.6))
    else:
        speed = rng.uniform(0.12, 0.35)  # frame fractions per second
        heading = rng.uniform(0, 2 * np.pi)
        lo_x, hi_x = min(0.45, margin_x), max(0.55, 1 - margin_x)
        lo_y, hi_y = min(0.45, margin_y), max(0.55, 1 - margin_y)
        params.update(x0=rng.uniform(lo_x, hi_x), y0=rng.uniform(lo_y, hi_y),
                      vx=speed * np.cos(heading), vy=speed * np.sin(heading) * width / height,
                      lo_x=lo_x, hi_x=hi_x, lo_y=lo_y, hi_y=hi_y)
    adj = "" if texture == "plain" else f" {texture}"
    desc = f"{_article(cname)} {cname}{adj} {kind}"
    return _Shape(sprite, desc, circular, params)


def _paste(frame: np.ndarray, sprite: np.ndarray, cx: float, cy: float, angle: float) -> None:
    """Alpha-blend ``sprite`` rotated by ``angle`` at sub-pixel centre ``(cx, cy)``."""
    sh, sw = sprite.shape[:2]
    d = math.ceil(math.hypot(sh, sw)) + 2
    x0, y0 = math.floor(cx - d / 2), math.floor(cy - d / 2)
    H, W = frame.shape[:2]
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + d, W), min(y0 + d, H)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    m = cv2.getRotationMatrix2D((sw / 2, sh / 2), angle, 1.0)
    m[0, 2] += cx - x0 - sw / 2
    m[1, 2] += cy - y0 - sh / 2
    patch = cv2.warpAffine(sprite, m, (d, d), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    p = patch[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
    a = p[..., 3:4]
    region = frame[fy0:fy1, fx0:fx1]
    region += a * (p[..., :3] - region)


class _Scene:
    """A procedurally generated clean scene, rendered at any time ``t`` (seconds)."""

    def __init__(self, rng: np.random.Generator, width: int, height: int):
        self.width, self.height = width, height
        m = min(width, height)
        self.amp = (rng.uniform(0.02, 0.08) * width, rng.uniform(0.0, 0.05) * height)
        self.omega = (rng.uniform(0.15, 0.5) * rng.choice([-1, 1]), rng.uniform(0.1, 0.4))
        self.phase = (rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi))
        self.pad = math.ceil(max(self.amp)) + 4
        bh, bw = height + 2 * self.pad, width + 2 * self.pad
        self.bg, self.bg_desc, exclude = _background(rng, bh, bw, float(m))
        # shapes avoid the background colours and each other's
        self.shapes: list[_Shape] = []
        for _ in range(int(rng.integers(1, 4))):
            shape = _make_shape(rng, width, height, exclude)
            exclude.add(shape.desc.split()[1])
            self.shapes.append(shape)
        self.pans = bool(max(self.amp) > 0.03 * width)

    def render(self, t: float) -> np.ndarray:
        ox = self.amp[0] * math.sin(self.omega[0] * t + self.phase[0])
        oy = self.amp[1] * math.sin(self.omega[1] * t + self.phase[1])
        centre = (self.pad + ox + (self.width - 1) / 2, self.pad + oy + (self.height - 1) / 2)
        frame = cv2.getRectSubPix(self.bg, (self.width, self.height), centre)
        for shape in self.shapes:
            x, y, angle = shape.pose(t, self.width, self.height)
            # shapes live in the world, so they pan with the background
            _paste(frame, shape.sprite, x - ox, y - oy, angle)
        return frame


def _prompt(rng: np.random.Generator, scene: _Scene) -> str:
    descs = [s.desc for s in scene.shapes]
    objs = descs[0] if len(descs) == 1 else ", ".join(descs[:-1]) + " and " + descs[-1]
    kinds = {s.circular for s in scene.shapes}
    if kinds == {True}:
        motions = ("circling over", "orbiting above", "spinning in circles over")
    elif kinds == {False}:
        motions = ("moving across", "sliding over", "bouncing across", "gliding over")
    else:
        motions = ("moving over", "floating above", "drifting across")
    motion = motions[rng.integers(len(motions))]
    styles = [_STYLES[i] for i in rng.permutation(len(_STYLES))[:2]]
    camera = ", camera panning slowly" if scene.pans and rng.random() < 0.6 else ""
    body = f"{objs} {motion} {scene.bg_desc}{camera}"
    template = int(rng.integers(4))
    if template == 0:
        return f"{body}, {styles[0]}"
    if template == 1:
        return f"{styles[0].capitalize()} shot of {body}"
    if template == 2:
        return f"a video of {body}, {styles[0]}, {styles[1]}"
    return body


# ------------------------------------------------------------------------ dataset


def render_clip(rng: np.random.Generator, artifacts: list[tuple[str, float]],
                size: tuple[int, int] = (128, 96), n_frames: int = 24, fps: int = 12
                ) -> tuple[Iterable[np.ndarray], str]:
    """A lazily rendered clip: (iterator of uint8 RGB frames, prompt).

    ``artifacts`` lists ``(name, severity)`` pairs; all randomness comes from ``rng``.
    """
    width, height = size
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    scene = _Scene(rng, width, height)
    prompt = _prompt(rng, scene)
    arts = [Artifact(name, s, rng, n_frames, width, height, fps)
            for name, s in sorted(artifacts, key=lambda a: ORDER[a[0]])]

    def frames() -> Iterable[np.ndarray]:
        for i in range(n_frames):
            src = i
            for art in arts:
                src = art.source_index(src)
            frame = scene.render(src / fps)
            for art in arts:
                frame = art.apply(frame, i)
            yield np.clip(frame + np.float32(0.5), 0, 255).astype(np.uint8)

    return frames(), prompt


def _combined(severities: Iterable[float]) -> float:
    keep = 1.0
    for s in severities:
        keep *= 1 - s
    return 1 - keep


def make_dataset(out_dir: str | Path, n_clips: int = 60, seed: int = 0,
                 size: tuple[int, int] = (128, 96), n_frames: int = 24, fps: int = 12,
                 codec: str = "libx264", split: float | None = None) -> list[dict]:
    """Generate ``n_clips`` labelled clips under ``out_dir/videos`` and return their items.

    Each item has ``video`` (file name inside ``videos/``), ``prompt``, ``gt_score`` (1..5),
    ``artifact`` and ``severity`` (the main one), plus ``secondary_artifact``,
    ``secondary_severity`` (0 when absent), ``combined_severity`` and ``split``. The main
    artifact cycles through :data:`ARTIFACTS`; the score is
    ``5 - 3.5 * combined_severity + N(0, 0.15)``, clipped to [1, 5].

    All items go to ``labels.json``. With ``split=None`` they all go to ``train.json``;
    with ``split`` in (0, 1) that fraction (seeded choice) goes to ``val.json`` instead.
    Clip ``i`` depends only on ``(seed, i)``, not on ``n_clips``.
    """
    spec = _codec_spec(codec)
    width, height = size
    _check_size(codec, width, height)
    if split is not None and not 0 < split < 1:
        raise ValueError(f"split must be in (0, 1) or None, got {split}")
    out = Path(out_dir)
    videos = out / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    digits = max(3, len(str(max(n_clips - 1, 0))))
    val: set[int] = set()
    if split is not None and n_clips > 1:
        n_val = min(n_clips - 1, max(1, round(split * n_clips)))
        perm = np.random.default_rng([seed, 2 ** 31]).permutation(n_clips)
        val = {int(i) for i in perm[:n_val]}
    items = []
    for i in range(n_clips):
        rng = np.random.default_rng([seed, i])
        main = ARTIFACTS[i % len(ARTIFACTS)]
        s1 = round(float(rng.uniform(0, 1)), 4)
        arts = [(main, s1)]
        second, s2 = None, 0.0
        if rng.random() < 0.35:
            others = [a for a in ARTIFACTS if a != main]
            second = others[rng.integers(len(others))]
            s2 = round(float(rng.uniform(0.05, 0.3)), 4)
            arts.append((second, s2))
        combined = _combined([s1, s2])
        score = 5 - 3.5 * combined + rng.normal(0, 0.15)
        score = round(float(np.clip(score, 1, 5)), 3)
        name = f"clip_{i:0{digits}d}{spec.ext}"
        frames, prompt = render_clip(rng, arts, size, n_frames, fps)
        write_video(videos / name, frames, fps, codec)
        items.append({"video": name, "prompt": prompt, "gt_score": score, "artifact": main,
                      "severity": s1, "secondary_artifact": second, "secondary_severity": s2,
                      "combined_severity": round(combined, 4),
                      "split": "val" if i in val else "train"})
    _dump(out / "labels.json", items)
    _dump(out / "train.json", [it for it in items if it["split"] == "train"])
    if val:
        _dump(out / "val.json", [it for it in items if it["split"] == "val"])
    return items


def _dump(path: Path, data: list[dict]) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
