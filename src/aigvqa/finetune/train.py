"""The fine-tuning loop: one process or DistributedDataParallel, checkpointed every epoch.

- **Distributed.** Under ``torchrun`` (``WORLD_SIZE`` > 1) or Ray Train the process group is
  set up from the environment (NCCL on CUDA, gloo on CPU) and the network is wrapped in
  ``DistributedDataParallel``. Every global batch is drawn from one seeded permutation and
  split across the processes; the batch-level losses (PLCC, pairwise rank) are computed on
  the *global* batch (predictions are gathered, each process's own part keeps its gradient),
  so N processes train the model one process trains with the same seed and global batch.
- **Optimiser.** AdamW; the head (temporal module, fusion, output) at ``lr``, the backbone's
  layer groups at ``backbone_lr`` × ``layer_decay``^(depth from the top) (the first
  ``freeze`` groups frozen); linear warm-up, then cosine decay, per optimiser step; gradient
  accumulation over ``accumulate`` micro-batches; bfloat16 autocast on CUDA; optional
  gradient checkpointing.
- **Checkpoints.** After every epoch: the weights (safetensors), the optimiser, scheduler and
  RNG state, written to a new folder and switched to atomically. A run started again with the
  same settings and data resumes after the last finished epoch, and ends with the model of an
  uninterrupted run (all randomness is a function of (seed, epoch, row)).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aigvqa.finetune.frames import FramesDataset, collate
from aigvqa.regressors.torch_utils import autocast, torch_module

LATEST = "latest.json"


@dataclass
class Context:
    """Where this process stands: rank, world size and device."""

    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0


def world_size() -> int:
    """The number of training processes this one belongs to (``WORLD_SIZE``, 1 without torchrun)."""
    torch = torch_module()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def process_rank() -> int:
    """This process's rank among the training processes (0 without torchrun)."""
    torch = torch_module()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def setup(device: str) -> Context:
    """Join the process group when launched by torchrun / Ray Train; pick this process's device."""
    from aigvqa.features.deep import resolve_device

    torch = torch_module()
    world = world_size()
    device = resolve_device(device)
    if world > 1:
        if device == "cuda":
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        if not torch.distributed.is_initialized():
            backend = "nccl" if device.startswith("cuda") else "gloo"
            torch.distributed.init_process_group(backend)
        if device.startswith("cuda"):
            torch.cuda.set_device(device)
    return Context(process_rank(), world, device)


def barrier(ctx: Context) -> None:
    if ctx.world > 1:
        torch_module().distributed.barrier()


def gather_objects(ctx: Context, obj: Any) -> list[Any]:
    """Every process's ``obj``, in rank order."""
    if ctx.world == 1:
        return [obj]
    out: list[Any] = [None] * ctx.world
    torch_module().distributed.all_gather_object(out, obj)
    return out


def loader(dataset: FramesDataset, batches: list[list[int]], workers: int, device: str):
    """A DataLoader yielding the given batches of rows, decoding in ``workers`` processes."""
    torch = torch_module()
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=batches, num_workers=workers, collate_fn=collate,
        pin_memory=device.startswith("cuda"), persistent_workers=False,
    )  # fmt: skip


def prepare(dataset: FramesDataset, rows: np.ndarray, ctx: Context, workers: int, batch: int = 8) -> dict[int, str]:
    """Decode every row's video into the frame cache (this process's share of them, in worker
    processes); returns {row: why it cannot be decoded}, the same in every process."""
    mine = [int(r) for r in rows[ctx.rank :: ctx.world]]
    failures: dict[int, str] = {}
    dataset.train = False
    for rows_t, _views, reasons in loader(dataset, [mine[i : i + batch] for i in range(0, len(mine), batch)],
                                          workers, "cpu"):  # fmt: skip
        failures.update({int(r): why for r, why in zip(rows_t.tolist(), reasons, strict=True) if why})
    merged: dict[int, str] = {}
    for part in gather_objects(ctx, failures):
        merged.update(part)
    return dict(sorted(merged.items()))


def _split(rows: np.ndarray, world: int, rank: int) -> np.ndarray:
    return rows[rank::world]


def _gathered(ctx: Context, local, sizes: list[int]):
    """The global prediction vector from every process's part; this process's part keeps its
    gradient (the others are constants), ordered as ``rows[rank::world]`` interleaved."""
    torch = torch_module()
    if ctx.world == 1:
        return local
    width = max(sizes)
    padded = torch.zeros(width, device=local.device, dtype=local.dtype)
    padded[: len(local)] = local.detach()
    parts = [torch.zeros_like(padded) for _ in range(ctx.world)]
    torch.distributed.all_gather(parts, padded)
    parts[ctx.rank] = torch.cat([local, padded[len(local):]])  # own part: with its gradient
    n = sum(sizes)
    out = local.new_zeros(n)
    index = torch.arange(n, device=local.device)
    for r in range(ctx.world):
        out = out.index_put((index[r::ctx.world],), parts[r][: sizes[r]])
    return out


