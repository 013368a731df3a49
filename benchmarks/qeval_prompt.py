"""Prompt-only accuracy on the real NTIRE 2025 XGC training labels, through the CLI.

5-fold cross-validation grouped by prompt (no prompt on both sides of a fold), pooled
out-of-fold predictions, for the default model with ``--features prompt`` and for
``recipes/prompt_only.json`` (which fine-tunes MiniLM: about 25 minutes on 2 CPU cores).

    python benchmarks/qeval_prompt.py [--data ../shared/data/qeval_video/train.json] [--skip-recipe]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "qeval_video" / "train.json"


def cv(data: Path, extra: list[str]) -> tuple[dict, float]:
    cmd = [sys.executable, "-m", "aigvqa", "cv", str(data), "--group-by", "prompt", "--folds", "5",
           "--repeats", "1", "--json", "-q", *extra]  # fmt: skip
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--skip-recipe", action="store_true", help="only the default model (about 1 minute)")
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data}: not found (the challenge labels live in ../shared/data/qeval_video)")
    runs = [("default blend, --features prompt", ["--features", "prompt"])]
    if not args.skip_recipe:
        runs.append(("recipes/prompt_only.json", ["--config", str(HERE.parent / "recipes" / "prompt_only.json")]))
    print(f"{'model':<36} {'PLCC':>7} {'SROCC':>7} {'Score':>7} {'seconds':>8}")
    for name, extra in runs:
        result, seconds = cv(args.data, extra)
        plcc, srocc, score = (result[k]["median"] for k in ("plcc", "srocc", "score"))
        print(f"{name:<36} {plcc:7.4f} {srocc:7.4f} {score:7.4f} {seconds:8.0f}")


if __name__ == "__main__":
    main()
