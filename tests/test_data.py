"""load_items: valid challenge files load; every invalid one fails naming file, item and field."""

from __future__ import annotations

import json
import re

import pytest

from aigvqa.data import DataError, Item, load_items, targets

TRAIN = [
    {"video": "a.mp4", "prompt": "a cat surfing", "gt_score": 3.5},
    {"video": "b.mp4", "prompt": "a dog dancing", "gt_score": 1, "generator": "gen-x", "extra": [1, 2]},
    {"video": "c.mp4", "prompt": "", "gt_score": 4.25},
]


def _write(tmp_path, payload, name="data.json"):
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def test_train_file_loads_in_order_with_targets(tmp_path):
    path = _write(tmp_path, TRAIN)
    items = load_items(path, target="gt_score", require_target=True)
    assert [it.video for it in items] == ["a.mp4", "b.mp4", "c.mp4"]
    assert [it.prompt for it in items] == ["a cat surfing", "a dog dancing", ""]
    assert targets(items, "gt_score") == [3.5, 1.0, 4.25]
    assert all(isinstance(v, float) for v in targets(items, "gt_score"))
    assert items[1].target("gt_score") == 1.0


def test_unknown_fields_are_kept_in_meta(tmp_path):
    items = load_items(_write(tmp_path, TRAIN))
    assert items[1].meta == {"gt_score": 1, "generator": "gen-x", "extra": [1, 2]}
    assert "video" not in items[1].meta and "prompt" not in items[1].meta
    assert items[0].target("generator") is None


def test_test_file_without_scores_loads(tmp_path):
    path = _write(tmp_path, [{"video": "x.mp4", "prompt": "p"}, {"video": "y.mp4", "prompt": "q"}])
    items = load_items(path, target="gt_score")  # checked only where present
    assert items == [Item("x.mp4", "p", {}), Item("y.mp4", "q", {})]
    assert items[0].target("gt_score") is None


def test_target_checked_where_present_even_when_not_required(tmp_path):
    path = _write(tmp_path, [{"video": "x.mp4", "prompt": "p"}, {"video": "y.mp4", "prompt": "q", "gt_score": "bad"}])
    with pytest.raises(DataError, match=r"item 1 \(y\.mp4\): field 'gt_score'"):
        load_items(path, target="gt_score")


def test_other_numeric_target(tmp_path):
    path = _write(tmp_path, [{"video": "x.mp4", "prompt": "p", "mos2": 2}, {"video": "y", "prompt": "q", "mos2": 0.5}])
    assert targets(load_items(path, target="mos2", require_target=True), "mos2") == [2.0, 0.5]


def test_unicode_prompt_and_video(tmp_path):
    path = tmp_path / "u.json"
    path.write_text(json.dumps([{"video": "vidéo 1.mp4", "prompt": "一只猫 🐱"}], ensure_ascii=False), encoding="utf-8")
    assert load_items(path)[0] == Item("vidéo 1.mp4", "一只猫 🐱", {})


def _ok(i, **kw):
    return {"video": f"v{i}.mp4", "prompt": f"prompt {i}", "gt_score": 3.0, **kw}