def _lr_lambda(warmup: int, total: int):
    def factor(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def param_groups(net, lr: float, backbone_lr: float, layer_decay: float, weight_decay: float, freeze: int):
    """AdamW groups: the head at ``lr``, backbone layer group g of G at
    ``backbone_lr * layer_decay ** (G - 1 - g)``; the first ``freeze`` groups frozen."""
    groups = [g for g in net.backbone.layer_groups() if g]
    grouped = {id(p) for g in groups for p in g}
    for p in net.backbone.parameters():  # e.g. an ImageNet classifier the network never uses
        if id(p) not in grouped:
            p.requires_grad_(False)
    for group in groups[:freeze]:
        for p in group:
            p.requires_grad_(False)
    out = [{"params": net.head_parameters(), "lr": lr, "weight_decay": weight_decay}]
    depth = len(groups)
    for g, group in enumerate(groups):
        params = [p for p in group if p.requires_grad]
        if params and backbone_lr > 0:
            out.append({"params": params, "lr": backbone_lr * layer_decay ** (depth - 1 - g),
                        "weight_decay": weight_decay})  # fmt: skip
        elif params:
            for p in params:
                p.requires_grad_(False)
    return out


def save_checkpoint(directory: Path, epoch: int, net, optimiser, scheduler, key: str) -> None:
    """Write the state after ``epoch`` to a new folder and point ``latest.json`` at it."""
    from safetensors.torch import save_file

    torch = torch_module()
    directory.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory, prefix=".tmp-"))
    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(tmp / "weights.safetensors"))
    torch.save({"optimizer": optimiser.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(), "numpy_rng": None}, tmp / "state.pt")  # fmt: skip
    (tmp / "progress.json").write_text(json.dumps({"epoch": epoch, "key": key}))
    final = directory / f"epoch-{epoch:04d}"
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    pointer = directory / f".{LATEST}.tmp"
    pointer.write_text(json.dumps({"epoch": epoch, "folder": final.name, "key": key}))
    os.replace(pointer, directory / LATEST)
    for old in directory.glob("epoch-*"):  # only the latest finished epoch is kept
        if old.name != final.name:
            shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(directory: Path | None, key: str, net, optimiser, scheduler) -> int:
    """Restore the latest finished epoch of the run ``key``; returns the epoch to start from."""
    if directory is None or not (directory / LATEST).exists():
        return 0
    from safetensors.torch import load_file

    torch = torch_module()
    try:
        latest = json.loads((directory / LATEST).read_text())
        folder = directory / latest["folder"]
        if latest.get("key") != key:
            return 0
        net.load_state_dict(load_file(str(folder / "weights.safetensors")), strict=True)
        state = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
        optimiser.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        return int(latest["epoch"]) + 1
    except (OSError, ValueError, KeyError, RuntimeError):  # a damaged checkpoint: start again
        return 0


@dataclass
class LoopSettings:
    epochs: int
    batch_size: int
    accumulate: int
    lr: float
    backbone_lr: float
    layer_decay: float
    weight_decay: float
    warmup: float
    freeze: int
    rank_weight: float
    mse_weight: float
    workers: int
    seed: int
    grad_checkpointing: bool
    cache_frozen: bool = False


