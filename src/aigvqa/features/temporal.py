"""Temporal quality measures on the consecutive motion frames: change, flicker, flow, warping."""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from aigvqa.features.base import FeatureExtractor
from aigvqa.features.spatial import fmean, fmean_std, ggd_fit, magnitude
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip

# ITU-R BT.601 luma and chroma from RGB channel means (linear, so means commute)
_Y = np.array([0.299, 0.587, 0.114])
_CB = np.array([-0.168736, -0.331264, 0.5])
_CR = np.array([0.5, -0.418688, -0.081312])


def _stats(
    values: np.ndarray, prefix: str, neutral: float, extremes: tuple[str, ...] = ()
) -> dict[str, float]:
    """Mean and std (and requested extremes) of a series; ``neutral`` for an empty one."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    out: dict[str, float] = {}
    if v.size == 0:
        out[f"{prefix}_mean"] = neutral
        out[f"{prefix}_std"] = 0.0
        for e in extremes:
            out[f"{prefix}_{e}"] = neutral
        return out
    out[f"{prefix}_mean"] = float(v.mean())
    out[f"{prefix}_std"] = float(v.std())
    for e in extremes:
        if e == "max":
            out[f"{prefix}_max"] = float(v.max())
        elif e == "min":
            out[f"{prefix}_min"] = float(v.min())
        elif e.startswith("p"):
            out[f"{prefix}_{e}"] = float(np.percentile(v, int(e[1:])))
    return out


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two float32 0..255 grey images (Gaussian window, sigma 1.5)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (7, 7), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    aa, bb, ab = blur(a * a) - mu_a * mu_a, blur(b * b) - mu_b * mu_b, blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * ab + c2)
    den = (mu_a * mu_a + mu_b * mu_b + c1) * (aa + bb + c2)
    return fmean(num / den)


def _pair_runs(n_pairs: int, max_pairs: int, run: int = 4) -> list[list[int]]:
    """Indices of the frame pairs (t, t+1) to run optical flow on, as runs of consecutive pairs.

    All pairs when there are at most ``max_pairs``; otherwise evenly spaced runs of ``run``
    consecutive pairs (so motion acceleration stays measurable), ``max_pairs`` in all.
    """
    if n_pairs <= max_pairs:
        return [list(range(n_pairs))] if n_pairs else []
    run = max(1, min(run, max_pairs))
    n_runs = max(1, max_pairs // run)
    starts = np.linspace(0, n_pairs - run, n_runs).round().astype(int)
    runs: list[list[int]] = []
    last = -1
    for s in starts:
        s = max(int(s), last + 1)
        r = list(range(s, min(s + run, n_pairs)))
        if r:
            runs.append(r)
            last = r[-1]
    return runs


# OpenCV's DIS flow crashes (segfault) on some small or thin frames (e.g. 20x80): frames are
# resized so that the longer side is ``flow_side`` (>= 96) and no side is below 32 pixels,
# which keeps DIS on its regular pyramid path (checked over a grid of sizes).
_MIN_FLOW_LONG = 96
_MIN_FLOW_SHORT = 32


def _flow_frame(img: np.ndarray, side: int) -> np.ndarray:
    """Grey frame resized for optical flow: longer side ``side``, shorter side at least 32
    (very thin frames are stretched; aspect ratio is otherwise kept)."""
    h, w = img.shape[:2]
    scale = side / max(h, w)
    nw = max(_MIN_FLOW_SHORT, round(w * scale))
    nh = max(_MIN_FLOW_SHORT, round(h * scale))
    if (nw, nh) == (w, h):
        return img
    interp = cv2.INTER_AREA if nw <= w and nh <= h else cv2.INTER_LINEAR
    return cv2.resize(img, (nw, nh), interpolation=interp)


# grey levels: consecutive frames whose mean absolute change is under this show the same picture
# (a held or frozen frame)
HELD_CHANGE = 0.5


def frame_changes(grays: np.ndarray) -> np.ndarray:
    """Mean absolute grey change from each of the (T, H, W) uint8 ``grays`` to the next, (T - 1,)."""
    t, h, w = grays.shape[:3]
    if t < 2:
        return np.zeros(0)
    # every frame's difference to the next in one call
    change = cv2.absdiff(grays[1:].reshape(-1, w), grays[:-1].reshape(-1, w)).reshape(-1, h, w)
    return np.array([cv2.mean(c)[0] for c in change])


@EXTRACTORS.register("temporal")
class TemporalFeatures(FeatureExtractor):
    """Temporal quality: frame-difference statistics, frozen frames, scene cuts, luminance and
    colour flicker, DIS optical-flow magnitude, global-motion jitter/shake, local motion
    acceleration, flow-warping error and forward-backward flow inconsistency (temporal
    inconsistency, morphing), temporal SSIM (plain and motion-compensated) and the
    generalized-Gaussian shape of frame differences and warping residuals (temporal NSS).

    Flow runs on grey frames resized to ``flow_side`` pixels, on at most ``max_pairs`` pairs of
    consecutive frames (evenly spaced runs of 4 consecutive pairs on long clips).
    """

    name = "temporal"
    version = "1"
    concurrent = True
    measures = "motion amount, jitter/shake, flicker, morphing/warp error, frozen frames, cuts"
    artifacts = (
        ("frozen", "frozen frames"), ("framediff", "stutter"), ("flicker", "flicker"),
        ("luma", "flicker"), ("chroma", "flicker"), ("global_change", "flicker"),
        ("histdist", "scene cuts"), ("scene_cuts", "scene cuts"),
        ("shake", "camera shake"), ("jitter", "camera shake"), ("accel", "camera shake"),
        ("warp", "warping"), ("morph", "warping"), ("fb_", "warping"), ("ssim", "warping"),
        ("resid", "warping"), ("diff_shape", "stutter"), ("flow", "motion"),
    )

    def __init__(self, flow_side: int = 128, max_pairs: int = 32, frozen_threshold: float = HELD_CHANGE):
        if int(flow_side) < _MIN_FLOW_LONG:
            raise ValueError(f"temporal: flow_side must be >= {_MIN_FLOW_LONG}, got {flow_side}")
        if int(max_pairs) < 1:
            raise ValueError(f"temporal: max_pairs must be at least 1, got {max_pairs}")
        self.flow_side = int(flow_side)
        self.max_pairs = int(max_pairs)
        self.frozen_threshold = float(frozen_threshold)

    def config(self) -> dict[str, Any]:
        return {
            "flow_side": self.flow_side,
            "max_pairs": self.max_pairs,
            "frozen_threshold": self.frozen_threshold,
        }

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        clip = self.decoded(clip)
        motion = np.ascontiguousarray(clip.motion)
        fps = float(clip.motion_fps) if clip.motion_fps and clip.motion_fps > 0 else 0.0
        grays = clip.grey_motion()
        out: dict[str, float] = {}
        out.update(self._change_features(motion, grays))
        out.update(self._flow_features(grays, fps))
        return {k: float(np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)) for k, v in out.items()}

    # -- cheap whole-sequence statistics -----------------------------------------------------

    def _change_features(self, motion: np.ndarray, grays: np.ndarray) -> dict[str, float]:
        t = len(motion)
        means = np.array([cv2.mean(f)[:3] for f in motion])  # (T, 3) RGB
        luma, cb, cr = means @ _Y, means @ _CB, means @ _CR
        h, w = grays.shape[1:]
        diffs = frame_changes(grays)
        hists = np.stack([cv2.calcHist([g], [0], None, [32], [0, 256]).ravel() for g in grays])
        hists /= np.float32(max(h * w, 1))  # fractions of the pixels
        hdist = 0.5 * np.abs(hists[1:] - hists[:-1]).sum(axis=1).astype(np.float64)

        out: dict[str, float] = {}
        out.update(_stats(diffs, "tp_framediff", 0.0, ("max", "p90")))
        if diffs.size:
            out["tp_frozen_fraction"] = float(np.mean(diffs < self.frozen_threshold))
            med = float(np.median(diffs))
            out["tp_framediff_spike"] = math.log((float(diffs.max()) + 1.0) / (med + 1.0))
            out["tp_framediff_cv"] = float(diffs.std() / (diffs.mean() + 1.0))
        else:
            out["tp_frozen_fraction"] = 1.0
            out["tp_framediff_spike"] = 0.0
            out["tp_framediff_cv"] = 0.0
        d1 = np.diff(luma) if t > 1 else np.zeros(0)
        d2 = np.diff(luma, 2) if t > 2 else np.zeros(0)
        c2 = np.hypot(np.diff(cb, 2), np.diff(cr, 2)) if t > 2 else np.zeros(0)
        c1 = np.hypot(np.diff(cb), np.diff(cr)) if t > 1 else np.zeros(0)
        out["tp_luma_drift"] = float(luma.std()) if t > 1 else 0.0
        out["tp_luma_d1_abs"] = float(np.abs(d1).mean()) if d1.size else 0.0
        out["tp_luma_d1_std"] = float(d1.std()) if d1.size else 0.0
        out["tp_luma_flicker"] = float(np.abs(d2).mean()) if d2.size else 0.0
        out["tp_luma_flicker_max"] = float(np.abs(d2).max()) if d2.size else 0.0
        out["tp_chroma_d1_abs"] = float(c1.mean()) if c1.size else 0.0
        out["tp_chroma_flicker"] = float(c2.mean()) if c2.size else 0.0
        fd = float(diffs.mean()) if diffs.size else 0.0
        # share of the frame change that is a global brightness change (flicker vs motion)
        out["tp_flicker_ratio"] = out["tp_luma_flicker"] / (fd + 1.0)
        out["tp_global_change_ratio"] = out["tp_luma_d1_abs"] / (fd + 1.0)
        out.update(_stats(hdist, "tp_histdist", 0.0, ("max",)))
        out["tp_scene_cuts"] = float(np.sum(hdist > 0.5)) if hdist.size else 0.0
        return out

    # -- optical flow ------------------------------------------------------------------------

    def _flow_features(self, grays: np.ndarray, fps: float) -> dict[str, float]:
        runs = _pair_runs(len(grays) - 1, self.max_pairs)
        needed = sorted({i for r in runs for p in r for i in (p, p + 1)})
        small = {i: _flow_frame(grays[i], self.flow_side) for i in needed}
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        h, w = small[needed[0]].shape if needed else (1, 1)
        grid = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        diag = math.hypot(h, w)
        per: dict[str, list[float]] = {}
        jitter, shake, accel = [], [], []
        for r in runs:
            gvecs, flows = [], []
            for p in r:
                m, flow, gvec = _pair_measures(dis, small[p], small[p + 1], grid, diag)
                for k, v in m.items():
                    per.setdefault(k, []).append(v)
                gvecs.append(gvec)
                flows.append(flow)
            g = np.array(gvecs)
            if len(g) >= 2:
                shake.extend(np.linalg.norm(np.diff(g, axis=0), axis=1).tolist())
                for i in range(len(flows) - 1):
                    dflow = magnitude(*cv2.split(flows[i + 1] - flows[i]))
                    accel.append(fmean(dflow) / diag)
            if len(g) >= 3:
                jitter.extend(np.linalg.norm(np.diff(g, 2, axis=0), axis=1).tolist())

        def series(key: str) -> np.ndarray:
            return np.array(per.get(key, []), dtype=np.float64)

        def mean(values: list[float] | np.ndarray, neutral: float = 0.0) -> float:
            return float(np.mean(values)) if len(values) else neutral

        out: dict[str, float] = {}
        out.update(_stats(series("mag"), "tp_flow_mag", 0.0, ("max", "min")))
        out.update(_stats(series("p90"), "tp_flow_p90", 0.0, ("max",)))
        out["tp_flow_spatial_std"] = mean(series("mag_std"))
        out["tp_flow_local"] = mean(series("local"))
        gm = mean(series("mag"))
        out["tp_flow_speed_per_s"] = gm * fps
        out["tp_shake_d1"] = mean(shake)
        out["tp_jitter"] = mean(jitter)
        out["tp_jitter_max"] = float(np.max(jitter)) if jitter else 0.0
        out["tp_jitter_rel"] = out["tp_jitter"] / (gm + 1e-3)
        out["tp_flow_accel"] = mean(accel)
        out["tp_flow_accel_rel"] = out["tp_flow_accel"] / (gm + 1e-3)
        out.update(_stats(series("warp_err"), "tp_warp_err", 0.0, ("max",)))
        out.update(_stats(series("warp_ratio"), "tp_warp_ratio", 1.0, ("max",)))
        out["tp_warp_gain"] = (mean(series("plain_err")) + 1.0) / (mean(series("warp_err")) + 1.0)
        out.update(_stats(series("morph"), "tp_morph_frac", 0.0, ("max",)))
        out.update(_stats(series("ssim"), "tp_ssim", 1.0, ("min",)))
        out.update(_stats(series("warped_ssim"), "tp_warped_ssim", 1.0, ("min",)))
        out.update(_stats(series("fb_err"), "tp_fb_err", 0.0, ("max",)))
        out.update(_stats(series("fb_bad"), "tp_fb_bad", 0.0, ("max",)))
        out.update(_stats(series("resid_shape"), "tp_resid_shape", 2.0))
        out.update(_stats(series("resid_logvar"), "tp_resid_logvar", 0.0))
        out.update(_stats(series("diff_shape"), "tp_diff_shape", 2.0))
        return out


def _pair_measures(
    dis: Any, a: np.ndarray, b: np.ndarray, grid: tuple[np.ndarray, np.ndarray], diag: float
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Flow-based measures of one pair of consecutive grey frames (flow lengths are fractions
    of the frame diagonal); also returns the flow field and the global motion vector."""
    flow = dis.calc(a, b, None)
    fx, fy = flow[..., 0], flow[..., 1]
    mag = magnitude(fx, fy)
    m_mean, m_std = (v / diag for v in fmean_std(mag))
    sub = mag[::2, ::2].ravel()
    k = int(0.9 * (sub.size - 1))
    mx, my = fmean(fx), fmean(fy)
    out = {
        "mag": m_mean,
        "mag_std": m_std,
        "p90": float(np.partition(sub, k)[k]) / diag,
        "local": fmean(magnitude(fx - np.float32(mx), fy - np.float32(my))) / diag,
    }
    # warp b back onto a along the flow: what motion does not explain is morphing/flicker
    map_x, map_y = grid[0] + fx, grid[1] + fy
    warped = cv2.remap(b, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    res = cv2.absdiff(warped, a)
    warp_err = float(cv2.mean(res)[0])
    plain_err = float(cv2.mean(cv2.absdiff(a, b))[0])
    out["warp_err"] = warp_err
    out["plain_err"] = plain_err
    out["warp_ratio"] = (warp_err + 1.0) / (plain_err + 1.0)
    out["morph"] = float(np.count_nonzero(res > 20)) / res.size
    af, bf, wf = a.astype(np.float32), b.astype(np.float32), warped.astype(np.float32)
    out["ssim"] = _ssim(af, bf)
    out["warped_ssim"] = _ssim(af, wf)
    # temporal natural-scene statistics: GGD shape of the residual and of the plain difference
    shape_r, var_r = ggd_fit(wf - af)
    out["resid_shape"] = shape_r
    out["resid_logvar"] = math.log1p(var_r)
    out["diff_shape"] = ggd_fit(bf - af)[0]
    # forward-backward consistency: the backward flow at x + F(x) should cancel F(x)
    back = dis.calc(b, a, None)
    back_w = cv2.remap(back, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    bx, by = back_w[..., 0], back_w[..., 1]
    ex, ey = fx + bx, fy + by
    err2 = ex * ex + ey * ey
    tol = 0.01 * (fx * fx + fy * fy + bx * bx + by * by) + 0.5
    out["fb_err"] = fmean(np.sqrt(err2)) / diag
    out["fb_bad"] = float(np.count_nonzero(err2 > tol)) / err2.size
    return out, flow, np.array([mx, my]) / diag
