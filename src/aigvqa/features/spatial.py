"""Per-frame (spatial) quality measures on the sampled frames, pooled over time.

Everything runs on OpenCV/numpy vectorised operations on frames of at most 512 pixels a
side (about 7 ms a frame on one core). Keys are prefixed ``sp_`` and suffixed with the
pooling: ``_mean`` and ``_std`` over the frames (the spread over time of a spatial measure
is itself a strong sign of temporally unstable texture), and ``_min``/``_max`` (the worst
frame) for the main measures.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import cv2
import numpy as np

from aigvqa.features.base import FrameExtractor
from aigvqa.registry import EXTRACTORS

_EPS = 1e-6

# --- deterministic reductions --------------------------------------------------------------
# OpenCV's cv2.mean / meanStdDev on float arrays (and BLAS dot products) may sum in an order
# that depends on the memory alignment of the array, so results can differ in the last bits
# between runs. All float reductions go through numpy in float64 (pairwise summation).


def fmean(x: np.ndarray) -> float:
    """Mean of an array, reproducible to the last bit."""
    return float(np.mean(x, dtype=np.float64)) if x.size else 0.0


def fmean_std(x: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of an array, reproducible to the last bit."""
    if not x.size:
        return 0.0, 0.0
    x64 = np.asarray(x, dtype=np.float64)
    return float(x64.mean()), float(x64.std())


