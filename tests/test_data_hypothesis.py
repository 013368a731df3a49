"""Property-based tests of the challenge JSON reader (aigvqa.data.load_items) and of how the
CLI reports bad input files: arbitrary JSON never crashes with anything but DataError, valid
lists round-trip, and every message names the file, the item and the field."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from aigvqa.cli import app
from aigvqa.data import DataError, Item, load_items

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_counter = itertools.count()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hypothesis-json")


def _file(scratch: Path, text: str | bytes) -> Path:
    path = scratch / f"items_{next(_counter)}.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text()
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)
# objects that look like items: the real keys, with values of any type
item_like = st.dictionaries(
    st.sampled_from(["video", "prompt", "gt_score", "artifact", "x"]) | st.text(max_size=6), json_values, max_size=5
)


@SETTINGS
@given(value=json_values | st.lists(item_like, max_size=6), target=st.sampled_from([None, "gt_score"]),
       require=st.booleans())
def test_any_json_value_gives_items_or_a_data_error(scratch, value, target, require):
    path = _file(scratch, json.dumps(value))  # NaN and Infinity are written as JSON extensions
    try:
        items = load_items(path, target=target, require_target=require and target is not None)
    except DataError as exc:
        assert str(exc).startswith(str(path)), exc
        assert "\n" not in str(exc)
        return
    assert isinstance(value, list) and len(items) == len(value) > 0
    assert all(isinstance(it, Item) and isinstance(it.video, str) and isinstance(it.prompt, str) for it in items)
    assert len({it.video for it in items}) == len(items)


@SETTINGS
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_give_items_or_a_data_error(scratch, data):
    path = _file(scratch, data)
    try:
        load_items(path)
    except DataError as exc:
        assert str(exc).startswith(str(path))


names = st.text(min_size=1, max_size=20).filter(lambda s: s.strip())
finite = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6)
extras = st.dictionaries(st.text(max_size=8).filter(lambda k: k not in ("video", "prompt", "gt_score")),
                         json_values, max_size=3)


@st.composite
def valid_lists(draw, with_target: bool):
    videos = draw(st.lists(names, min_size=1, max_size=8, unique=True))
    out = []
    for video in videos:
        item = {"video": video, "prompt": draw(st.text(max_size=30)), **draw(extras)}
        if with_target or draw(st.booleans()):
            item["gt_score"] = draw(finite)
        out.append(item)
    return out


def _same_json(a, b) -> bool:  # NaN-aware equality of decoded JSON values
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@SETTINGS
@given(records=valid_lists(with_target=True))
def test_valid_lists_round_trip(scratch, records):
    path = _file(scratch, json.dumps(records))
    items = load_items(path, target="gt_score", require_target=True)
    assert [it.video for it in items] == [r["video"] for r in records]
    assert [it.prompt for it in items] == [r["prompt"] for r in records]
    for it, r in zip(items, records, strict=True):
        assert _same_json(it.meta, {k: v for k, v in r.items() if k not in ("video", "prompt")})
        assert it.target("gt_score") == float(r["gt_score"])


MUTATIONS = {  # name -> (field named in the message, how to break item i)
    "no video": ("'video'", lambda item, prev: item.pop("video")),
    "no prompt": ("'prompt'", lambda item, prev: item.pop("prompt")),
    "video not a string": ("'video'", lambda item, prev: item.__setitem__("video", 7)),
    "prompt not a string": ("'prompt'", lambda item, prev: item.__setitem__("prompt", ["a", "b"])),
    "empty video": ("'video'", lambda item, prev: item.__setitem__("video", "   ")),
    "NaN target": ("'gt_score'", lambda item, prev: item.__setitem__("gt_score", math.nan)),
    "infinite target": ("'gt_score'", lambda item, prev: item.__setitem__("gt_score", -math.inf)),
    "text target": ("'gt_score'", lambda item, prev: item.__setitem__("gt_score", "4.5")),
    "boolean target": ("'gt_score'", lambda item, prev: item.__setitem__("gt_score", True)),
    "missing target": ("'gt_score'", lambda item, prev: item.pop("gt_score")),
    "duplicate video": ("duplicate video", lambda item, prev: item.__setitem__("video", prev["video"])),
}


@SETTINGS
@given(records=valid_lists(with_target=True), where=st.integers(min_value=0), how=st.sampled_from(sorted(MUTATIONS)))
def test_messages_name_file_item_and_field(scratch, records, where, how):
    i = where % len(records)
    if how == "duplicate video":
        if len(records) < 2:
            return
        i = max(i, 1)
    field, mutate = MUTATIONS[how]
    records[i] = dict(records[i])
    mutate(records[i], records[i - 1])
    path = _file(scratch, json.dumps(records))
    with pytest.raises(DataError) as caught:
        load_items(path, target="gt_score", require_target=True)
    message = str(caught.value)
    assert message.startswith(f"{path}, item {i}"), message
    assert field in message, message


@SETTINGS
@given(value=json_values.filter(lambda v: not isinstance(v, list)))
def test_non_lists_are_rejected_with_the_type(scratch, value):
    path = _file(scratch, json.dumps(value))
    with pytest.raises(DataError, match="expected a JSON list"):
        load_items(path)


# -- the CLI on bad input files -----------------------------------------------------------------

BAD_INPUTS = {  # name -> (file text, fragment of the message)
    "malformed": ('[{"video": "a.mp4", "prompt": "x"', "malformed JSON at line 1"),
    "not a list": ('{"video": "a.mp4", "prompt": "x"}', "expected a JSON list"),
    "empty list": ("[]", "empty"),
    "duplicate": ('[{"video": "a.mp4", "prompt": "x", "gt_score": 3},'
                  ' {"video": "a.mp4", "prompt": "y", "gt_score": 4}]', "item 1 (a.mp4): duplicate video name"),
    "NaN": ('[{"video": "a.mp4", "prompt": "x", "gt_score": 3},'
            ' {"video": "b.mp4", "prompt": "y", "gt_score": NaN}]', "item 1 (b.mp4): field 'gt_score' must be finite"),
    "prompt missing": ('[{"video": "a.mp4", "gt_score": 3}]', "item 0 (a.mp4): missing field 'prompt'"),
}
# predict reads no target: a NaN score there is an unused extra field, not an error
PREDICT_CASES = [k for k in BAD_INPUTS if k != "NaN"]


def _invoke(args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def _check(result, path, fragment):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "error:" in result.stderr and fragment in result.stderr, result.stderr
    assert path.name in result.stderr


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_validate_and_train_reject_bad_files(case, tmp_path):
    text, fragment = BAD_INPUTS[case]
    path = tmp_path / f"{case.replace(' ', '_')}.json"
    path.write_text(text)
    _check(_invoke(["validate", path]), path, fragment)
    _check(_invoke(["train", path, "--out", tmp_path / "model", "--features", "lexical", "-q"]), path, fragment)
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("case", PREDICT_CASES)
def test_predict_rejects_bad_files(case, tmp_path, trained_model, synthetic_data):
    text, fragment = BAD_INPUTS[case]
    path = tmp_path / f"{case.replace(' ', '_')}.json"
    path.write_text(text)
    out = tmp_path / "p.json"
    result = _invoke(["predict", path, "--model", trained_model.dir, "--videos", synthetic_data.videos,
                      "--out", out, "-q"])
    _check(result, path, fragment)
    assert not out.exists()


def test_console_script_reports_nan_without_traceback(tmp_path):
    path = tmp_path / "nan.json"
    path.write_text(BAD_INPUTS["NaN"][0])
    exe = Path(sys.executable).with_name("aigvqa")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from aigvqa.cli import main; main()"]
    proc = subprocess.run([*cmd, "train", str(path), "--out", str(tmp_path / "m"), "--features", "lexical"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "must be finite" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
