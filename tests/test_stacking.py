"""The stacking regressor: per-block models, out-of-fold non-negative weights, explanation per block."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aigvqa.metrics import correlations
from aigvqa.regressors import make_regressor
from aigvqa.regressors.stacking import group_folds, nonnegative_weights
from conftest import run_cli

BLOCKS = [
    {"name": "temporal", "features": "temporal", "regressor": "ridge"},
    {"name": "backbone", "features": "effnet", "regressor": "ridge"},
]


def _wide_and_narrow(n: int, seed: int = 0):
    """A narrow informative block (3 temporal columns) and a wide pure-noise block (400 columns)."""
    rng = np.random.default_rng(seed)
    narrow = rng.normal(size=(n, 3))
    y = narrow @ np.array([1.0, -0.5, 0.3]) + 0.3 * rng.normal(size=n)
    X = np.hstack([narrow, rng.normal(size=(n, 400))])
    names = [f"temporal.t{i}" for i in range(3)] + [f"effnet.mean_{i:04d}" for i in range(400)]
    return X, y, names


def _stack(names, **params):
    model = make_regressor("stack", seed=0, blocks=params.pop("blocks", BLOCKS), **params)
    model.set_feature_names(names)
    return model


def test_a_wide_noise_block_does_not_swamp_a_narrow_informative_one():
    X, y, names = _wide_and_narrow(240)
    train, test = np.arange(120), np.arange(120, 240)
    stack = _stack(names).fit(X[train], y[train])
    weights = dict(zip(stack.block_names(), stack.weights, strict=True))
    assert weights["temporal"] > 0.5 and weights["backbone"] < 0.1 * weights["temporal"]
    one_model = make_regressor("ridge").fit(X[train], y[train])
    stacked_score = correlations(stack.predict(X[test]), y[test])["score"]
    single_score = correlations(one_model.predict(X[test]), y[test])["score"]
    assert stacked_score > single_score + 0.05


def test_nonnegative_weights_recover_a_known_combination():
    rng = np.random.default_rng(0)
    P = rng.normal(size=(200, 3))
    y = 1.0 + 0.7 * P[:, 0] + 0.3 * P[:, 1] - 0.5 * P[:, 2]  # the third block hurts: weight 0
    w, b = nonnegative_weights(P, y)
    assert w[2] == 0 and np.allclose(w[:2], [0.7, 0.3], atol=0.1)
    assert np.all(w >= 0) and np.isfinite(b)


def test_group_folds_keep_groups_together_and_are_seeded():
    groups = np.repeat(np.arange(30), 4)[:, None].astype(float)  # 30 prompts x 4 generators
    folds = group_folds(120, 5, groups, seed=3)
    for g in range(30):
        assert len(set(folds[groups[:, 0] == g])) == 1
    assert sorted(np.bincount(folds)) == [24] * 5
    assert np.array_equal(folds, group_folds(120, 5, groups, seed=3))
    assert not np.array_equal(folds, group_folds(120, 5, groups, seed=4))


def test_stack_is_deterministic_round_trips_and_explains_additively(tmp_path):
    X, y, names = _wide_and_narrow(80)
    params = {"blocks": [BLOCKS[0], {**BLOCKS[1], "regressor": "lightgbm", "params": {"max_rounds": 50}}]}
    a = _stack(names, **params).fit(X, y)
    b = _stack(names, **params).fit(X, y)
    assert np.array_equal(a.predict(X), b.predict(X))
    a.save(tmp_path, "main")
    loaded = type(a).load(tmp_path, "main", 0, **params)
    assert np.array_equal(loaded.predict(X), a.predict(X))
    contrib = loaded.contributions(X)
    assert contrib.shape == (len(X), X.shape[1] + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), a.predict(X), atol=1e-8)
    shares = loaded.block_contributions(X)
    assert list(shares) == ["temporal", "backbone"]
    np.testing.assert_allclose(sum(shares.values()) + loaded.block_baseline(), a.predict(X), atol=1e-8)
    assert abs(loaded.block_baseline() - y.mean()) < 1e-8
    imp = loaded.importances(names)
    assert abs(sum(imp.values()) - 1) < 1e-9 and max(imp, key=imp.get).startswith("temporal.")


def test_columns_in_no_block_are_an_error_and_empty_blocks_are_left_out():
    X, y, names = _wide_and_narrow(60)
    with pytest.raises(ValueError, match="columns of effnet are in no block"):
        _stack(names, blocks=BLOCKS[:1])
    # the prompt-only fallback model sees only some blocks' columns: the others are left out
    narrow = _stack(names[:3]).fit(X[:, :3], y)
    assert narrow.block_names() == ["temporal"]
    with pytest.raises(ValueError, match="unknown regressor 'nope'"):
        make_regressor("stack", blocks=[{"features": "temporal", "regressor": "nope"}])
    with pytest.raises(ValueError, match="distinct"):
        make_regressor("stack", blocks=[BLOCKS[0], BLOCKS[0]])
    with pytest.raises(ValueError, match='give "blocks"'):
        make_regressor("stack")


def test_stack_through_the_cli_train_predict_explain(synthetic_data, tmp_path):
    recipe = tmp_path / "stack.json"
    recipe.write_text(json.dumps({
        "features": "classic,lexical",
        "regressor": "stack",
        "regressor_params": {"group_by": "lexical", "blocks": [
            {"name": "video", "features": "classic", "regressor": "ridge"},
            {"name": "prompt", "features": "lexical", "regressor": "blend", "params": {"members": ["ridge", "knn"]}},
        ]},
    }))  # fmt: skip
    model = tmp_path / "model"
    run_cli("train", synthetic_data.train_json, "--videos", synthetic_data.videos, "--out", model,
            "--config", recipe, "--workers", "0", "-q")  # fmt: skip
    out = tmp_path / "preds.json"
    run_cli("predict", synthetic_data.test_json, "--videos", synthetic_data.videos, "--model", model,
            "--out", out, "--workers", "0", "-q")  # fmt: skip
    preds = json.loads(out.read_text())
    assert len(preds) == len(synthetic_data.test_records) and np.ptp([p["predict_score"] for p in preds]) > 1e-3
    rec = synthetic_data.records[0]
    video = synthetic_data.videos / rec["video"]
    shown = run_cli("explain", video, "--model", model, "--prompt", rec["prompt"], "--workers", "0", "--json")
    row = json.loads(shown.stdout.strip().splitlines()[-1])
    assert set(row["by_block"]) == {"video", "prompt"}
    weights = json.loads((model / "main.stack.json").read_text())["blocks"]
    total = sum(row["by_block"].values()) + sum(b["weight"] * b["centre"] for b in weights)
    intercept = json.loads((model / "main.stack.json").read_text())["intercept"]
    assert abs(total + intercept - row["score"]) < 1e-6
    text = run_cli("explain", video, "--model", model, "--prompt", rec["prompt"], "--workers", "0").stdout
    assert "by block (from the training mean" in text


def test_a_stack_can_be_a_member_of_a_blend():
    X, y, names = _wide_and_narrow(60)
    blend = make_regressor("blend", members=("ridge", "stack"), member_params={"stack": {"blocks": BLOCKS}})
    blend.set_feature_names(names)
    pred = blend.fit(X, y).predict(X)
    assert pred.shape == (60,) and np.isfinite(pred).all()


def test_the_cpu_pretrained_recipe_loads_and_covers_every_column():
    from pathlib import Path

    from aigvqa.model import QualityModel
    from aigvqa.recipes import load_recipe as _load_recipe

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "cpu_pretrained.json"
    model = QualityModel(**_load_recipe(recipe))
    assert [n for n, _ in model.extractor_specs()] == ["spatial", "temporal", "metadata", "lexical", "minilm", "effnet"]
    assert model.sampling.spatial_frames == 16 and model.extractor_config["effnet"]["frames"] == 16
    stack = make_regressor(model.regressor, **model.regressor_params)
    assert not stack.uses_sequences  # tabular blocks: explain works
    stack.set_feature_names([f"{n}.x" for n, _ in model.extractor_specs()])  # every extractor is in a block
    assert stack.block_names() == ["classic+prompt", "backbone"]


def test_a_block_with_absent_input_moves_the_score_neither_up_nor_down(tmp_path):
    """No prompt (the absent_if_zero column is 0): the prompt block gives its average, share 0."""
    rng = np.random.default_rng(1)
    n = 160
    video, prompt = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
    chars = rng.integers(5, 60, size=(n, 1)).astype(float)
    y = video @ np.array([1.0, -0.5, 0.2]) + prompt @ np.array([0.8, 0.4]) + 0.01 * chars[:, 0]
    X = np.hstack([video, prompt, chars])
    names = [f"temporal.t{i}" for i in range(3)] + ["lexical.a", "lexical.b", "lexical.lex_chars"]
    blocks = [
        {"name": "video", "features": "temporal", "regressor": "ridge"},
        {"name": "prompt", "features": "lexical", "regressor": "ridge", "absent_if_zero": "lexical.lex_chars"},
    ]
    stack = _stack(names, blocks=blocks).fit(X, y)
    assert min(stack.weights) > 0.3
    no_prompt = X.copy()
    no_prompt[:, 3:] = 0.0  # what the lexical extractor gives for an empty prompt
    video_only = stack.intercept + stack.weights[0] * stack.models[0].predict(X[:, :3])
    expected = video_only + stack.weights[1] * stack.centres[1]
    np.testing.assert_allclose(stack.predict(no_prompt), expected, atol=1e-9)
    # the average prompt: as many prompted rows score above as below the prompt-free score
    assert abs(np.mean(stack.predict(X) - stack.predict(no_prompt))) < 0.05
    shares = stack.block_contributions(no_prompt)
    np.testing.assert_allclose(shares["prompt"], 0.0, atol=1e-12)
    np.testing.assert_allclose(stack.contributions(no_prompt).sum(axis=1), stack.predict(no_prompt), atol=1e-8)
    stack.save(tmp_path, "m")
    loaded = type(stack).load(tmp_path, "m", 0, blocks=blocks)
    np.testing.assert_array_equal(loaded.predict(no_prompt), stack.predict(no_prompt))
    with pytest.raises(ValueError, match="absent_if_zero column 'lexical.nope'"):
        _stack(names, blocks=[blocks[0], {**blocks[1], "absent_if_zero": "lexical.nope"}])


def test_a_block_learns_only_from_rows_that_have_its_input():
    """Rows without a prompt (e.g. unlabelled clips' copies) teach the video block, not the prompt block."""
    rng = np.random.default_rng(2)
    n, extra = 120, 200
    video, prompt = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
    y = video @ np.array([1.0, -0.5, 0.2]) + prompt @ np.array([0.8, 0.4])
    X = np.hstack([video, prompt, np.full((n, 1), 20.0)])
    names = [f"temporal.t{i}" for i in range(3)] + ["lexical.a", "lexical.b", "lexical.lex_chars"]
    blocks = [
        {"name": "video", "features": "temporal", "regressor": "ridge"},
        {"name": "prompt", "features": "lexical", "regressor": "ridge", "absent_if_zero": "lexical.lex_chars"},
    ]
    bare = np.hstack([rng.normal(size=(extra, 3)), np.zeros((extra, 3))])
    y_bare = 10.0 + rng.normal(size=extra)  # far from the prompted rows' targets
    alone = _stack(names, blocks=blocks).fit(X, y)
    both = _stack(names, blocks=blocks).fit(np.vstack([X, bare]), np.concatenate([y, y_bare]))
    np.testing.assert_allclose(both.models[1].predict(X[:, 3:]), alone.models[1].predict(X[:, 3:]), atol=1e-9)
    assert not np.allclose(both.models[0].predict(X[:, :3]), alone.models[0].predict(X[:, :3]))


def test_block_weights_are_fitted_on_the_human_labelled_rows():
    """Augmented rows (targets made by a rule) teach the blocks but do not set their weights:
    a block that only predicts the made-up targets gets little weight against people."""
    rng = np.random.default_rng(1)
    n_rated, n_made = 100, 500
    n = n_rated + n_made
    rated = np.arange(n) < n_rated
    people = rng.normal(size=n)  # what the human ratings follow (block "temporal")
    rule = rng.normal(size=n)  # what the augmented targets follow (block "backbone")
    y = np.where(rated, people, rule) + 0.1 * rng.normal(size=n)
    X = np.column_stack([people, rule])
    names = ["temporal.t0", "effnet.mean_0000"]
    on_all = _stack(names, combine_on="all").fit(X, y, labelled=rated)
    on_rated = _stack(names, combine_on="labelled").fit(X, y, labelled=rated)

    def spread(stack):  # how far each block's share moves the score
        shares = stack.block_contributions(X)
        return {name: float(np.std(share)) for name, share in shares.items()}

    s_all, s_rated = spread(on_all), spread(on_rated)
    assert s_all["backbone"] > s_all["temporal"]  # most rows are augmented: the rule dominates
    assert s_rated["temporal"] > 5 * s_rated["backbone"]  # judged against people
    new = np.column_stack([rng.normal(size=200), rng.normal(size=200)])  # new rated clips: y = people
    assert correlations(on_rated.predict(new), new[:, 0])["score"] > 0.9
    assert correlations(on_all.predict(new), new[:, 0])["score"] < 0.8
    # the default, and "labelled" without a mask, count every row
    assert np.allclose(_stack(names).fit(X, y, labelled=rated).weights, on_all.weights)
    assert np.allclose(_stack(names, combine_on="labelled").fit(X, y).weights, on_all.weights)
    with pytest.raises(ValueError, match="combine_on"):
        _stack(names, combine_on="people")
    with pytest.raises(ValueError, match="mask of 600 rows"):
        _stack(names, combine_on="labelled").fit(X, y, labelled=rated[:10])


def test_the_quality_model_hands_the_rated_rows_to_the_stack_and_its_fallback():
    """``QualityModel.fit(..., labelled=mask)`` reaches the stack (rows of failed videos left out)
    and the prompt-only fallback model (which keeps every row)."""
    from aigvqa.extract import FeatureTable
    from aigvqa.model import QualityModel

    rng = np.random.default_rng(2)
    n = 300
    rated = np.arange(n) < 60
    video, words = rng.normal(size=n), rng.normal(size=n)
    y = np.where(rated, words, video) + 0.1 * rng.normal(size=n)
    names = ["temporal.t0", "lexical.lex_chars"]
    table = FeatureTable(names, np.column_stack([video, words + 5.0]), {3: "cannot decode"}, {})
    blocks = [{"name": "video", "features": "temporal"}, {"name": "prompt", "features": "lexical"}]
    params = {"blocks": blocks, "combine_on": "labelled"}
    model = QualityModel(features="temporal,lexical", regressor="stack", regressor_params=params)
    model.fit(table, y, labelled=rated)
    ok = np.arange(n) != 3
    direct = _stack(names, **params).fit(table.values[ok], y[ok], labelled=rated[ok])
    np.testing.assert_allclose(model.regressor_.weights, direct.weights)
    assert model.fallback_ is not None
    unmarked = QualityModel(features="temporal,lexical", regressor="stack", regressor_params=params).fit(table, y)
    assert not np.allclose(unmarked.regressor_.weights, model.regressor_.weights)


def test_unread_extractors_may_stay_out_of_every_block_and_nothing_else_may():
    names = ["spatial.a", "spatial.b", "colour.co_hue_shift", "lexical.lex_chars"]
    blocks = [{"name": "video", "features": "spatial"}, {"name": "prompt", "features": "lexical"}]
    with pytest.raises(ValueError, match="colour are in no block.*unread"):
        make_regressor("stack", 0, blocks=blocks).set_feature_names(names)
    stack = make_regressor("stack", 0, blocks=blocks, unread="colour")
    stack.set_feature_names(names)
    assert [list(c) for c in stack.columns] == [[0, 1], [3]]  # the colour column feeds no block
    with pytest.raises(ValueError, match="unread"):
        make_regressor("stack", 0, blocks=blocks, unread=["colour"])


def test_an_unread_column_leaves_the_predictions_as_they_were():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X[:, 0] + 0.5 * X[:, 2] + 0.1 * rng.normal(size=60)
    blocks = [{"name": "video", "features": "spatial"}, {"name": "prompt", "features": "lexical"}]
    plain = make_regressor("stack", 0, blocks=blocks)
    plain.set_feature_names(["spatial.a", "spatial.b", "lexical.c"])
    plain.fit(X, y)
    wide = make_regressor("stack", 0, blocks=blocks, unread="colour")
    wide.set_feature_names(["spatial.a", "colour.x", "spatial.b", "lexical.c"])
    Xw = np.column_stack([X[:, 0], rng.normal(size=60), X[:, 1], X[:, 2]])
    wide.fit(Xw, y)
    np.testing.assert_allclose(wide.predict(Xw), plain.predict(X))


def test_excluded_columns_do_not_move_the_block_and_survive_a_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4))
    y = X[:, 0] - 0.5 * X[:, 2] + 0.1 * rng.normal(size=80)
    names = ["spatial.sp_a_s0_mean", "spatial.sp_b_s0_mean", "spatial.sp_a_s1_mean", "lexical.c"]
    blocks = [{"name": "video", "features": "spatial", "exclude": ["spatial.sp_*_s0_mean"]},
              {"name": "prompt", "features": "lexical"}]  # fmt: skip
    stack = make_regressor("stack", 0, blocks=blocks)
    stack.set_feature_names(names)
    assert [list(c) for c in stack.columns] == [[2], [3]]
    stack.fit(X, y)
    moved = X.copy()
    moved[:, :2] += 5.0  # what the excluded columns read changes; the block's input does not
    np.testing.assert_array_equal(stack.predict(moved), stack.predict(X))
    stack.save(tmp_path, "m")
    again = type(stack).load(tmp_path, "m", 0, blocks=blocks)
    np.testing.assert_array_equal(again.predict(moved), stack.predict(X))


