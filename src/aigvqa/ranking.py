"""Rank groups of items (generators, checkpoints, prompt categories) by mean predicted score.

What :func:`rank_groups` computes, for scores ``s``, a group label and a prompt per item:

* **order**: groups sorted by the mean of their items' scores, highest first (ties by name);
* **interval**: percentile bootstrap 95% interval of each group's mean: ``n_boot`` resamples
  of the group's ``n`` items with replacement; the 2.5th and 97.5th percentiles of the
  resampled means;
* **probability of beating the next group** (A, the group, against B, the one ranked just
  below it):

  - *paired by prompt* when the prompts the two groups share hold at least half of the items
    of each (e.g. checkpoints or generators run on the same prompt list): for each shared
    prompt ``p``, ``d_p = mean(A's scores on p) - mean(B's scores on p)``; the shared prompts
    are resampled with replacement ``n_boot`` times and the probability is the share of
    resamples where ``mean(d) > 0``; prompts only one of the two groups has are left out;
  - *unpaired* otherwise: A's items and B's items are resampled independently and the
    probability is the share of resamples where ``mean(A) - mean(B) > 0``.

  Ties count as not beating. The last group has no next group (``None``).

Randomness comes from one ``numpy.random.default_rng`` per quantity, seeded from ``seed`` and
the group's position in the ranking, so the same input gives the same output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_N_BOOT = 2000  # resamples for `aigvqa rank` and the report's ranking
PAIRED_MIN_SHARE = 0.5  # shared prompts must hold at least this share of each group's items


@dataclass(frozen=True)
class GroupRank:
    """One group's place in a ranking."""

    group: str
    rank: int  # 1 = best
    n: int
    mean: float
    ci_low: float
    ci_high: float
    p_beats_next: float | None  # probability it beats the group ranked just below (None for the last)
    paired: bool | None  # whether that comparison was paired by prompt
    shared_prompts: int  # prompts shared with the next group

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci95"] = [d.pop("ci_low"), d.pop("ci_high")]
        return d


def _boot_means(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_boot`` resamples of ``x`` with replacement."""
    return x[rng.integers(0, len(x), (n_boot, len(x)))].mean(axis=1)


def _prompt_means(scores: np.ndarray, prompts: list[str]) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for s, p in zip(scores, prompts, strict=True):
        sums.setdefault(p, []).append(float(s))
    return {p: float(np.mean(v)) for p, v in sums.items()}


def _paired_prompts(a_prompts: list[str], b_prompts: list[str]) -> list[str]:
    """The shared prompts, in first-seen order, when they hold enough of both groups' items."""
    shared = set(a_prompts) & set(b_prompts)
    for prompts in (a_prompts, b_prompts):
        if sum(p in shared for p in prompts) < PAIRED_MIN_SHARE * len(prompts):
            return []
    return list(dict.fromkeys(p for p in a_prompts if p in shared))


def beat_probability(
    a: np.ndarray, a_prompts: list[str], b: np.ndarray, b_prompts: list[str], n_boot: int, seed
) -> tuple[float, bool, int]:
    """(probability that group A's mean beats B's, paired by prompt?, shared prompts); see the module doc."""
    rng = np.random.default_rng(seed)
    shared = _paired_prompts(a_prompts, b_prompts)
    if shared:
        ma, mb = _prompt_means(a, a_prompts), _prompt_means(b, b_prompts)
        d = np.array([ma[p] - mb[p] for p in shared])
        return float(np.mean(_boot_means(d, n_boot, rng) > 0)), True, len(shared)
    n_shared = len(set(a_prompts) & set(b_prompts))
    diff = _boot_means(a, n_boot, rng) - _boot_means(b, n_boot, rng)
    return float(np.mean(diff > 0)), False, n_shared


def rank_groups(
    scores, groups: list[str], prompts: list[str], n_boot: int = DEFAULT_N_BOOT, seed: int = 0
) -> list[GroupRank]:
    """Groups ordered best first by mean score, with bootstrap intervals and P(beats next)."""
    scores = np.asarray(scores, dtype=float)
    if not (len(scores) == len(groups) == len(prompts)):
        raise ValueError(f"rank_groups: {len(scores)} scores, {len(groups)} groups, {len(prompts)} prompts")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    members: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(str(g), []).append(i)
    means = {g: float(scores[idx].mean()) for g, idx in members.items()}
    order = sorted(members, key=lambda g: (-means[g], g))
    ranked = []
    for r, g in enumerate(order):
        idx = np.array(members[g])
        boot = _boot_means(scores[idx], n_boot, np.random.default_rng([seed, r, 0]))
        lo, hi = np.percentile(boot, [2.5, 97.5])
        p_next = paired = None
        n_shared = 0
        if r + 1 < len(order):
            nxt = np.array(members[order[r + 1]])
            p_next, paired, n_shared = beat_probability(
                scores[idx], [prompts[i] for i in idx], scores[nxt], [prompts[i] for i in nxt], n_boot, [seed, r, 1]
            )
        ranked.append(GroupRank(g, r + 1, len(idx), means[g], float(lo), float(hi), p_next, paired, n_shared))
    return ranked
