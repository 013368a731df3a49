"""Video reading on PyAV: probing and deterministic frame sampling.

Memory is bounded by the frames kept: frames are decoded one at a time (at most 8 ahead of
the reader, in a background thread, when the video may use more than one core) and only the
sampled ones are converted, already downscaled, to RGB arrays.
"""

from __future__ import annotations

import os
import queue
import struct
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from aigvqa.threads import decoder_threads, video_cores

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".gif", ".m4v", ".mpg", ".mpeg")

# Bump whenever what ``read_clip`` returns for a given file changes: it is part of the
# feature cache key, so features computed by an older reader are recomputed.
DECODER_VERSION = "5"


class VideoError(Exception):
    """A video file that cannot be read; ``reason`` says why in one line."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """What decoding a video told us (frame count is counted, not read from the header)."""

    width: int
    height: int
    fps: float
    n_frames: int
    duration: float
    codec: str
    decode_errors: int = 0  # undecodable packets skipped (damaged but still readable video)
    # mean quantiser parameter the file codes its frames with (H.264 only: 0 lossless, 51 coarsest;
    # frame_qp), None where the codec does not export it (other codecs, frames in memory)
    coding_qp: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SamplingConfig:
    """How frames are sampled from a video.

    ``spatial_frames`` frames, spread uniformly over the clip, are kept with their longer
    side at most ``spatial_side`` pixels, for per-frame (spatial, deep) features.
    Up to ``motion_frames`` consecutive-stride frames are kept at ``motion_side`` pixels,
    for temporal features; longer videos are strided so the count stays bounded.
    """

    spatial_frames: int = 8
    spatial_side: int = 512
    motion_frames: int = 192
    motion_side: int = 256

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Clip:
    """The decoded, sampled content of one video, handed to every feature extractor."""

    frames: np.ndarray  # (K, H, W, 3) uint8 RGB, spatial samples
    motion: np.ndarray  # (T, h, w, 3) uint8 RGB, strided consecutive samples
    motion_fps: float  # frame rate of ``motion`` after striding
    info: VideoInfo
    frame_numbers: tuple[int, ...] = ()  # decoded frame number of each of ``frames`` (from a file)
    # (K, c, c') uint8 grey, at the video's own resolution: a centre crop of each spatial sample,
    # at most ``NATIVE_CROP`` pixels a side, its corner on the 16-pixel coding grid (codec traces)
    native: np.ndarray | None = None
    # (K, c, c') uint8 grey, the same crop of the frame right after each spatial sample (of the
    # frame before it for a sample that is the video's last frame): consecutive pairs at the
    # video's own resolution; read only when an extractor asks for them (``native_pairs``)
    native_next: np.ndarray | None = None
    _grey_motion: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def grey_motion(self) -> np.ndarray:
        """``motion`` in grey, (T, h, w) uint8: converted once, for every extractor that reads it."""
        if self._grey_motion is None:
            self._grey_motion = grey_frames(self.motion)
        return self._grey_motion


def grey_frames(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) uint8 luma of (T, H, W, 3) RGB ``frames``, converted as one image: a whole-sequence
    call releases the GIL for longer than one per frame (a worker measures two videos side by side
    in threads); the values are the same."""
    import cv2  # decoding needs no OpenCV; the extractors that call this do

    t, h, w = frames.shape[:3]
    return cv2.cvtColor(np.ascontiguousarray(frames).reshape(t * h, w, 3), cv2.COLOR_RGB2GRAY).reshape(t, h, w)


NATIVE_CROP = 512


def native_greys(clip: Clip) -> tuple[list[np.ndarray], float]:
    """A clip's uint8 grey images at the video's own resolution (its :attr:`Clip.native` crops) and
    their scale (1.0); for a clip without them (built by hand), its spatial samples in grey and
    their scale to the video's width."""
    if clip.native is not None and len(clip.native):
        return list(clip.native), 1.0
    import cv2  # only for a clip built by hand; decoding needs no OpenCV

    greys = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in clip.frames]
    return greys, clip.frames.shape[2] / max(clip.info.width, 1)


def native_crop(grey: np.ndarray) -> np.ndarray:
    """The centre crop of a full-resolution grey frame kept in :attr:`Clip.native`: at most
    ``NATIVE_CROP`` pixels a side, its top-left corner on a multiple of 16 (the coding grid)."""
    h, w = grey.shape
    ch, cw = min(h, NATIVE_CROP), min(w, NATIVE_CROP)
    y0, x0 = (h - ch) // 2 // 16 * 16, (w - cw) // 2 // 16 * 16
    return np.ascontiguousarray(grey[y0 : y0 + ch, x0 : x0 + cw])


