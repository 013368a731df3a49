"""Fine-tuning on a GPU: training and inference throughput, peak memory, extraction and decoding
rates, and the wall time of the full NTIRE 2025 XGC challenge estimated from them.

Random weights of real sizes (no download): ConvNeXt-B (timm) and ViT-B/16 (open_clip's
visual tower), 224 px, 16 frames per clip, bfloat16 autocast; batch sizes 8-64 clips.

    python benchmarks/gpu_finetune.py --out gpu.json            # on a CUDA machine, aigvqa[deep,text]
    python benchmarks/gpu_finetune.py --tiny                    # CPU smoke run: tiny net, tiny sizes

Sections that cannot run here (no timm, no GPU) are skipped with the reason; every number
is printed and, with --out, written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from finetune_speed import loader_rate, model_rate  # noqa: E402

TRAIN_CLIPS, EPOCHS, TEST_CLIPS = 24_000, 10, 6_800


def _regressor(backbone: str, frames: int, size: int, device: str, batch: int, view: str = "resize", grid: int = 7,
               checkpointing: bool = False):  # fmt: skip
    from aigvqa.regressors.finetune import FineTune

    return FineTune(0, backbone=backbone, frames=frames, size=size, device=device, batch_size=max(2, batch),
                    view=view, grid=grid, grad_checkpointing=checkpointing)  # fmt: skip


def training(backbones: list[str], batches: list[int], frames: int, size: int, steps: int, device: str) -> list[dict]:
    import torch

    rows = []
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    for backbone in backbones:
        for batch in batches:
            # gradient checkpointing as in recipes/ntire2025_finetune.json (1,024 frames of 224 px at batch 64)
            row: dict[str, Any] = {"backbone": backbone, "batch": batch, "frames": frames, "size": size,
                                   "grad_checkpointing": True}  # fmt: skip
            try:
                if device.startswith("cuda"):
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
                reg = _regressor(backbone, frames, size, device, batch, checkpointing=True)
                train, infer = model_rate(reg, batch, steps, device)
                row.update(train_clips_s=round(train, 2), infer_clips_s=round(infer, 2))
                if device.startswith("cuda"):
                    row["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
            except oom:
                row["error"] = "out of memory"
            except Exception as exc:  # e.g. timm / open_clip not installed
                row["error"] = f"{type(exc).__name__}: {str(exc)[:160]}"
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def decoding(frames: int, size: int, workers: int, clips: int, tiny: bool) -> list[dict]:
    """Cold (decode) and warm (frame cache) loader rates on synthetic 720p clips (tiny: 160x90)."""
    from aigvqa.synthetic import make_dataset

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        shape = (160, 90) if tiny else (1280, 720)
        records = make_dataset(Path(tmp) / "clips", n_clips=clips, seed=0, size=shape, n_frames=24 if tiny else 120)
        paths = [str(Path(tmp) / "clips" / "videos" / r["video"]) for r in records]
        for view in ("resize", "fragments"):
            reg = _regressor("tiny", frames, size, "cpu", 8, view, grid=2 if tiny else 7)
            cold, warm = loader_rate(reg, paths, workers, Path(tmp) / view)
            row = {"view": view, "video": f"{shape[0]}x{shape[1]}", "workers": workers,
                   "cold_clips_s": round(cold, 2), "warm_clips_s": round(warm, 2)}  # fmt: skip
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def extraction(recipe: Path, clips: int, workers: int, device: str, tiny: bool) -> dict:
    """Clips/s of the frozen-feature recipe (ntire2025_xgc) with random weights of the real sizes."""
    from aigvqa.data import Item
    from aigvqa.extract import extract_features
    from aigvqa.model import QualityModel
    from aigvqa.recipes import load_recipe
    from aigvqa.synthetic import make_dataset

    params = load_recipe(recipe)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if tiny:
                params.update(features="classic,lexical", extractor_config={})
            else:
                params["extractor_config"] = _random_weights(params["extractor_config"], Path(tmp), device)
            shape = (160, 90) if tiny else (1280, 720)
            records = make_dataset(Path(tmp) / "clips", n_clips=clips, seed=1, size=shape, n_frames=24 if tiny else 120)
            items = [Item(r["video"], r["prompt"], {}) for r in records]
            model = QualityModel(**params)
            start = time.perf_counter()
            extract_features(items, model.extractor_specs(), videos_dir=Path(tmp) / "clips" / "videos",
                             sampling=model.sampling, workers=workers, progress=False)  # fmt: skip
            rate = clips / (time.perf_counter() - start)
        row = {"recipe": str(recipe), "features": params["features"], "workers": workers, "clips_s": round(rate, 3)}
    except Exception as exc:
        row = {"recipe": str(recipe), "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    print(json.dumps(row), flush=True)
    return row


def _random_weights(config: dict, tmp: Path, device: str) -> dict:
    """The recipe's extractor settings with random-weight files of the same architectures."""
    import torch
    from safetensors.torch import save_file

    out = {k: dict(v) for k, v in config.items()}
    torch.manual_seed(0)
    if "timm" in out:
        import timm

        net = timm.create_model(out["timm"]["backbone"].split(".")[0], pretrained=False, num_classes=0)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp / "timm.safetensors"))
        out["timm"].update(backbone=out["timm"]["backbone"].split(".")[0], weights=str(tmp / "timm.safetensors"))
    if "clip" in out:
        import open_clip

        net = open_clip.create_model(out["clip"]["backbone"])
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp / "clip.safetensors"))
        out["clip"]["weights"] = str(tmp / "clip.safetensors")
    for cfg in out.values():
        cfg["device"] = device
    return out


