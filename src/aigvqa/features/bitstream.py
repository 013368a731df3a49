"""How coarsely the file itself is coded: the quantiser its encoder chose, read from the decoder.

The pixels show compression only through what it leaves (blocks, lost texture), which blur or
noise also change. An H.264 file says how coarsely it was quantised: the decoder exports every
block's quantiser parameter (QP: 0 lossless, 51 coarsest; about 23-27 for a default encode and
35-45 for a low bitrate). :func:`aigvqa.video.frame_qp` reads it while the clip is decoded.
It describes the last encode only: a clip compressed hard and then re-encoded at a high rate
reads the second, finer rate, and codecs other than H.264 (and frames in memory) read NaN.
"""

from __future__ import annotations

from aigvqa.features.base import FeatureExtractor
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip


@EXTRACTORS.register("bitstream")
class BitstreamCoding(FeatureExtractor):
    """The mean H.264 quantiser parameter over the decoded frames (NaN for other codecs)."""

    name = "bitstream"
    version = "1"
    measures = "compression: the file's own coding, H.264's mean quantiser parameter (NaN for other codecs)"
    artifacts = (("", "compression"),)

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, float]:
        qp = self.decoded(clip).info.coding_qp
        return {"bs_h264_qp": float(qp) if qp is not None else float("nan")}
