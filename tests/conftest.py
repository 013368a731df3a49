"""Shared fixtures: an isolated feature cache, a small synthetic dataset and a trained model.

The dataset and the model are built once per session and reused across test files; tests
must treat them as read-only (copy the model directory before damaging it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from aigvqa.cli import app


def run_cli(*args, ok: bool = True):
    """Invoke the CLI in-process; the result has .exit_code, .stdout, .stderr."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    # an uncaught exception would be a traceback for the user
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if ok:
        assert result.exit_code == 0, result.output
    return result


# -- feature cache ---------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _session_cache_dir(tmp_path_factory):
    """Point AIGVQA_CACHE_DIR at a session temp dir so the user's cache is never touched.

    Subprocesses inherit it. Tests that need an empty cache override it with
    ``monkeypatch.setenv`` (see ``isolated_cache``).
    """
    root = tmp_path_factory.mktemp("aigvqa-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIGVQA_CACHE_DIR", str(root))
        yield root


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """An empty per-test cache directory, set as AIGVQA_CACHE_DIR."""
    root = tmp_path / "cache"
    monkeypatch.setenv("AIGVQA_CACHE_DIR", str(root))
    return root


# -- synthetic dataset -----------------------------------------------------------------------

N_CLIPS = 24
MODEL_FEATURES = "classic,lexical"


@dataclass(frozen=True)
class SyntheticData:
    root: Path
    videos: Path  # directory holding the clips
    records: list[dict]  # what make_dataset returned (all fields, labels included)
    train_json: Path  # labelled items (video, prompt, gt_score, artifact, severity, ...)
    test_json: Path  # the same videos as {video, prompt} only, in a shuffled order

    @property
    def test_records(self) -> list[dict]:
        return json.loads(self.test_json.read_text())


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory) -> SyntheticData:
    """24 labelled synthetic clips, 96x64, 12 frames (libx264 .mp4)."""
    from aigvqa.synthetic import make_dataset

    root = tmp_path_factory.mktemp("synthetic")
    records = make_dataset(root, n_clips=N_CLIPS, seed=0, size=(96, 64), n_frames=12)
    train_json = root / "train.json"
    train_json.write_text(json.dumps(records))
    order = np.random.default_rng(1).permutation(len(records))
    test_json = root / "test.json"
    test_json.write_text(json.dumps([{"video": records[i]["video"], "prompt": records[i]["prompt"]} for i in order]))
    return SyntheticData(root, root / "videos", records, train_json, test_json)


@dataclass
class TrainedModel:
    model: object  # aigvqa.model.QualityModel, as fitted
    dir: Path  # the saved model directory (read-only for tests)
    table: object  # aigvqa.extract.FeatureTable of the training items
    predictions: dict[str, float]  # video name -> in-sample prediction of the fitted model


@pytest.fixture(scope="session")
def trained_model(synthetic_data, tmp_path_factory, _session_cache_dir) -> TrainedModel:
    """A 'classic,lexical' LightGBM model trained on ``synthetic_data`` and saved to disk."""
    from aigvqa.cache import FeatureCache
    from aigvqa.data import load_items
    from aigvqa.model import QualityModel
    from aigvqa.pipeline import RunOptions, train

    items = load_items(synthetic_data.train_json, target="gt_score", require_target=True)
    run = RunOptions(
        videos_dir=synthetic_data.videos, cache=FeatureCache(_session_cache_dir), workers=0, progress=False
    )
    model, table = train(QualityModel(features=MODEL_FEATURES, seed=0), items, run)
    assert not table.errors, table.errors
    directory = model.save(tmp_path_factory.mktemp("models") / "model")
    scores = model.predict(table)
    return TrainedModel(model, directory, table, {it.video: float(s) for it, s in zip(items, scores, strict=True)})
