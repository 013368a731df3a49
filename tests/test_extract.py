"""Featurising one video: the clip's extractors side by side in threads give the same features."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import aigvqa.threads as threads
from aigvqa.extract import VideoTask, _extract_in_order, run_video_task
from aigvqa.features.base import FeatureExtractor
from aigvqa.synthetic import render_clip, write_video
from aigvqa.video import SamplingConfig


@pytest.fixture()
def clip_path(tmp_path):
    frames, _ = render_clip(np.random.default_rng(3), [("flicker", 0.5)], size=(160, 96), n_frames=24, fps=8)
    return write_video(tmp_path / "c.mp4", frames, 8)


def _task(path, cache_root=None) -> VideoTask:
    specs = (("spatial", {}), ("temporal", {}), ("metadata", {}))
    return VideoTask(0, str(path), specs, SamplingConfig(), cache_root)


def test_extractors_side_by_side_give_the_features_of_a_run_one_after_the_other(clip_path, monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    threads.set_worker_cores(1)  # one core: one extractor after the other
    try:
        alone = run_video_task(_task(clip_path))
    finally:
        threads.set_worker_cores(0)
    together = run_video_task(_task(clip_path))  # two cores: spatial and temporal in threads
    assert alone.error is None and together.error is None
    assert list(together.features) == ["spatial", "temporal", "metadata"]
    for name, feats in alone.features.items():
        assert list(together.features[name]) == list(feats)  # same keys, same order
        assert together.features[name] == feats  # bit for bit


class _Recorder(FeatureExtractor):
    name = "recorder"
    concurrent = True

    def __init__(self, barrier: threading.Barrier, fail: bool = False):
        self.barrier, self.fail = barrier, fail

    def extract(self, clip, prompt):
        self.barrier.wait(timeout=10)  # returns only if both run at the same time
        if self.fail:
            raise RuntimeError("broken measure")
        return {"thread": float(threading.get_ident() % 1000)}


def test_a_failing_extractor_among_concurrent_ones_is_reported_and_the_others_kept(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    barrier = threading.Barrier(2)
    outcomes = list(_extract_in_order(None, [_Recorder(barrier), _Recorder(barrier, fail=True)], ""))
    (feats, error), (none, exc) = outcomes
    assert error is None and set(feats) == {"thread"}
    assert none is None and isinstance(exc, RuntimeError) and "broken measure" in str(exc)


def test_a_failing_extractor_names_itself_in_the_video_result(clip_path, monkeypatch):
    from aigvqa.features import temporal

    def broken(self, clip, prompt):
        raise ValueError("no flow")

    monkeypatch.setattr(temporal.TemporalFeatures, "extract", broken)
    result = run_video_task(_task(clip_path))
    assert result.features == {} and result.error == "feature extractor 'temporal' failed: ValueError: no flow"


# --- spatial samples measured while the video is still being decoded ----------------------


def _faststart_mp4(path, frames, fps: int = 8):
    """An MP4 whose index (frame count) comes first, so a cut-off copy still reports every frame."""
    import av

    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.fixture()
def cut_off_path(tmp_path):
    frames = np.stack(list(render_clip(np.random.default_rng(4), [], size=(160, 96), n_frames=48, fps=8)[0]))
    whole = _faststart_mp4(tmp_path / "whole.mp4", frames)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])  # the header still says 48 frames
    return cut


def test_spatial_samples_are_announced_as_decoded_and_are_the_clips_frames(clip_path):
    from aigvqa.video import read_clip

    seen: dict[int, np.ndarray] = {}
    clip = read_clip(clip_path, on_frame=lambda number, frame, width: seen.setdefault(number, frame.copy()))
    assert list(seen) == list(clip.frame_numbers) and len(seen) == len(clip.frames)
    for frame, number in zip(clip.frames, clip.frame_numbers, strict=True):
        assert np.array_equal(seen[number], frame)


def test_a_wrong_frame_count_in_the_header_still_gives_the_features_of_the_finished_clip(cut_off_path):
    from aigvqa.features.spatial import SpatialFeatures
    from aigvqa.video import read_clip

    seen: list[int] = []
    clip = read_clip(cut_off_path, on_frame=lambda number, frame, width: seen.append(number))
    assert clip.info.n_frames < 48  # the header promised 48
    assert set(seen) != set(clip.frame_numbers)  # the announced frames were not all the samples
    result = run_video_task(_task(cut_off_path))
    assert result.error is None
    assert result.features["spatial"] == SpatialFeatures().extract(read_clip(cut_off_path), "")


def test_frame_measures_taken_while_decoding_equal_those_of_the_finished_clip(clip_path):
    from aigvqa.features.spatial import SpatialFeatures
    from aigvqa.video import read_clip

    result = run_video_task(_task(clip_path))
    assert result.features["spatial"] == SpatialFeatures().extract(read_clip(clip_path), "")


def test_a_frame_measure_failing_while_decoding_names_its_extractor(clip_path, monkeypatch):
    from aigvqa.features import spatial

    def broken(self, frame, width):
        raise ValueError("bad frame")

    monkeypatch.setattr(spatial.SpatialFeatures, "measure_frame", broken)
    result = run_video_task(_task(clip_path))
    assert result.features == {} and result.error == "feature extractor 'spatial' failed: ValueError: bad frame"


@pytest.mark.parametrize("cap", [1, 4, 16])
def test_expected_samples_are_those_the_keeper_keeps_when_the_count_is_right(cap):
    from aigvqa.video import _expected_samples, _StridedKeeper, sample_indices

    for estimate in range(1, 300):
        keeper = _StridedKeeper(cap, -(-estimate // cap))
        expected = _expected_samples(estimate, _StridedKeeper(cap, keeper.stride), 8)
        for i in range(estimate):
            if keeper.wants(i):
                keeper.add(i, None)
        kept = [i for i, _ in keeper.items]
        assert expected == {kept[j] for j in sample_indices(len(kept), 8)}, estimate


def test_a_worker_measuring_two_videos_side_by_side_gives_the_features_of_one_process(tmp_path):
    """``--workers 1`` on a machine with two cores or more runs two videos at a time in
    threads, each on one core: every feature is the one a single process computes, and a
    broken file among them is still named."""
    from aigvqa.data import Item
    from aigvqa.extract import extract_features

    rng = np.random.default_rng(5)
    items = []
    for k, artifact in enumerate(["blur", "flicker", "noise", "jitter", "freeze"]):
        frames, _ = render_clip(rng, [(artifact, 0.6)], size=(192, 112), n_frames=30, fps=10)
        write_video(tmp_path / f"v{k}.mp4", frames, 10)
        items.append(Item(video=f"v{k}.mp4", prompt="a dog on a beach"))
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    items.insert(2, Item(video="broken.mp4", prompt="x"))
    specs = [("spatial", {}), ("temporal", {}), ("metadata", {})]
    one_process = extract_features(items, specs, tmp_path, workers=0, progress=False)
    side_by_side = extract_features(
        items, specs, tmp_path, workers=1, progress=False, executor_options={"threads": 2}
    )
    assert side_by_side.names == one_process.names
    assert np.array_equal(side_by_side.values, one_process.values, equal_nan=True)  # bit for bit
    assert list(side_by_side.errors) == [2] and side_by_side.errors == one_process.errors
