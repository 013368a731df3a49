"""The bundled models: named, listed with their cards, used by default, and not fooled by artifacts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from aigvqa.artifacts import ARTIFACTS
from aigvqa.augment import rescale, write_lossless
from aigvqa.data import Item
from aigvqa.model import QualityModel
from aigvqa.pipeline import RunOptions, predict
from aigvqa.sensitivity import measure
from aigvqa.synthetic import render_clip
from aigvqa.zoo import bundled_names, list_bundled, model_card, resolve_model
from conftest import run_cli

pytestmark = pytest.mark.skipif("default" not in bundled_names(), reason="no bundled 'default' model in this tree")


def _clean_clips(folder, n=4, size=(192, 144), frames=24):
    """Clean synthetic scenes (no artifact), written losslessly; the bundled model never saw them."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(n):
        rendered, prompt = render_clip(np.random.default_rng([99, i]), [], size=size, n_frames=frames)
        write_lossless(folder / f"clean_{i}.mkv", list(rendered), 12)
        items.append(Item(video=f"clean_{i}.mkv", prompt=prompt))
    return items


def test_bundled_default_is_a_checked_model_directory_with_a_card():
    model = QualityModel.load(resolve_model("default"))
    assert model.extractor_specs() and not any(n == "metadata" for n, _ in model.extractor_specs())
    card = model_card("default")
    for key in ("summary", "data", "licence", "recipe", "accuracy", "sensitivity", "limits"):
        assert card[key], key
    assert "CC BY 4.0" in card["licence"]
    with pytest.raises(FileNotFoundError, match="neither a model directory nor a bundled model"):
        resolve_model("no-such-model")


def test_list_shows_bundled_models(tmp_path):
    result = run_cli("list")
    assert "bundled model 'default'" in result.stdout and "default" in result.stdout and "CC BY 4.0" in result.stdout
    assert [m["name"] for m in list_bundled()] == bundled_names()


def test_score_without_model_uses_the_bundled_default(tmp_path):
    items = _clean_clips(tmp_path / "v", n=2)
    paths = [tmp_path / "v" / it.video for it in items]
    result = run_cli("score", *paths, "--json", "--workers", "0")
    records = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert len(records) == 2
    for r in records:
        assert 1.0 <= r["score"] <= 5.0 and r["error"] is None
    named = run_cli("score", *paths, "--json", "--workers", "0", "--model", "default")
    assert named.stdout == result.stdout
    bad = run_cli("score", paths[0], "--model", "nope", ok=False)
    assert bad.exit_code == 2 and "neither a model directory nor a bundled model" in bad.output