def test_an_exclude_pattern_that_matches_nothing_or_everything_is_an_error():
    names = ["spatial.a", "spatial.b", "lexical.c"]
    typo = [{"name": "video", "features": "spatial", "exclude": ["spatial.zz*"]}, {"name": "p", "features": "lexical"}]
    with pytest.raises(ValueError, match="'spatial.zz\\*' matches none"):
        make_regressor("stack", 0, blocks=typo).set_feature_names(names)
    every = [{"name": "video", "features": "spatial", "exclude": ["spatial.*"]}, {"name": "p", "features": "lexical"}]
    with pytest.raises(ValueError, match="no column"):
        make_regressor("stack", 0, blocks=every).set_feature_names(names)
    with pytest.raises(ValueError, match="exclude must be a list"):
        make_regressor("stack", 0, blocks=[{"name": "video", "features": "spatial", "exclude": "spatial.a"}])


def test_parts_are_each_block_and_member_scored_alone_and_recombine_to_the_score():
    X, y, names = _wide_and_narrow(150)
    blocks = [{"name": "temporal", "features": "temporal", "regressor": "blend",
               "params": {"members": ["ridge", "knn"], "weights": [3.0, 1.0]}},
              {"name": "backbone", "features": "effnet", "regressor": "ridge"}]  # fmt: skip
    stack = _stack(names, blocks=blocks).fit(X[:100], y[:100])
    parts = stack.parts(X[100:])
    assert list(parts) == ["temporal", "temporal.ridge", "temporal.knn", "backbone"]
    # a member alone is that member's own model: it differs from the blend it is part of
    assert not np.allclose(parts["temporal.ridge"], parts["temporal"])
    assert np.allclose(parts["temporal"], 0.75 * parts["temporal.ridge"] + 0.25 * parts["temporal.knn"])
    together = stack.intercept + np.column_stack([parts["temporal"], parts["backbone"]]) @ stack.weights
    assert np.allclose(together, stack.predict(X[100:]))
    assert make_regressor("ridge").fit(X[:100], y[:100]).parts(X[100:]) == {}
