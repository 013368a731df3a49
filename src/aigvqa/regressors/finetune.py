"""Fine-tuning a frame backbone end to end (regressor ``finetune``).

Use it with the ``frames`` extractor, which names each row's video: ``"features":
"frames"`` (pixels only) or ``"frames,classic,prompt"`` with ``"fuse": "classic,prompt"``
(the tabular features and the prompt embedding join the network before its head). The
network: a backbone over each of ``frames`` views (``view`` ``resize`` or FAST-VQA
``fragments``), a temporal module over the frame tokens (``temporal``: mean, attention,
transformer), the fused tabular features, an MLP head; PLCC + pairwise rank (+ ``mse_weight``
MSE) loss; AdamW with warm-up, cosine decay and layer-wise learning-rate decay; bfloat16 on
CUDA. Videos are decoded in data-loader worker processes into a memory-mapped frame cache
(:mod:`aigvqa.finetune.frames`); training runs in one process or under torchrun / Ray Train
and resumes from its per-epoch checkpoint (:mod:`aigvqa.finetune.train`). After training,
a linear calibration maps the network's output to the target scale.

Saved as ``<stem>.finetune.safetensors`` (weights and preprocessing statistics) and
``<stem>.finetune.json`` (settings); predicting needs the architecture's library (the
``pretrained`` extra for EfficientNet-Lite, ``deep`` for timm / open_clip), not the original
weights. Without the ``frames`` extractor (e.g. the prompt-only fallback model) it fits a
ridge regression on its columns instead.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS
from aigvqa.regressors.base import Regressor, Sequences, _standardize, _standardizer, make_regressor
from aigvqa.regressors.torch_utils import cpu_threads, deterministic, torch_module

FORMAT = 1
PATHS, DIGESTS = "frames.path", "frames.digest"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@REGRESSORS.register("finetune")
class FineTune(Regressor):
    """A frame backbone fine-tuned end to end on the target (see module docs)."""

    name = "finetune"
    uses_sequences = True

    def __init__(
        self,
        seed: int = 0,
        backbone: str = "effnet-lite2",
        weights: str | None = None,
        pretrained: bool = True,
        frames: int = 8,
        size: int = 224,
        view: str = "resize",
        grid: int = 7,
        max_side: int = 0,
        flip: bool = False,
        temporal: str = "attention",
        hidden: int = 256,
        dropout: float = 0.0,
        fuse: str | None = None,
        epochs: int = 5,
        batch_size: int = 16,
        accumulate: int = 1,
        lr: float = 1e-3,
        backbone_lr: float = 1e-4,
        layer_decay: float = 0.8,
        weight_decay: float = 0.05,
        warmup: float = 0.1,
        freeze: int = 0,
        rank_weight: float = 1.0,
        mse_weight: float = 0.1,
        grad_checkpointing: bool = False,
        cache_frozen: bool = False,
        workers: int = 2,
        device: str = "auto",
        threads: int = 0,
        frame_cache: str | None = None,
        checkpoint_dir: str | None = None,
        keep_checkpoints: bool = False,
        verbose: bool = True,
        **params: Any,
    ):
        super().__init__(seed, **params)
        from aigvqa.finetune.frames import FrameSpec

        self.spec = FrameSpec(int(frames), int(size), view, int(grid), int(max_side), bool(flip))
        self.backbone, self.weights, self.pretrained = backbone, weights, bool(pretrained)
        self.temporal, self.hidden, self.dropout, self.fuse = temporal, int(hidden), float(dropout), fuse
        self.epochs, self.batch_size, self.accumulate = int(epochs), int(batch_size), int(accumulate)
        self.lr, self.backbone_lr, self.layer_decay = float(lr), float(backbone_lr), float(layer_decay)
        self.weight_decay, self.warmup, self.freeze = float(weight_decay), float(warmup), int(freeze)
        self.rank_weight, self.mse_weight = float(rank_weight), float(mse_weight)
        self.grad_checkpointing, self.workers, self.device = bool(grad_checkpointing), int(workers), device
        self.cache_frozen = bool(cache_frozen)
        self.threads, self.frame_cache, self.checkpoint_dir = int(threads), frame_cache, checkpoint_dir
        self.keep_checkpoints, self.verbose = bool(keep_checkpoints), bool(verbose)
        if self.epochs < 1 or self.batch_size < 2 or self.accumulate < 1:
            raise ValueError("finetune: epochs ≥ 1, batch_size ≥ 2 and accumulate ≥ 1 are required")
        if self.batch_size // self.accumulate < 2:
            raise ValueError(f"finetune: batch_size ({batch_size}) / accumulate ({accumulate}) must be at least 2")
        self.feature_names: list[str] = []
        self.net = None
        self.tabular: Regressor | None = None  # the ridge used without the frames extractor
        self.state: dict[str, np.ndarray] = {}
        self.meta: dict[str, Any] = {}

    def settings(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone, "weights": self.weights, "pretrained": self.pretrained, **self.spec.to_dict(),
            "temporal": self.temporal, "hidden": self.hidden, "dropout": self.dropout, "fuse": self.fuse,
            "epochs": self.epochs, "batch_size": self.batch_size, "accumulate": self.accumulate, "lr": self.lr,
            "backbone_lr": self.backbone_lr, "layer_decay": self.layer_decay, "weight_decay": self.weight_decay,
            "warmup": self.warmup, "freeze": self.freeze, "rank_weight": self.rank_weight,
            "mse_weight": self.mse_weight, "grad_checkpointing": self.grad_checkpointing,
            "cache_frozen": self.cache_frozen, "workers": self.workers,
            "device": self.device, "threads": self.threads, "frame_cache": self.frame_cache,
            "checkpoint_dir": self.checkpoint_dir, "keep_checkpoints": self.keep_checkpoints, "verbose": self.verbose,
        }  # fmt: skip

    def set_feature_names(self, names: list[str]) -> None:
        self.feature_names = list(names)

    # -- inputs ------------------------------------------------------------------------------
    def _fused_columns(self, n_columns: int) -> np.ndarray:
        if not self.fuse:
            return np.zeros(0, dtype=int)
        if self.fuse == "all":
            return np.arange(n_columns)
        from aigvqa.features import resolve_features

        members = set(resolve_features(self.fuse))
        names = self.feature_names or [f"?.{j}" for j in range(n_columns)]
        cols = [j for j, n in enumerate(names) if n.split(".", 1)[0] in members]
        if not cols:
            raise ValueError(f"finetune: fuse {self.fuse!r} selects no column; add those features to 'features'")
        return np.asarray(cols, dtype=int)

    def _tab(self, X: np.ndarray) -> np.ndarray:
        cols = self.meta["fused_columns"]
        if not cols:
            return np.zeros((len(X), 0), dtype=np.float32)
        return np.clip(_standardize(np.asarray(X, dtype=float)[:, cols], self.state), -6, 6).astype(np.float32)

    def _files(self, n: int, sequences: Sequences) -> tuple[list[str], list[str]] | None:
        seqs = sequences or {}
        if PATHS not in seqs:
            return None
        paths, digests = seqs[PATHS], seqs[DIGESTS]
        if len(paths) != n:
            raise ValueError(f"finetune: {len(paths)} video rows for {n} feature rows")
        return [str(p) for p in paths], [str(d) for d in digests]

    def _dataset(self, paths: list[str], digests: list[str]):
        from aigvqa.finetune.frames import FramesDataset, FrameStore

        return FramesDataset(paths, digests, self.spec, FrameStore(self.spec, self.frame_cache), self.seed)

    def _new_net(self, pretrained: bool):
        from aigvqa.finetune.nets import build_backbone, build_net

        backbone = build_backbone(self.backbone, self.weights, pretrained, self.spec.size)
        return build_net(backbone, self.spec.frames, len(self.meta["fused_columns"]), self.temporal, self.hidden,
                         self.dropout)  # fmt: skip

    def _run_key(self, X: np.ndarray, y: np.ndarray, digests: list[str]) -> str:
        h = hashlib.blake2b(digest_size=12)
        h.update(json.dumps({**self.settings(), "seed": self.seed, "columns": self.feature_names}, sort_keys=True,
                            default=str).encode())  # fmt: skip
        h.update(np.ascontiguousarray(np.nan_to_num(X, nan=-7.0e30), dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
        h.update("\n".join(digests).encode())
        return h.hexdigest()

    def _checkpoints(self, key: str) -> Path:
        from aigvqa.cache import default_cache_dir

        root = Path(self.checkpoint_dir) if self.checkpoint_dir else default_cache_dir() / "finetune-runs"
        return root / key

    def _loop_settings(self):
        from aigvqa.finetune.train import LoopSettings

        return LoopSettings(self.epochs, self.batch_size, self.accumulate, self.lr, self.backbone_lr, self.layer_decay,
                            self.weight_decay, self.warmup, self.freeze, self.rank_weight, self.mse_weight,
                            self.workers, self.seed, self.grad_checkpointing, self.cache_frozen)  # fmt: skip

    # -- learning ------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, sequences: Sequences = None) -> FineTune:
        import shutil

        from aigvqa.finetune import train as loop

        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        files = self._files(len(y), sequences)
        if files is None:  # no videos (the prompt-only fallback): a ridge on the columns
            self.tabular = make_regressor("ridge", self.seed).fit(X, y)
            return self
        torch = torch_module()
        ctx = loop.setup(self.device)
        log = _say if (self.verbose and ctx.main) else None
        dataset = self._dataset(*files)
        with deterministic(self.seed, ctx.device), cpu_threads(ctx.device, self.threads):
            failures = loop.prepare(dataset, np.arange(len(y)), ctx, self.workers)
            ok = np.array([i not in failures for i in range(len(y))])
            if log:
                for i, why in list(failures.items())[:20]:
                    log(f"finetune: {files[0][i]}: {why}; left out of training")
            if ok.sum() < max(2, ctx.world):
                raise ValueError(f"finetune: fewer than two training videos could be decoded ({len(failures)} failed)")
            cols = self._fused_columns(X.shape[1])
            self.state = _standardizer(X[ok][:, cols]) if len(cols) else {}
            y_mean, y_scale = float(y[ok].mean()), float(y[ok].std()) or 1.0
            self.meta = {"fused_columns": cols.tolist(), "y_mean": y_mean, "y_scale": y_scale}
            tab = self._tab(X)
            torch.manual_seed(self.seed)
            net = self._new_net(self.pretrained)
            key = self._run_key(X, y, files[1])
            checkpoints = self._checkpoints(key)
            rows = np.flatnonzero(ok)
            net = loop.train_loop(net, dataset, tab, (y - y_mean) / y_scale, rows, self._loop_settings(), ctx,
                                  checkpoints, key, log)  # fmt: skip
            raw = loop.predict_rows(net, dataset, tab, rows, ctx, self.batch_size, self.workers)
        a, b = np.polyfit(raw, y[ok], 1) if np.ptp(raw) > 1e-12 else (0.0, y_mean)
        self.meta.update(calibration=[float(a), float(b)], n_train=int(ok.sum()), failed=len(failures))
        self.net = net.cpu().eval()
        if ctx.main and not self.keep_checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)
        return self

    def predict(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if self.tabular is not None:
            return self.tabular.predict(X)
        n = len(X)
        if n == 0:
            return np.zeros(0)
        files = self._files(n, sequences)
        if files is None:
            raise ValueError("regressor 'finetune' needs the 'frames' extractor in --features (e.g. frames,classic)")
        from aigvqa.finetune import train as loop

        if self.net is None:
            self.net = self._loaded_net()
        ctx = loop.setup(self.device)
        dataset = self._dataset(*files)
        with cpu_threads(ctx.device, self.threads):
            failures = loop.prepare(dataset, np.arange(n), ctx, self.workers)
            rows = np.array([i for i in range(n) if i not in failures], dtype=int)
            raw = np.full(n, np.nan)
            if len(rows):
                raw[rows] = loop.predict_rows(self.net, dataset, self._tab(X), rows, ctx, self.batch_size, self.workers)
            self.net.cpu()
        a, b = self.meta["calibration"]
        out = a * raw + b
        for i, why in failures.items():
            if ctx.main:
                _say(f"finetune: {files[0][i]}: {why}; scored with the training mean")
            out[i] = self.meta["y_mean"]
        return out

    # -- persistence ---------------------------------------------------------------------------
    def save(self, directory: Path, stem: str) -> None:
        directory = Path(directory)
        if self.tabular is not None:
            self.tabular.save(directory, f"{stem}.ridge")
            (directory / f"{stem}.finetune.json").write_text(json.dumps({"format": FORMAT, "tabular": True}))
            return
        from safetensors.torch import save_file

        torch = torch_module()
        tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        tensors.update({f"prep.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.state.items()})
        save_file(tensors, str(directory / f"{stem}.finetune.safetensors"))
        config = {"format": FORMAT, "tabular": False, "seed": self.seed, "settings": self.settings(),
                  "feature_names": self.feature_names, **self.meta}  # fmt: skip
        (directory / f"{stem}.finetune.json").write_text(json.dumps(config, indent=1))

    @classmethod
    def load(cls, directory: Path, stem: str, seed: int = 0, **params: Any) -> FineTune:
        directory = Path(directory)
        config = json.loads((directory / f"{stem}.finetune.json").read_text())
        if config.get("format") != FORMAT:
            raise ValueError(f"{stem}.finetune.json: format {config.get('format')!r} is not supported")
        if config["tabular"]:
            model = cls(seed, **params)
            model.tabular = REGRESSORS.get("ridge").load(directory, f"{stem}.ridge", seed)
            return model
        model = cls(seed, **{**config["settings"], **params})
        model.feature_names = list(config["feature_names"])
        model.meta = {k: v for k, v in config.items() if k not in ("format", "tabular", "seed", "settings",
                                                                    "feature_names")}  # fmt: skip
        model._weights_file = directory / f"{stem}.finetune.safetensors"
        if not model._weights_file.is_file():
            raise FileNotFoundError(f"{model._weights_file}: the fine-tuned weights are missing")
        from safetensors.torch import load_file

        tensors = load_file(str(model._weights_file))
        model.state = {k[5:]: v.numpy() for k, v in tensors.items() if k.startswith("prep.")}
        return model

    def _loaded_net(self):
        """The network, built when first needed (so a missing extra is reported by ``predict``)."""
        from safetensors.torch import load_file

        tensors = load_file(str(self._weights_file))
        net = self._new_net(pretrained=False)  # the fine-tuned weights replace the pretrained ones
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")}, strict=True)
        return net.eval()
