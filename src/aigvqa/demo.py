"""The demo: synthetic clips with graded artifacts → train → predict the held-out third → evaluate."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class DemoResult:
    """Where the demo wrote its clips and model, and the held-out metrics."""

    root: Path
    metrics: dict[str, Any]
    top_features: list[str]
    n_train: int
    n_test: int


def run_demo(
    workdir: str | os.PathLike | None = None,
    clips: int = 150,
    workers: int | None = None,
    progress: bool = False,
    say: Callable[[str], None] = lambda _: None,
) -> DemoResult:
    """Make ``clips`` synthetic clips, train on two thirds, predict and evaluate the rest
    (``say`` receives a line per step). Needs no data and no download."""
    from aigvqa.api import run_options
    from aigvqa.cache import FeatureCache
    from aigvqa.data import Item
    from aigvqa.metrics import reported
    from aigvqa.model import QualityModel
    from aigvqa.pipeline import predict, train
    from aigvqa.synthetic import make_dataset

    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="aigvqa-demo-"))
    say(f"1/4 generating {clips} synthetic clips with graded artifacts in {root}")
    raw = make_dataset(root, n_clips=clips, seed=0)
    items = [Item(r["video"], r["prompt"], {k: v for k, v in r.items() if k not in ("video", "prompt")}) for r in raw]
    n_train = int(len(items) * 2 / 3)
    train_items, test_items = items[:n_train], items[n_train:]
    run = run_options(root / "videos", workers=workers or os.cpu_count() or 1, cache=FeatureCache(root / "cache"),
                      progress=progress)  # fmt: skip
    model = QualityModel(features="classic,lexical")
    say(f"2/4 training on {len(train_items)} clips (features: {model.features}; regressor: {model.regressor})")
    model, _ = train(model, train_items, run)
    model.save(root / "model")
    say(f"3/4 predicting {len(test_items)} held-out clips")
    scores, _ = predict(model, test_items, run)
    y = np.array([it.meta["gt_score"] for it in test_items])
    return DemoResult(root, reported(scores, y), [n for n, _ in model.top_features(5)],
                      len(train_items), len(test_items))  # fmt: skip
