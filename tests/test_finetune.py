"""The fine-tuning regressor ('finetune'): training through the pipeline and the CLI, the frame
cache, fragment views, two processes against one (gloo), resuming a killed run, bad input.

All with the tiny random-weight backbone on the synthetic clips, so the suite stays fast; the
real-weights measurements are in docs/finetuning.md (benchmarks/fetv_finetune.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli

torch = pytest.importorskip("torch")

TINY = {"backbone": "tiny", "frames": 3, "size": 32, "epochs": 3, "batch_size": 8, "workers": 0, "threads": 1,
        "lr": 0.003, "backbone_lr": 0.001, "fuse": "lexical", "verbose": False}  # fmt: skip


def _recipe(tmp_path: Path, **params) -> Path:
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps({"features": "frames,lexical", "regressor": "finetune",
                                "regressor_params": {**TINY, **params}}))  # fmt: skip
    return path


def _fit(synthetic_data, **params):
    from aigvqa.data import load_items
    from aigvqa.model import QualityModel
    from aigvqa.pipeline import RunOptions, train

    items = load_items(synthetic_data.train_json, target="gt_score", require_target=True)
    model = QualityModel(features="frames,lexical", regressor="finetune", regressor_params={**TINY, **params})
    model, table = train(model, items, RunOptions(videos_dir=synthetic_data.videos, workers=0, progress=False))
    return model, table


def _predictions(path: Path) -> dict[str, float]:
    return {d["video"]: d["predict_score"] for d in json.loads(path.read_text())}


def test_train_predict_reload_through_the_cli_and_same_input_same_output(synthetic_data, tmp_path):
    run_cli("train", synthetic_data.train_json, "--videos", synthetic_data.videos, "--out", tmp_path / "m",
            "--config", _recipe(tmp_path), "--workers", "0", "-q")  # fmt: skip
    assert (tmp_path / "m" / "main.finetune.safetensors").is_file()
    run_cli("predict", synthetic_data.test_json, "--videos", synthetic_data.videos, "--model", tmp_path / "m",
            "--out", tmp_path / "p.json", "--workers", "0", "-q")  # fmt: skip
    predicted = _predictions(tmp_path / "p.json")
    scores = np.array(list(predicted.values()))
    assert np.ptp(scores) > 0.05 and np.isfinite(scores).all()
    # seeded and deterministic on a CPU: a second training, in this process, gives the same model
    model, table = _fit(synthetic_data)
    by_video = dict(zip([r["video"] for r in synthetic_data.records], model.predict(table), strict=True))
    assert max(abs(by_video[v] - s) for v, s in predicted.items()) < 1e-6


def test_frames_are_decoded_once_then_memory_mapped(synthetic_data, monkeypatch, tmp_path):
    from aigvqa.finetune import frames

    calls = []
    real = frames.decode
    monkeypatch.setattr(frames, "decode", lambda path, spec: calls.append(path) or real(path, spec))
    _fit(synthetic_data, frame_cache=str(tmp_path / "frames"), epochs=2)
    assert len(calls) == len(synthetic_data.records)  # the first pass decodes each video once
    stored = list((tmp_path / "frames").rglob("*.npy"))
    assert len(stored) == len(synthetic_data.records)
    assert isinstance(np.load(stored[0], mmap_mode="r"), np.memmap)


def test_fragments_are_native_pixels_and_depend_only_on_seed_epoch_and_row():
    from aigvqa.finetune.frames import FrameSpec, row_rng, view

    spec = FrameSpec(frames=2, size=64, view="fragments", grid=4)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(2, 240, 320, 3), dtype=np.uint8)
    centred = view(frames, spec, None)
    assert centred.shape == (2, 64, 64, 3)
    assert np.array_equal(view(frames, spec, None), centred)
    # the top-left patch is an unresized 16x16 crop of the top-left cell, at the same place in every frame
    patch = centred[:, :16, :16]
    cell = frames[:, :60, :80]
    offsets = [(y, x) for y in range(45) for x in range(65) if np.array_equal(cell[:, y:y + 16, x:x + 16], patch)]
    assert offsets == [(22, 32)]
    a, b = view(frames, spec, row_rng(0, 1, 5)), view(frames, spec, row_rng(0, 1, 5))
    assert np.array_equal(a, b) and not np.array_equal(a, view(frames, spec, row_rng(0, 2, 5)))


def test_two_processes_give_the_model_of_one(synthetic_data, tmp_path):
    """torchrun --nproc_per_node 2 with gloo on a CPU: the same seed and global batch, the same model."""
    from aigvqa.model import QualityModel

    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533", "-m",
           "aigvqa", "train", str(synthetic_data.train_json), "--videos", str(synthetic_data.videos), "--out",
           str(tmp_path / "two"), "--config", str(_recipe(tmp_path)), "--workers", "0", "-q"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    one, table = _fit(synthetic_data)
    two = QualityModel.load(tmp_path / "two")
    assert np.abs(one.predict(table) - two.predict(table)).max() < 1e-4


KILLED = """
import sys, time
import aigvqa.finetune.train as loop
real = loop.save_checkpoint
def slow(directory, epoch, *args):
    real(directory, epoch, *args)
    if epoch == 1:
        print("saved", flush=True)
        time.sleep(600)  # killed here, after the second epoch's checkpoint