def magnitude(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Element-wise hypot of two float32 arrays (cv2.magnitude is not bit-reproducible)."""
    return np.sqrt(x * x + y * y)


def fsumsq(x: np.ndarray) -> float:
    """Sum of squares of an array, reproducible to the last bit."""
    x64 = np.asarray(x, dtype=np.float64)
    return float(np.sum(x64 * x64))


# --- generalized-Gaussian moment matching (BRISQUE / NIQE) ------------------------------

_ALPHAS = np.arange(0.2, 10.0, 0.001)
# rho(a) = Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a)) = E[|x|]^2 / E[x^2] for a GGD of shape a
_RHO = np.exp(
    2 * np.array([math.lgamma(2 / a) for a in _ALPHAS])
    - np.array([math.lgamma(1 / a) for a in _ALPHAS])
    - np.array([math.lgamma(3 / a) for a in _ALPHAS])
)
_RHO_ORDER = np.argsort(_RHO)
# as Python floats: a lookup is a bisection in plain Python (numpy's per-call overhead on one
# scalar is larger than the search, and holds the GIL)
_RHO_SORTED = _RHO[_RHO_ORDER].tolist()
_ALPHAS_SORTED = _ALPHAS[_RHO_ORDER].tolist()


def _shape_from_rho(rho: float) -> float:
    """GGD shape whose moment ratio is closest to ``rho`` (clamped to the table's range)."""
    rho = float(rho)
    if not math.isfinite(rho):
        return 2.0
    i = min(max(bisect.bisect_left(_RHO_SORTED, rho), 1), len(_RHO_SORTED) - 1)
    j = i if abs(_RHO_SORTED[i] - rho) < abs(_RHO_SORTED[i - 1] - rho) else i - 1
    return _ALPHAS_SORTED[j]


def ggd_fit(x: np.ndarray) -> tuple[float, float]:
    """Shape and variance of a zero-mean generalized Gaussian fitted by moment matching."""
    v = x.ravel()
    n = max(v.size, 1)
    sq = fsumsq(v) / n
    ab = float(np.sum(np.abs(v), dtype=np.float64)) / n
    if sq < 1e-12:
        return 2.0, 0.0
    return _shape_from_rho(ab * ab / sq), sq


def aggd_fit(x: np.ndarray) -> tuple[float, float, float, float]:
    """Asymmetric GGD fit: (shape, mean, left variance, right variance)."""
    v = np.asarray(x, dtype=np.float64).ravel()
    n = max(v.size, 1)
    neg = np.minimum(v, 0.0)
    n_neg = int(np.count_nonzero(neg))
    n_pos = int(np.count_nonzero(v)) - n_neg
    total = float(np.sum(v * v))
    lsum = float(np.sum(neg * neg))
    rsum = max(total - lsum, 0.0)
    lsq = lsum / n_neg if n_neg else 0.0
    rsq = rsum / n_pos if n_pos else 0.0
    sq = total / n
    if sq < 1e-12 or lsq < 1e-12 or rsq < 1e-12:
        return 2.0, 0.0, lsq, rsq
    gamma = math.sqrt(lsq) / math.sqrt(rsq)
    ab = (float(np.sum(v)) - 2.0 * float(np.sum(neg))) / n  # mean |x|
    r_hat = ab * ab / sq
    big_r = r_hat * (gamma**3 + 1) * (gamma + 1) / (gamma**2 + 1) ** 2
    alpha = _shape_from_rho(big_r)
    lg1, lg2, lg3 = math.lgamma(1 / alpha), math.lgamma(2 / alpha), math.lgamma(3 / alpha)
    mean = (math.sqrt(rsq) - math.sqrt(lsq)) * math.exp(lg2 - lg1) * math.exp(0.5 * (lg1 - lg3))
    return alpha, mean, lsq, rsq


def mscn(gray: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalized coefficients of a float32 0..255 image."""
    mu = cv2.GaussianBlur(gray, (7, 7), 7 / 6, borderType=cv2.BORDER_REPLICATE)
    var = cv2.GaussianBlur(gray * gray, (7, 7), 7 / 6, borderType=cv2.BORDER_REPLICATE) - mu * mu
    return (gray - mu) / (np.sqrt(np.abs(var)) + 1.0)


def _nss(gray: np.ndarray, tag: str, step: int = 1) -> dict[str, float]:
    """BRISQUE-style statistics of MSCN coefficients and their neighbour products.

    ``step`` > 1 fits the distributions on every ``step``-th pixel (rows and columns) only:
    the fits need far fewer samples than a 512-pixel frame has.
    """
    m = mscn(gray)
    out: dict[str, float] = {}
    shape, var = ggd_fit(m[::step, ::step])
    out[f"mscn_shape_{tag}"] = shape
    out[f"mscn_logvar_{tag}"] = math.log(var + 1e-3)
    s = step
    products = {
        "h": m[::s, :-1:s] * m[::s, 1::s],
        "v": m[:-1:s, ::s] * m[1::s, ::s],
        "d1": m[:-1:s, :-1:s] * m[1::s, 1::s],
        "d2": m[:-1:s, 1::s] * m[1::s, :-1:s],
    }
    for key, p in products.items():
        alpha, mean, _, _ = aggd_fit(p)
        out[f"pair_{key}_shape_{tag}"] = alpha
        out[f"pair_{key}_mean_{tag}"] = mean
    return out


# --- individual measures -----------------------------------------------------------------

_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


def _noise(gray: np.ndarray, grad_mag: np.ndarray) -> dict[str, float]:
    """Noise sigma: Immerkaer's fast estimator (whole frame and smooth areas), MAD of high-pass."""
    h, w = gray.shape
    conv = np.abs(cv2.filter2D(gray, -1, _IMMERKAER, borderType=cv2.BORDER_REPLICATE))
    scale = math.sqrt(math.pi / 2) / 6
    if h > 2 and w > 2:
        conv = conv[1:-1, 1:-1]
        grad_mag = grad_mag[1:-1, 1:-1]
    sigma_all = scale * fmean(conv)
    # smooth areas: the 30% of pixels with the weakest gradient (threshold from a subsample)
    sub = grad_mag[::2, ::2].ravel()
    thresh = float(np.partition(sub, int(0.3 * (sub.size - 1)))[int(0.3 * (sub.size - 1))])
    smooth = conv[grad_mag <= thresh]
    sigma_smooth = scale * fmean(smooth) if smooth.size else sigma_all
    hp = np.abs(gray - cv2.GaussianBlur(gray, (3, 3), 0.8, borderType=cv2.BORDER_REPLICATE))
    hs = hp[::2, ::2].ravel()
    sigma_mad = float(np.partition(hs, hs.size // 2)[hs.size // 2]) / 0.6745
    return {"noise_immerkaer": sigma_all, "noise_smooth": sigma_smooth, "noise_mad": sigma_mad}


def _sharpness(pyramid: list[np.ndarray], grad0: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    """Laplacian variance and gradient energy at three dyadic scales, and their ratios."""
    out: dict[str, float] = {}
    lap, grad = [], []
    for s, level in enumerate(pyramid):
        lap.append(fmean_std(cv2.Laplacian(level, cv2.CV_32F, ksize=1))[1] ** 2)
        if s == 0:
            gx, gy = grad0
        else:
            gx = cv2.Sobel(level, cv2.CV_32F, 1, 0, ksize=3)
            gy = cv2.Sobel(level, cv2.CV_32F, 0, 1, ksize=3)
        grad.append((fsumsq(gx) + fsumsq(gy)) / max(gx.size, 1))
    for s in range(3):
        out[f"lapvar_log_s{s}"] = math.log1p(lap[s])
        out[f"gradenergy_log_s{s}"] = math.log1p(grad[s])
    # a sharp image keeps its energy at the finest scale; blur moves it to coarser ones
    out["lap_ratio_01"] = math.log((lap[0] + 1.0) / (lap[1] + 1.0))
    out["lap_ratio_12"] = math.log((lap[1] + 1.0) / (lap[2] + 1.0))
    out["grad_ratio_01"] = math.log((grad[0] + 1.0) / (grad[1] + 1.0))
    return out


def _colour(rgb: np.ndarray, luma: np.ndarray) -> dict[str, float]:
    """Hasler–Süsstrunk colourfulness, saturation, exposure and RMS contrast.

    Colour statistics use every other pixel of large frames (they need no more); the luma
    histogram uses all of them.
    """
    if min(rgb.shape[:2]) >= 64:
        rgb = np.ascontiguousarray(rgb[::2, ::2])
    r, g, b = (c.astype(np.float32) for c in cv2.split(rgb))
    rg = r - g
    yb = 0.5 * (r + g) - b
    rg_mean, rg_std = fmean_std(rg)
    yb_mean, yb_std = fmean_std(yb)
    colourful = math.hypot(rg_std, yb_std) + 0.3 * math.hypot(rg_mean, yb_mean)
    sat = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1]
    sat_mean, sat_std = (float(v[0, 0]) / 255.0 for v in cv2.meanStdDev(sat))
    n = luma.size
    hist = cv2.calcHist([luma], [0], None, [256], [0, 256]).ravel().astype(np.float64) / max(n, 1)
    cdf = np.cumsum(hist)
    p5 = float(np.searchsorted(cdf, 0.05))
    p95 = float(np.searchsorted(cdf, 0.95))
    levels = np.arange(256, dtype=np.float64)
    mean = float((hist * levels).sum())
    var = float((hist * (levels - mean) ** 2).sum())
    nz = hist[hist > 0]
    entropy = float(-(nz * np.log2(nz)).sum())
    return {
        "colourfulness": colourful / 255.0,
        "saturation_mean": sat_mean,
        "saturation_std": sat_std,
        "luma_mean": mean / 255.0,
        "luma_dark_clip": float(hist[:8].sum()),
        "luma_bright_clip": float(hist[248:].sum()),
        "contrast_rms": math.sqrt(var) / 255.0,
        "luma_range_p5_p95": (p95 - p5) / 255.0,
        "luma_entropy": entropy,
    }


def _blockiness(gray: np.ndarray, scale: float) -> dict[str, float]:
    """Gradient across the (rescaled) 8x8 coding-block grid relative to inside blocks.

    Returns 1.0 (no evidence) when the grid is finer than 3 pixels after downscaling.
    """
    period = 8.0 * scale
    out = {}
    for axis, key in ((1, "blockiness_h"), (0, "blockiness_v")):
        n = gray.shape[axis] - 1  # number of neighbour differences along the axis
        if period < 3.0 or n < 2 * period:
            out[key] = 1.0
            continue
        k = np.arange(1, int(n / period) + 1)
        edges = np.unique(np.clip(np.round(k * period).astype(int) - 1, 0, n - 1))
        mids = np.unique(np.clip(np.round((k - 0.5) * period).astype(int) - 1, 0, n - 1))
        mids = np.setdiff1d(mids, edges)
        if edges.size == 0 or mids.size == 0:
            out[key] = 1.0
            continue
        e = fmean(np.abs(np.take(gray, edges + 1, axis=axis) - np.take(gray, edges, axis=axis)))
        m = fmean(np.abs(np.take(gray, mids + 1, axis=axis) - np.take(gray, mids, axis=axis)))
        out[key] = (e + 0.1) / (m + 0.1)
    return out


_BAND_OFFSETS = [
    (dy, dx)
    for r in (4, 8)
    for dy, dx in ((-r, -r), (-r, 0), (-r, r), (0, -r), (0, r), (r, -r), (r, 0), (r, r))
]


def _banding(gray_u8: np.ndarray, grad_blur: np.ndarray) -> dict[str, float]:
    """Flat areas and banding (false contours in smooth gradients), CAMBI-like.

    At every pixel of a smooth area (weak gradient after blurring) the local neighbourhood is
    checked for pixels at the same grey level and at the next level up or down: a banded
    gradient is made of wide flat bands next to bands one or two levels apart, so both
    fractions are large; a flat area has no neighbouring level and a noisy gradient has
    no dominant level.
    """
    g = gray_u8[::2, ::2].astype(np.int16)
    smooth = grad_blur[: g.shape[0], : g.shape[1]] < 2.0
    h, w = g.shape
    ns = int(smooth.sum())
    dxy = np.abs(np.diff(g, axis=1))[:-1, :] + np.abs(np.diff(g, axis=0))[:, :-1]
    flat = float(((dxy == 0) & smooth[:-1, :-1]).sum()) / max(ns, 1)
    if ns == 0 or h < 3 or w < 3:
        return {"smooth_fraction": ns / max(g.size, 1), "flat_in_smooth": flat, "banding": 0.0}
    pad = 8
    gp = np.pad(g, pad, mode="edge")
    eq = np.zeros(g.shape, np.int16)
    near = np.zeros(g.shape, np.int16)
    for dy, dx in _BAND_OFFSETS:
        s = gp[pad + dy : pad + dy + h, pad + dx : pad + dx + w]
        d = np.abs(s - g)
        eq += d == 0
        near += (d >= 1) & (d <= 4)
    n = len(_BAND_OFFSETS)
    c = (eq.astype(np.float32) / n) * (near.astype(np.float32) / n)
    c = c * smooth
    return {
        "smooth_fraction": ns / g.size,
        "flat_in_smooth": flat,
        "banding": fmean(c) * 4.0,
    }


_SPEC_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _spectral_geometry(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    key = (h, w)
    if key not in _SPEC_CACHE:
        fy = np.fft.fftfreq(h)[:, None]
        fx = np.fft.rfftfreq(w)[None, :]
        radius = np.sqrt(fx * fx + fy * fy)
        edges = np.geomspace(0.02, 0.5, 13)
        bins = np.digitize(radius, edges) - 1  # -1 below, 12 above
        window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
        _SPEC_CACHE[key] = (bins, np.sqrt(edges[:-1] * edges[1:]), window)
    return _SPEC_CACHE[key]


def _spectrum(gray: np.ndarray) -> dict[str, float]:
    """Slope of the radially averaged log power spectrum (natural images: about -2)."""
    h, w = gray.shape
    if h < 8 or w < 8:
        return {"spectral_slope": -2.0, "spectral_hf_ratio": 0.0}
    # a centre crop of at most 256x256 keeps every frequency and halves the FFT cost
    ch, cw = min(h, 256), min(w, 256)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    gray = gray[y0 : y0 + ch, x0 : x0 + cw]
    h, w = ch, cw
    bins, centres, window = _spectral_geometry(h, w)
    x = (gray - np.float32(fmean(gray))) * window
    power = np.abs(np.fft.rfft2(x)) ** 2
    flat_bins = bins.ravel()
    valid = (flat_bins >= 0) & (flat_bins < len(centres))
    sums = np.bincount(flat_bins[valid], weights=power.ravel()[valid], minlength=len(centres))
    counts = np.bincount(flat_bins[valid], minlength=len(centres))
    ok = counts > 0
    if ok.sum() < 3 or sums[ok].sum() <= 0:
        return {"spectral_slope": -2.0, "spectral_hf_ratio": 0.0}
    logp = np.log10(sums[ok] / counts[ok] + 1e-6)
    logf = np.log10(centres[ok])
    slope = float(np.polyfit(logf, logp, 1)[0])
    total = float(sums.sum())
    hf = float(sums[len(centres) // 2 :].sum()) / (total + _EPS)
    return {"spectral_slope": slope, "spectral_hf_ratio": hf}


def _pyramid(gray: np.ndarray, levels: int = 3) -> list[np.ndarray]:
    out = [gray]
    for _ in range(levels - 1):
        g = out[-1]
        out.append(cv2.pyrDown(g) if min(g.shape) >= 4 else g)
    return out


def frame_measures(rgb: np.ndarray, block_scale: float = 1.0) -> dict[str, float]:
    """All spatial measures of one RGB uint8 frame (keys in a fixed order)."""
    gray_u8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    gray = gray_u8.astype(np.float32)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    grad_mag = magnitude(gx, gy)
    pyr = _pyramid(gray)
    half = pyr[1]
    # gradient of the (Gaussian-blurred, half-size) pyramid level, in grey levels per pixel
    hx = cv2.Sobel(half, cv2.CV_32F, 1, 0, ksize=3)
    hy = cv2.Sobel(half, cv2.CV_32F, 0, 1, ksize=3)
    grad_half = magnitude(hx, hy) / 16.0  # Sobel gain 8, half-size pixels are 2 wide

    out: dict[str, float] = {}
    out.update(_sharpness(pyr, (gx, gy)))
    out.update(_noise(gray, grad_mag))
    out.update(_nss(gray, "s0", step=2 if min(gray.shape) >= 64 else 1))
    out.update(_nss(half, "s1", step=2 if min(half.shape) >= 128 else 1))
    out.update(_colour(rgb, gray_u8))
    out.update(_blockiness(gray, block_scale))
    out.update(_banding(gray_u8, grad_half))
    half_u8 = np.clip(half + 0.5, 0, 255).astype(np.uint8)
    edges = cv2.Canny(half_u8, 50, 150)
    out["edge_density"] = float(np.count_nonzero(edges)) / edges.size
    strong = grad_mag > 160.0  # 20 grey levels per pixel
    out["strong_grad_fraction"] = float(np.count_nonzero(strong)) / strong.size
    out.update(_spectrum(gray))
    return out


# measures whose worst frame is informative: (key, "min" or "max")
_WORST = {
    "lapvar_log_s0": "min",
    "lap_ratio_01": "min",
    "noise_smooth": "max",
    "blockiness_h": "max",
    "blockiness_v": "max",
    "banding": "max",
    "spectral_slope": "min",
}
# per-frame measures pooled by their mean only (their spread over time adds little)
_MEAN_ONLY = ("pair_",)


@EXTRACTORS.register("spatial")
class SpatialFeatures(FrameExtractor):
    """Per-frame spatial quality: blur/sharpness at three scales, noise, natural-scene
    statistics (BRISQUE-style MSCN fits), colourfulness, exposure and contrast, blockiness,
    banding, edge density and spectral slope, pooled over the sampled frames (mean, std and
    the worst frame for the main measures)."""

    name = "spatial"
    version = "1"
    concurrent = True
    measures = "blur, noise, unnatural texture (NSS), colour, exposure, blocking, banding"
    artifacts = (
        ("lapvar", "blur"), ("gradenergy", "blur"), ("lap_ratio", "blur"), ("grad_ratio", "blur"),
        ("edge_density", "blur"), ("strong_grad", "blur"), ("spectral", "blur"),
        ("noise", "noise"), ("mscn", "unnatural texture"), ("pair_", "unnatural texture"),
        ("colourfulness", "colour"), ("saturation", "colour"),
        ("luma", "exposure"), ("contrast", "exposure"),
        ("blockiness", "compression"), ("banding", "banding"), ("smooth_fraction", "banding"),
        ("flat_in_smooth", "banding"),
    )

    def __init__(self, max_frames: int = 8):
        if int(max_frames) < 1:
            raise ValueError(f"spatial: max_frames must be at least 1, got {max_frames}")
        self.max_frames = int(max_frames)

    def config(self) -> dict[str, Any]:
        return {"max_frames": self.max_frames}

    def frames_used(self, count: int) -> np.ndarray:
        if count > self.max_frames:
            return np.unique(np.linspace(0, count - 1, self.max_frames).round().astype(int))
        return np.arange(count)

    def measure_frame(self, frame: np.ndarray, width: int) -> dict[str, float]:
        return frame_measures(frame, frame.shape[1] / max(width, 1))

    def pool(self, measures: list[dict[str, float]]) -> dict[str, float]:
        keys = list(measures[0])
        table = np.array([[p[k] for k in keys] for p in measures], dtype=np.float64)
        table = np.nan_to_num(table, nan=0.0, posinf=0.0, neginf=0.0)
        mean = table.mean(axis=0)
        std = table.std(axis=0)
        out: dict[str, float] = {}
        for i, k in enumerate(keys):
            out[f"sp_{k}_mean"] = float(mean[i])
            if not k.startswith(_MEAN_ONLY):
                out[f"sp_{k}_std"] = float(std[i])
        for k, how in _WORST.items():
            col = table[:, keys.index(k)]
            out[f"sp_{k}_{how}"] = float(col.min() if how == "min" else col.max())
        return out
