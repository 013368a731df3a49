"""Writing video files atomically and reproducibly: degraded copies, coded copies, benchmark clips.

A file is written under a temporary name in its own folder (:func:`temporary_path`) and renamed
into place (:func:`atomic_path`), so a writer killed mid-write never leaves a partial file under
the real name. What such a writer leaves behind is recognised by :func:`is_temporary`:
``aigvqa cache`` counts those files under the cache root, and ``aigvqa cache --clean`` deletes
them, once they are an hour old.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# the names a writer's temporary file has had: ".NAME.PID.tmpSUFFIX" (this module's, and what
# write_lossless always wrote), ".NAME.PID.tmp" (a coded family member's, before) and
# ".NAME.tmpSUFFIX" (benchmarks/modern_eval.py's, before); SUFFIX, where present, is NAME's own
_TEMPORARY = (
    re.compile(r"\.(?P<name>.+)\.\d+\.tmp(?P<suffix>\.[^.]+)?"),
    re.compile(r"\.(?P<name>.+)\.tmp(?P<suffix>\.[^.]+)"),
)


def temporary_path(path: str | os.PathLike) -> Path:
    """Where a writer of ``path`` writes first: ``.NAME.PID.tmpSUFFIX`` in the same folder (hidden,
    this process's own, and ending in ``path``'s suffix, from which PyAV picks the container)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")


def is_temporary(name: str) -> bool:
    """Whether a file name is one :func:`temporary_path` makes (or an earlier aigvqa's writers of
    degraded and coded copies made): the leftover of a writer killed before its rename."""
    for pattern in _TEMPORARY:
        m = pattern.fullmatch(name)
        if m is not None and (m["suffix"] is None or m["name"].endswith(m["suffix"])):
            return True
    return False


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """The temporary path to write ``path``'s content to (:func:`temporary_path`): renamed to
    ``path`` when the block ends, deleted when it raises."""
    path = Path(path)
    tmp = temporary_path(path)
    try:
        yield tmp
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_coded(
    path: str | os.PathLike,
    frames: Sequence[np.ndarray],
    fps: float,
    codec: str,
    options: Mapping[str, str] | None = None,
    pix_fmt: str = "yuv420p",
) -> None:
    """Write uint8 RGB frames to ``path``, coded with ``codec`` and its ``options`` in ``pix_fmt``,
    in the container ``path``'s suffix names (``.mp4``, ``.mkv``, ``.webm``), atomically
    (:func:`atomic_path`).

    The container gets no date or random id (``fflags=+bitexact``), so the same frames and
    settings give the same bytes whenever the encoder is deterministic (libx264: single-threaded,
    ``x264-params=asm=0``). Where ``pix_fmt`` subsamples the chroma (``yuv420p``), the frames are
    cropped to an even width and height; an RGB ``pix_fmt`` (FFV1's ``bgr0``) keeps any size.
    The frame rate is ``fps`` as a fraction with a denominator of at most 1001."""
    h, w = frames[0].shape[:2]
    fmt = av.VideoFormat(pix_fmt)
    w2 = w - w % 2 if fmt.chroma_width(w) < w else w
    h2 = h - h % 2 if fmt.chroma_height(h) < h else h
    with atomic_path(path) as tmp, av.open(str(tmp), "w", options={"fflags": "+bitexact"}) as out:
        stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w2, h2, pix_fmt
        stream.options = dict(options or {})
        for f in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:h2, :w2]), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