loop.save_checkpoint = slow
from aigvqa.cli import main
sys.argv = ["aigvqa", *sys.argv[1:]]
main()
"""


def test_a_run_killed_with_sigkill_resumes_to_the_model_of_an_uninterrupted_run(synthetic_data, tmp_path):
    recipe = _recipe(tmp_path, epochs=4, checkpoint_dir=str(tmp_path / "runs"))
    args = ["train", str(synthetic_data.train_json), "--videos", str(synthetic_data.videos), "--config", str(recipe),
            "--workers", "0", "-q"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", KILLED, *args, "--out", str(tmp_path / "killed")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "saved", proc.stderr.read()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert json.loads((next((tmp_path / "runs").iterdir()) / "latest.json").read_text())["epoch"] == 1
    result = run_cli(*args, "--out", tmp_path / "resumed")
    assert not (tmp_path / "killed").exists()
    assert not any((tmp_path / "runs").iterdir())  # a finished run removes its checkpoints
    straight, table = _fit(synthetic_data, epochs=4, checkpoint_dir=str(tmp_path / "runs"))
    assert not any((tmp_path / "runs").iterdir())
    from aigvqa.model import QualityModel

    assert np.array_equal(QualityModel.load(tmp_path / "resumed").predict(table), straight.predict(table))
    assert result.exit_code == 0


def test_a_broken_video_is_named_left_out_and_scored_with_the_training_mean(synthetic_data, tmp_path, capfd):
    from aigvqa.finetune.frames import FramesDataset, FrameSpec, FrameStore

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    spec = FrameSpec(frames=2, size=32)
    data = FramesDataset([str(broken)], ["ab" * 16], spec, FrameStore(spec, tmp_path / "frames"))
    row, views, reason = data[0]
    assert row == 0 and views.shape == (2, 32, 32, 3) and "not a readable video" in reason
    from aigvqa.regressors.finetune import FineTune

    model = FineTune(0, **{**TINY, "fuse": None, "frame_cache": str(tmp_path / "frames")})
    videos = [str(synthetic_data.videos / r["video"]) for r in synthetic_data.records[:10]] + [str(broken)]
    from aigvqa.cache import file_digest

    seqs = {"frames.path": [np.array(p) for p in videos], "frames.digest": [np.array(file_digest(p)) for p in videos]}
    y = np.array([r["gt_score"] for r in synthetic_data.records[:10]] + [1.0])
    model.fit(np.zeros((11, 0)), y, seqs)
    assert model.meta["n_train"] == 10 and model.meta["failed"] == 1
    out = model.predict(np.zeros((11, 0)), seqs)
    assert out[-1] == pytest.approx(y[:10].mean())
    assert "broken.mp4: not a readable video" in capfd.readouterr().err


def test_a_missing_extra_or_bad_setting_is_one_clear_line(monkeypatch):
    import importlib.util

    from aigvqa.finetune.nets import build_backbone
    from aigvqa.regressors.finetune import FineTune

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "efficientnet_lite_pytorch" else real(name, *a))  # fmt: skip
    with pytest.raises(ImportError, match=r"pip install 'aigvqa\[pretrained\]'"):
        build_backbone("effnet-lite2")
    with pytest.raises(ValueError, match="unknown backbone 'resnet'"):
        build_backbone("resnet")
    with pytest.raises(ValueError, match="multiple of grid"):
        FineTune(0, view="fragments", size=100, grid=7)


def test_keeping_the_output_of_frozen_layers_gives_the_model_of_recomputing_it(synthetic_data):
    cached, table = _fit(synthetic_data, freeze=1, cache_frozen=True)
    recomputed, _ = _fit(synthetic_data, freeze=1, cache_frozen=False)
    assert np.abs(cached.predict(table) - recomputed.predict(table)).max() < 1e-5


TINY_CLIP = {"embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": 3, "width": 64, "patch_size": 8},
             "text_cfg": {"context_length": 16, "vocab_size": 1000, "width": 32, "heads": 2, "layers": 1}}  # fmt: skip


@pytest.mark.parametrize("backbone", ["timm:test_convnext", "open_clip:tiny-test-vit"])
def test_timm_and_open_clip_backbones_fine_tune_save_and_reload(backbone, synthetic_data, tmp_path, monkeypatch):
    """Random weights of a timm / open_clip architecture (the deep extra; CI's second venv)."""
    library = pytest.importorskip("timm" if backbone.startswith("timm") else "open_clip")
    if backbone.startswith("open_clip"):  # a tiny ViT registered as an open_clip architecture
        monkeypatch.setitem(library.factory._MODEL_CONFIGS, "tiny-test-vit", TINY_CLIP)
    from aigvqa.finetune.nets import build_backbone
    from aigvqa.model import QualityModel

    assert len(build_backbone(backbone, pretrained=False).layer_groups()) > 3  # layer-wise LR decay has layers
    model, table = _fit(synthetic_data, backbone=backbone, pretrained=False, size=32, frames=2, epochs=1,
                        batch_size=12, layer_decay=0.7, grad_checkpointing=True)  # fmt: skip
    model.save(tmp_path / "m")
    again = QualityModel.load(tmp_path / "m")
    assert np.abs(again.predict(table) - model.predict(table)).max() < 1e-5


def test_a_stack_combines_a_fine_tuned_block_with_a_feature_model(synthetic_data, tmp_path):
    from aigvqa.data import load_items
    from aigvqa.model import QualityModel
    from aigvqa.pipeline import RunOptions, train

    blocks = [{"name": "words", "features": "lexical", "regressor": "ridge"},
              {"name": "pixels", "features": "frames", "regressor": "finetune",
               "params": {**TINY, "fuse": None, "epochs": 2}}]  # fmt: skip
    items = load_items(synthetic_data.train_json, target="gt_score", require_target=True)
    model = QualityModel(features="frames,lexical", regressor="stack", regressor_params={"blocks": blocks, "folds": 2})
    model, table = train(model, items, RunOptions(videos_dir=synthetic_data.videos, workers=0, progress=False))
    assert model.regressor_.block_names() == ["words", "pixels"]
    model.save(tmp_path / "m")
    again = QualityModel.load(tmp_path / "m")
    assert np.abs(again.predict(table) - model.predict(table)).max() < 1e-6
    shares, _ = again.explain_blocks(table)
    assert set(shares) == {"words", "pixels"}


def test_layer_wise_learning_rates_freezing_and_no_unused_parameters():
    pytest.importorskip("efficientnet_lite_pytorch")
    from aigvqa.finetune.nets import build_backbone, build_net
    from aigvqa.finetune.train import param_groups

    net = build_net(build_backbone("effnet-lite2", pretrained=False, size=64), 2, 0)
    groups = param_groups(net, lr=1e-3, backbone_lr=1e-4, layer_decay=0.5, weight_decay=0.0, freeze=3)
    assert groups[0]["lr"] == 1e-3 and groups[-1]["lr"] == 1e-4  # the head, then the top backbone group
    lrs = [g["lr"] for g in groups[1:]]
    assert lrs == sorted(lrs) and lrs[0] == pytest.approx(1e-4 * 0.5 ** 19)  # 23 groups, the first 3 frozen
    trained = {id(p) for g in groups for p in g["params"]}
    # every parameter DistributedDataParallel would see is trained: none unused (the ImageNet classifier is frozen)
    assert all(id(p) in trained for p in net.parameters() if p.requires_grad)
    assert not any(p.requires_grad for p in net.backbone.net._fc.parameters())
