"""read_clip / probe on clips written here with PyAV: counts, sampling, memory bound, errors."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
import pytest

from aigvqa.video import SamplingConfig, VideoError, probe, probe_safely, read_clip, sample_indices

FORMATS = {  # codec -> (extension, pixel format)
    "libx264": (".mp4", "yuv420p"),
    "gif": (".gif", "rgb8"),
    "libvpx-vp9": (".webm", "yuv420p"),
}


def _frames(n: int, width: int, height: int) -> np.ndarray:
    """Red frames with a white bar that moves one step per frame (every frame differs)."""
    out = np.zeros((n, height, width, 3), np.uint8)
    out[..., 0] = 200
    for i in range(n):
        x = (3 * i) % (width - 4)
        out[i, :, x : x + 4] = 255
        out[i, i % height, :2] = 0
    return out


def write_clip(path: Path, frames: np.ndarray, fps: int = 10, codec: str = "libx264") -> Path:
    _, pix_fmt = FORMATS[codec]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    frames = _frames(17, 64, 48)
    return {codec: write_clip(root / f"clip{ext}", frames, codec=codec) for codec, (ext, _) in FORMATS.items()}


@pytest.mark.parametrize("codec", list(FORMATS))
def test_frame_count_and_geometry(clips, codec):
    clip = read_clip(clips[codec])
    info = clip.info
    assert info.n_frames == 17
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(10.0)
    assert info.duration == pytest.approx(1.7)
    assert probe(clips[codec]) == info
    assert clip.frames.dtype == np.uint8 and clip.motion.dtype == np.uint8
    assert clip.frames.shape == (8, 48, 64, 3)  # default 8 spatial frames, no upscaling
    assert clip.motion.shape == (17, 48, 64, 3)  # short clip: every frame kept for motion
    assert clip.motion_fps == pytest.approx(10.0)


@pytest.mark.parametrize("codec", list(FORMATS))
def test_frames_are_rgb_and_match_what_was_written(clips, codec):
    written = _frames(17, 64, 48).astype(float)
    clip = read_clip(clips[codec])
    mean_rgb = clip.frames.reshape(-1, 3).mean(axis=0)
    assert mean_rgb[0] > 150 > 50 > max(mean_rgb[1], mean_rgb[2])  # red stays red (not BGR)
    # motion keeps every frame here, in order: each decoded frame is closest to its own source
    decoded = clip.motion.astype(float)
    for i in (0, 5, 16):
        errors = [np.abs(decoded[i] - w).mean() for w in written]
        assert int(np.argmin(errors)) == i


@pytest.mark.parametrize("codec", list(FORMATS))
def test_reads_are_deterministic(clips, codec):
    config = SamplingConfig(spatial_frames=5, spatial_side=40, motion_frames=6, motion_side=20)
    a, b = read_clip(clips[codec], config), read_clip(clips[codec], config)
    assert np.array_equal(a.frames, b.frames)
    assert np.array_equal(a.motion, b.motion)
    assert a.motion_fps == b.motion_fps and a.info == b.info


@pytest.mark.parametrize(
    "config, n_spatial, spatial_hw, motion_hw",
    [
        (SamplingConfig(spatial_frames=4, spatial_side=32, motion_frames=64, motion_side=16), 4, (24, 32), (12, 16)),
        (SamplingConfig(spatial_frames=1, spatial_side=1000, motion_frames=64, motion_side=64), 1, (48, 64), (48, 64)),
        (SamplingConfig(spatial_frames=50, spatial_side=48, motion_frames=64, motion_side=30), 17, (36, 48), (22, 30)),
    ],
)
def test_sampling_config_is_honoured(clips, config, n_spatial, spatial_hw, motion_hw):
    clip = read_clip(clips["libx264"], config)
    assert clip.frames.shape == (n_spatial, *spatial_hw, 3)
    assert clip.motion.shape[1:3] == motion_hw
    assert max(clip.frames.shape[1:3]) <= config.spatial_side
    assert max(clip.motion.shape[1:3]) <= config.motion_side
    assert clip.info.width == 64  # info describes the file, not the samples


def test_spatial_frames_spread_over_the_clip(tmp_path):
    n = 40
    frames = np.zeros((n, 32, 32, 3), np.uint8)
    frames[:] = np.linspace(0, 250, n).astype(np.uint8)[:, None, None, None]  # brightness encodes the index
    path = write_clip(tmp_path / "ramp.mp4", frames)
    clip = read_clip(path, SamplingConfig(spatial_frames=4, spatial_side=32, motion_frames=8, motion_side=32))
    brightness = clip.frames.reshape(4, -1).mean(axis=1)
    assert np.all(np.diff(brightness) > 20)  # in time order, spread out
    assert brightness[0] < 250 * 0.3 and brightness[-1] > 250 * 0.7


@pytest.mark.parametrize("codec", list(FORMATS))
def test_long_clip_keeps_a_bounded_number_of_motion_frames(tmp_path, codec):
    n, fps, cap = 150, 25, 16
    ext, _ = FORMATS[codec]
    path = write_clip(tmp_path / f"long{ext}", _frames(n, 40, 30), fps=fps, codec=codec)
    clip = read_clip(path, SamplingConfig(spatial_frames=5, spatial_side=20, motion_frames=cap, motion_side=16))
    t = clip.motion.shape[0]
    assert cap // 2 <= t <= cap
    assert clip.frames.shape[0] == 5
    assert clip.info.n_frames == n
    # the motion frame rate describes the kept, strided frames
    assert clip.motion_fps == pytest.approx(fps * t / n, rel=1.0 / t + 1e-9)


def test_sample_indices():
    assert sample_indices(0, 8).tolist() == []
    assert sample_indices(3, 8).tolist() == [0, 1, 2]
    idx = sample_indices(100, 8)
    assert len(idx) == 8 and np.all(np.diff(idx) > 0) and idx[0] >= 0 and idx[-1] < 100


# -- unreadable files --------------------------------------------------------------------------


def _bad_files(root: Path, good: Path) -> dict[str, tuple[Path, str]]:
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.mp4").write_text("these are my notes, not a video\n" * 20)
    data = good.read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (root / "folder.mp4").mkdir()
    return {
        "missing": (root / "absent.mp4", "not found"),
        "empty": (root / "empty.mp4", "empty"),
        "text": (root / "notes.mp4", "not a readable video"),
        "truncated": (root / "truncated.mp4", ""),
        "directory": (root / "folder.mp4", "directory"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "text", "truncated", "directory"])
def test_unreadable_files_raise_video_error_with_reason(tmp_path, clips, case):
    path, reason = _bad_files(tmp_path, clips["libx264"])[case]
    for reader in (read_clip, probe):
        with pytest.raises(VideoError) as info:
            reader(path)
        assert info.value.path == str(path)
        assert info.value.reason and "\n" not in info.value.reason
        assert reason in info.value.reason
        assert str(path) in str(info.value)
    info, problem = probe_safely(path)
    assert info is None and reason in problem


def test_probe_safely_on_good_file(clips):
    info, problem = probe_safely(clips["gif"])
    assert problem is None and info.n_frames == 17


# -- colour conversion of downscaled frames ------------------------------------------------------


def _patches() -> np.ndarray:
    """A 192x128 RGB image of flat 32x32 patches in saturated and grey colours."""
    colours = np.array([[230, 30, 30], [30, 200, 40], [40, 50, 220], [240, 220, 40], [200, 40, 200], [40, 210, 210],
                        [128, 128, 128], [20, 20, 20], [250, 250, 250], [120, 60, 20], [60, 120, 180], [180, 160, 120]],
                       dtype=np.uint8)  # fmt: skip
    img = np.zeros((128, 192, 3), np.uint8)
    for k in range(24):
        r, c = divmod(k, 6)
        img[32 * r : 32 * r + 32, 32 * c : 32 * c + 32] = colours[k % len(colours)]
    return img


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuvj420p", "yuv444p"])
@pytest.mark.parametrize("colorspace", ["ITU601", "ITU709"])
def test_downscaled_frames_keep_their_colours(pix_fmt, colorspace):
    from aigvqa.video import _Converter

    rgb = _patches()
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt, dst_colorspace=colorspace)
    frame.colorspace = av.video.reformatter.Colorspace[colorspace]  # the tag a decoder would set
    small = _Converter().rgb(frame, (48, 32))  # 4x smaller: scaled and converted by one swscale call
    assert small.shape == (32, 48, 3) and small.dtype == np.uint8
    # the centre of every patch keeps its colour (the frame's own matrix and range are used)
    centres = small[4::8, 4::8].astype(int)
    assert np.abs(centres - rgb[16::32, 16::32]).max() <= 4
    # and the whole frame matches swscale's own area-filtered conversion closely
    reference = frame.to_ndarray(format="rgb24", width=48, height=32, interpolation="AREA").astype(int)
    assert np.abs(small - reference).mean() < 3


def test_decoder_threads_never_change_the_frames(tmp_path, monkeypatch):
    """A pool caps each worker's decoder threads (cores // workers); the frames stay identical."""
    import aigvqa.threads as threads

    path = write_clip(tmp_path / "c.mp4", _frames(30, 96, 64))
    reference = read_clip(path)
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    for cores in (1, 3):  # 1: decoded in the reading thread; 3: a decoding thread runs ahead
        threads.set_worker_cores(cores)
        assert threads.decoder_threads() == cores and threads.video_cores() == cores
        clip = read_clip(path)
        assert np.array_equal(clip.frames, reference.frames) and np.array_equal(clip.motion, reference.motion)
    threads.set_worker_cores(0)
    assert threads.decoder_threads() == 0  # uncapped: FFmpeg's own choice
    assert threads.video_cores() == 8
    assert threads.cores_per_worker(3) == 2 and threads.cores_per_worker(16) == 1
    with pytest.raises(ValueError, match="must be >= 0"):
        threads.set_worker_cores(-1)