def steps_per_epoch(n: int, s: LoopSettings) -> int:
    return max(1, n // s.batch_size)


def train_loop(net, dataset: FramesDataset, tab: np.ndarray, y: np.ndarray, rows: np.ndarray, s: LoopSettings,
               ctx: Context, checkpoint: Path | None, key: str, log=None):  # fmt: skip
    """Fine-tune ``net`` on ``rows`` (standardised targets ``y``); returns the trained net (on CPU)."""
    from aigvqa.regressors.mlp import _plcc_loss, _rank_loss

    torch = torch_module()
    device = ctx.device
    torch.manual_seed(s.seed)
    net.to(device)
    if s.grad_checkpointing:
        net.backbone.set_grad_checkpointing(True)
    optimiser = torch.optim.AdamW(param_groups(net, s.lr, s.backbone_lr, s.layer_decay, s.weight_decay, s.freeze))
    per_epoch = steps_per_epoch(len(rows), s)
    total = per_epoch * s.epochs
    warmup = int(round(s.warmup * total)) if s.warmup < 1 else int(s.warmup)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, _lr_lambda(warmup, total))
    start = load_checkpoint(checkpoint, key, net, optimiser, scheduler)
    if start and log:
        log(f"resuming after epoch {start} of {s.epochs} from {checkpoint}")
    model = net
    if ctx.world > 1:
        ids = [int(device.split(":")[1])] if device.startswith("cuda:") else None
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=ids)
    tab_t = torch.from_numpy(tab).to(device)
    y_t = torch.from_numpy(y.astype(np.float32)).to(device)
    spec = dataset.spec
    # frozen leading layer groups see the same pixels every epoch (fixed views): their output is
    # computed once per row and kept (the same numbers as recomputing it; far less CPU)
    frozen = s.freeze if (s.cache_frozen and s.freeze > 0 and getattr(net.backbone, "splits", False)
                          and spec.view == "resize" and not spec.flip) else 0  # fmt: skip
    kept: dict[int, Any] = {}
    for epoch in range(start, s.epochs):
        import time

        began = time.perf_counter()
        torch.manual_seed(s.seed * 100003 + epoch)  # dropout: the same stream after a resume
        order = np.random.default_rng([s.seed, epoch, 1]).permutation(rows)
        steps = np.array_split(order, per_epoch)
        micro = [m for step in steps for m in np.array_split(step, s.accumulate)]
        dataset.epoch, dataset.train = epoch, True
        local = [_split(m, ctx.world, ctx.rank).tolist() for m in micro]
        net.train()
        net.backbone.eval()  # frozen batch-norm statistics, no drop-connect (module docs of nets)
        losses = []
        batches = iter(loader(dataset, local, s.workers, device))
        for i, m in enumerate(micro):
            rows_t, views, _ = next(batches)
            sizes = [len(_split(m, ctx.world, r)) for r in range(ctx.world)]
            last = (i + 1) % s.accumulate == 0
            sync = model.no_sync() if (ctx.world > 1 and not last) else _nothing()
            with sync:
                x = _frozen_output(net, views, rows_t.tolist(), frozen, kept, device) if frozen else \
                    views.to(device, non_blocking=True)  # fmt: skip
                with autocast(device):
                    p_local = model(x, tab_t[rows_t.to(device)], frozen)
                p = _gathered(ctx, p_local.float(), sizes)
                t = y_t[torch.from_numpy(m).to(device)]  # ``p`` is in the order of ``m``
                loss = s.mse_weight * ((p - t) ** 2).mean()
                if len(m) >= 3:
                    loss = loss + _plcc_loss(p, t) + s.rank_weight * _rank_loss(p, t)
                (loss * ctx.world / s.accumulate).backward()
            losses.append(float(loss.detach()))
            if last:
                torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                optimiser.step()
                optimiser.zero_grad(set_to_none=True)
                scheduler.step()
        if checkpoint is not None:
            if ctx.main:
                save_checkpoint(checkpoint, epoch, net, optimiser, scheduler, key)
            barrier(ctx)
        if log:
            log(f"epoch {epoch + 1}/{s.epochs}: loss {np.mean(losses):.4f}, {time.perf_counter() - began:.1f} s")
    net.backbone.set_grad_checkpointing(False)
    return net


def _frozen_output(net, views, rows: list[int], stop: int, kept: dict[int, Any], device: str):
    """(B, K, ...) outputs of the first ``stop`` (frozen) layer groups, computed once per row."""
    torch = torch_module()
    need = [j for j, r in enumerate(rows) if r not in kept]
    if need:
        with torch.no_grad(), autocast(device):
            h = net.prefix(views[need].to(device), stop)
        for j, out in zip(need, h.reshape(len(need), views.shape[1], *h.shape[1:]), strict=True):
            kept[rows[j]] = out
    return torch.stack([kept[r] for r in rows])


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def predict_rows(net, dataset: FramesDataset, tab: np.ndarray, rows: np.ndarray, ctx: Context, batch: int,
                 workers: int) -> np.ndarray:  # fmt: skip
    """Raw network outputs for ``rows`` (evaluation views), shared out across the processes."""
    torch = torch_module()
    device = ctx.device
    net.to(device).eval()
    dataset.train = False
    mine = _split(np.asarray(rows), ctx.world, ctx.rank).tolist()
    out: dict[int, float] = {}
    tab_t = torch.from_numpy(tab).to(device)
    with torch.inference_mode():
        for rows_t, views, _ in loader(dataset, [mine[i : i + batch] for i in range(0, len(mine), batch)],
                                       workers, device):  # fmt: skip
            with autocast(device):
                p = net(views.to(device), tab_t[rows_t.to(device)])
            out.update(zip(rows_t.tolist(), p.float().cpu().tolist(), strict=True))
    merged: dict[int, float] = {}
    for part in gather_objects(ctx, out):
        merged.update(part)
    return np.array([merged[int(r)] for r in rows], dtype=np.float64)
