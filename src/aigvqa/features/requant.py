"""Re-compression ghosts: how much a clip changes when it is coded again, rung by rung.

Coding a picture again at the quantiser it was already coded with changes it little: what that
quantiser would remove is gone already. So a clip re-encoded with H.264 at a ladder of rates
changes, from one rung to the next, in a ratio that dips at the rate the clip already went
through (the "ghost" of double-compression forensics). A clean clip's ratios barely depend on its
content (the same ratio, within a few hundredths, across generated clips); a copy coded at CRF 27
to 31 drops the lowest rung's ratio by about two of the clean clips' interquartile ranges, and
other encoders' low bitrates lower it too. The ghost lives in how consecutive frames were
predicted from each other, so it is measured on :attr:`aigvqa.video.Clip.native_run`: a centre
crop of six consecutive frames at the video's own resolution.
"""

from __future__ import annotations

import io
from typing import Any

import av
import numpy as np

from aigvqa.features.base import FeatureExtractor
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip

RUNGS = (26, 30, 34)  # libx264 CRF: where a trace to a mild compression sits (26 + 25 s, s in 0.02-0.3)
CROP = 192  # the crop's side: six frames of 192 x 192 cost about 25 ms a rung in x264's C code
_SMOOTH = 0.05  # grey levels added to each change: a flat picture's ratio reads 1, not 0/0
# x264's portable C code, one thread, no timestamps: the same frames give the same bits on any CPU
# (its assembly does not: its output differs from the C code's, so it may differ between CPUs)
_X264 = {"preset": "veryfast", "threads": "1", "flags": "+bitexact", "x264-params": "asm=0"}


def centre_crop(grey: np.ndarray, side: int = CROP) -> np.ndarray:
    """The centre ``side`` x ``side`` crop (less where the picture is smaller) of a grey image, its
    size and corner on multiples of 16 (the coding grid, when the image's corner is on it)."""
    h, w = grey.shape
    ch, cw = min(h, side) // 16 * 16, min(w, side) // 16 * 16
    y0, x0 = (h - ch) // 2 // 16 * 16, (w - cw) // 2 // 16 * 16
    return np.ascontiguousarray(grey[y0 : y0 + ch, x0 : x0 + cw])


def recode(greys: np.ndarray, crf: int) -> np.ndarray:
    """``greys`` (T, H, W) uint8, H and W multiples of 2, coded as one H.264 sequence at ``crf``
    (luma only; neutral chroma) and decoded back."""
    t, h, w = greys.shape
    chroma = np.full((h // 2, w), 128, np.uint8)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), **_X264}
        for g in greys:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.vstack([g, chroma]), format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buf.seek(0)
    with av.open(buf) as inp:
        decoded = [f.to_ndarray(format="yuv420p")[:h] for f in inp.decode(video=0)]
    return np.stack(decoded[:t])


@EXTRACTORS.register("requant")
class RequantGhost(FeatureExtractor):
    """Re-compression ghosts on a centre crop of six consecutive frames at the video's own
    resolution: the mean change (grey levels) when they are coded again with H.264 at CRF 26, and
    the ratio of the change at each rung of CRF 26, 30, 34 to the next (lower where the clip was
    already coded near that rung)."""

    name = "requant"
    version = "1"
    concurrent = True
    measures = "compression: how little a clip changes when coded again at the rate it already went through"
    artifacts = (("", "compression"),)

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        clip = self.decoded(clip)
        keys = ["rq_change_26"] + [f"rq_ratio_{a}_{b}" for a, b in zip(RUNGS[:-1], RUNGS[1:], strict=True)]
        run = clip.native_run
        if run is None or not len(run):  # a clip built by hand: consecutive motion frames, in grey
            run = clip.grey_motion()[:6]
        crops = np.stack([centre_crop(g) for g in run])
        if crops.shape[1] < 16 or crops.shape[2] < 16:
            return dict.fromkeys(keys, 0.0)
        source = crops.astype(np.int16)
        change = [float(np.mean(np.abs(recode(crops, q).astype(np.int16) - source))) for q in RUNGS]
        ratios = [(a + _SMOOTH) / (b + _SMOOTH) for a, b in zip(change[:-1], change[1:], strict=True)]
        return dict(zip(keys, [change[0], *ratios], strict=True))

    def config(self) -> dict[str, Any]:
        return {"rungs": list(RUNGS), "crop": CROP}
