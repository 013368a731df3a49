"""Same video, same score on a CPU with AVX2 and on one with AVX-512 too.

OpenCV dispatches some kernels by instruction set. ``OPENCV_CPU_DISABLE`` turns AVX-512 off in a
child process, so this machine computes what an AVX2 laptop would: the features and scores must
be the same bytes (``benchmarks/cpu_identity.py`` measures this, and CPUs without AVX2, on real
clips). On a CPU without AVX-512 there is nothing to turn off, and the test skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aigvqa.synthetic import render_clip, write_video

cv2 = pytest.importorskip("cv2")

_CHILD = """
import hashlib, json, sys
import aigvqa
scorer = aigvqa.load("default", cache=False)
paths = json.loads(sys.argv[1])
table = scorer.features(paths)  # extracted once: the scores and dimensions are read from it
print(json.dumps({"features": hashlib.sha256(table.values.tobytes()).hexdigest(),
                  "scores": scorer.model.predict(table).tolist(),
                  "dims": scorer.model.dimensions_array(table).tolist()}))
"""


def _avx512_groups() -> list[str]:
    """The AVX-512 instruction sets OpenCV dispatches to on this CPU (starred and enabled)."""
    tokens = cv2.getCPUFeaturesLine().split()
    return [t.strip("*") for t in tokens if t.startswith("*AVX512") and not t.endswith("?")]


def _score(paths: list[Path], disable: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_CPU_DISABLE"}
    if disable:
        env["OPENCV_CPU_DISABLE"] = disable
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([str(p) for p in paths])],
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_avx2_cpu_scores_as_an_avx512_one(tmp_path):
    groups = _avx512_groups()
    if not groups:
        pytest.skip("this CPU has no AVX-512 for OpenCV to turn off")
    paths = []
    for i, artifacts in enumerate(([], [("warp", 0.3)], [("noise", 0.2)])):
        frames, _ = render_clip(np.random.default_rng(50 + i), artifacts, size=(192, 112), n_frames=24, fps=12)
        paths.append(write_video(tmp_path / f"clip{i}.mp4", np.stack(list(frames)), fps=12))
    this_cpu = _score(paths, "")
    avx2_only = _score(paths, ",".join(groups + ["AVX_VNNI"]))
    assert avx2_only == this_cpu
