"""The deep path on CPU: timm / open_clip backbones loaded from a --weights file, prompt–frame
alignment, the neural fusion head (``--head mlp``) and its safetensors checkpoint.

No pretrained weights are downloaded: tiny backbones are randomly initialised, saved to
safetensors files and loaded back through the same ``--weights`` path users use.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")
open_clip = pytest.importorskip("open_clip")
safetensors_torch = pytest.importorskip("safetensors.torch")


from conftest import run_cli  # noqa: E402

# small settings so CPU tests stay fast: 4 frames, 64 px backbone input, a small quick head
FAST_RECIPE = {
    "sampling": {"spatial_frames": 4},
    "extractor_config": {"timm": {"image_size": 64}},
    "regressor_params": {"hidden": 32, "epochs": 40, "patience": 8},
}
TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, Path]:
    """Random-init resnet10t and a tiny open_clip model, saved as safetensors files."""
    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    resnet = timm.create_model("resnet10t", pretrained=False, num_classes=0)
    safetensors_torch.save_file(resnet.state_dict(), str(root / "resnet10t.safetensors"))
    config = root / "tinyclip.json"
    config.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(config)
    clip = open_clip.create_model("tinyclip", pretrained=None)
    safetensors_torch.save_file(clip.state_dict(), str(root / "tinyclip.safetensors"))
    recipe = root / "fast.json"
    recipe.write_text(json.dumps(FAST_RECIPE))
    return {
        "resnet": root / "resnet10t.safetensors",
        "clip_config": config,
        "clip": root / "tinyclip.safetensors",
        "recipe": recipe,
    }


@pytest.fixture(scope="module")
def mlp_model(synthetic_data, weights, tmp_path_factory) -> Path:
    """'aigvqa train --features timm --backbone resnet10t --weights FILE --head mlp'."""
    out = tmp_path_factory.mktemp("deep-models") / "mlp"
    result = run_cli(
        "train", synthetic_data.train_json, "--videos", synthetic_data.videos, "--out", out,
        "--features", "timm", "--backbone", "resnet10t", "--weights", weights["resnet"], "--head", "mlp",
        "--config", weights["recipe"], "--workers", "1", "-q",
    )  # fmt: skip
    assert "mlp regressor" in result.output
    return out


def _predict(model_dir: Path, data, out: Path, *extra) -> np.ndarray:
    run_cli(
        "predict", data.test_json, "--model", model_dir, "--videos", data.videos, "--out", out,
        "--workers", "1", "-q", *extra,
    )  # fmt: skip
    return np.array([p["predict_score"] for p in json.loads(out.read_text())])


def test_train_predict_timm_mlp(mlp_model, synthetic_data, weights, tmp_path):
    files = {p.name for p in mlp_model.iterdir()}
    assert {"model.json", "main.mlp.safetensors", "main.mlp.json"} <= files
    meta = json.loads((mlp_model / "model.json").read_text())
    assert meta["regressor"] == "mlp"
    assert meta["extractor_config"]["timm"]["weights"] == str(weights["resnet"].resolve())
    assert meta["sampling"]["spatial_frames"] == 4
    head = json.loads((mlp_model / "main.mlp.json").read_text())
    assert head["seq_keys"] == ["timm.frames"] and head["seq_dims"] == [512]
    scores = _predict(mlp_model, synthetic_data, tmp_path / "a.json")
    assert len(scores) == len(synthetic_data.records)
    assert np.all(np.isfinite(scores)) and np.std(scores) > 1e-6
    again = _predict(mlp_model, synthetic_data, tmp_path / "b.json")  # from the feature cache
    np.testing.assert_array_equal(scores, again)


def test_broken_video_gets_fallback_score(mlp_model, synthetic_data, tmp_path):
    videos = tmp_path / "videos"
    shutil.copytree(synthetic_data.videos, videos)
    victim = synthetic_data.test_records[0]["video"]
    (videos / victim).write_bytes(b"not a video")
    out = tmp_path / "p.json"
    run_cli(
        "predict", synthetic_data.test_json, "--model", mlp_model, "--videos", videos, "--out", out,
        "--workers", "1", "-q",
    )  # fmt: skip
    scores = {p["video"]: p["predict_score"] for p in json.loads(out.read_text())}
    assert all(np.isfinite(list(scores.values())))
    errors = json.loads((tmp_path / "p.errors.json").read_text())
    assert [e["video"] for e in errors] == [victim]


def test_missing_weights_file_fails_fast_without_traceback(synthetic_data, tmp_path):
    missing = tmp_path / "gone" / "resnet10t.safetensors"
    exe = Path(sys.executable).with_name("aigvqa")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from aigvqa.cli import main; main()"]
    args = ["train", synthetic_data.train_json, "--videos", synthetic_data.videos, "--out", tmp_path / "m",
            "--features", "timm", "--backbone", "resnet10t", "--weights", missing, "--head", "mlp"]  # fmt: skip
    start = time.monotonic()
    proc = subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=90)
    assert time.monotonic() - start < 60
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert str(missing) in proc.stderr and "huggingface-cli download" in proc.stderr
    assert not (tmp_path / "m").exists()


def test_predict_fails_fast_when_stored_weights_file_is_gone(mlp_model, synthetic_data, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(mlp_model, model)
    meta = json.loads((model / "model.json").read_text())
    gone = tmp_path / "moved-away.safetensors"
    meta["extractor_config"]["timm"]["weights"] = str(gone)
    (model / "model.json").write_text(json.dumps(meta))
    out = tmp_path / "p.json"
    result = run_cli(
        "predict", synthetic_data.test_json, "--model", model, "--videos", synthetic_data.videos, "--out", out,
        "--workers", "1", ok=False,
    )  # fmt: skip
    assert result.exit_code == 2
    assert str(gone) in result.stderr and "not found" in result.stderr
    assert not out.exists()


def test_weights_of_another_architecture_are_rejected_before_decoding(weights):
    from aigvqa.features.deep import TimmExtractor, WeightsError

    with pytest.raises(WeightsError, match="does not fit timm backbone 'resnet18'"):
        TimmExtractor(backbone="resnet18", weights=str(weights["resnet"]))
    with pytest.raises(ValueError, match="unknown timm backbone"):
        TimmExtractor(backbone="no_such_net", weights=str(weights["resnet"]))


def test_offline_without_cached_weights_names_the_fix(monkeypatch):
    import huggingface_hub.constants as hf_constants

    from aigvqa.features.deep import ClipExtractor, WeightsError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", "/nonexistent-hf-cache")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", "/nonexistent-hf-cache")
    with pytest.raises(WeightsError, match="--offline forbids downloading"):
        ClipExtractor(backbone="ViT-B-16", weights="openai", offline=True)


def test_clip_alignment_features_depend_on_the_prompt(synthetic_data, weights, tmp_path):
    """One video with two prompts: different alignment features, separate cache entries."""
    from aigvqa.cache import FeatureCache
    from aigvqa.data import Item
    from aigvqa.extract import extract_features
    from aigvqa.video import SamplingConfig

    video = synthetic_data.records[0]["video"]
    items = [Item(video, "a red ball bouncing on grass"), Item(video, "an old man reading a newspaper")]
    spec = [("clip", {"backbone": str(weights["clip_config"]), "weights": str(weights["clip"])})]
    kwargs = dict(videos_dir=synthetic_data.videos, sampling=SamplingConfig(spatial_frames=4), progress=False)
    cache = FeatureCache(tmp_path / "cache")
    table = extract_features(items, spec, cache=cache, **kwargs)
    assert not table.errors
    sim = table.values[:, table.names.index("clip.sim_mean")]
    assert sim[0] != sim[1]
    frames = table.sequences["clip.frames"]
    assert frames[0].shape == (4, 32) and frames[0].dtype == np.float32
    np.testing.assert_allclose(frames[0], frames[1])  # the image side does not depend on the prompt
    assert len(list((tmp_path / "cache" / "clip").rglob("*.npz"))) == 2
    cached = extract_features(items, spec, cache=cache, **kwargs)
    np.testing.assert_array_equal(cached.values, table.values)


def test_combined_features_with_two_backbones_and_default_regressor(synthetic_data, weights, tmp_path):
    out = tmp_path / "model"
    run_cli(
        "train", synthetic_data.train_json, "--videos", synthetic_data.videos, "--out", out,
        "--features", "lexical,clip,timm", "--config", weights["recipe"],
        "--backbone", f"clip={weights['clip_config']}", "--weights", f"clip={weights['clip']}",
        "--backbone", "timm=resnet10t", "--weights", f"timm={weights['resnet']}", "--workers", "1", "-q",
    )  # fmt: skip
    meta = json.loads((out / "model.json").read_text())
    assert meta["regressor"] == "blend"
    names = set(meta["feature_names"])
    assert {"clip.sim_mean", "clip.sim_max", "clip.mean_0031", "timm.mean_0000", "timm.std_0511"} <= names
    assert any(n.startswith("lexical.") for n in names)
    scores = _predict(out, synthetic_data, tmp_path / "p.json")
    assert np.all(np.isfinite(scores))


def test_ambiguous_or_misplaced_deep_options_are_reported(synthetic_data, tmp_path):
    base = ["train", synthetic_data.train_json, "--videos", synthetic_data.videos, "--out", tmp_path / "m"]
    result = run_cli(*base, "--features", "clip,timm", "--backbone", "resnet10t", ok=False)
    assert result.exit_code == 2 and "ambiguous" in result.stderr and "timm=resnet10t" in result.stderr
    result = run_cli(*base, "--features", "lexical", "--weights", "w.safetensors", ok=False)
    assert result.exit_code == 2 and "uses none" in result.stderr
    result = run_cli(*base, "--features", "lexical", "--head", "xgboost", ok=False)
    assert result.exit_code == 2 and "--head xgboost" in result.stderr


# -- the neural head on its own ------------------------------------------------------------------


def _toy(n: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    quality = rng.uniform(1, 5, n)
    X = np.c_[quality + rng.normal(0, 0.5, n), rng.normal(size=(n, 5))]
    X[3, 2] = np.nan
    seqs = {"toy.frames": [(rng.normal(size=(int(rng.integers(3, 7)), 8)) + q).astype(np.float32) for q in quality]}
    return X, quality, seqs


def test_mlp_head_is_deterministic_and_round_trips_through_safetensors(tmp_path):
    from aigvqa.regressors import make_regressor

    X, y, seqs = _toy()
    params = {"hidden": 16, "epochs": 30, "patience": 10, "device": "cpu"}
    a = make_regressor("mlp", seed=3, **params).fit(X, y, sequences=seqs)
    b = make_regressor("mlp", seed=3, **params).fit(X, y, sequences=seqs)
    pa, pb = a.predict(X, sequences=seqs), b.predict(X, sequences=seqs)
    np.testing.assert_array_equal(pa, pb)
    assert np.corrcoef(pa, y)[0, 1] > 0.5
    a.save(tmp_path, "main")
    assert (tmp_path / "main.mlp.safetensors").exists() and (tmp_path / "main.mlp.json").exists()
    loaded = type(a).load(tmp_path, "main", seed=3)
    np.testing.assert_allclose(loaded.predict(X, sequences=seqs), pa, rtol=0, atol=1e-10)
    # a row without frames (a failed video) still gets a finite score
    holes = {"toy.frames": [None] + seqs["toy.frames"][1:]}
    assert np.all(np.isfinite(loaded.predict(X, sequences=holes)))
    other = make_regressor("mlp", seed=4, **params).fit(X, y, sequences=seqs)
    assert not np.array_equal(other.predict(X, sequences=seqs), pa)


def test_mlp_head_without_sequences_and_ridge_ignoring_them():
    from aigvqa.regressors import make_regressor

    X, y, seqs = _toy(30, seed=1)
    head = make_regressor("mlp", seed=0, hidden=8, epochs=10, pooling="meanmax", device="cpu").fit(X, y)
    assert np.all(np.isfinite(head.predict(X)))
    ridge = make_regressor("ridge").fit(X, y, sequences=seqs)
    np.testing.assert_allclose(ridge.predict(X, sequences=seqs), ridge.predict(X))


def test_challenge_recipe_loads():
    from aigvqa.features import resolve_features
    from aigvqa.model import QualityModel
    from aigvqa.recipes import load_recipe as _load_recipe
    from aigvqa.video import SamplingConfig

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "ntire2025_xgc.json"
    model = QualityModel(**_load_recipe(recipe))
    assert isinstance(model.sampling, SamplingConfig) and model.sampling.spatial_frames == 16
    assert model.regressor == "mlp"
    assert {"clip", "timm", "spatial", "minilm"} <= set(resolve_features(model.features))
    assert model.extractor_config["clip"]["backbone"] == "ViT-B-16"
