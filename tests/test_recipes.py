"""Recipes laid over a base recipe (``"base"``), and the errors a bad one gives."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from aigvqa.recipes import RecipeError, load_recipe, merge_settings

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def _write(path: Path, settings: dict) -> Path:
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path


def test_a_recipe_over_a_base_changes_only_what_it_names(tmp_path):
    _write(tmp_path / "base.json", {
        "_comment": "the base",
        "features": "video,lexical",
        "regressor": "blend",
        "augment": {"copies": 1, "min_severity": 0.2, "scales": [0.5, 2.0]},
        "artifact_dims": {"penalty": {"deadzone": 0.03, "cap_by_artifact": {"blur": 0.05}}},
    })  # fmt: skip
    sub = tmp_path / "variants"
    sub.mkdir()
    child = _write(sub / "child.json", {
        "_comment": "one change",
        "base": "../base.json",
        "augment": {"scales": []},
        "artifact_dims": {"penalty": {"cap_by_artifact": {"flicker": 0.1}}, "anchored": True},
        "regressor": None,
    })  # fmt: skip
    assert load_recipe(child) == {
        "features": "video,lexical",
        "augment": {"copies": 1, "min_severity": 0.2, "scales": []},
        "artifact_dims": {
            "penalty": {"deadzone": 0.03, "cap_by_artifact": {"blur": 0.05, "flicker": 0.1}},
            "anchored": True,
        },
    }


def test_a_dict_recipe_finds_its_base_from_the_working_directory(tmp_path, monkeypatch):
    _write(tmp_path / "base.json", {"features": "video", "regressor": "ridge"})
    monkeypatch.chdir(tmp_path)
    assert load_recipe({"base": "base.json", "regressor": "knn"}) == {"features": "video", "regressor": "knn"}


def test_bases_chain_and_the_nearest_wins(tmp_path):
    _write(tmp_path / "a.json", {"features": "video", "seed": 1, "target": "gt_score"})
    _write(tmp_path / "b.json", {"base": "a.json", "seed": 2})
    c = _write(tmp_path / "c.json", {"base": "b.json", "target": "temporal_quality"})
    assert load_recipe(c) == {"features": "video", "seed": 2, "target": "temporal_quality"}


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"r.json": {"base": "missing.json"}}, "base missing.json: file not found"),
        ({"r.json": {"base": "r.json"}}, "form a loop"),
        ({"r.json": {"base": "s.json"}, "s.json": {"base": "r.json"}}, "form a loop"),
        ({"r.json": {"base": 3}}, "'base' must be the path of another recipe"),
        ({"r.json": {"base": "s.json"}, "s.json": {"colour": 1}}, "unknown settings colour"),
        ({"r.json": {"base": "s.json"}, "s.json": "[1, 2"}, "base s.json: not valid JSON"),
    ],
)
def test_a_bad_base_is_reported_naming_the_recipe(tmp_path, files, expected):
    for name, content in files.items():
        (tmp_path / name).write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    with pytest.raises(RecipeError, match=re.escape(f"--config {tmp_path / 'r.json'}") + ".*" + re.escape(expected)):
        load_recipe(tmp_path / "r.json")


def test_merge_settings_leaves_its_inputs_alone():
    base = {"artifact_dims": {"penalty": {"deadzone": 0.03}}}
    merge_settings(base, {"artifact_dims": {"penalty": {"deadzone": 0.01}}})
    assert base == {"artifact_dims": {"penalty": {"deadzone": 0.03}}}


def test_the_anchored_candidate_is_todays_default_plus_anchoring():
    """A candidate recipe follows the bundled recipe it is measured against: a change to
    ``default`` reaches it, so its figures compare like with like."""
    default = load_recipe(RECIPES / "default_model.json")
    anchored = load_recipe(RECIPES / "anchored_model.json")
    assert anchored == merge_settings(default, {"artifact_dims": {"anchored": {"min_severity": 0.1}}})


def test_a_stacks_blocks_merge_by_name_and_other_lists_are_replaced(tmp_path):
    video = {"name": "video", "features": "video", "regressor": "blend", "exclude": ["spatial.a", "spatial.b"]}
    prompt = {"name": "prompt", "features": "lexical", "regressor": "blend"}
    _write(tmp_path / "base.json", {"regressor": "stack", "regressor_params": {"blocks": [video, prompt]},
                                    "augment": {"scales": [0.5, 2.0]}})  # fmt: skip
    child = _write(tmp_path / "child.json", {
        "base": "base.json",
        "regressor_params": {"blocks": [
            {"name": "extra", "features": "codec"},
            {"name": "video", "params": {"weights": [1.0, 1.0, 0.5]}, "exclude": ["spatial.c"]},
        ]},
        "augment": {"scales": [0.5]},
    })  # fmt: skip
    blocks = load_recipe(child)["regressor_params"]["blocks"]
    assert [b["name"] for b in blocks] == ["video", "prompt", "extra"]  # the base's order, new ones last
    assert blocks[0] == {**video, "params": {"weights": [1.0, 1.0, 0.5]}, "exclude": ["spatial.c"]}
    assert blocks[1] == prompt
    assert load_recipe(child)["augment"] == {"scales": [0.5]}


def test_the_half_trees_candidate_changes_only_the_video_blocks_weights():
    expected = copy.deepcopy(load_recipe(RECIPES / "default_model.json"))
    video = expected["regressor_params"]["blocks"][0]
    assert video["name"] == "video"
    video.setdefault("params", {})["weights"] = [1.0, 1.0, 0.5]
    assert load_recipe(RECIPES / "half_trees_model.json") == expected


def test_the_native_candidate_is_defaults_video_block_reading_the_native_measures():
    """``native_model.json`` is ``default`` whose video block also reads ``codec``, ``detail`` and
    ``morph``, less the two of their columns that noise drives (added to ``default``'s exclude
    list with ``"exclude+"``, so a change to that list reaches it too)."""
    expected = copy.deepcopy(load_recipe(RECIPES / "default_model.json"))
    expected["regressor_params"]["unread"] = "bitstream"
    video = expected["regressor_params"]["blocks"][0]
    assert video["name"] == "video"
    video["features"] = "video,colour,pacing,codec,detail,morph"
    video["exclude"] = [*video["exclude"], "codec.cd_flat4_mean", "detail.dt_lap_ratio_01"]
    assert load_recipe(RECIPES / "native_model.json") == expected


def test_the_coherent_candidate_is_defaults_video_block_reading_the_coherent_detail():
    """``coherent_model.json`` is ``default`` whose video block also reads ``coherence`` (its
    exclude list is ``default``'s, inherited, not repeated)."""
    expected = copy.deepcopy(load_recipe(RECIPES / "default_model.json"))
    names = expected["features"].split(",")
    expected["features"] = ",".join([*names[: names.index("lexical")], "coherence", *names[names.index("lexical") :]])
    video = expected["regressor_params"]["blocks"][0]
    assert video["name"] == "video"
    video["features"] = "video,colour,pacing,coherence"
    assert load_recipe(RECIPES / "coherent_model.json") == expected


def test_a_plus_key_adds_to_the_bases_list(tmp_path):
    """``"key+": [...]`` adds the items the base's list lacks, at the end, at any depth and in a
    stack's blocks; with no base list it is the list itself."""
    _write(tmp_path / "base.json", {"regressor_params": {"blocks": [{"name": "video", "exclude": ["a", "b"]}]},
                                     "augment": {"scales": [0.5]}})
    _write(tmp_path / "over.json", {"base": "base.json", "augment": {"scales+": [2.0, 0.5]},
                                     "regressor_params": {"blocks": [{"name": "video", "exclude+": ["c", "a"]},
                                                                     {"name": "prompt", "exclude+": ["d"]}]}})
    got = load_recipe(tmp_path / "over.json")
    assert got["augment"] == {"scales": [0.5, 2.0]}
    assert got["regressor_params"]["blocks"] == [{"name": "video", "exclude": ["a", "b", "c"]},
                                                 {"name": "prompt", "exclude": ["d"]}]
    assert load_recipe({"augment": {"scales+": [2.0]}}) == {"augment": {"scales": [2.0]}}
    assert merge_settings({}, {"augment": {"scales+": [2.0]}}) == {"augment": {"scales": [2.0]}}  # no base object


@pytest.mark.parametrize(
    ("over", "message"),
    [({"augment": {"scales+": 2.0}}, r"'scales\+' must be a list"),
     ({"augment+": ["x"]}, r"'augment\+' adds to a list, but the base's 'augment' is")],
)
def test_a_plus_key_that_cannot_add_is_reported_naming_the_recipe(tmp_path, over, message):
    _write(tmp_path / "base.json", {"augment": {"scales": [0.5]}})
    path = _write(tmp_path / "over.json", {"base": "base.json", **over})
    with pytest.raises(RecipeError, match=f"over.json: {message}"):
        load_recipe(path)


def test_the_native_half_candidate_is_native_with_half_the_trees():
    """``native_half_model.json`` is ``native_model.json`` with LightGBM's weight in the video
    block's blend halved, as ``half_trees_model.json`` does to ``default``."""
    expected = copy.deepcopy(load_recipe(RECIPES / "native_model.json"))
    video = expected["regressor_params"]["blocks"][0]
    assert video["name"] == "video"
    video.setdefault("params", {})["weights"] = [1.0, 1.0, 0.5]
    assert load_recipe(RECIPES / "native_half_model.json") == expected
