"""Coherent fine detail: the finest detail that stays put from one frame to the next.

A measure of fine-scale energy on one frame cannot tell noise from texture: both raise it (see
:mod:`aigvqa.features.detail`). Texture that stays where it is appears in two consecutive
frames alike; noise is drawn anew for every frame. So where the picture does not move, the
product of two consecutive frames' Laplacians averages to the texture's energy, and noise adds
nothing to it. This extractor reads each spatial sample and the frame right after it at the
video's own resolution (:attr:`aigvqa.video.Clip.native_next`), keeps the still pixels (the
frame difference, blurred with sigma 2, under a grey level), and compares that coherent energy
at full size with the same at half and quarter size. Blur, a low-bitrate re-encode, warping
and camera shake lower it (they smooth or move the finest detail); noise leaves it where it was.
A change of size moves it as a blur does: a clip brought up to twice its size has no detail at
its new finest scale.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from aigvqa.features.grain import StillPixelExtractor
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip


def _coherent(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> float:
    """Mean product of the Laplacians of ``a`` and ``b`` (over ``mask`` when given), at least 0."""
    prod = cv2.Laplacian(a, cv2.CV_32F, ksize=3) * cv2.Laplacian(b, cv2.CV_32F, ksize=3)
    value = float(prod[mask].mean()) if mask is not None else float(prod.mean())
    return max(value, 0.0)


def _shrunk(mask: np.ndarray, like: np.ndarray) -> np.ndarray:
    return cv2.resize(mask.view(np.uint8), (like.shape[1], like.shape[0]), interpolation=cv2.INTER_NEAREST) > 0


def coherent_ratios(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> tuple[float, float] | None:
    """(log coherent energy full/half, full/quarter) of two consecutive float32 grey frames, over
    ``mask`` (None: every pixel); None when the mask keeps no pixel at half or quarter size."""
    ha, hb = cv2.pyrDown(a), cv2.pyrDown(b)
    qa, qb = cv2.pyrDown(ha), cv2.pyrDown(hb)
    half_mask = _shrunk(mask, ha) if mask is not None else None
    quarter_mask = _shrunk(mask, qa) if mask is not None else None
    if mask is not None and (not half_mask.any() or not quarter_mask.any()):
        return None
    c0, c1, c2 = _coherent(a, b, mask), _coherent(ha, hb, half_mask), _coherent(qa, qb, quarter_mask)
    return math.log((c0 + 1.0) / (c1 + 1.0)), math.log((c0 + 1.0) / (c2 + 1.0))


@EXTRACTORS.register("coherence")
class CoherentDetail(StillPixelExtractor):
    """Coherent fine detail on each spatial sample and the frame after it, at the video's own
    resolution: the mean product of the two frames' Laplacians over the still pixels (the
    difference blurred with sigma 2 under ``still`` grey levels), as the log ratio of full size
    to half (``ch_fine_half``) and to quarter size (``ch_fine_quarter``), averaged over the
    pairs with at least ``min_still`` of their pixels still (over every pair, all pixels, when
    none has), and the mean share of still pixels (``ch_still_share``)."""

    name = "coherence"
    version = "1"
    concurrent = True
    native_pairs = True
    measures = "coherent fine detail: the finest detail that stays put between frames (blur, not noise)"
    artifacts = (("", "blur"),)

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        clip = self.decoded(clip)
        if clip.native is not None and clip.native_next is not None and len(clip.native):
            pairs = list(zip(clip.native, clip.native_next, strict=True))
        else:  # a clip built by hand: consecutive motion frames, spread over the clip
            greys = clip.grey_motion()
            starts = np.unique(np.linspace(0, max(len(greys) - 2, 0), 8).round().astype(int))
            pairs = [(greys[i], greys[i + 1]) for i in starts if i + 1 < len(greys)]
        pairs = [(a, b) for a, b in pairs if min(a.shape) >= 16]  # two pyramid levels
        if not pairs:
            return {"ch_fine_half": 0.0, "ch_fine_quarter": 0.0, "ch_still_share": 0.0}
        pairs = [(a.astype(np.float32), b.astype(np.float32)) for a, b in pairs]
        masks = [self.still_mask(b - a) for a, b in pairs]
        shares = [float(m.mean()) for m in masks]
        used = [coherent_ratios(a, b, m) for (a, b), m, share in zip(pairs, masks, shares, strict=True)
                if share >= self.min_still]  # fmt: skip
        used = [r for r in used if r is not None] or [
            coherent_ratios(a, b, None) for a, b in pairs
        ]  # no pair with enough still pixels: every pixel of every pair
        return {
            "ch_fine_half": float(np.mean([r[0] for r in used])),
            "ch_fine_quarter": float(np.mean([r[1] for r in used])),
            "ch_still_share": float(np.mean(shares)),
        }
