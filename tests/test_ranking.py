"""Group ranking (``aigvqa rank``) and bootstrap intervals of every metric, against independent computations."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from aigvqa.metrics import bootstrap_intervals, bootstrap_score, correlations, evaluate
from aigvqa.ranking import rank_groups
from conftest import run_cli


def _independent_boot_share(draw, n_boot: int = 20000, seed: int = 123) -> float:
    """Share of ``n_boot`` resamples (Python's own RNG) for which ``draw(rng)`` is positive."""
    rng = random.Random(seed)
    return sum(draw(rng) > 0 for _ in range(n_boot)) / n_boot


def _mean(xs) -> float:
    return sum(xs) / len(xs)


def test_groups_are_ordered_by_mean_with_intervals_matching_scipy():
    rng = np.random.default_rng(0)
    groups, scores = [], []
    for g, (mu, n) in {"a": (3.0, 40), "b": (3.6, 25), "c": (2.4, 60), "d": (3.1, 8)}.items():
        groups += [g] * n
        scores += list(rng.normal(mu, 0.8, n))
    prompts = [f"p{i}" for i in range(len(scores))]  # nothing shared: every comparison unpaired
    ranking = rank_groups(scores, groups, prompts, n_boot=4000, seed=1)
    scores = np.array(scores)
    means = {g: scores[np.array(groups) == g].mean() for g in set(groups)}
    assert [r.group for r in ranking] == sorted(means, key=means.get, reverse=True)
    assert [r.rank for r in ranking] == [1, 2, 3, 4]
    for r in ranking:
        x = scores[np.array(groups) == r.group]
        assert r.n == len(x)
        assert r.mean == pytest.approx(x.mean(), abs=1e-12)
        ref = stats.bootstrap((x,), np.mean, n_resamples=20000, method="percentile", random_state=7).confidence_interval
        se = x.std() / np.sqrt(len(x))
        assert r.ci_low == pytest.approx(ref.low, abs=0.1 * se)
        assert r.ci_high == pytest.approx(ref.high, abs=0.1 * se)
        assert r.paired in (False, None)
    for r, nxt in zip(ranking, ranking[1:], strict=False):
        a, b = list(scores[np.array(groups) == r.group]), list(scores[np.array(groups) == nxt.group])
        ref = _independent_boot_share(lambda g, a=a, b=b: _mean(g.choices(a, k=len(a))) - _mean(g.choices(b, k=len(b))))
        assert r.p_beats_next == pytest.approx(ref, abs=0.02)
    assert ranking[-1].p_beats_next is None and ranking[-1].paired is None


def _checkpoints(shared: bool):
    """Two checkpoints on 30 prompts of very different difficulty; B is a little better on each prompt."""
    rng = np.random.default_rng(3)
    difficulty = rng.normal(3.0, 1.0, 30)
    scores, groups, prompts = [], [], []
    for name, gain in (("A", 0.0), ("B", 0.02)):
        for p, base in enumerate(difficulty):
            for _ in range(2):  # two seeds per prompt
                scores.append(base + gain + rng.normal(0, 0.05))
                groups.append(name)
                prompts.append(f"prompt {p}" if shared else f"{name} prompt {p}")
    return np.array(scores), groups, prompts


def test_checkpoints_on_the_same_prompts_are_compared_paired_by_prompt():
    scores, groups, prompts = _checkpoints(shared=True)
    best, second = rank_groups(scores, groups, prompts, n_boot=4000, seed=0)
    assert (best.group, second.group) == ("B", "A")
    assert best.paired is True and best.shared_prompts == 30

    def per_prompt(g):
        return {p: np.mean([s for s, gg, pp in zip(scores, groups, prompts, strict=True) if gg == g and pp == p])
                for p in set(prompts)}  # fmt: skip

    mb, ma = per_prompt("B"), per_prompt("A")
    d = [mb[p] - ma[p] for p in sorted(mb)]
    ref = _independent_boot_share(lambda g: _mean(g.choices(d, k=len(d))))
    assert best.p_beats_next == pytest.approx(ref, abs=0.02)
    assert best.p_beats_next > 0.85  # the consistent per-prompt gain is visible...

    unpaired, _ = rank_groups(*_checkpoints(shared=False), n_boot=4000, seed=0)
    assert unpaired.paired is False and unpaired.shared_prompts == 0
    assert unpaired.p_beats_next < 0.65  # ...and hidden by prompt difficulty when not paired


def test_rank_is_deterministic_for_a_seed():
    scores, groups, prompts = _checkpoints(shared=True)
    assert rank_groups(scores, groups, prompts, seed=5) == rank_groups(scores, groups, prompts, seed=5)
    assert rank_groups(scores, groups, prompts, seed=5) != rank_groups(scores, groups, prompts, seed=6)


def test_bootstrap_intervals_cover_every_metric():
    rng = np.random.default_rng(0)
    y = rng.uniform(1, 5, 80)
    p = y + rng.normal(0, 0.7, 80)
    ci = bootstrap_intervals(p, y, n_boot=300, seed=4)
    point = evaluate(p, y, n_boot=300, seed=4)
    assert ci["score"] == bootstrap_score(p, y, n_boot=300, seed=4) == (point["score_ci_low"], point["score_ci_high"])
    for k, (lo, hi) in ci.items():
        assert lo < point[k] < hi, k
    # independent: RMSE interval from Python's RNG
    r = random.Random(9)
    rmses = []
    for _ in range(3000):
        idx = [r.randrange(80) for _ in range(80)]
        rmses.append(correlations(p[idx], y[idx])["rmse"])
    assert ci["rmse"][0] == pytest.approx(np.percentile(rmses, 2.5), abs=0.02)
    assert ci["rmse"][1] == pytest.approx(np.percentile(rmses, 97.5), abs=0.02)
    assert all(np.isnan(v).all() for v in bootstrap_intervals(np.ones(10), y[:10]).values())


# -- the command --------------------------------------------------------------------------------


def _write(tmp_path: Path, scores, groups, prompts, errors=None):
    preds = [{"video": f"v{i}.mp4", "predict_score": float(s)} for i, s in enumerate(scores)]
    pairs = enumerate(zip(groups, prompts, strict=True))
    data = [{"video": f"v{i}.mp4", "prompt": p, "checkpoint": g} for i, (g, p) in pairs]
    (tmp_path / "pred.json").write_text(json.dumps(preds))
    (tmp_path / "data.json").write_text(json.dumps(data))
    if errors:
        (tmp_path / "pred.errors.json").write_text(json.dumps(errors))
    return tmp_path / "pred.json", tmp_path / "data.json"


def test_rank_json_matches_group_means_and_bootstrap(tmp_path):
    scores, groups, prompts = _checkpoints(shared=True)
    pred, data = _write(tmp_path, scores, groups, prompts)
    result = run_cli("rank", pred, "--data", data, "--by", "checkpoint", "--json")
    payload = json.loads(result.stdout)  # exactly one JSON document
    assert payload["by"] == "checkpoint" and payload["n"] == len(scores)
    got = {g["group"]: g for g in payload["groups"]}
    assert [g["group"] for g in payload["groups"]] == ["B", "A"]
    for name in ("A", "B"):
        x = scores[np.array(groups) == name]
        assert got[name]["mean"] == pytest.approx(x.mean(), abs=1e-12)
        assert got[name]["n"] == len(x)
        ref = stats.bootstrap((x,), np.mean, n_resamples=20000, method="percentile", random_state=0)
        lo, hi = got[name]["ci95"]
        se = x.std() / np.sqrt(len(x))
        assert lo == pytest.approx(ref.confidence_interval.low, abs=0.1 * se)
        assert hi == pytest.approx(ref.confidence_interval.high, abs=0.1 * se)
    assert got["B"]["paired"] is True and got["B"]["shared_prompts"] == 30
    text = run_cli("rank", pred, "--data", data, "--by", "checkpoint").stdout
    assert text.index("B") < text.index("A") and "paired, 30 shared prompts" in text


def test_rank_counts_failed_videos_and_can_leave_them_out(tmp_path):
    scores, groups, prompts = _checkpoints(shared=True)
    errors = [{"index": 0, "video": "v0.mp4", "reason": "file not found", "fallback": "training mean"}]
    pred, data = _write(tmp_path, scores, groups, prompts, errors)
    result = run_cli("rank", pred, "--data", data, "--by", "checkpoint", "--json")
    assert json.loads(result.stdout)["failed_included"] == 1
    assert "fallback score" in result.stderr
    kept = json.loads(run_cli("rank", pred, "--data", data, "--by", "checkpoint", "--json", "--skip-failed").stdout)
    assert kept["n"] == len(scores) - 1
    a = {g["group"]: g for g in kept["groups"]}["A"]
    assert a["n"] == 59 and a["mean"] == pytest.approx(scores[1:60].mean())


def test_rank_names_the_item_lacking_the_field(tmp_path):
    scores, groups, prompts = _checkpoints(shared=True)
    pred, data = _write(tmp_path, scores, groups, prompts)
    items = json.loads(data.read_text())
    del items[7]["checkpoint"]
    data.write_text(json.dumps(items))
    result = run_cli("rank", pred, "--data", data, "--by", "checkpoint", ok=False)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "v7.mp4" in result.stderr and "checkpoint" in result.stderr