# (case id, file text, expected item index or None, fragment naming the field/problem)
BAD = [
    ("malformed-json", '[{"video": "a.mp4", "prompt": "p",}]', None, "malformed JSON"),
    ("truncated-json", '[{"video": "a.mp4"', None, "malformed JSON"),
    ("not-a-list", json.dumps({"video": "a.mp4", "prompt": "p"}), None, "expected a JSON list"),
    ("empty-list", "[]", None, "empty"),
    ("item-not-object", json.dumps([_ok(0), "v1.mp4"]), 1, "expected an object"),
    ("item-null", json.dumps([_ok(0), _ok(1), None]), 2, "expected an object"),
    ("missing-video", json.dumps([_ok(0), {"prompt": "p", "gt_score": 1}]), 1, "'video'"),
    ("missing-prompt", json.dumps([_ok(0), _ok(1), {"video": "v2.mp4", "gt_score": 1}]), 2, "'prompt'"),
    ("video-not-string", json.dumps([_ok(0), {"video": 7, "prompt": "p", "gt_score": 1}]), 1, "'video'"),
    ("prompt-not-string", json.dumps([{"video": "a", "prompt": None, "gt_score": 1}]), 0, "'prompt'"),
    ("prompt-list", json.dumps([_ok(0), {"video": "a", "prompt": ["p"], "gt_score": 1}]), 1, "'prompt'"),
    ("empty-video", json.dumps([_ok(0), {"video": "", "prompt": "p", "gt_score": 1}]), 1, "'video'"),
    ("blank-video", json.dumps([_ok(0), _ok(1), {"video": "  ", "prompt": "p", "gt_score": 1}]), 2, "'video'"),
    ("score-string", json.dumps([_ok(0), _ok(1, gt_score="4.5")]), 1, "'gt_score'"),
    ("score-null", json.dumps([_ok(0), _ok(1, gt_score=None)]), 1, "'gt_score'"),
    ("score-list", json.dumps([_ok(0, gt_score=[3])]), 0, "'gt_score'"),
    ("score-bool", json.dumps([_ok(0), _ok(1), _ok(2, gt_score=True)]), 2, "'gt_score'"),
    (
        "score-nan",
        '[{"video": "a", "prompt": "p", "gt_score": 1}, {"video": "b", "prompt": "p", "gt_score": NaN}]',
        1,
        "'gt_score'",
    ),
    ("score-inf", '[{"video": "a", "prompt": "p", "gt_score": Infinity}]', 0, "'gt_score'"),
    (
        "score-neg-inf",
        '[{"video": "a", "prompt": "p", "gt_score": 1}, {"video": "b", "prompt": "p", "gt_score": -Infinity}]',
        1,
        "'gt_score'",
    ),
    ("score-missing", json.dumps([_ok(0), _ok(1), {"video": "v2.mp4", "prompt": "p"}]), 2, "'gt_score'"),
    ("duplicate-video", json.dumps([_ok(0), _ok(1), _ok(0)]), 2, "duplicate"),
]


@pytest.mark.parametrize("text, index, fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_invalid_files_name_file_item_and_field(tmp_path, text, index, fragment):
    path = _write(tmp_path, text, name="my_train.json")
    with pytest.raises(DataError) as info:
        load_items(path, target="gt_score", require_target=True)
    message = str(info.value)
    assert str(path) in message
    assert fragment in message
    if index is None:
        assert "item" not in message.replace("items", "")
    else:
        assert re.search(rf"\bitem {index}\b", message), message
    assert "\n" not in message


def test_duplicate_names_the_first_occurrence(tmp_path):
    path = _write(tmp_path, [_ok(0), _ok(1), _ok(2), _ok(1)])
    with pytest.raises(DataError, match=r"item 3 \(v1\.mp4\): duplicate video name 'v1\.mp4' \(first at item 1\)"):
        load_items(path)


def test_malformed_json_reports_line(tmp_path):
    path = _write(tmp_path, '[\n {"video": "a", "prompt": "p"},\n {"video": "b" "prompt": "q"}\n]')
    with pytest.raises(DataError, match=r"line 3"):
        load_items(path)


def test_missing_target_is_fine_unless_required(tmp_path):
    path = _write(tmp_path, [{"video": "a", "prompt": "p"}])
    assert len(load_items(path, target="gt_score")) == 1
    with pytest.raises(DataError, match=r"item 0 \(a\): missing field 'gt_score'"):
        load_items(path, target="gt_score", require_target=True)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(DataError, match="file not found") as info:
        load_items(tmp_path / "nope.json")
    assert "nope.json" in str(info.value)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataError, match="bin.json"):
        load_items(binary)