def estimate(train: list[dict], decode: list[dict], extract: dict, gpus: int) -> dict:
    """Hours for 24k clips x 10 epochs of training, then 6.8k test clips, on ``gpus`` GPUs (8: 90%
    scaling assumed for DDP; decoding measured on this node's cores). Measured at 16 frames per
    clip: recipes/ntire2025_finetune.json's 8 frames cost about half the GPU time."""
    ok = [r for r in train if "train_clips_s" in r]
    if not ok:
        return {}
    out: dict[str, Any] = {}
    scale = 1.0 if gpus == 1 else 0.9 * gpus
    cold = max((r["cold_clips_s"] for r in decode if r["view"] == "resize"), default=float("nan"))
    for backbone in sorted({r["backbone"] for r in ok}):
        best = max((r for r in ok if r["backbone"] == backbone), key=lambda r: r["train_clips_s"])
        train_h = TRAIN_CLIPS * EPOCHS / (best["train_clips_s"] * scale) / 3600
        first_decode_h = TRAIN_CLIPS / cold / 3600  # decoding once; epochs overlap it only on the first
        test_h = TEST_CLIPS / (best["infer_clips_s"] * scale) / 3600 + TEST_CLIPS / cold / 3600
        out[backbone] = {"frames_per_clip": best["frames"], "batch": best["batch"], "train_h": round(train_h, 2),
                         "decode_train_once_h": round(first_decode_h, 2), "test_h": round(test_h, 2),
                         "total_h": round(max(train_h, first_decode_h) + test_h, 2)}  # fmt: skip
    if "clips_s" in extract:
        out["frozen_features_ntire2025_xgc_h"] = round((TRAIN_CLIPS + TEST_CLIPS) / extract["clips_s"] / 3600, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run with a tiny net and tiny sizes")
    parser.add_argument("--out", default=None, help="write the results as JSON")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: all cores)")
    args = parser.parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    workers = args.workers or (2 if args.tiny else os.cpu_count() or 1)
    if args.tiny:
        backbones, batches, frames, size, steps, clips = ["tiny"], [2, 4], 2, 32, 1, 4
    else:
        backbones, batches, frames, size, steps, clips = ["timm:convnext_base", "open_clip:ViT-B-16"], \
            [8, 16, 32, 64], 16, 224, 5, 64  # fmt: skip
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(f"device {name}, torch {torch.__version__}, {os.cpu_count()} cores, decoding workers {workers}")
    train = training(backbones, batches, frames, size, steps, device)
    decode = decoding(frames, size, workers, clips, args.tiny)
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "ntire2025_xgc.json"
    extract = extraction(recipe, clips, workers, device, args.tiny)
    results = {"device": name, "cores": os.cpu_count(), "training": train, "decoding": decode, "extraction": extract,
               "estimate_1_gpu": estimate(train, decode, extract, 1),
               "estimate_8_gpus": estimate(train, decode, extract, 8)}  # fmt: skip
    print("estimate, 1 GPU:", json.dumps(results["estimate_1_gpu"]))
    print("estimate, 8 GPUs:", json.dumps(results["estimate_8_gpus"]))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
