"""Neural fusion head (regressor ``mlp``): per-frame deep features + tabular features → score.

Each per-frame sequence (``FeatureTable.sequences``, e.g. ``clip.frames`` of shape (K, D))
is standardised, projected to ``hidden`` units and pooled over the frame axis (masked
attention pooling, or mean+max); the tabular features (NaN → training median, standardised)
go through their own projection; the concatenation is mapped to one score by a small MLP.

Training: a PLCC loss plus a pairwise rank (monotonicity) loss plus a small MSE anchor on the
standardised target, Adam, early stopping on the validation Score (PLCC+SROCC)/2 of an
internal seeded split, then (by default) a refit on all rows for the chosen number of epochs
and a linear calibration to the target scale. Seeded and deterministic on CPU; on GPU it
batches on the device with mixed precision. Checkpoints: ``<stem>.mlp.safetensors`` (weights
and preprocessing statistics) and ``<stem>.mlp.json`` (architecture and settings).

torch is imported only when the head is used (``pip install 'aigvqa[deep]'``).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS
from aigvqa.regressors.base import Regressor, Sequences
from aigvqa.regressors.torch_utils import autocast, cpu_threads, deterministic, torch_module

CHECKPOINT_FORMAT = 1


def _build_net(n_tab: int, seq_dims: list[int], hidden: int, pooling: str, dropout: float):
    torch = torch_module()
    nn = torch.nn

    class FusionNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.seq_proj = nn.ModuleList(
                [nn.Sequential(nn.Dropout(dropout), nn.Linear(d, hidden), nn.GELU()) for d in seq_dims]
            )
            self.seq_att = nn.ModuleList([nn.Linear(hidden, 1) for _ in seq_dims]) if pooling == "attention" else None
            per_seq = hidden if pooling == "attention" else 2 * hidden
            self.tab = nn.Sequential(nn.Dropout(dropout), nn.Linear(n_tab, hidden), nn.GELU()) if n_tab else None
            total = per_seq * len(seq_dims) + (hidden if n_tab else 0)
            self.out = nn.Sequential(
                nn.Dropout(dropout), nn.Linear(max(total, 1), hidden), nn.GELU(), nn.Linear(hidden, 1)
            )

        def forward(self, tab, seqs, masks):
            parts = []
            for j, (x, m) in enumerate(zip(seqs, masks, strict=True)):
                h = self.seq_proj[j](x)  # (B, T, H)
                mf = m.unsqueeze(-1).to(h.dtype)
                count = mf.sum(dim=1)  # (B, 1)
                if self.seq_att is not None:
                    score = self.seq_att[j](h).squeeze(-1).float().masked_fill(~m, -1e4)
                    w = torch.softmax(score, dim=1) * m.float()
                    w = w / (w.sum(dim=1, keepdim=True) + 1e-6)
                    parts.append((w.unsqueeze(-1).to(h.dtype) * h).sum(dim=1))
                else:
                    mean = (h * mf).sum(dim=1) / count.clamp(min=1)
                    mx = h.masked_fill(~m.unsqueeze(-1), -1e4).max(dim=1).values
                    mx = torch.where(count > 0, mx, torch.zeros_like(mx))
                    parts.extend([mean, mx])
            if self.tab is not None:
                parts.append(self.tab(tab))
            if not parts:
                parts.append(torch.zeros(tab.shape[0], 1, device=tab.device, dtype=tab.dtype))
            return self.out(torch.cat(parts, dim=1)).squeeze(-1)

    return FusionNet()


def _plcc_loss(p, y):
    pc, yc = p - p.mean(), y - y.mean()
    return 1 - (pc * yc).sum() / (pc.norm() * yc.norm() + 1e-8)


def _rank_loss(p, y):
    """Pairwise hinge on batch-standardised predictions: penalises every misordered pair."""
    pn = (p - p.mean()) / (p.std() + 1e-8)
    dp = pn.unsqueeze(0) - pn.unsqueeze(1)
    sign = (y.unsqueeze(0) - y.unsqueeze(1)).sign()
    valid = (sign != 0).float()
    return ((-sign * dp).clamp(min=0) * valid).sum() / valid.sum().clamp(min=1)


@REGRESSORS.register("mlp")
class MLPHead(Regressor):
    """Neural fusion head over per-frame sequences and tabular features (see module docs)."""

    name = "mlp"
    uses_sequences = True

    def __init__(
        self,
        seed: int = 0,
        hidden: int = 128,
        pooling: str = "attention",
        dropout: float = 0.2,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        epochs: int = 150,
        patience: int = 25,
        batch_size: int = 32,
        val_fraction: float = 0.2,
        rank_weight: float = 1.0,
        mse_weight: float = 0.1,
        refit: bool = True,
        device: str = "auto",
        max_frames: int = 64,
        threads: int = 1,
        **params: Any,
    ):
        super().__init__(seed, **params)
        if pooling not in ("attention", "meanmax"):
            raise ValueError(f"mlp head: pooling must be 'attention' or 'meanmax', got {pooling!r}")
        if not 0 <= val_fraction < 1:
            raise ValueError(f"mlp head: val_fraction must be in [0, 1), got {val_fraction!r}")
        self.hidden = int(hidden)
        self.pooling = pooling
        self.dropout = float(dropout)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.epochs = int(epochs)
        self.patience = int(patience)
        self.batch_size = int(batch_size)
        self.val_fraction = float(val_fraction)
        self.rank_weight = float(rank_weight)
        self.mse_weight = float(mse_weight)
        self.refit = bool(refit)
        self.device = device
        self.max_frames = int(max_frames)
        self.threads = int(threads)
        self.net = None
        self.state: dict[str, np.ndarray] = {}
        self.meta: dict[str, Any] = {}

    # -- preprocessing ----------------------------------------------------------------------
    def _fit_prep(self, X: np.ndarray, sequences: Sequences) -> None:
        X = np.asarray(X, dtype=float)
        all_nan = np.all(np.isnan(X), axis=0) if X.size else np.zeros(X.shape[1], dtype=bool)
        median = np.nan_to_num(np.nanmedian(np.where(all_nan, 0.0, X), axis=0)) if len(X) else np.zeros(X.shape[1])
        filled = np.where(np.isnan(X), median, X)
        scale = filled.std(axis=0) if len(X) else np.ones(X.shape[1])
        self.state = {
            "tab.median": median.astype(np.float32),
            "tab.mean": (filled.mean(axis=0) if len(X) else np.zeros(X.shape[1])).astype(np.float32),
            "tab.scale": np.where(scale > 1e-12, scale, 1.0).astype(np.float32),
        }
        keys, dims = [], []
        for key in sorted(sequences or {}):
            arrays = [np.asarray(a, dtype=np.float64) for a in sequences[key] if a is not None and len(a)]
            if not arrays:
                continue
            frames = np.concatenate([a.reshape(len(a), -1) for a in arrays])
            std = frames.std(axis=0)
            self.state[f"seq.{key}.mean"] = frames.mean(axis=0).astype(np.float32)
            self.state[f"seq.{key}.std"] = np.where(std > 1e-8, std, 1.0).astype(np.float32)
            keys.append(key)
            dims.append(int(frames.shape[1]))
        self.meta.update(n_tab=int(X.shape[1]), seq_keys=keys, seq_dims=dims)

    def _tab(self, X: np.ndarray) -> np.ndarray:
        s = self.state
        X = np.asarray(X, dtype=np.float64)
        X = np.where(np.isnan(X), s["tab.median"], X)
        return np.clip((X - s["tab.mean"]) / s["tab.scale"], -6, 6).astype(np.float32)

    def _seqs(self, n: int, sequences: Sequences) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for key, dim in zip(self.meta["seq_keys"], self.meta["seq_dims"], strict=True):
            rows = (sequences or {}).get(key) or [None] * n
            if len(rows) != n:
                raise ValueError(f"mlp head: sequence {key!r} has {len(rows)} rows, expected {n}")
            lengths = [0 if a is None else min(len(a), self.max_frames) for a in rows]
            T = max(1, max(lengths))
            x = np.zeros((n, T, dim), dtype=np.float32)
            mask = np.zeros((n, T), dtype=bool)
            mean, std = self.state[f"seq.{key}.mean"], self.state[f"seq.{key}.std"]
            for i, a in enumerate(rows):
                if a is None or not len(a):
                    continue
                a = np.asarray(a, dtype=np.float32).reshape(len(a), -1)
                if a.shape[1] != dim:
                    raise ValueError(f"mlp head: sequence {key!r} has width {a.shape[1]}, the model expects {dim}")
                if len(a) > self.max_frames:  # uniform subsample, deterministic
                    a = a[np.linspace(0, len(a) - 1, self.max_frames).round().astype(int)]
                x[i, : len(a)] = np.nan_to_num((a - mean) / std)
                mask[i, : len(a)] = True
            out.append((x, mask))
        return out

    # -- training ----------------------------------------------------------------------------
    def _device(self) -> str:
        from aigvqa.features.deep import resolve_device

        return resolve_device(self.device)

    def _new_net(self):
        m = self.meta
        return _build_net(m["n_tab"], m["seq_dims"], self.hidden, self.pooling, self.dropout)

    def _tensors(self, tab: np.ndarray, seqs, device: str):
        torch = torch_module()
        t = torch.from_numpy(tab).to(device)
        xs = [torch.from_numpy(x).to(device) for x, _ in seqs]
        ms = [torch.from_numpy(m).to(device) for _, m in seqs]
        return t, xs, ms

    def _forward(self, net, data, rows, device):
        tab, xs, ms = data
        with autocast(device):
            out = net(tab[rows], [x[rows] for x in xs], [m[rows] for m in ms])
        return out.float()

    def _predict_raw(self, net, data, n: int, device: str) -> np.ndarray:
        torch = torch_module()
        net.eval()
        outs = []
        step = max(self.batch_size, 256)
        with torch.inference_mode():
            for start in range(0, n, step):
                rows = torch.arange(start, min(n, start + step), device=device)
                outs.append(self._forward(net, data, rows, device).cpu())
        return torch.cat(outs).numpy().astype(np.float64) if outs else np.zeros(0)

    def _train(
        self,
        data,
        y_std: np.ndarray,
        train_rows: np.ndarray,
        val_rows: np.ndarray | None,
        epochs: int,
        device: str,
        seed: int,
    ):
        """Train a fresh net; with ``val_rows``, early-stop on their Score. Returns
        (net, best epoch count, best validation score)."""
        from aigvqa.metrics import correlations

        torch = torch_module()
        torch.manual_seed(seed)
        net = self._new_net().to(device)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        y = torch.from_numpy(y_std.astype(np.float32)).to(device)
        gen = np.random.default_rng(seed)
        n_batches = max(1, math.ceil(len(train_rows) / self.batch_size))
        best = (-math.inf, 0, None)
        for epoch in range(epochs):
            net.train()
            order = gen.permutation(train_rows)
            for chunk in np.array_split(order, n_batches):
                if len(chunk) < 2:
                    continue
                rows = torch.from_numpy(chunk).to(device)
                p = self._forward(net, data, rows, device)
                t = y[rows]
                loss = self.mse_weight * ((p - t) ** 2).mean()
                if len(chunk) >= 3:
                    loss = loss + _plcc_loss(p, t) + self.rank_weight * _rank_loss(p, t)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                opt.step()
            if val_rows is None:
                continue
            pred = self._predict_raw(net, self._select(data, val_rows, device), len(val_rows), device)
            c = correlations(pred, y_std[val_rows])
            score = c["score"] if np.isfinite(c["score"]) else -1.0
            if score > best[0] + 1e-6:
                best = (score, epoch + 1, copy.deepcopy(net.state_dict()))
            elif epoch + 1 - best[1] >= self.patience:
                break
        if val_rows is None:
            return net, epochs, float("nan")
        net.load_state_dict(best[2])
        return net, best[1], best[0]

    @staticmethod
    def _select(data, rows: np.ndarray, device: str):
        torch = torch_module()
        idx = torch.from_numpy(np.asarray(rows)).to(device)
        tab, xs, ms = data
        return tab[idx], [x[idx] for x in xs], [m[idx] for m in ms]

    def fit(self, X: np.ndarray, y: np.ndarray, sequences: Sequences = None) -> MLPHead:
        y = np.asarray(y, dtype=float)
        n = len(y)
        if n < 2:
            raise ValueError("mlp head: need at least two training rows")
        device = self._device()
        self.meta = {}
        self._fit_prep(X, sequences)
        y_mean, y_scale = float(y.mean()), float(y.std()) or 1.0
        y_std = (y - y_mean) / y_scale
        data = self._tensors(self._tab(X), self._seqs(n, sequences), device)
        with deterministic(self.seed, device), cpu_threads(device, self.threads):
            rng = np.random.default_rng(self.seed)
            n_val = int(round(self.val_fraction * n))
            if n_val >= 3 and n - n_val >= 4:
                perm = rng.permutation(n)
                val_rows, train_rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])
                net, best_epochs, val_score = self._train(
                    data, y_std, train_rows, val_rows, self.epochs, device, self.seed
                )
                if self.refit:
                    net, _, _ = self._train(data, y_std, np.arange(n), None, best_epochs, device, self.seed)
            else:  # too few rows to hold some out: a fixed, modest number of epochs
                best_epochs, val_score = min(self.epochs, 50), float("nan")
                net, _, _ = self._train(data, y_std, np.arange(n), None, best_epochs, device, self.seed)
            raw = self._predict_raw(net, data, n, device)
        a, b = np.polyfit(raw, y, 1) if np.ptp(raw) > 1e-12 else (0.0, y_mean)
        self.net = net.cpu()
        self.meta.update(
            y_mean=y_mean,
            y_scale=y_scale,
            calibration=[float(a), float(b)],
            epochs_trained=int(best_epochs),
            val_score=None if not np.isfinite(val_score) else float(val_score),
            n_train=n,
        )
        return self

    def predict(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        n = len(X)
        if n == 0:
            return np.zeros(0)
        device = self._device()
        data = self._tensors(self._tab(X), self._seqs(n, sequences), device)
        with cpu_threads(device, self.threads):
            net = self.net.to(device)  # inference (no dropout, no sampling) is deterministic as it is
            raw = self._predict_raw(net, data, n, device)
            self.net = net.cpu()
        a, b = self.meta["calibration"]
        return a * raw + b

    # -- persistence -------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        return {
            "hidden": self.hidden,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "epochs": self.epochs,
            "patience": self.patience,
            "batch_size": self.batch_size,
            "val_fraction": self.val_fraction,
            "rank_weight": self.rank_weight,
            "mse_weight": self.mse_weight,
            "refit": self.refit,
            "device": self.device,
            "max_frames": self.max_frames,
            "threads": self.threads,
        }

    def save(self, directory: Path, stem: str) -> None:
        from safetensors.torch import save_file

        torch = torch_module()
        tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        tensors.update({f"prep.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.state.items()})
        save_file(tensors, str(Path(directory) / f"{stem}.mlp.safetensors"))
        config = {"format": CHECKPOINT_FORMAT, "seed": self.seed, "settings": self.settings(), **self.meta}
        (Path(directory) / f"{stem}.mlp.json").write_text(json.dumps(config, indent=1))

    @classmethod
    def load(cls, directory: Path, stem: str, seed: int = 0, **params: Any) -> MLPHead:
        from safetensors.torch import load_file

        directory = Path(directory)
        config = json.loads((directory / f"{stem}.mlp.json").read_text())
        if config.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{stem}.mlp.json: checkpoint format {config.get('format')!r} is not supported")
        settings = {**config["settings"], **params}
        model = cls(seed, **settings)
        model.meta = {k: v for k, v in config.items() if k not in ("format", "seed", "settings")}
        tensors = load_file(str(directory / f"{stem}.mlp.safetensors"))
        model.state = {k[5:]: v.numpy() for k, v in tensors.items() if k.startswith("prep.")}
        model.net = model._new_net()
        model.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")}, strict=True)
        model.net.eval()
        return model
