"""Pretrained deep backbones as feature extractors: any timm image model, and CLIP/SigLIP via
open_clip (frame embeddings plus prompt–frame cosine similarity, i.e. text–video alignment).

Nothing here imports torch at import time. Each extractor checks its settings and its weights
file in the constructor (which runs before any video is decoded), so a missing file fails at
once with a message saying how to get it; the model itself is loaded lazily, once per process
(module-level cache keyed by the settings), on the first clip.

Weights come from a local file (``weights=PATH``: safetensors or a torch state dict) or from
the library's own cache (timm: ``backbone`` with its pretrained tag, e.g.
``convnext_base.fb_in22k_ft_in1k``; open_clip: ``weights=TAG``, e.g. ``openai``). With
``offline=True`` the Hugging Face hub is never contacted (``HF_HUB_OFFLINE=1``).

Outputs per video: the mean and standard deviation over the sampled frames of every embedding
dimension (scalar columns, for tree models), and the per-frame embeddings as the array
``frames`` of shape (K, D) float32 (``FeatureTable.sequences["<name>.frames"]``, for the
neural head). The clip extractor also outputs statistics of the prompt–frame cosine similarity.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from aigvqa.cache import file_digest
from aigvqa.features.base import FeatureExtractor
from aigvqa.registry import EXTRACTORS
from aigvqa.video import Clip

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")


class WeightsError(FileNotFoundError):
    """Backbone weights that are missing or unusable; the message says how to get them."""

    def __str__(self) -> str:  # FileNotFoundError would otherwise prefix an errno
        return str(self.args[0]) if self.args else "backbone weights not found"


# -- helpers shared by both extractors ------------------------------------------------------
def resolve_device(device: str) -> str:
    """``auto`` → cuda, else mps, else cpu; an explicit device is checked to exist."""
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = device.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"--device {device}: Apple MPS is not available here; use --device cpu")
    if kind not in ("cuda", "mps", "cpu"):
        raise ValueError(f"--device {device}: expected auto, cuda, cuda:N, mps or cpu")
    return device


def set_offline() -> None:
    """Forbid Hugging Face hub network access in this process (and the workers it starts)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:  # the constant is read at import time: patch it if the hub is already imported
        import huggingface_hub.constants as hf_constants

        hf_constants.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover - hub not installed
        pass


def _hf_cached(repo_id: str, filenames: tuple[str, ...]) -> bool:
    """Whether one of ``filenames`` of ``repo_id`` is in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return False
    for name in filenames:
        found = try_to_load_from_cache(repo_id, name)
        if isinstance(found, str) and os.path.exists(found):
            return True
    return False


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _weights_digest(path: str) -> str:
    """Content digest of a weights file, memoised by (path, size, mtime) within a process."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_digest(path)
    return _DIGESTS[key]


