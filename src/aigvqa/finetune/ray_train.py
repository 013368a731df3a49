"""The same training on a Ray cluster with Ray Train (``pip install 'aigvqa[ray]'``).

``TorchTrainer`` starts ``workers`` training processes (one per GPU with ``gpu=True``) and sets
up their process group; each runs the ordinary pipeline (features from the shared cache,
then the ``finetune`` regressor, which trains with DistributedDataParallel as under
torchrun), and the first writes the model directory. Videos, the feature and frame cache and
the output folder must be on a filesystem every node mounts at the same path.

    python -m aigvqa.finetune.ray_train train.json --videos /shared/videos --out /shared/model \\
        --config recipes/ntire2025_finetune.json --workers 8 --gpu --address auto
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from aigvqa.recipes import load_recipe


def _train_worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: the pipeline's training; rank 0 saves (QualityModel.save)."""
    from aigvqa.cache import FeatureCache
    from aigvqa.data import load_items
    from aigvqa.model import QualityModel
    from aigvqa.pipeline import RunOptions, train

    if config["cache_dir"]:
        os.environ["AIGVQA_CACHE_DIR"] = config["cache_dir"]
    model = QualityModel(**config["params"])
    items = load_items(config["train_json"], target=model.target, require_target=True)
    run = RunOptions(videos_dir=config["videos"], cache=FeatureCache(config["cache_dir"]), workers=0, progress=False)
    model, _ = train(model, items, run)
    model.save(config["out"])  # only the process of rank 0 writes


def train_on_ray(params: dict[str, Any], train_json: str | os.PathLike, videos: str | os.PathLike,
                 out: str | os.PathLike, workers: int = 2, gpu: bool = False, address: str | None = None,
                 cache_dir: str | os.PathLike | None = None) -> Path:  # fmt: skip
    """Train ``QualityModel(**params)`` on ``train_json`` with ``workers`` Ray Train workers;
    returns the model directory."""
    try:
        import ray
        from ray.train import RunConfig, ScalingConfig
        from ray.train.torch import TorchTrainer
    except ImportError:
        raise ImportError("Ray Train is not installed: pip install 'aigvqa[ray]'") from None
    from aigvqa.cache import default_cache_dir

    cache = str(Path(cache_dir or default_cache_dir()).resolve())
    config = {"params": params, "train_json": str(Path(train_json).resolve()), "videos": str(Path(videos).resolve()),
              "out": str(Path(out).resolve()), "cache_dir": cache}  # fmt: skip
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=True)
    trainer = TorchTrainer(
        _train_worker, train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=gpu),
        run_config=RunConfig(storage_path=str(Path(cache) / "ray-train"), name="aigvqa-finetune"),
    )  # fmt: skip
    trainer.fit()
    return Path(config["out"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="aigvqa training on a Ray cluster (Ray Train)")
    parser.add_argument("train_json")
    parser.add_argument("--videos", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--config", required=True, help="JSON recipe (recipes/*.json)")
    parser.add_argument("--workers", type=int, default=2, help="training processes (one per GPU with --gpu)")
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    params = load_recipe(args.config)
    params["seed"] = args.seed
    out = train_on_ray(params, args.train_json, args.videos, args.out, args.workers, args.gpu, args.address)
    print(f"model written to {out}")


if __name__ == "__main__":
    main()
