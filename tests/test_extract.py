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
