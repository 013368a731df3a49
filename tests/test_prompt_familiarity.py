"""A stacking block's ``familiarity``: a prompt block moves a score only as far as it knows the
prompt's words, and leaves the scores of prompts it learned from as they were.

Tiny synthetic stacks only (no shared data): a video block on ``temporal`` columns and a prompt
block on ``lexical`` columns, whose word ids (``terms.ids``) are given per row."""

from __future__ import annotations

import numpy as np
import pytest

from aigvqa.data import Item
from aigvqa.extract import extract_features
from aigvqa.model import QualityModel
from aigvqa.regressors import make_regressor
from aigvqa.regressors.stacking import familiarity

NAMES = [f"temporal.t{i}" for i in range(3)] + ["lexical.a", "lexical.b", "lexical.lex_chars"]
VIDEO = {"name": "video", "features": "temporal", "regressor": "ridge"}
PROMPT = {"name": "prompt", "features": "lexical", "regressor": "ridge", "absent_if_zero": "lexical.lex_chars"}
FAMILIAR = {**PROMPT, "familiarity": "terms"}
KNOWN_WORDS = np.arange(100, 140)  # the word ids of the training prompts


def _data(n: int = 120, seed: int = 0):
    """Both blocks informative; every training prompt uses 3 of ``KNOWN_WORDS``."""
    rng = np.random.default_rng(seed)
    video, prompt = rng.normal(size=(n, 3)), rng.normal(size=(n, 2))
    chars = rng.integers(5, 60, size=(n, 1)).astype(float)
    y = 3.0 + 0.5 * video @ np.array([1.0, -0.5, 0.2]) + 0.4 * prompt @ np.array([1.0, 0.5])
    ids = [np.sort(rng.choice(KNOWN_WORDS, size=3, replace=False)) for _ in range(n)]
    return np.hstack([video, prompt, chars]), y, {"terms.ids": ids}


def _stack(block: dict = FAMILIAR):
    model = make_regressor("stack", seed=0, blocks=[VIDEO, block])
    model.set_feature_names(NAMES)
    return model


def _words(known: int, unknown: int) -> np.ndarray:
    """Word ids of a prompt with ``known`` words seen in training and ``unknown`` never seen."""
    return np.sort(np.concatenate([KNOWN_WORDS[:known], np.arange(9000, 9000 + unknown)]))


def test_prompts_of_known_words_score_as_without_familiarity():
    X, y, seqs = _data()
    weighed, plain = _stack().fit(X, y, seqs), _stack(PROMPT).fit(X, y, seqs)
    np.testing.assert_array_equal(weighed.predict(X, seqs), plain.predict(X, seqs))
    assert np.all(weighed.familiarities(X, seqs)[:, 1] == 1.0)
    assert np.all(weighed.familiarities(X, seqs)[:, 0] == 1.0)  # the video block has none


def test_the_prompt_share_shrinks_with_the_fraction_of_unknown_words():
    X, y, seqs = _data()
    weighed, plain = _stack().fit(X, y, seqs), _stack(PROMPT).fit(X, y, seqs)
    rows = np.repeat(X[:1], 4, axis=0)
    words = {"terms.ids": [_words(4, 0), _words(2, 2), _words(1, 3), _words(0, 5)]}
    raw = plain.block_contributions(rows, words)["prompt"]
    assert abs(raw[0]) > 0.05  # the prompt moves this row's score when its words are known
    np.testing.assert_allclose(weighed.block_contributions(rows, words)["prompt"], raw * [1, 0.5, 0.25, 0], atol=1e-12)
    no_prompt = rows[:1].copy()
    no_prompt[:, 3:] = 0.0  # absent prompt: the prompt block gives its centre
    # wholly unknown wording scores as no prompt at all; the video block's share is untouched
    assert weighed.predict(rows[3:], {"terms.ids": words["terms.ids"][3:]})[0] == pytest.approx(
        plain.predict(no_prompt, {"terms.ids": [None]})[0], abs=1e-12
    )
    np.testing.assert_array_equal(
        weighed.block_contributions(rows, words)["video"], plain.block_contributions(rows, words)["video"]
    )


