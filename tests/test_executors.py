"""Executors: local process pools and Ray give the same results as a plain loop, survive a
worker that dies, and share the feature cache. Ray tests run on one local Ray instance
(module-scoped) and are skipped when ray is not installed."""

from __future__ import annotations

import json
import logging
import os
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import aigvqa.executors
import aigvqa.extract
from aigvqa.cache import FeatureCache
from aigvqa.cli import app
from aigvqa.data import load_items
from aigvqa.executors import EXECUTORS, RAY_MISSING, WorkerCrashed, get_executor, map_local, map_ray
from aigvqa.extract import extract_features

VIDEO_FEATURES = [("spatial", {}), ("temporal", {}), ("metadata", {})]


def square(x: int) -> int:
    return x * x


def die_on_five(x: int) -> int:
    if x == 5:
        os._exit(3)  # what a segfaulting decoder or the OOM killer looks like to the pool
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x


def crashed(task, reason):
    return ("crashed", task, reason)


def test_registry():
    assert EXECUTORS == {"local": map_local, "ray": map_ray}
    assert get_executor("local") is map_local
    with pytest.raises(ValueError, match="unknown executor 'dask'; known: local, ray"):
        get_executor("dask")
    assert aigvqa.extract.map_local is map_local  # still importable from extract


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_map_local_gives_every_result(workers):
    tasks = list(range(13))
    assert list(map_local(square, tasks, workers, ordered=True)) == [t * t for t in tasks]
    assert sorted(map_local(square, tasks, workers)) == [t * t for t in tasks]
    assert list(map_local(square, [], workers)) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_a_dying_worker_loses_only_its_own_task(workers):
    tasks = list(range(12))
    results = list(map_local(die_on_five, tasks, workers, ordered=True, on_crash=crashed))
    assert results[5][:2] == ("crashed", 5) and "worker process died" in results[5][2]
    assert [r for i, r in enumerate(results) if i != 5] == [t * t for t in tasks if t != 5]


def test_a_dying_worker_without_handler_names_its_task():
    with pytest.raises(WorkerCrashed, match="running 5"):
        list(map_local(die_on_five, list(range(8)), 2))


def test_an_error_in_the_function_propagates_without_hanging():
    with pytest.raises(ValueError, match="three is not allowed"):
        list(map_local(fail_on_three, list(range(20)), 2))


def test_missing_ray_gives_the_install_hint(monkeypatch, synthetic_data, trained_model, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ImportError) as caught:
        list(map_ray(square, [1, 2], 2))
    assert str(caught.value) == RAY_MISSING
    result = CliRunner().invoke(
        app,
        ["predict", str(synthetic_data.test_json), "--model", str(trained_model.dir), "--videos",
         str(synthetic_data.videos), "--out", str(tmp_path / "p.json"), "--executor", "ray", "-q"],
    )
    assert result.exit_code == 2
    assert "pip install 'aigvqa[ray]'" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "p.json").exists()


def test_cli_rejects_unknown_executor_and_stray_address(synthetic_data, trained_model, tmp_path):
    base = ["predict", str(synthetic_data.test_json), "--model", str(trained_model.dir), "--videos",
            str(synthetic_data.videos), "--out", str(tmp_path / "p.json"), "-q"]
    for extra, message in ((["--executor", "dask"], "unknown executor 'dask'"),
                           (["--address", "auto"], "--address is only used with --executor ray"),
                           (["--workers", "-1"], "--workers must be 0 or more")):
        result = CliRunner().invoke(app, base + extra)
        assert result.exit_code == 2 and message in result.stderr, result.output


# -- Ray ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    if ray.is_initialized():
        ray.shutdown()
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this file
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=False)
    yield ray
    ray.shutdown()


def test_map_ray_gives_every_result(ray_local):
    tasks = list(range(11))
    assert list(map_ray(square, tasks, 2, ordered=True)) == [t * t for t in tasks]
    assert sorted(map_ray(square, tasks, 1)) == [t * t for t in tasks]  # window of 2 in flight


