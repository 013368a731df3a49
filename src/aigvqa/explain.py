"""Why a video got its score: feature contributions grouped by extractor and by artifact.

:func:`explain_rows` turns a model's additive contributions (TreeSHAP for LightGBM,
coefficient × value for linear models, blends of those) into one :class:`Explanation` per
row. ``reasons`` are the artifacts that cost the most, e.g. ``flicker -0.31, blur -0.12``:
the answer to "why is this clip not scored higher?".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aigvqa.dimensions import LABELS
from aigvqa.extract import FeatureTable
from aigvqa.registry import EXTRACTORS


@dataclass
class Explanation:
    """One row's score split into what each feature, extractor and artifact added or took away."""

    score: float
    baseline: float  # the training-set level every row starts from
    by_extractor: dict[str, float] = field(default_factory=dict)
    by_artifact: dict[str, float] = field(default_factory=dict)
    pulled_down: list[tuple[str, float, float]] = field(default_factory=list)  # (feature, contribution, value)
    pushed_up: list[tuple[str, float, float]] = field(default_factory=list)
    error: str | None = None  # the video failed: the score is a fallback and nothing is explained
    bound: float = 0.0  # how much keeping the score inside the training range moved it
    by_block: dict[str, float] = field(default_factory=dict)  # stacking regressor: each block's share
    dims: dict[str, float] | None = None  # how much of each artifact the clip shows (0-1), when the model knows

    def reasons(self, k: int = 2) -> list[tuple[str, float]]:
        """The ``k`` artifacts that lowered the score most, as (artifact, cost < 0)."""
        costs = sorted((v, a) for a, v in self.by_artifact.items() if v < 0)
        return [(a, v) for v, a in costs[:k]]

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "baseline": self.baseline,
            "reasons": [{"artifact": a, "cost": c} for a, c in self.reasons()],
            "by_artifact": self.by_artifact,
            "by_extractor": self.by_extractor,
            "pulled_down": [{"feature": n, "contribution": c, "value": v} for n, c, v in self.pulled_down],
            "pushed_up": [{"feature": n, "contribution": c, "value": v} for n, c, v in self.pushed_up],
            "bound": self.bound,
            **({"by_block": self.by_block} if self.by_block else {}),
            **({"dims": self.dims} if self.dims is not None else {}),
            "error": self.error,
        }


def artifact_of(feature: str) -> str:
    """The artifact a feature column (``extractor.key``) is evidence of."""
    extractor, _, key = feature.partition(".")
    if extractor in EXTRACTORS:
        return EXTRACTORS.get(extractor).artifact_of(key)
    return extractor


def explain_rows(model, table: FeatureTable, scores: np.ndarray, top: int = 5) -> list[Explanation]:
    """One :class:`Explanation` per row of ``table`` (``model`` is a fitted ``QualityModel``)."""
    contrib = model.explain(table)
    # a score with an artifact penalty: each artifact's cost (what the features' shares leave) joins its artifact
    costs = model.dimension_costs(table)  # (n, artifacts), or None: the score does not use the dimensions
    cost_labels = [LABELS.get(a, a) for a in model.dims_.artifacts] if costs is not None else []
    blocks = model.explain_blocks(table)  # (share per block, baseline) for the stacking regressor, else None
    names = model.feature_names_
    artifacts = [artifact_of(n) for n in names]
    extractors = [n.split(".", 1)[0] for n in names]
    out = []
    for i in range(len(scores)):
        if i in table.errors:
            out.append(Explanation(float(scores[i]), float("nan"), error=table.errors[i]))
            continue
        row = contrib[i]
        by_extractor: dict[str, float] = {}
        by_artifact: dict[str, float] = {}
        for ex, art, c in zip(extractors, artifacts, row[:-1], strict=True):
            by_extractor[ex] = by_extractor.get(ex, 0.0) + float(c)
            by_artifact[art] = by_artifact.get(art, 0.0) + float(c)
        order = np.argsort(row[:-1], kind="stable")
        down = [(names[j], float(row[j]), float(table.values[i, j])) for j in order[:top] if row[j] < 0]
        up = [(names[j], float(row[j]), float(table.values[i, j])) for j in order[::-1][:top] if row[j] > 0]
        paid = 0.0
        for art, c in zip(cost_labels, costs[i] if costs is not None else [], strict=True):
            by_artifact[art] = by_artifact.get(art, 0.0) + float(c)
            paid += float(c)
        bound = float(scores[i]) - float(np.sum(row)) - paid
        by_block = {k: float(v[i]) for k, v in blocks[0].items()} if blocks else {}
        out.append(Explanation(
            float(scores[i]), float(row[-1]), by_extractor, by_artifact, down, up, bound=bound, by_block=by_block
        ))  # fmt: skip
    return out


def format_reasons(expl: Explanation, k: int = 2) -> str:
    """``"flicker -0.31, blur -0.12"`` (empty when nothing lowered the score)."""
    return format_reason_list(expl.reasons(k))


def format_reason_list(reasons: list[tuple[str, float]]) -> str:
    """``[("flicker", -0.31), ("blur", -0.12)]`` as ``"flicker -0.31, blur -0.12"``."""
    return ", ".join(f"{a} {c:+.2f}" for a, c in reasons)