def test_prefetched_frames_keep_order_raise_in_the_reader_and_stop_early():
    from aigvqa.video import _prefetched

    assert list(_prefetched(iter(range(100)), depth=3)) == list(range(100))

    def failing():
        yield 1
        raise MemoryError("decoder ran out")

    reader = _prefetched(failing())
    assert next(reader) == 1
    with pytest.raises(MemoryError, match="decoder ran out"):
        next(reader)
    produced = []

    def endless():
        for i in range(10**9):
            produced.append(i)
            yield i

    reader = _prefetched(endless(), depth=2)
    assert next(reader) == 0
    reader.close()  # the decoding thread stops and is joined: nothing runs on after it
    count = len(produced)
    assert count <= 5 and not [t for t in threading.enumerate() if t.name == "aigvqa-decode"]


def _textured(n: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """Moving noise texture: costly to code, so the quantiser shows in the file."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height, width + n, 3), dtype=np.uint8)
    return np.stack([base[:, i : i + width] for i in range(n)])


def _x264(path: Path, frames: np.ndarray, options: dict[str, str]) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = options
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_an_h264_file_tells_how_coarsely_it_was_quantised(tmp_path, clips, monkeypatch):
    """``coding_qp``: the mean quantiser H.264 coded the frames with (read, not guessed from the
    pixels), the same on every read and with any number of decoder threads; None for other codecs."""
    import aigvqa.threads as threads

    frames = _textured(12, 96, 64)
    fine = _x264(tmp_path / "fine.mp4", frames, {"qp": "18"})
    coarse = _x264(tmp_path / "coarse.mp4", frames, {"qp": "40"})
    q_fine, q_coarse = read_clip(fine).info.coding_qp, read_clip(coarse).info.coding_qp
    assert 14 <= q_fine <= 24 and 36 <= q_coarse <= 46, (q_fine, q_coarse)
    assert probe(coarse).coding_qp == q_coarse
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    for cores in (1, 3):
        threads.set_worker_cores(cores)
        assert read_clip(coarse).info.coding_qp == q_coarse
    threads.set_worker_cores(0)
    for codec in ("gif", "libvpx-vp9"):
        assert read_clip(clips[codec]).info.coding_qp is None


def test_the_bitstream_extractor_reads_the_quantiser_and_nan_without_one(tmp_path):
    from aigvqa.features.bitstream import BitstreamCoding
    from aigvqa.video import clip_from_frames

    frames = _textured(12, 96, 64)
    path = _x264(tmp_path / "c.mp4", frames, {"qp": "34"})
    clip = read_clip(path)
    assert BitstreamCoding().extract(clip, "")["bs_h264_qp"] == clip.info.coding_qp
    assert np.isnan(BitstreamCoding().extract(clip_from_frames(frames, 10.0), "")["bs_h264_qp"])


def test_the_quantiser_is_read_through_either_side_data_api_of_pyav():
    """PyAV up to 18.1.0 iterates over a frame's side-data entries, 18.1.1 (a mapping) over their
    types: a frame's quantiser is read the same way under both."""
    import struct
    from types import SimpleNamespace

    from aigvqa.video import _ENC_PARAMS_HEAD, frame_qp

    head = _ENC_PARAMS_HEAD.size
    blocks = [(0, 0, 16, 16, -2), (16, 0, 16, 16, 4)]
    raw = _ENC_PARAMS_HEAD.pack(len(blocks), head, 20, 1, 30) + b"".join(struct.pack("=5i", *b) for b in blocks)

    class Entry(bytes):
        type = "Type.VIDEO_ENC_PARAMS"

    entry = Entry(raw)
    old_style = SimpleNamespace(side_data=[entry])
    new_style = SimpleNamespace(side_data={"Type.VIDEO_ENC_PARAMS": entry})  # a mapping: iterating gives the types
    assert frame_qp(old_style) == frame_qp(new_style) == 31.0  # 30 + mean(-2, 4)
    assert frame_qp(SimpleNamespace(side_data={})) is None
    assert frame_qp(SimpleNamespace()) is None