FETV = Path(os.environ.get("AIGVQA_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "fetv"


@pytest.mark.skipif(not (FETV / "labels.json").exists(), reason="FETV not found in ../shared/data")
def test_artifacts_lower_the_bundled_models_score_step_by_step(tmp_path):
    """The sensitivity contract (aigvqa.sensitivity) of the shipped model on a few real FETV clips,
    degraded with seeds that training augmentation never used."""
    from aigvqa.data import load_items

    items = load_items(FETV / "labels.json")
    generators = sorted({it.meta["generator"] for it in items})
    picked = [next(it for it in items if it.meta["generator"] == g) for g in generators]
    model = QualityModel.load(resolve_model("default"))
    opts = RunOptions(videos_dir="/", cache=None, workers=0, progress=False)
    result = measure(lambda its: predict(model, its, opts)[0], picked, FETV / "videos", tmp_path / "copies")
    assert set(result.degraded) == set(ARTIFACTS)
    rates = {a: result.pair_rate(a) for a in ARTIFACTS}
    assert result.overall() >= 0.9, rates
    assert min(rates.values()) >= 0.8, rates
    assert max(result.scale_shift(s) for s in result.rescaled) < 0.25


def test_size_alone_barely_moves_the_score(tmp_path):
    items = _clean_clips(tmp_path / "v", n=3, size=(320, 240))
    model = QualityModel.load(resolve_model("default"))
    opts = RunOptions(videos_dir=tmp_path / "v", cache=None, workers=0, progress=False)
    base = predict(model, items, opts)[0]
    from aigvqa.augment import read_frames

    for factor in (0.5, 2.0):
        scaled = []
        for it in items:
            frames, fps = read_frames(tmp_path / "v" / it.video)
            name = f"x{factor}_{it.video}"
            write_lossless(tmp_path / "v" / name, rescale(frames, factor), fps)
            scaled.append(Item(video=name, prompt=it.prompt))
        moved = np.abs(predict(model, scaled, opts)[0] - base)
        assert np.median(moved) < 0.25, (factor, moved)


def test_augmentation_teaches_a_model_that_artifacts_lower_the_score(tmp_path, isolated_cache):
    """The contract's mechanism on a small synthetic set, run everywhere (no bundled model, no FETV):
    a model trained with artifact augmentation scores held-out clean clips above their copies."""
    from aigvqa.pipeline import train
    from aigvqa.synthetic import make_dataset

    records = make_dataset(tmp_path / "train", n_clips=24, seed=5, size=(96, 64), n_frames=12)
    items = [Item(r["video"], r["prompt"], {"gt_score": r["gt_score"]}) for r in records]
    augment = {"copies": 2, "drop": 0.8, "scales": [0.5, 2.0], "seed": 0}
    model = QualityModel(features="video", regressor="lightgbm", augment=augment)
    model, _ = train(model, items, RunOptions(videos_dir=tmp_path / "train" / "videos", workers=0, progress=False))
    assert model.n_train_ == 24 * (2 * len(ARTIFACTS) + 3)
    # 24 clips and 4 held out: the share of ordered pairs measured 0.87-0.89 over runs (16 and 2
    # gave 0.78-0.90: libx264 via PyAV does not always give the same bytes, see docs/scaling.md, Determinism)
    held = _clean_clips(tmp_path / "held", n=4, size=(96, 64), frames=12)
    opts = RunOptions(videos_dir="/", cache=None, workers=0, progress=False)
    result = measure(lambda its: predict(model, its, opts)[0], held, tmp_path / "held", tmp_path / "copies")
    assert result.overall() >= 0.8, {a: result.pair_rate(a) for a in ARTIFACTS}


def test_a_missing_prompt_moves_the_bundled_score_neither_up_nor_down(tmp_path):
    """Without a prompt, the prompt block gives its training average: its share of the score is 0,
    and a prompt moves the score up or down from there according to its wording alone, as far as
    the model knows that wording: a prompt of words it never saw moves nothing either."""
    model = QualityModel.load(resolve_model("default"))
    items = _clean_clips(tmp_path / "v", n=1)
    opts = RunOptions(videos_dir=tmp_path / "v", cache=None, workers=0, progress=False)
    prompts = ["", "a crowd of people are dancing", "two girls are singing by a river, slow motion", "an axolotl"]
    rows = [Item(video=items[0].video, prompt=p) for p in prompts]
    scores, table = predict(model, rows, opts)
    blocks = model.explain_blocks(table)
    assert blocks is not None, "the bundled default is a stack of a video block and a prompt block"
    shares, _ = blocks
    assert shares["prompt"][0] == 0.0 and np.all(shares["prompt"][1:3] != 0.0)
    assert shares["prompt"][3] == 0.0  # no word of it in FETV's prompts
    np.testing.assert_allclose(shares["video"], shares["video"][0])  # same video: same video share
    assert len(set(np.round(scores[:3], 9))) == 3 and scores[3] == scores[0]


def test_augmented_targets_fall_with_severity_by_each_artifacts_own_factor():
    from aigvqa.augment import AugmentConfig

    config = AugmentConfig.from_dict({"drop": 0.6, "drop_by_artifact": {"warp": 0.9}})
    assert config.target(4.0, 0.5, "blur") == pytest.approx(4.0 - 0.6 * 0.5 * 3.0)
    assert config.target(4.0, 0.5, "warp") == pytest.approx(4.0 - 0.9 * 0.5 * 3.0)
    assert config.target(4.0, 0.0, "warp") == 4.0 and config.target(1.0, 1.0, "warp") == 1.0  # the floor
    strong, mild = config.target(4.0, 0.9, "warp"), config.target(4.0, 0.3, "warp")
    assert 1.0 <= strong < mild < 4.0
    assert AugmentConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown artifacts"):
        AugmentConfig.from_dict({"drop_by_artifact": {"morph": 0.5}})
    with pytest.raises(ValueError, match=r"numbers in \[0, 1\]"):
        AugmentConfig.from_dict({"drop_by_artifact": {"warp": 1.5}})