def _read_tensor_shapes(path: str) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the tensors in a weights file, reading as little as possible."""
    if path.endswith(".safetensors"):
        from safetensors import safe_open

        with safe_open(path, framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # old (non-zip) serialisation cannot be memory-mapped
        obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "module"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ValueError(f"expected a state dict (name → tensor), got {type(obj).__name__}")
    return {k: tuple(v.shape) for k, v in obj.items() if hasattr(v, "shape")}


def _preprocess(frames: np.ndarray, device: str, size: tuple[int, int], crop_pct: float, mode: str, mean, std):
    """(K, H, W, 3) uint8 → (K, 3, h, w) float normalised tensor on ``device``.

    ``mode`` ``shortest``: resize the shorter side to ``size / crop_pct``, then centre-crop
    ``size`` (timm / CLIP evaluation transform); ``squash``: resize to ``size`` ignoring aspect.
    """
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    th, tw = size
    h, w = x.shape[-2:]
    if mode == "squash":
        x = F.interpolate(x, size=(th, tw), mode="bicubic", align_corners=False, antialias=True)
    else:
        scale = max(th, tw) / max(crop_pct, 1e-6) / min(h, w)
        nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)
        top, left = (nh - th) // 2, (nw - tw) // 2
        x = x[..., top : top + th, left : left + tw]
    m = torch.tensor(mean, device=device, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, device=device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x.clamp_(0, 1) - m) / s


def _autocast(device: str):
    """Mixed precision on CUDA (bfloat16 where supported, else float16); a no-op elsewhere."""
    import contextlib

    import torch

    if device.startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def _limit_threads(device: str) -> None:
    """In extraction worker processes on CPU, one torch thread each (the workers are the
    parallelism); in the main process torch keeps its default."""
    import multiprocessing

    import torch

    if device == "cpu" and multiprocessing.parent_process() is not None:
        torch.set_num_threads(1)


def pooled(name_prefix: str, emb: np.ndarray) -> dict[str, float]:
    """Mean and standard deviation over frames of each embedding dimension."""
    mean = emb.mean(axis=0)
    std = emb.std(axis=0)
    width = max(4, len(str(emb.shape[1] - 1)))
    out = {f"{name_prefix}mean_{i:0{width}d}": float(v) for i, v in enumerate(mean)}
    out.update({f"{name_prefix}std_{i:0{width}d}": float(v) for i, v in enumerate(std)})
    return out


_MODELS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


class _DeepExtractor(FeatureExtractor):
    """Common settings, checks, model cache and batching of the deep extractors."""

    needs_video: ClassVar[bool] = True
    library: ClassVar[str] = ""
    default_backbone: ClassVar[str] = ""

    def __init__(
        self,
        backbone: str | None = None,
        weights: str | None = None,
        image_size: int | None = None,
        device: str = "auto",
        batch_size: int = 32,
        offline: bool = False,
    ):
        for module in ("torch", self.library):
            try:
                __import__(module)
            except ImportError:
                raise ImportError(
                    f"feature extractor '{self.name}' needs {module}: pip install 'aigvqa[deep]'"
                ) from None
        self.backbone = str(backbone or self.default_backbone)
        self.weights = None if weights in (None, "") else str(weights)
        if image_size is not None and (not isinstance(image_size, int) or image_size < 16):
            raise ValueError(f"{self.name}: image_size must be an integer ≥ 16, got {image_size!r}")
        self.image_size = image_size
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"{self.name}: batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size
        self.device = device or "auto"
        self.offline = bool(offline)
        if self.offline or os.environ.get("HF_HUB_OFFLINE") == "1":
            self.offline = True
            set_offline()
        self._check_backbone()
        self._source = self._resolve_weights()  # ("file", path) | ("tag", tag) | ("hub", None)
        self._device = resolve_device(self.device)
        self._config: dict[str, Any] | None = None

    # -- settings ---------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        if self._config is None:
            kind, ref = self._source
            weights = f"file:{_weights_digest(ref)}" if kind == "file" else f"{kind}:{ref or ''}"
            self._config = {
                "backbone": self._backbone_key(),
                "weights": weights,
                "image_size": self.image_size,
                "device": self._device.split(":")[0],
                "batch_size": self.batch_size,
            }
        return self._config

    def _backbone_key(self) -> str:
        return self.backbone

    def _check_backbone(self) -> None:  # pragma: no cover - overridden
        pass

    def _how_to_get(self) -> str:  # pragma: no cover - overridden
        return ""

    def _resolve_weights(self) -> tuple[str, str | None]:
        """Check the weights before any video is decoded: a file must exist and be readable."""
        ref = self.weights
        if ref is None:
            return self._library_weights(None)
        if not _looks_like_path(ref) and self._is_tag(ref):
            return self._library_weights(ref)
        path = Path(ref).expanduser()
        if not path.is_file():
            what = "is a directory, not a file" if path.is_dir() else "not found"
            raise WeightsError(
                f"weights file {path} {what} (feature extractor '{self.name}', backbone {self.backbone!r}; "
                f"given with --weights or stored in the model directory's model.json). {self._how_to_get()}"
            )
        path = path.resolve()
        try:
            shapes = _read_tensor_shapes(str(path))
        except Exception as exc:
            raise WeightsError(
                f"weights file {path} cannot be read as safetensors or a torch state dict "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}). {self._how_to_get()}"
            ) from None
        self._check_shapes(str(path), shapes)
        return ("file", str(path))

    def _is_tag(self, ref: str) -> bool:
        return False

    def _library_weights(self, tag: str | None) -> tuple[str, str | None]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _check_shapes(self, path: str, shapes: dict[str, tuple[int, ...]]) -> None:
        pass

    # -- model ------------------------------------------------------------------------------
    def _model_key(self) -> tuple:
        return (self.library, self._backbone_key(), self._source, self.image_size, self._device)

    def _loaded(self):
        key = self._model_key()
        with _LOCK:
            entry = _MODELS.get(key)
            if entry is None:
                try:
                    entry = self._load()
                except Exception as exc:  # remembered: every later clip fails fast the same way
                    entry = exc
                _MODELS[key] = entry
        if isinstance(entry, Exception):
            raise entry
        return entry

    def _load(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def _embed_frames(self, frames: np.ndarray, encode, prep) -> np.ndarray:
        """Per-frame embeddings (K, D) float32, in batches of ``batch_size`` frames."""
        import torch

        outs = []
        with torch.inference_mode(), _autocast(self._device):
            for start in range(0, len(frames), self.batch_size):
                x = _preprocess(frames[start : start + self.batch_size], self._device, **prep)
                outs.append(encode(x).float().cpu())
        return torch.cat(outs).numpy().astype(np.float32)


def _looks_like_path(ref: str) -> bool:
    return os.sep in ref or "/" in ref or ref.lower().endswith(WEIGHT_SUFFIXES) or os.path.exists(ref)


# -- timm -------------------------------------------------------------------------------------
@EXTRACTORS.register("timm")
class TimmExtractor(_DeepExtractor):
    """Frame embeddings of any timm image backbone (classifier removed), pooled over frames."""

    name = "timm"
    version = "1"
    library = "timm"
    default_backbone = "convnext_base.fb_in22k_ft_in1k"
    measures = "appearance/aesthetics: pretrained image-backbone embeddings of the sampled frames (mean, std)"

    def _check_backbone(self) -> None:
        import timm

        arch = self.backbone.split(".")[0]
        if not timm.is_model(arch):
            close = timm.list_models(f"*{arch[:6]}*")[:8]
            hint = f"; similar: {', '.join(close)}" if close else ""
            raise ValueError(f"unknown timm backbone {self.backbone!r} (see timm.list_models()){hint}")

    def _how_to_get(self) -> str:
        repo = self.backbone
        if "." not in repo:
            import timm

            try:
                tag = getattr(timm.models.get_pretrained_cfg(repo), "tag", None)
            except Exception:
                tag = None
            repo = f"{repo}.{tag or '<tag>'}"
        return (
            f"Download it with 'huggingface-cli download timm/{repo} model.safetensors --local-dir DIR' "
            f"and pass --weights DIR/model.safetensors, or omit --weights to use timm's own cache "
            f"(e.g. --backbone {repo})."
        )

    def _library_weights(self, tag: str | None) -> tuple[str, str | None]:
        import timm

        try:
            cfg = timm.models.get_pretrained_cfg(self.backbone)
        except Exception:
            cfg = None
        if cfg is None:
            raise WeightsError(
                f"timm backbone {self.backbone!r} has no pretrained weights known to timm; "
                f"pass a weights file with --weights. {self._how_to_get()}"
            )
        hub_id = getattr(cfg, "hf_hub_id", None)
        if self.offline and not (hub_id and _hf_cached(hub_id, ("model.safetensors", "pytorch_model.bin"))):
            raise WeightsError(
                f"pretrained weights of timm backbone {self.backbone!r} are not in the local Hugging Face cache "
                f"and --offline forbids downloading them. Download once with network access "
                f"('huggingface-cli download {hub_id or 'timm/' + self.backbone}'), or pass --weights FILE."
            )
        return ("hub", hub_id or self.backbone)

    def _create(self, pretrained: bool):
        import timm

        kwargs: dict[str, Any] = {"pretrained": pretrained, "num_classes": 0}
        if self.image_size is not None:
            try:
                return timm.create_model(self.backbone, img_size=self.image_size, **kwargs)
            except TypeError:  # convolutional models take any size without being told
                pass
        return timm.create_model(self.backbone, **kwargs)

    def _check_shapes(self, path: str, shapes: dict[str, tuple[int, ...]]) -> None:
        import torch

        try:  # on the meta device: shapes only, no memory, no time
            with torch.device("meta"):
                model = self._create(pretrained=False)
        except Exception:  # an architecture that cannot be built on "meta": checked at load time instead
            return
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        shapes = {k.removeprefix("module."): v for k, v in shapes.items()}
        missing = [k for k in expected if k not in shapes]
        wrong = [k for k in expected if k in shapes and shapes[k] != expected[k]]
        if missing or wrong:
            example = (missing or wrong)[0]
            raise WeightsError(
                f"weights file {path} does not fit timm backbone {self.backbone!r}: "
                f"{len(missing)} tensors missing, {len(wrong)} of another shape (e.g. {example!r}). "
                f"Check --backbone names the architecture the file was saved from."
            )

    def _load(self):
        import timm
        import torch

        _limit_threads(self._device)
        kind, ref = self._source
        if kind == "file":
            model = self._create(pretrained=False)
            state = timm.models.load_state_dict(ref, device="cpu")
            state = {k.removeprefix("module."): v for k, v in state.items()}
            missing, _unexpected = model.load_state_dict(state, strict=False)  # classifier keys are dropped
            if missing:
                raise WeightsError(f"weights file {ref} lacks {len(missing)} tensors of {self.backbone!r}")
        else:
            model = self._create(pretrained=True)
        model.eval().to(self._device)
        if self._device.startswith("cuda"):
            model = model.to(memory_format=torch.channels_last)
        data = timm.data.resolve_model_data_config(model)
        _, h, w = data["input_size"]
        if self.image_size is not None:
            h = w = self.image_size
        prep = {
            "size": (int(h), int(w)),
            "crop_pct": float(data.get("crop_pct", 1.0)),
            "mode": "shortest",
            "mean": tuple(data["mean"]),
            "std": tuple(data["std"]),
        }
        return model, prep

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, Any]:
        model, prep = self._loaded()
        emb = self._embed_frames(clip.frames, model, prep)
        feats: dict[str, Any] = pooled("", emb)
        feats["__arrays__"] = {"frames": emb}
        return feats


# -- open_clip (CLIP, SigLIP, …) ----------------------------------------------------------
@EXTRACTORS.register("clip")
class ClipExtractor(_DeepExtractor):
    """open_clip image and text towers: normalised frame embeddings and prompt alignment.

    ``backbone`` is an open_clip architecture name (``open_clip.list_models()``), a path to an
    open_clip model-config JSON (``{"embed_dim", "vision_cfg", "text_cfg"}``; for custom or
    fine-tuned architectures) or ``local-dir:DIR`` / ``hf-hub:ORG/REPO`` (config and weights
    together; ``weights`` is then not used). ``weights`` is a file or a pretrained tag
    (``open_clip.list_pretrained_tags_by_model(backbone)``); by default ``openai`` where it
    exists, else the first listed tag.
    """

    name = "clip"
    version = "1"
    library = "open_clip"
    needs_prompt: ClassVar[bool] = True
    default_backbone = "ViT-B-16"
    measures = "prompt–video alignment (CLIP cosine of prompt and frames) and CLIP frame embeddings (mean, std)"

    def _config_file(self) -> Path | None:
        if self.backbone.lower().endswith(".json"):
            return Path(self.backbone).expanduser()
        return None

    def _arch(self) -> str:
        cfg = self._config_file()
        return cfg.stem if cfg is not None else self.backbone

    def _backbone_key(self) -> str:
        cfg = self._config_file()
        if cfg is None:
            return self.backbone
        if getattr(self, "_cfg_key", None) is None:  # a config file is identified by its content
            self._cfg_key = f"config:{cfg.stem}:{file_digest(cfg)[:16]}"
        return self._cfg_key

    def _check_backbone(self) -> None:
        import open_clip

        cfg = self._config_file()
        if cfg is not None:
            if not cfg.is_file():
                raise WeightsError(f"open_clip model config {cfg} not found (--backbone of feature extractor 'clip')")
            try:
                data = json.loads(cfg.read_text())
            except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ValueError(f"open_clip model config {cfg}: not valid JSON ({exc})") from None
            if not isinstance(data, dict) or not all(k in data for k in ("embed_dim", "vision_cfg", "text_cfg")):
                raise ValueError(f"open_clip model config {cfg}: needs 'embed_dim', 'vision_cfg' and 'text_cfg'")
            return
        if self.backbone.startswith(("local-dir:", "hf-hub:")):
            if self.backbone.startswith("local-dir:") and not Path(self.backbone[10:]).expanduser().is_dir():
                raise WeightsError(f"open_clip model directory {self.backbone[10:]} not found (--backbone)")
            return
        if self.backbone not in open_clip.list_models():
            close = [m for m in open_clip.list_models() if self.backbone.split("-")[0].lower() in m.lower()][:8]
            hint = f"; similar: {', '.join(close)}" if close else ""
            raise ValueError(f"unknown open_clip backbone {self.backbone!r} (see open_clip.list_models()){hint}")

    def _how_to_get(self) -> str:
        import open_clip

        tags = self._tags()
        if not tags:
            return "Pass the checkpoint saved from this architecture with --weights FILE."
        tag = "openai" if "openai" in tags else tags[0]
        cfg = open_clip.get_pretrained_cfg(self.backbone, tag) or {}
        hub = cfg.get("hf_hub", "")
        repo = hub.rstrip("/").split("/open_clip")[0] if hub else "<repo>"
        quick = (
            f" with --backbone {self.backbone}-quickgelu (these weights use QuickGELU)"
            if cfg.get("quick_gelu") and "quickgelu" not in self.backbone
            else ""
        )
        return (
            f"Use open_clip's own cache (--weights {tag}: downloaded once with network access, then --offline "
            f"works), or download the checkpoint ('huggingface-cli download {repo} --local-dir DIR') and pass "
            f"--weights DIR/open_clip_model.safetensors{quick}."
        )

    def _tags(self) -> list[str]:
        import open_clip

        if self._config_file() is not None or ":" in self.backbone:
            return []
        return list(open_clip.list_pretrained_tags_by_model(self.backbone))

    def _is_tag(self, ref: str) -> bool:
        return ref in self._tags()

    def _resolve_weights(self) -> tuple[str, str | None]:
        if self.backbone.startswith(("local-dir:", "hf-hub:")):
            return ("schema", None)
        return super()._resolve_weights()

    def _library_weights(self, tag: str | None) -> tuple[str, str | None]:
        import open_clip

        tags = self._tags()
        if tag is None:
            if not tags:
                raise WeightsError(
                    f"open_clip backbone {self.backbone!r} has no pretrained tag: pass --weights FILE. "
                    f"{self._how_to_get()}"
                )
            tag = "openai" if "openai" in tags else tags[0]
        if self.offline:
            cfg = open_clip.get_pretrained_cfg(self.backbone, tag) or {}
            hub = cfg.get("hf_hub", "")
            found = False
            if hub:
                repo, filename = os.path.split(hub.rstrip("/")) if not hub.endswith("/") else (hub.rstrip("/"), "")
                names = (filename,) if filename else ()
                names += ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
                found = _hf_cached(repo, names)
            elif cfg.get("url"):
                found = (Path("~/.cache/clip").expanduser() / os.path.basename(cfg["url"])).exists()
            if not found:
                raise WeightsError(
                    f"pretrained weights {self.backbone}/{tag} are not in open_clip's local cache and --offline "
                    f"forbids downloading them. Run once with network access (without --offline), or pass "
                    f"--weights FILE."
                )
        return ("tag", tag)

    def _register_config(self) -> str:
        import open_clip

        cfg = self._config_file()
        if cfg is not None:
            open_clip.add_model_config(cfg)
        return self._arch()

    def _load(self):
        import open_clip

        _limit_threads(self._device)
        arch = self._register_config()
        kind, ref = self._source
        kwargs: dict[str, Any] = {"device": self._device}
        if self.image_size is not None:
            kwargs["force_image_size"] = self.image_size
        if kind == "schema":
            model = open_clip.create_model(self.backbone, **kwargs)
        else:
            try:
                model = open_clip.create_model(arch, pretrained=ref, require_pretrained=True, **kwargs)
            except RuntimeError as exc:
                raise WeightsError(f"cannot load {self.backbone} weights {ref}: {str(exc)[:300]}") from None
        model.eval()
        tokenizer = open_clip.get_tokenizer(self.backbone if kind == "schema" else arch)
        pcfg = dict(getattr(model.visual, "preprocess_cfg", {}) or {})
        size = pcfg.get("size", getattr(model.visual, "image_size", 224))
        size = (size, size) if isinstance(size, int) else tuple(size)
        prep = {
            "size": (int(size[0]), int(size[1])),
            "crop_pct": 1.0,
            "mode": "squash" if pcfg.get("resize_mode") == "squash" else "shortest",
            "mean": tuple(pcfg.get("mean", open_clip.OPENAI_DATASET_MEAN)),
            "std": tuple(pcfg.get("std", open_clip.OPENAI_DATASET_STD)),
        }
        return model, tokenizer, prep, {}

    def _text(self, prompt: str) -> np.ndarray:
        import torch

        model, tokenizer, _, texts = self._loaded()
        if prompt not in texts:
            if len(texts) > 4096:
                texts.clear()
            with torch.inference_mode(), _autocast(self._device):
                tokens = tokenizer([prompt]).to(self._device)
                emb = model.encode_text(tokens, normalize=True).float().cpu().numpy()[0]
            texts[prompt] = emb.astype(np.float32)
        return texts[prompt]

    def extract(self, clip: Clip | None, prompt: str) -> dict[str, Any]:
        model, _, prep, _ = self._loaded()
        emb = self._embed_frames(clip.frames, lambda x: model.encode_image(x, normalize=True), prep)
        text = self._text(prompt or "")
        sim = emb @ text
        feats: dict[str, Any] = {
            "sim_mean": float(sim.mean()),
            "sim_min": float(sim.min()),
            "sim_max": float(sim.max()),
            "sim_std": float(sim.std()),
        }
        # consistency of the frames with each other (semantic stability over time)
        mean_emb = emb.mean(axis=0)
        feats["frame_consistency"] = float(np.linalg.norm(mean_emb))
        feats["sim_of_mean"] = float(mean_emb @ text / max(float(np.linalg.norm(mean_emb)), 1e-8))
        feats.update(pooled("", emb))
        feats["__arrays__"] = {"frames": emb}
        return feats


__all__ = ["ClipExtractor", "TimmExtractor", "WeightsError", "resolve_device", "set_offline"]
