"""PyTorch helpers shared by the neural regressors (``mlp``, ``minilm_ft``): a lazy import with
the install hint, seeded deterministic execution, CPU thread control and mixed precision.

torch is imported only when one of these is called.
"""

from __future__ import annotations

import contextlib
import os


def torch_module():
    """The ``torch`` module, or an ImportError naming the extra that provides it."""
    try:
        import torch
    except ImportError:
        raise ImportError("the 'mlp' head needs PyTorch: pip install 'aigvqa[deep]'") from None
    return torch


@contextlib.contextmanager
def deterministic(seed: int, device: str):
    """Seed torch and switch on deterministic algorithms for the block, then restore."""
    torch = torch_module()
    if device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


@contextlib.contextmanager
def cpu_threads(device: str, threads: int):
    """Run with ``threads`` torch threads on CPU (0: leave torch's default), then restore.

    One thread is the default: the head's matrices are small, and on a busy machine
    intra-op parallelism costs far more in synchronisation than it gains (16x slower measured
    on a loaded 2-core VM)."""
    torch = torch_module()
    previous = torch.get_num_threads()
    if device == "cpu" and threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def autocast(device: str):
    """bfloat16 autocast on CUDA GPUs that support it (no loss scaling needed); float32 elsewhere."""
    torch = torch_module()
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