def test_map_ray_survives_a_dying_worker(ray_local):
    results = list(map_ray(die_on_five, list(range(8)), 2, ordered=True, on_crash=crashed))
    assert results[5][:2] == ("crashed", 5)
    assert [r for i, r in enumerate(results) if i != 5] == [t * t for t in range(8) if t != 5]


def test_map_ray_propagates_errors_of_the_function(ray_local):
    with pytest.raises(ValueError, match="three is not allowed"):
        list(map_ray(fail_on_three, list(range(6)), 2))


def _same_tables(a, b):
    assert a.names == b.names and a.errors == b.errors
    np.testing.assert_array_equal(a.values, b.values)  # bitwise (NaNs in the same places)


def test_ray_extraction_matches_local_and_shares_the_cache(ray_local, synthetic_data, tmp_path, monkeypatch):
    items = load_items(synthetic_data.train_json)[:10]
    kwargs = dict(videos_dir=synthetic_data.videos, progress=False)
    local = extract_features(items, VIDEO_FEATURES, cache=FeatureCache(tmp_path / "a"), workers=0, **kwargs)
    shared = FeatureCache(tmp_path / "b")
    remote = extract_features(items, VIDEO_FEATURES, cache=shared, workers=2, executor="ray", **kwargs)
    assert len(list((tmp_path / "b").rglob("*.npz"))) == 3 * len(items)  # written by the Ray workers

    def no_pool(workers):
        raise AssertionError("features cached by Ray tasks were recomputed")

    monkeypatch.setattr(aigvqa.executors, "_pool", no_pool)
    again = extract_features(items, VIDEO_FEATURES, cache=shared, workers=2, **kwargs)
    _same_tables(again, remote)
    _same_tables(local, remote)  # bitwise: the extractors are deterministic wherever they run


def test_cli_predict_with_ray_matches_local(ray_local, synthetic_data, trained_model, tmp_path, monkeypatch):
    records = json.loads(synthetic_data.test_json.read_text())[:8]
    records.append({"video": "missing.mp4", "prompt": "nothing to see"})
    (tmp_path / "in.json").write_text(json.dumps(records))
    outputs = []
    for executor in ("local", "ray"):
        monkeypatch.setenv("AIGVQA_CACHE_DIR", str(tmp_path / f"cache-{executor}"))
        out = tmp_path / f"{executor}.json"
        result = CliRunner().invoke(
            app,
            ["predict", str(tmp_path / "in.json"), "--model", str(trained_model.dir), "--videos",
             str(synthetic_data.videos), "--out", str(out), "--executor", executor, "--workers", "2", "-q"],
        )
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def cores_seen(x: int) -> tuple[int, int]:
    """The task and the decoder threads a video read in its thread would get."""
    from aigvqa.threads import decoder_threads

    return x, decoder_threads()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_running_tasks_side_by_side_gives_every_result_in_order(workers):
    tasks = list(range(11))  # an odd count: the last group has one task
    assert list(map_local(square, tasks, workers, ordered=True, threads=2)) == [t * t for t in tasks]
    assert sorted(map_local(square, tasks, workers, threads=3)) == [t * t for t in tasks]


def test_tasks_side_by_side_share_the_workers_cores():
    from aigvqa.threads import available_cores

    if available_cores() < 2:
        pytest.skip("needs two cores")
    # one worker with all the cores: two tasks at a time get half of them each (so fewer
    # decoder threads than the machine has cores); the last, alone, gets the worker's setting
    # (all the cores: FFmpeg's own thread count, 0)
    seen = dict(map_local(cores_seen, list(range(5)), 1, threads=2))
    assert [seen[i] for i in range(4)] == [available_cores() // 2] * 4
    assert seen[4] == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_a_dying_task_run_side_by_side_loses_only_itself(workers):
    tasks = list(range(12))
    results = list(map_local(die_on_five, tasks, workers, ordered=True, on_crash=crashed, threads=2))
    assert results[5][:2] == ("crashed", 5) and "worker process died" in results[5][2]
    assert [r for i, r in enumerate(results) if i != 5] == [t * t for t in tasks if t != 5]
    with pytest.raises(ValueError, match="three is not allowed"):
        list(map_local(fail_on_three, list(range(20)), workers, threads=2))
