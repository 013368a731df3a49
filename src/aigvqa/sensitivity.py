"""The artifact-sensitivity contract: every artifact lowers a model's score step by step.

For each clip and each artifact, three degraded copies (mild, medium, strong) are scored with
the original. A model passes when the scores fall in that order: of the six ordered pairs
(original > mild, original > medium, original > strong, mild > medium, mild > strong,
medium > strong) at least 90% hold over all clips and artifacts, and at least 80% for every
artifact. Rescaled copies (half and double size) measure how much the score depends on a
clip's size, which it should not.

The copies use seeds of their own, never those of training augmentation (``aigvqa.augment``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aigvqa.artifacts import ARTIFACTS
from aigvqa.augment import Variant, copy_folder, make_copies, stable_seed
from aigvqa.data import Item

SEVERITIES = {"mild": 0.3, "medium": 0.6, "strong": 0.9}
SCALES = (0.5, 2.0)
PAIR_TARGET, PER_ARTIFACT_TARGET = 0.90, 0.80
_TEST_SEED = 7_777_777  # the copies' seeds: disjoint from training augmentation's


def contract_variants(video: str) -> list[Variant]:
    """The copies scored for a clip: every artifact at every severity, then the scales."""
    out = [
        Variant(a, s, seed=stable_seed(_TEST_SEED, video, a) % 2**31)
        for a in ARTIFACTS
        for s in SEVERITIES.values()
    ]
    return out + [Variant(None, scale=f) for f in SCALES]


@dataclass
class SensitivityResult:
    """Scores of originals and copies, and the contract's figures."""

    original: np.ndarray  # (n,)
    degraded: dict[str, np.ndarray] = field(default_factory=dict)  # artifact -> (n, 3): mild, medium, strong
    rescaled: dict[float, np.ndarray] = field(default_factory=dict)  # scale -> (n,)

    def pair_rate(self, artifact: str) -> float:
        """Share of the six ordered pairs that hold, over the clips."""
        levels = np.column_stack([self.original, self.degraded[artifact]])
        ok = [levels[:, i] > levels[:, j] for i, j in itertools.combinations(range(4), 2)]
        return float(np.mean(ok))

    def step_rate(self, artifact: str) -> float:
        """Share of the three adjacent steps (original > mild > medium > strong) that hold."""
        levels = np.column_stack([self.original, self.degraded[artifact]])
        return float(np.mean(levels[:, :-1] > levels[:, 1:]))

    def overall(self) -> float:
        return float(np.mean([self.pair_rate(a) for a in self.degraded]))

    def scale_shift(self, scale: float) -> float:
        """Median absolute change of the score when the clip is rescaled."""
        return float(np.median(np.abs(self.rescaled[scale] - self.original)))

    def passes(self) -> bool:
        return self.overall() >= PAIR_TARGET and all(self.pair_rate(a) >= PER_ARTIFACT_TARGET for a in self.degraded)

    def table(self) -> list[dict]:
        """One row per artifact: mean score at each level, pair and step rates."""
        rows = []
        for a, d in self.degraded.items():
            row = {"artifact": a, "original": float(self.original.mean())}
            row.update({lvl: float(d[:, k].mean()) for k, lvl in enumerate(SEVERITIES)})
            row.update(pairs=self.pair_rate(a), steps=self.step_rate(a))
            rows.append(row)
        return rows

    def to_dict(self) -> dict:
        return {
            "clips": int(len(self.original)),
            "severities": SEVERITIES,
            "artifacts": self.table(),
            "overall_pairs": self.overall(),
            "scale_shift_median": {str(s): self.scale_shift(s) for s in self.rescaled},
            "passes": self.passes(),
        }


def copies_for(items: list[Item], videos_dir: str | Path | None, root: str | Path) -> list[list[str | None]]:
    """Write (once; content-addressed under ``root``) the test copies of each item's video."""
    out = []
    for it in items:
        src = Path(videos_dir or "") / it.video
        folder = copy_folder(Path(root) / "sensitivity", src)
        out.append(make_copies(str(src), str(folder), contract_variants(it.video)))
    return out


def measure(score, items: list[Item], videos_dir: str | Path | None, root: str | Path) -> SensitivityResult:
    """Run the contract. ``score(items) -> scores`` scores a list of items (videos as paths)."""
    copies = copies_for(items, videos_dir, root)
    m = len(contract_variants(""))
    flat = [Item(video=str(Path(videos_dir or "") / it.video), prompt=it.prompt) for it in items]
    for it, paths in zip(items, copies, strict=True):
        if any(p is None for p in paths):
            raise ValueError(f"{it.video}: could not make its degraded copies")
        flat.extend(Item(video=p, prompt=it.prompt) for p in paths)
    scores = np.asarray(score(flat), dtype=float)
    n = len(items)
    per = scores[n:].reshape(n, m)
    result = SensitivityResult(scores[:n])
    for k, a in enumerate(ARTIFACTS):
        result.degraded[a] = per[:, 3 * k : 3 * k + 3]
    for j, f in enumerate(SCALES):
        result.rescaled[f] = per[:, 3 * len(ARTIFACTS) + j]
    return result
