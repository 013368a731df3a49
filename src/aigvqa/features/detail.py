"""Fine detail at the video's own resolution: what a light blur takes first.

A blur of a pixel or two on a 720p or 1080p clip removes the finest scale of detail and little
else, and the spatial samples, downscaled to 512 pixels, have already lost most of that scale.
This extractor reads :attr:`aigvqa.video.Clip.native` (full-size centre crops of the spatial
samples): the Laplacian's energy at full size, its ratio to that of the half- and quarter-size
images, and how steep the strongest edges are at full size compared with half size. Noise
raises all of them and blur lowers them, so they serve an estimator that also sees the noise
measures (the artifact dimensions), not a score on their own. A clip held without those crops
is measured on its spatial samples.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from aigvqa.features.base import FeatureExtractor
from aigvqa.features.spatial import magnitude
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip, native_greys


def detail_measures(grey: np.ndarray) -> tuple[float, float, float, float]:
    """(log Laplacian variance, log full/half and full/quarter Laplacian energy, log edge
    steepness full/half) of one float32 grey image."""
    half = cv2.pyrDown(grey)
    quarter = cv2.pyrDown(half)
    lap = [cv2.Laplacian(x, cv2.CV_32F, ksize=3) for x in (grey, half, quarter)]
    e0, e1, e2 = (float(np.mean(np.abs(x))) for x in lap)
    g0 = magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    g1 = magnitude(cv2.Sobel(half, cv2.CV_32F, 1, 0), cv2.Sobel(half, cv2.CV_32F, 0, 1))
    g0 = cv2.resize(g0, (g1.shape[1], g1.shape[0]), interpolation=cv2.INTER_AREA)
    strong = g1 >= np.percentile(g1, 95)  # the strongest edges, found where blur moves them least
    steep = math.log((float(g0[strong].mean()) + 1.0) / (float(g1[strong].mean()) / 2.0 + 1.0))
    return (math.log1p(float(np.var(lap[0]))), math.log((e0 + 0.1) / (e1 + 0.1)),
            math.log((e0 + 0.1) / (e2 + 0.1)), steep)  # fmt: skip


@EXTRACTORS.register("detail")
class NativeDetail(FeatureExtractor):
    """Finest-scale detail at the video's own resolution, each the mean over the spatial samples:
    log Laplacian variance, log Laplacian energy ratios full/half and full/quarter size, and the
    log steepness of the strongest edges at full size against half size."""

    name = "detail"
    version = "2"  # 2: numpy's magnitude (cv2.magnitude gave different last bits from call to call)
    concurrent = True
    measures = "blur: the finest detail at the video's own resolution (a light blur removes it first)"
    artifacts = (("", "blur"),)

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        clip = self.decoded(clip)
        greys = [g.astype(np.float32) for g in native_greys(clip)[0] if min(g.shape) >= 16]  # two pyramid levels
        if not greys:
            return {"dt_lapvar_log": 0.0, "dt_lap_ratio_01": 0.0, "dt_lap_ratio_02": 0.0, "dt_edge_steepness": 0.0}
        m = np.mean([detail_measures(g) for g in greys], axis=0)
        return {"dt_lapvar_log": float(m[0]), "dt_lap_ratio_01": float(m[1]), "dt_lap_ratio_02": float(m[2]),
                "dt_edge_steepness": float(m[3])}  # fmt: skip