def test_explanations_still_sum_to_the_score():
    X, y, seqs = _data()
    stack = _stack({**FAMILIAR, "max_share": 0.2}).fit(X, y, seqs)
    rows = X[:5].copy()
    rows[-1, 3:] = 0.0  # a row without a prompt
    words = {"terms.ids": [_words(3, 0), _words(1, 1), _words(0, 2), np.zeros(0, dtype=np.int64), None]}
    pred = stack.predict(rows, words)
    np.testing.assert_allclose(stack.contributions(rows, words).sum(axis=1), pred, atol=1e-9)
    shares = stack.block_contributions(rows, words)
    np.testing.assert_allclose(sum(shares.values()) + stack.block_baseline(), pred, atol=1e-9)
    assert shares["prompt"][2] == 0.0 and np.abs(shares["prompt"]).max() <= 0.2


def test_familiarity_counts_the_share_of_known_words():
    known = np.array([3, 5, 8])
    rows = [np.array([3, 5]), np.array([3, 4, 9, 8]), np.array([1]), np.zeros(0, dtype=np.int64), None]
    np.testing.assert_allclose(familiarity(rows, known), [1.0, 0.5, 0.0, 1.0, 1.0])


def test_save_and_load_keep_the_known_words(tmp_path):
    X, y, seqs = _data()
    stack = _stack().fit(X, y, seqs)
    stack.save(tmp_path, "main")
    loaded = type(stack).load(tmp_path, "main", 0, blocks=[VIDEO, FAMILIAR])
    words = {"terms.ids": [_words(2, 2)] * 3}
    np.testing.assert_array_equal(loaded.predict(X[:3], words), stack.predict(X[:3], words))
    # a model saved without familiarity, loaded with it, cannot know its words: a clear error
    _stack(PROMPT).fit(X, y, seqs).save(tmp_path, "plain")
    with pytest.raises(ValueError, match="without its training word ids"):
        type(stack).load(tmp_path, "plain", 0, blocks=[VIDEO, FAMILIAR])


def test_missing_word_ids_and_bad_settings_are_clear_errors():
    X, y, seqs = _data()
    with pytest.raises(ValueError, match=r"block 'prompt'.*'terms.ids'.*add 'terms' to the model's features"):
        _stack().fit(X, y)
    with pytest.raises(ValueError, match=r"block 'prompt': familiarity must name the extractor"):
        make_regressor("stack", blocks=[VIDEO, {**PROMPT, "familiarity": "no_such_extractor"}])


def test_the_terms_extractor_gives_word_ids_as_the_words_extractor_reads_words():
    prompts = ["A dog running on the beach", "dogs run on a beach", "the", "A red car at night"]
    table = extract_features([Item(video="", prompt=p) for p in prompts], [("terms", {})], progress=False)
    assert table.names == []  # no tabular columns
    ids = table.sequences["terms.ids"]
    assert np.array_equal(ids[0], ids[1]) and len(ids[0]) == 3  # dog, run, beach; stems fold
    assert len(ids[2]) == 0  # stop words only
    assert len(np.intersect1d(ids[0], ids[3])) == 0


def test_a_quality_model_weighs_its_prompt_block_by_the_words_of_its_training_prompts(tmp_path):
    """End to end with the real prompt extractors: a prompt-only model trained on a few prompts."""
    train = ["a dog on a beach", "a cat on a sofa", "a red car in the city", "two birds in the sky"] * 6
    rng = np.random.default_rng(0)
    y = rng.normal(3.0, 0.5, size=len(train)) + np.array([len(p) for p in train]) / 20
    specs = [("lexical", {}), ("terms", {})]
    table = extract_features([Item(video="", prompt=p) for p in train], specs, progress=False)
    block = {"name": "prompt", "features": "lexical", "regressor": "ridge", "familiarity": "terms"}
    model = QualityModel(features="lexical,terms", regressor="stack", regressor_params={"blocks": [block], "folds": 3})
    model.fit(table, y)
    new = ["a dog on a sofa", "a quantum jellyfish orchestra performing underwater opera"]
    new_table = extract_features([Item(video="", prompt=p) for p in new], specs, progress=False)
    shares, _ = model.explain_blocks(new_table)
    assert shares["prompt"][1] == 0.0  # no word of it was ever seen
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(QualityModel.load(tmp_path / "m").predict(new_table), model.predict(new_table))