# ``on_frame(number, frame, width)``: a spatial sample, converted while the video is still being
# decoded; ``width`` is the video's own frame width
FrameCallback = Callable[[int, np.ndarray, int], None]


def _scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    # even sizes keep swscale fast and avoid chroma edge cases
    w = max(2, int(round(width * scale / 2)) * 2) if scale < 1 else width
    h = max(2, int(round(height * scale / 2)) * 2) if scale < 1 else height
    return w, h


def _open(path: Path):
    if not path.exists():
        raise VideoError(path, "file not found")
    if path.is_dir():
        raise VideoError(path, "is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoError(path, "file is empty (0 bytes)")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(path, f"not a readable video ({_short(exc)})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(path, "contains no video stream (audio only or other data)")
    return container


def _short(exc: BaseException) -> str:
    """One line saying what went wrong (FFmpeg's message without errno and file name)."""
    text = getattr(exc, "strerror", None) if isinstance(exc, av.FFmpegError) else None
    if not text:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _stream_fps(stream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and float(rate) > 0:
            return float(rate)
    return 0.0


def _iter_frames(container, errors: list[str]):
    """Decoded frames of the first video stream, in presentation order, in one pass.

    A packet the decoder rejects is skipped and its error appended to ``errors`` (damaged
    videos keep their readable frames); damage that stops the demuxer ends the stream. The
    outcome depends only on the file's bytes.
    """
    stream = container.streams.video[0]
    h264 = _codec(stream) == "h264"
    # H.264 exports its quantisers (read by frame_qp; the frames are unchanged), and only slice
    # threads keep them with their own frame: with frame threads a frame at times carried another
    # frame's (one clip's mean read 27.28 once and 27.24 twice)
    stream.thread_type = "SLICE" if h264 else "AUTO"
    stream.codec_context.thread_count = decoder_threads()  # never changes the decoded frames
    if h264:
        stream.codec_context.options = {**stream.codec_context.options, "export_side_data": "venc_params"}
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except (av.FFmpegError, OSError) as exc:  # damaged container: keep what was read
            errors.append(_short(exc))
            break
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            errors.append(_short(exc))
            continue
        yield from frames
    try:  # flush frames still held by the decoder (a no-op after a normal end of stream)
        yield from stream.codec_context.decode(None)
    except (av.FFmpegError, EOFError, ValueError):
        pass


_END = object()


class _Failure:
    """An exception raised by the decoding thread, handed to the reader to raise."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _prefetched(frames: Iterator[Any], depth: int = 8) -> Generator[Any, None, None]:
    """``frames`` decoded in a background thread, up to ``depth`` ahead of the reader.

    PyAV releases the GIL while it decodes, so the next frames are decoded while the reader
    converts this one: on a machine with a spare core the two overlap. The frames and their
    order are those of ``frames``; an exception while decoding is raised in the reader.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for frame in frames:
                if not put(frame):
                    return
            put(_END)
        except BaseException as exc:  # raised in the reader
            put(_Failure(exc))

    worker = threading.Thread(target=run, name="aigvqa-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join()


class _Timing:
    """First and last timestamps of the decoded frames, for the duration and frame rate."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float | None = None
        self.count = 0

    def add(self, time: float | None) -> None:
        if time is None:
            return
        if self.first is None:
            self.first = time
        self.last = time
        self.count += 1

    def rate_and_duration(self, n: int, header_fps: float) -> tuple[float, float]:
        """The header's frame rate and ``n / fps`` when the timestamps agree with it (constant
        frame rate); otherwise (variable frame rate, wrong or missing header) the mean rate and
        the span measured from the timestamps."""
        span = None
        if self.count >= 2 and self.last > self.first:
            span = (self.last - self.first) * self.count / (self.count - 1)
        if header_fps > 0:
            nominal = n / header_fps
            if span is None or abs(span - nominal) <= 0.05 * nominal:
                return header_fps, nominal
        if span is not None:
            return n / span, span
        return 0.0, 0.0


def _decode_failure(path: Path, errors: list[str]) -> VideoError:
    if errors:
        return VideoError(path, f"video stream has no decodable frames (decoding failed: {errors[0]})")
    return VideoError(path, "video stream has no decodable frames")


def probe(path: str | os.PathLike) -> VideoInfo:
    """Decode a video once, without converting frames, and report what it holds."""
    path = Path(path)
    container = _open(path)
    errors: list[str] = []
    try:
        stream = container.streams.video[0]
        n = 0
        width = height = 0
        timing = _Timing()
        qps = QuantiserMean()
        for frame in _iter_frames(container, errors):
            if n == 0:
                width, height = frame.width, frame.height
            timing.add(frame.time)
            qps.add(frame)
            n += 1
        if n == 0:
            raise _decode_failure(path, errors)
        fps, duration = timing.rate_and_duration(n, _stream_fps(stream))
        return VideoInfo(width, height, fps, n, duration, _codec(stream), len(errors), qps.mean())
    except (VideoError, MemoryError):
        raise
    except Exception as exc:  # never anything but a VideoError for a bad file
        raise VideoError(path, f"cannot read frames ({type(exc).__name__}: {_short(exc)})") from None
    finally:
        container.close()


def _codec(stream) -> str:
    """The codec's name (e.g. ``av1``), not the decoder's (e.g. ``libdav1d``)."""
    try:
        codec = stream.codec_context.codec
        return getattr(codec, "canonical_name", None) or codec.name or "unknown"
    except Exception:  # pragma: no cover - exotic containers
        return "unknown"


class _Converter:
    """Decoded frames to downscaled RGB arrays, with one reusable swscale context.

    One swscale call scales and converts each frame: an area filter straight to the small
    size, in the frame's own colour matrix and range, for every pixel format (planar YUV of
    any bit depth, GIF palettes, RGB, gray). Scaling before converting keeps the colour
    conversion at the small size.
    """

    def __init__(self) -> None:
        self.reformatter = VideoReformatter()

    def rgb(self, frame, size: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
        """``frame`` as an (h, w, 3) uint8 RGB array of ``size`` = (w, h), written into ``out``
        when given."""
        w, h = size
        options = {"width": w, "height": h, "interpolation": "AREA"} if (frame.width, frame.height) != size else {}
        rgb = self.reformatter.reformat(frame, format="rgb24", **options).to_ndarray()
        if out is None:
            return rgb
        out[...] = rgb
        return out

    def native_grey(self, frame) -> np.ndarray:
        """``frame``'s grey crop at its own size (:func:`native_crop`)."""
        return native_crop(self.reformatter.reformat(frame, format="gray").to_ndarray())


# AVVideoEncParams (libavutil/video_enc_params.h): nb_blocks, blocks_offset, block_size, type, qp;
# each AVVideoBlockParams: src_x, src_y, w, h, delta_qp (int32)
_ENC_PARAMS_HEAD = struct.Struct("=I4xQQii")
_ENC_PARAMS_H264 = 1  # AV_VIDEO_ENC_PARAMS_H264


def _side_data(frame: Any) -> list[Any]:
    """A frame's side-data entries. PyAV up to 18.1.0 iterates over the entries; from 18.1.1 the
    container is a mapping and iterates over their types (an entry is then looked up by its type)."""
    container = getattr(frame, "side_data", None)
    if container is None:
        return []
    return [item if hasattr(item, "type") else container[item] for item in container]


def frame_qp(frame: Any) -> float | None:
    """A decoded H.264 frame's mean quantiser parameter over its blocks (from the decoder's
    exported coding parameters), or None where the frame carries none."""
    for side in _side_data(frame):
        if "ENC_PARAMS" not in str(getattr(side, "type", "")).upper():
            continue
        raw = bytes(side)
        if len(raw) < _ENC_PARAMS_HEAD.size:
            return None
        n, offset, size, kind, qp = _ENC_PARAMS_HEAD.unpack_from(raw, 0)
        if kind != _ENC_PARAMS_H264:
            return None
        if n == 0 or size < 20 or offset + n * size > len(raw):
            return float(qp)
        blocks = np.frombuffer(raw, dtype=np.int32, count=n * size // 4, offset=offset).reshape(n, size // 4)
        return float(qp + blocks[:, 4].mean())
    return None


class QuantiserMean:
    """The mean of :func:`frame_qp` over the frames of one decode (only H.264 frames carry one:
    :func:`_iter_frames` asks for them)."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def add(self, frame: Any) -> None:
        qp = frame_qp(frame)
        if qp is not None:
            self.values.append(qp)

    def mean(self) -> float | None:
        return float(np.mean(self.values)) if self.values else None


def sample_indices(n_frames: int, count: int) -> np.ndarray:
    """``count`` frame indices spread uniformly over ``n_frames`` (centres of equal segments)."""
    if n_frames <= 0:
        return np.zeros(0, dtype=int)
    count = min(count, n_frames)
    return np.unique(((np.arange(count) + 0.5) * n_frames / count).astype(int))


class _StridedKeeper:
    """Keeps every ``stride``-th item of a stream of unknown length, at most ``cap`` of them.

    When the cap is exceeded, every other kept item is dropped and the stride doubles, so
    memory stays bounded and the result depends only on the stream (deterministic).
    """

    def __init__(self, cap: int, stride: int = 1):
        self.cap = max(1, cap)
        self.stride = max(1, stride)
        self.items: list[tuple[int, Any]] = []

    def wants(self, index: int) -> bool:
        return index % self.stride == 0

    def add(self, index: int, item: Any) -> None:
        self.items.append((index, item))
        if len(self.items) > self.cap:
            self.stride *= 2
            self.items = [(i, a) for i, a in self.items if i % self.stride == 0]


class _StridedFrames(_StridedKeeper):
    """A :class:`_StridedKeeper` of (h, w, 3) uint8 frames held in one preallocated array, so
    that frames are converted straight into place and never copied into a stack at the end."""

    def __init__(self, cap: int, stride: int, shape: tuple[int, int, int]):
        super().__init__(cap, stride)
        self.buffer = np.empty((self.cap + 1, *shape), np.uint8)  # pages are touched when used
        self.indices: list[int] = []

    def slot(self) -> np.ndarray:
        """Where the next frame goes (then call :meth:`add` with its index)."""
        return self.buffer[len(self.indices)]

    def add(self, index: int, item: Any = None) -> None:
        self.indices.append(index)
        if len(self.indices) > self.cap:
            self.stride *= 2
            keep = [j for j, i in enumerate(self.indices) if i % self.stride == 0]
            self.buffer[: len(keep)] = self.buffer[keep]
            self.indices = [self.indices[j] for j in keep]

    def array(self) -> np.ndarray:
        return self.buffer[: len(self.indices)]


def canonical_stride(n_frames: int, cap: int) -> int:
    """The smallest power of two ``P`` with ``ceil(n_frames / P) <= cap``: the stride a
    :class:`_StridedKeeper` started at 1 (or at any smaller power of two) ends with after
    ``n_frames`` items. Sampling at it depends on the frame count only, never on what a
    container's header says, so the same frames in MP4, MKV, GIF or memory give the same samples."""
    stride = 1
    while -(-max(n_frames, 0) // stride) > max(1, cap):
        stride *= 2
    return stride


def _header_frame_count(stream) -> int:
    if stream.frames:
        return int(stream.frames)
    if stream.duration and stream.time_base and stream.average_rate:
        return int(float(stream.duration * stream.time_base) * float(stream.average_rate))
    return 0


class _MotionSampler:
    """Where frames are decoded (the decoding thread when there is one): every frame brought to
    the first frame's size, and the motion samples taken, so that converting them overlaps
    the reader's work on the spatial samples. Read its fields after the frames are consumed."""

    def __init__(self, config: SamplingConfig, estimate: int) -> None:
        self.config = config
        self.stride = canonical_stride(estimate, config.motion_frames)
        self.width = self.height = 0
        self.motion: _StridedFrames | None = None

    def frames(self, decoded: Iterator[Any]) -> Generator[Any, None, None]:
        convert = _Converter().rgb  # its own swscale context: it may run in another thread
        for n, frame in enumerate(decoded):
            if n == 0:
                self.width, self.height = frame.width, frame.height
                w, h = _scaled_size(frame.width, frame.height, self.config.motion_side)
                self.motion = _StridedFrames(self.config.motion_frames, self.stride, (h, w, 3))
                size = (w, h)
            elif (frame.width, frame.height) != (self.width, self.height):
                frame = frame.reformat(width=self.width, height=self.height)  # keep the first geometry
            if self.motion.wants(n):
                convert(frame, size, out=self.motion.slot())
                self.motion.add(n)
            yield frame


def _expected_samples(estimate: int, keeper: _StridedKeeper, count: int) -> frozenset[int]:
    """The frame numbers of the spatial samples when the video has ``estimate`` frames: the
    keeper ends with the multiples of its first stride doubled until at most ``cap`` of them
    lie below ``estimate``, and ``count`` of those are chosen by :func:`sample_indices`."""
    if estimate <= 0:
        return frozenset()
    stride = keeper.stride
    while -(-estimate // stride) > keeper.cap:
        stride *= 2
    kept = np.arange(0, estimate, stride)
    return frozenset(int(i) for i in kept[sample_indices(len(kept), count)])


def read_clip(
    path: str | os.PathLike,
    config: SamplingConfig | None = None,
    on_frame: FrameCallback | None = None,
    native_pairs: bool = False,
) -> Clip:
    """Decode a video once and sample its frames according to ``config``.

    The frame count is counted while decoding (headers lie, especially for GIF, VFR and
    truncated files). Only kept frames are converted, already downscaled, to RGB.

    ``on_frame`` is called, in the calling thread and in decoding order, with each frame that
    will be a spatial sample if the header's frame count is right, as soon as it is
    converted: per-frame measures can then run while the rest of the video is decoded. A
    frame announced but not sampled (the header was wrong) is absent from the clip's
    ``frame_numbers``; a sample not announced is only in the clip.

    ``native_pairs`` also keeps :attr:`Clip.native_next`, each sample's neighbour at full size.
    """
    config = config or SamplingConfig()
    path = Path(path)
    container = _open(path)
    errors: list[str] = []
    decoded: Generator[Any, None, None] | None = None
    try:
        stream = container.streams.video[0]
        header_fps = _stream_fps(stream)
        codec = _codec(stream)
        estimate = _header_frame_count(stream)
        # spatial candidates are kept as decoded frames and only the chosen ones converted
        candidates = 2 * config.spatial_frames
        spatial = _StridedKeeper(candidates)  # from stride 1: its samples depend on the frame count only
        expected = _expected_samples(estimate, spatial, config.spatial_frames)
        early: dict[int, np.ndarray] = {}  # expected samples, converted as they are decoded
        early_native: dict[int, np.ndarray] = {}
        early_next: dict[int, np.ndarray] = {}  # with native_pairs: the frame after an expected sample
        pending: list[Any] | None = None  # the holder of the candidate decoded just before this frame
        previous = before_previous = None  # with native_pairs: the last two frames decoded
        n = 0
        width = height = 0
        timing = _Timing()
        qps = QuantiserMean()
        converter = _Converter()
        convert = converter.rgb
        sampler = _MotionSampler(config, estimate)
        decoded = sampler.frames(_iter_frames(container, errors))
        if video_cores() > 1:  # decode and take motion samples in a thread while this one goes on
            decoded = _prefetched(decoded)
        for frame in decoded:
            if n == 0:
                width, height = sampler.width, sampler.height
                spatial_size = _scaled_size(width, height, config.spatial_side)
            timing.add(frame.time)
            qps.add(frame)
            if native_pairs and pending is not None:
                if n - 1 in expected:  # converted now, nothing held
                    early_next[n - 1] = converter.native_grey(frame)
                else:
                    pending[1] = frame
                pending = None
            if spatial.wants(n):
                holder = [frame, None]  # the sample and, with native_pairs, the frame after it
                spatial.add(n, holder)
                pending = holder if native_pairs else None
                if n in expected:
                    early[n] = convert(frame, spatial_size)
                    early_native[n] = converter.native_grey(frame)
                    if on_frame is not None:
                        on_frame(n, early[n], width)
            if native_pairs:
                before_previous, previous = previous, frame
            n += 1
        kept = spatial.items
        numbers = tuple(kept[i][0] for i in sample_indices(len(kept), config.spatial_frames))
        chosen = {i: holder[0] for i, holder in kept}
        frames = [early[i] if i in early else convert(chosen[i], spatial_size) for i in numbers]
        native = [early_native[i] if i in early_native else converter.native_grey(chosen[i]) for i in numbers]
        native_next = None
        if native_pairs:
            last = before_previous if before_previous is not None else previous  # for the video's last frame
            neighbours = {i: holder[1] if holder[1] is not None else last for i, holder in kept}
            native_next = np.stack([early_next[i] if i in early_next else converter.native_grey(neighbours[i])
                                    for i in numbers])  # fmt: skip
    except (VideoError, MemoryError):
        raise
    except Exception as exc:  # e.g. a pixel format that cannot be converted to RGB
        raise VideoError(path, f"cannot convert frames ({type(exc).__name__}: {_short(exc)})") from None
    finally:
        if decoded is not None:
            decoded.close()  # stops and joins the decoding thread before the file is closed
        container.close()
    if n == 0:
        raise _decode_failure(path, errors)
    fps, duration = timing.rate_and_duration(n, header_fps)
    info = VideoInfo(width, height, fps, n, duration, codec, len(errors), qps.mean())
    motion = sampler.motion
    motion_fps = fps / motion.stride if fps > 0 else 0.0
    return Clip(np.stack(frames), motion.array(), motion_fps, info, numbers, np.stack(native), native_next)


def probe_safely(path: str | os.PathLike) -> tuple[VideoInfo | None, str | None]:
    """``probe`` that returns ``(info, None)`` or ``(None, reason)`` instead of raising."""
    try:
        return probe(path), None
    except VideoError as exc:
        return None, exc.reason


def as_frames(video: Any) -> np.ndarray:
    """Frames in memory as a (T, H, W, 3) uint8 RGB array: a NumPy array of that shape, a list of
    (H, W, 3) frames, or a torch tensor (uint8, or float in [0, 1]; (T, H, W, 3) or (T, 3, H, W))."""
    if type(video).__module__.startswith("torch"):
        import torch

        tensor = video.detach().cpu()
        if tensor.ndim == 4 and tensor.shape[1] == 3 and tensor.shape[-1] != 3:
            tensor = tensor.permute(0, 2, 3, 1)
        if tensor.is_floating_point():
            tensor = (tensor.clamp(0, 1) * 255).round().to(dtype=torch.uint8)
        video = tensor.contiguous().numpy()
    if isinstance(video, (list, tuple)):
        video = np.stack([np.asarray(f) for f in video]) if len(video) else np.zeros((0, 0, 0, 3), np.uint8)
    if not isinstance(video, np.ndarray):
        raise TypeError(f"frames must be a NumPy array or torch tensor, got {type(video).__name__}")
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"frames must have shape (T, H, W, 3) (RGB), got {tuple(video.shape)}")
    if video.shape[0] == 0 or video.shape[1] < 2 or video.shape[2] < 2:
        raise ValueError(f"frames must hold at least one frame of 2x2 pixels or more, got {tuple(video.shape)}")
    if video.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 RGB (0-255), got dtype {video.dtype}")
    return np.ascontiguousarray(video)


def clip_from_frames(
    frames: Any, fps: float, config: SamplingConfig | None = None, native_pairs: bool = False
) -> Clip:
    """Sample frames held in memory exactly as :func:`read_clip` samples a file holding them.

    ``frames`` as :func:`as_frames` takes them; ``fps`` is their frame rate. Frames decoded
    from a lossless file give that file's clip, bit for bit: the same samples, downscaled by
    the same swscale area filter (and, with ``native_pairs``, the same :attr:`Clip.native_next`).
    """
    config = config or SamplingConfig()
    if fps is None or not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"frames in memory need their frame rate: fps must be a positive number, got {fps}")
    array = as_frames(frames)
    n, height, width = array.shape[:3]
    reformatter = VideoReformatter()

    def convert(index: int, size: tuple[int, int]) -> np.ndarray:
        frame = av.VideoFrame.from_ndarray(array[index], format="rgb24")
        options = {"width": size[0], "height": size[1], "interpolation": "AREA"} if (width, height) != size else {}
        return reformatter.reformat(frame, format="rgb24", **options).to_ndarray()

    kept = np.arange(0, n, canonical_stride(n, 2 * config.spatial_frames))
    numbers = tuple(int(i) for i in kept[sample_indices(len(kept), config.spatial_frames)])
    spatial_size = _scaled_size(width, height, config.spatial_side)
    motion_stride = canonical_stride(n, config.motion_frames)
    motion_size = _scaled_size(width, height, config.motion_side)
    motion = np.stack([convert(i, motion_size) for i in range(0, n, motion_stride)])
    spatial = np.stack([convert(i, spatial_size) for i in numbers])
    def grey(index: int) -> np.ndarray:
        frame = av.VideoFrame.from_ndarray(array[index], format="rgb24")
        return native_crop(reformatter.reformat(frame, format="gray").to_ndarray())

    native = np.stack([grey(i) for i in numbers])
    native_next = np.stack([grey(i + 1 if i + 1 < n else max(i - 1, 0)) for i in numbers]) if native_pairs else None
    info = VideoInfo(width, height, float(fps), n, n / float(fps), "rawvideo")
    return Clip(spatial, motion, float(fps) / motion_stride, info, numbers, native, native_next)
