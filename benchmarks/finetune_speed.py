"""Which one bounds a fine-tuning run: the data loader or the model? Prints samples/s of each.

- loader, cold: decoding the videos into the frame cache (PyAV, in ``--workers`` DataLoader
  worker processes);
- loader, warm: later epochs (memory-mapped frames, training views cut);
- model: forward + backward + optimiser step of the recipe's network on random input of the
  same shape (no data loading), and inference.

A run is loader-bound when the warm loader's samples/s is below the model's.

    python benchmarks/finetune_speed.py --config recipes/finetune_cpu.json --videos /path/fetv/videos
    python benchmarks/finetune_speed.py --config recipes/finetune_cpu.json   # synthetic clips
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def _videos(directory: str | None, n: int, tmp: Path) -> list[str]:
    if directory:
        files = sorted(p for p in Path(directory).iterdir() if p.is_file())[:n]
        return [str(p) for p in files]
    from aigvqa.synthetic import make_dataset

    records = make_dataset(tmp / "clips", n_clips=n, seed=0, size=(640, 360), n_frames=48)
    return [str(tmp / "clips" / "videos" / r["video"]) for r in records]


def loader_rate(regressor, paths: list[str], workers: int, tmp: Path) -> tuple[float, float]:
    """(cold, warm) samples/s of the data loader alone."""
    from aigvqa.cache import file_digest
    from aigvqa.finetune.frames import FramesDataset, FrameStore
    from aigvqa.finetune.train import loader

    store = FrameStore(regressor.spec, tmp / "frames")
    data = FramesDataset(paths, [file_digest(p) for p in paths], regressor.spec, store, seed=0)
    batches = [list(range(i, min(len(paths), i + 8))) for i in range(0, len(paths), 8)]
    rates = []
    for epoch in range(2):
        data.epoch, data.train = epoch, True
        start = time.perf_counter()
        for _ in loader(data, batches, workers, "cpu"):
            pass
        rates.append(len(paths) / (time.perf_counter() - start))
    return rates[0], rates[1]


def model_rate(regressor, batch: int, steps: int, device: str) -> tuple[float, float]:
    """(training, inference) samples/s of the network alone on random input."""
    import torch

    from aigvqa.finetune.train import param_groups
    from aigvqa.regressors.torch_utils import autocast

    regressor.meta = {"fused_columns": []}
    net = regressor._new_net(pretrained=False).to(device)
    if regressor.grad_checkpointing:
        net.backbone.set_grad_checkpointing(True)
    opt = torch.optim.AdamW(param_groups(net, 1e-3, 1e-4, 0.8, 0.05, regressor.freeze))
    spec = regressor.spec
    views = torch.randint(0, 255, (batch, spec.frames, spec.size, spec.size, 3), dtype=torch.uint8, device=device)
    tab = torch.zeros(batch, 0, device=device)
    net.train()
    net.backbone.eval()

    def step():
        with autocast(device):
            loss = net(views, tab).float().pow(2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    train = batch * steps / (time.perf_counter() - start)
    net.eval()
    with torch.inference_mode(), autocast(device):
        net(views, tab)
        start = time.perf_counter()
        for _ in range(steps):
            net(views, tab)
        _sync(device)
    return train, batch * steps / (time.perf_counter() - start)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="recipes/finetune_cpu.json")
    parser.add_argument("--videos", default=None, help="a folder of videos (default: synthetic 640x360 clips)")
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--batch", type=int, default=None, help="default: the recipe's batch_size")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    from aigvqa.regressors.finetune import FineTune

    recipe = json.loads(Path(args.config).read_text())
    params = {**recipe.get("regressor_params", {}), "device": args.device}
    regressor = FineTune(0, **params)
    if regressor.threads:
        import torch

        torch.set_num_threads(regressor.threads)
    with tempfile.TemporaryDirectory() as tmp:
        paths = _videos(args.videos, args.clips, Path(tmp))
        cold, warm = loader_rate(regressor, paths, args.workers, Path(tmp))
    batch = args.batch or regressor.batch_size
    train, infer = model_rate(regressor, batch, args.steps, args.device)
    print(f"recipe {args.config}: {regressor.backbone}, {regressor.spec.frames} frames of {regressor.spec.size} px "
          f"({regressor.spec.view}), batch {batch}, device {args.device}")  # fmt: skip
    print(f"loader, cold (decoding, {args.workers} workers): {cold:8.2f} samples/s  ({len(paths)} clips)")
    print(f"loader, warm (frame cache):          {warm:8.2f} samples/s")
    print(f"model, training step:                {train:8.2f} samples/s")
    print(f"model, inference:                    {infer:8.2f} samples/s")
    bound = "the loader" if warm < train else "the model"
    print(f"after the first epoch a run is bound by {bound}; the first epoch by "
          f"{'decoding' if cold < train else 'the model'}")
    np.set_printoptions()


if __name__ == "__main__":
    main()
