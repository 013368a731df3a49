"""The artifact-sensitivity contract: every artifact lowers a model's score step by step.

For each clip and each artifact, four degraded copies (trace, mild, medium, strong; the trace
one is an artifact a viewer just notices) are scored with the original. A model passes when
the scores fall in that order: of the ten ordered pairs (original > trace, ..., medium >
strong) at least 95% hold over all clips and artifacts and at least 90% for every artifact,
and the original scores above its trace copy in at least 90% of cases (the first visible
trace of an artifact must lower the score, not only an obvious one). Rescaled copies (half
and double size) measure how much the score depends on a clip's size, which it should not.

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

SENSITIVITY_FOLDER = "sensitivity"  # the contract's copies, under the cache root

SEVERITIES = {"trace": 0.1, "mild": 0.3, "medium": 0.6, "strong": 0.9}
SCALES = (0.5, 2.0)
PAIR_TARGET, PER_ARTIFACT_TARGET, FIRST_STEP_TARGET = 0.95, 0.90, 0.90
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
    degraded: dict[str, np.ndarray] = field(default_factory=dict)  # artifact -> (n, levels), mildest first
    rescaled: dict[float, np.ndarray] = field(default_factory=dict)  # scale -> (n,)

    @classmethod
    def concatenate(cls, parts: list[SensitivityResult]) -> SensitivityResult:
        """One result from the results of several sets of clips (e.g. the folds), in order."""
        result = cls(np.concatenate([p.original for p in parts]))
        for a in parts[0].degraded:
            result.degraded[a] = np.concatenate([p.degraded[a] for p in parts])
        for s in parts[0].rescaled:
            result.rescaled[s] = np.concatenate([p.rescaled[s] for p in parts])
        return result

    def pair_rate(self, artifact: str) -> float:
        """Share of the ordered pairs (original and every level) that hold, over the clips."""
        levels = np.column_stack([self.original, self.degraded[artifact]])
        ok = [levels[:, i] > levels[:, j] for i, j in itertools.combinations(range(levels.shape[1]), 2)]
        return float(np.mean(ok))

    def first_step_rate(self, artifact: str | None = None) -> float:
        """Share of clips scored above their mildest copy (one artifact, or all together)."""
        arts = [artifact] if artifact else list(self.degraded)
        return float(np.mean([self.original > self.degraded[a][:, 0] for a in arts]))

    def step_rate(self, artifact: str) -> float:
        """Share of the adjacent steps (original > trace > mild > medium > strong) that hold."""
        levels = np.column_stack([self.original, self.degraded[artifact]])
        return float(np.mean(levels[:, :-1] > levels[:, 1:]))

    def overall(self) -> float:
        return float(np.mean([self.pair_rate(a) for a in self.degraded]))

    def scale_shift(self, scale: float) -> float:
        """Median absolute change of the score when the clip is rescaled."""
        return float(np.median(np.abs(self.rescaled[scale] - self.original)))

    def passes(self) -> bool:
        return (
            self.overall() >= PAIR_TARGET
            and all(self.pair_rate(a) >= PER_ARTIFACT_TARGET for a in self.degraded)
            and self.first_step_rate() >= FIRST_STEP_TARGET
        )

    def table(self) -> list[dict]:
        """One row per artifact: mean score at each level, pair and step rates."""
        rows = []
        for a, d in self.degraded.items():
            row = {"artifact": a, "original": float(self.original.mean())}
            row.update({lvl: float(d[:, k].mean()) for k, lvl in enumerate(SEVERITIES)})
            row.update(pairs=self.pair_rate(a), steps=self.step_rate(a), first_step=self.first_step_rate(a))
            rows.append(row)
        return rows

    def to_dict(self) -> dict:
        return {
            "clips": int(len(self.original)),
            "severities": SEVERITIES,
            "artifacts": self.table(),
            "overall_pairs": self.overall(),
            "first_step": self.first_step_rate(),
            "scale_shift_median": {str(s): self.scale_shift(s) for s in self.rescaled},
            "passes": self.passes(),
        }


def copies_for(items: list[Item], videos_dir: str | Path | None, root: str | Path) -> list[list[str | None]]:
    """Write (once; content-addressed under ``root``) the test copies of each item's video."""
    out = []
    for it in items:
        src = Path(videos_dir or "") / it.video
        folder = copy_folder(Path(root) / SENSITIVITY_FOLDER, src)
        out.append(make_copies(str(src), str(folder), contract_variants(it.video)))
    return out


def measure(score, items: list[Item], videos_dir: str | Path | None, root: str | Path) -> SensitivityResult:
    """Run the contract. ``score(items) -> scores`` scores a list of items (videos as paths)."""
    copies = copies_for(items, videos_dir, root)
    flat = [Item(video=str(Path(videos_dir or "") / it.video), prompt=it.prompt) for it in items]
    for it, paths in zip(items, copies, strict=True):
        if any(p is None for p in paths):
            raise ValueError(f"{it.video}: could not make its degraded copies")
        flat.extend(Item(video=p, prompt=it.prompt) for p in paths)
    return result_from_scores(np.asarray(score(flat), dtype=float), len(items))


def result_from_scores(scores: np.ndarray, n: int) -> SensitivityResult:
    """The contract's result from the scores of ``n`` originals followed by each one's copies in
    :func:`contract_variants` order (what :func:`measure` scores)."""
    m = len(contract_variants(""))
    per = scores[n:].reshape(n, m)
    result = SensitivityResult(scores[:n])
    k_lv = len(SEVERITIES)
    for k, a in enumerate(ARTIFACTS):
        result.degraded[a] = per[:, k_lv * k : k_lv * (k + 1)]
    for j, f in enumerate(SCALES):
        result.rescaled[f] = per[:, k_lv * len(ARTIFACTS) + j]
    return result
