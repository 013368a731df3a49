"""Feature cache: round trip, corrupt entries are misses, AIGVQA_CACHE_DIR, reuse by extraction."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs
import pytest
from typer.testing import CliRunner

import aigvqa.extract as extract_mod
from aigvqa.cache import CACHE_ENV, FeatureCache, default_cache_dir, file_digest
from aigvqa.data import Item
from aigvqa.extract import extract_features
from aigvqa.features.base import FeatureExtractor
from aigvqa.registry import EXTRACTORS
from aigvqa.video import SamplingConfig

FEATS = {
    "a": 1.5,
    "b": -2.0,
    "nan": float("nan"),
    "inf": float("inf"),
    "int": 3,
    "__arrays__": {"seq": np.arange(6.0).reshape(3, 2), "ints": np.array([1, 2, 3], dtype=np.int32)},
}


def _same_scalars(got: dict[str, Any], want: dict[str, Any]) -> bool:
    keys = [k for k in want if k != "__arrays__"]
    if [k for k in got if k != "__arrays__"] != keys:
        return False
    return all(got[k] == want[k] or (math.isnan(got[k]) and math.isnan(want[k])) for k in keys)


def test_put_get_round_trip(tmp_path):
    cache = FeatureCache(tmp_path)
    assert cache.get("ex", "s1", "0123abcd") is None
    cache.put("ex", "s1", "0123abcd", FEATS)
    got = cache.get("ex", "s1", "0123abcd")
    assert _same_scalars(got, FEATS)
    assert all(isinstance(got[k], float) for k in got if k != "__arrays__")
    arrays = got["__arrays__"]
    assert set(arrays) == {"seq", "ints"}
    assert np.array_equal(arrays["seq"], FEATS["__arrays__"]["seq"])
    assert arrays["ints"].dtype == np.int32 and arrays["ints"].tolist() == [1, 2, 3]
    # the key is (extractor, settings, content): any difference is a miss
    assert cache.get("ex", "s2", "0123abcd") is None
    assert cache.get("other", "s1", "0123abcd") is None
    assert cache.get("ex", "s1", "0123abce") is None


def test_entry_without_arrays_and_overwrite(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.put("ex", "s", "ff00", {"x": 1.0})
    assert cache.get("ex", "s", "ff00") == {"x": 1.0}
    cache.put("ex", "s", "ff00", {"x": 2.0, "y": 3.0})
    assert cache.get("ex", "s", "ff00") == {"x": 2.0, "y": 3.0}
    # writes go through a temporary file that is renamed: nothing is left behind
    leftovers = [p.name for p in tmp_path.rglob("*") if p.is_file() and not p.name.endswith(".npz")]
    assert leftovers == [] and len(list(tmp_path.rglob("*.npz"))) == 1


@pytest.fixture
def entry(tmp_path) -> tuple[FeatureCache, Path, bytes]:
    cache = FeatureCache(tmp_path)
    cache.put("ex", "s", "abcdef", FEATS)
    (path,) = tmp_path.rglob("*.npz")
    return cache, path, path.read_bytes()


def test_truncated_entries_are_misses(entry):
    cache, path, data = entry
    for size in sorted({0, 1, 10, 100, len(data) // 2, len(data) - 22, len(data) - 1}):
        path.write_bytes(data[:size])
        assert cache.get("ex", "s", "abcdef") is None, size


def test_garbage_and_non_npz_entries_are_misses(entry, tmp_path):
    cache, path, _ = entry
    for payload in (b"not a cache entry", b"\x93NUMPY garbage", b"PK\x03\x04" + b"\x00" * 40):
        path.write_bytes(payload)
        assert cache.get("ex", "s", "abcdef") is None
    np.savez(path.with_suffix(".tmp.npz"), names=np.array(["a", "b"]), values=np.array([1.0]))  # inconsistent
    shutil.move(path.with_suffix(".tmp.npz"), path)
    assert cache.get("ex", "s", "abcdef") is None
    np.savez(path.with_suffix(".tmp.npz"), other=np.array([1.0]))  # missing keys
    shutil.move(path.with_suffix(".tmp.npz"), path)
    assert cache.get("ex", "s", "abcdef") is None


def test_any_single_corrupted_byte_is_a_miss_or_the_right_values(entry):
    """Bit rot must never crash extraction nor yield wrong numbers (the zip CRCs guard the data)."""
    cache, path, data = entry
    misses = tried = 0
    headers = len(data) - 220  # zip central directory and end record: every byte, two flips
    for i in [*range(0, headers, 4), *range(headers, len(data))]:
        for flip in (0xFF, 0x01) if i >= headers else (0xFF,):
            tried += 1
            broken = bytearray(data)
            broken[i] ^= flip
            path.write_bytes(bytes(broken))
            got = cache.get("ex", "s", "abcdef")
            if got is None:
                misses += 1
            else:
                assert _same_scalars(got, FEATS), (i, flip)
    assert misses > tried // 2  # most corruptions are detected


def test_default_cache_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    assert FeatureCache().root == tmp_path / "here"
    monkeypatch.delenv(CACHE_ENV)
    assert default_cache_dir() == Path(platformdirs.user_cache_dir("aigvqa"))


def test_file_digest_is_content_based(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 3_000_000)
    (tmp_path / "b").write_bytes(b"x" * 3_000_000)
    (tmp_path / "c").write_bytes(b"x" * 2_999_999 + b"y")
    assert file_digest(tmp_path / "a") == file_digest(tmp_path / "b") != file_digest(tmp_path / "c")


# -- extraction reuses the cache ----------------------------------------------------------------


class _Counting(FeatureExtractor):
    """A tiny test extractor that counts its calls."""

    name = "counting_test"
    version = "1"
    calls = 0

    def extract(self, clip, prompt):
        type(self).calls += 1
        frames = clip.frames.astype(float)
        return {
            "mean": float(frames.mean()),
            "n": float(clip.info.n_frames),
            "__arrays__": {"per_frame": frames.mean(axis=(1, 2, 3))},
        }


@pytest.fixture
def counting(monkeypatch):
    """Register the counting extractor for one test and count decodes (read_clip calls)."""
    monkeypatch.setitem(EXTRACTORS._entries, _Counting.name, _Counting)
    monkeypatch.setattr(extract_mod, "_EXTRACTORS", {})
    monkeypatch.setattr(_Counting, "calls", 0)
    decodes: list[str] = []
    real = extract_mod.read_clip

    def read_clip(path, config=None, on_frame=None, native_pairs=False):
        decodes.append(Path(path).name)
        return real(path, config, on_frame, native_pairs)

    monkeypatch.setattr(extract_mod, "read_clip", read_clip)
    return decodes


SPECS = [("counting_test", {}), ("metadata", {})]
SMALL = SamplingConfig(spatial_frames=3, spatial_side=64, motion_frames=8, motion_side=32)


def _items(synthetic_data, n=4) -> list[Item]:
    return [Item(r["video"], r["prompt"]) for r in synthetic_data.records[:n]]


def _extract(items, videos, cache, sampling=SMALL):
    return extract_features(items, SPECS, videos_dir=videos, sampling=sampling, cache=cache, workers=0, progress=False)


def test_second_extraction_is_served_from_cache(synthetic_data, counting, tmp_path):
    items, cache = _items(synthetic_data), FeatureCache(tmp_path / "c")
    first = _extract(items, synthetic_data.videos, cache)
    assert _Counting.calls == 4 and len(counting) == 4
    second = _extract(items, synthetic_data.videos, cache)
    assert _Counting.calls == 4 and len(counting) == 4  # no decode, no extractor call
    assert second.names == first.names
    assert np.array_equal(first.values, second.values, equal_nan=True)
    assert not first.errors and not second.errors
    seq = "counting_test.per_frame"
    assert all(np.array_equal(a, b) for a, b in zip(first.sequences[seq], second.sequences[seq], strict=True))
    # without a cache everything is recomputed
    _extract(items, synthetic_data.videos, None)
    assert _Counting.calls == 8


def test_cache_is_keyed_by_content_not_name(synthetic_data, counting, tmp_path):
    cache = FeatureCache(tmp_path / "c")
    items = _items(synthetic_data, 2)
    first = _extract(items, synthetic_data.videos, cache)
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for k, it in enumerate(items):
        shutil.copy(synthetic_data.videos / it.video, renamed / f"copy_{k}.mp4")
    copies = [Item(f"copy_{k}.mp4", it.prompt) for k, it in enumerate(items)]
    again = _extract(copies, renamed, cache)
    assert len(counting) == 2  # renamed copies hit the cache
    assert np.array_equal(first.values, again.values, equal_nan=True)
    # a different file under an old name is recomputed
    shutil.copy(synthetic_data.videos / synthetic_data.records[5]["video"], renamed / "copy_0.mp4")
    changed = _extract(copies, renamed, cache)
    assert counting[-1] == "copy_0.mp4" and len(counting) == 3
    assert not np.array_equal(changed.values[0], first.values[0])


def test_changed_sampling_recomputes(synthetic_data, counting, tmp_path):
    cache = FeatureCache(tmp_path / "c")
    items = _items(synthetic_data, 2)
    _extract(items, synthetic_data.videos, cache)
    _extract(items, synthetic_data.videos, cache, sampling=SamplingConfig(spatial_frames=2, spatial_side=32))
    assert len(counting) == 4 and _Counting.calls == 4


def test_another_opencv_release_recomputes_video_features(synthetic_data, counting, tmp_path, monkeypatch):
    import aigvqa.extract as extract_mod

    cache = FeatureCache(tmp_path / "c")
    items = _items(synthetic_data, 2)
    _extract(items, synthetic_data.videos, cache)
    monkeypatch.setattr(extract_mod, "_opencv_version", lambda: "0.0.0-other")
    _extract(items, synthetic_data.videos, cache)
    assert len(counting) == 4 and _Counting.calls == 4  # features of another OpenCV are not reused


def test_corrupt_entry_is_recomputed_and_repaired(synthetic_data, counting, tmp_path):
    cache = FeatureCache(tmp_path / "c")
    items = _items(synthetic_data, 3)
    first = _extract(items, synthetic_data.videos, cache)
    entries = sorted((tmp_path / "c" / "counting_test").rglob("*.npz"))
    assert len(entries) == 3
    entries[0].write_bytes(entries[0].read_bytes()[:50])
    second = _extract(items, synthetic_data.videos, cache)
    assert len(counting) == 4 and _Counting.calls == 4  # only the damaged entry was recomputed
    assert np.array_equal(first.values, second.values, equal_nan=True)
    _extract(items, synthetic_data.videos, cache)
    assert len(counting) == 4  # and it was written back


def test_cli_writes_cache_under_env_dir_only(synthetic_data, monkeypatch, tmp_path):
    from aigvqa.cli import app

    cache_dir = tmp_path / "env-cache"
    monkeypatch.setenv(CACHE_ENV, str(cache_dir))
    runner = CliRunner()
    args = ["train", str(synthetic_data.train_json), "--features", "lexical", "--workers", "1", "-q"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "m1")])
    assert result.exit_code == 0, result.output
    assert list((cache_dir / "lexical").rglob("*.npz"))
    n_prompts = len({r["prompt"] for r in synthetic_data.records})
    assert len(list(cache_dir.rglob("*.npz"))) == n_prompts  # one entry per unique prompt

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "unused"))
    result = runner.invoke(app, [*args, "--no-cache", "--out", str(tmp_path / "m2")])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "unused").exists()
    meta1 = json.loads((tmp_path / "m1" / "model.json").read_text())
    meta2 = json.loads((tmp_path / "m2" / "model.json").read_text())
    assert meta1["feature_names"] == meta2["feature_names"]


def test_usage_counts_entries_and_finds_only_stale_temporaries(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.put("spatial", "s1", "ab" * 16, {"x": 1.0})
    cache.put("spatial", "s1", "cd" * 16, {"x": 2.0})
    cache.put("lexical", "s2", "ef" * 16, {"y": 3.0})
    leftover = tmp_path / "spatial" / "s1" / "ab" / ".tmp-killed.npz"
    leftover.write_bytes(b"partial")
    fresh = tmp_path / "spatial" / "s1" / "cd" / ".tmp-writing.npz"
    fresh.write_bytes(b"in progress")
    old = time.time() - 2 * 3600
    os.utime(leftover, (old, old))

    usage = cache.usage()
    assert usage.entries == {"lexical": 1, "spatial": 2}
    assert usage.stale_temporaries == [leftover]  # a young temporary may belong to a running writer
    assert cache.remove_stale_temporaries() == 1
    assert not leftover.exists() and fresh.exists()
    assert cache.get("spatial", "s1", "ab" * 16) == {"x": 1.0}


def test_cache_command_reports_and_cleans(tmp_path, monkeypatch):
    from conftest import run_cli

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    FeatureCache(tmp_path).put("lexical", "s", "ab" * 16, {"y": 1.0})
    leftover = tmp_path / "lexical" / "s" / "ab" / ".tmp-killed.npz"
    leftover.write_bytes(b"partial")
    os.utime(leftover, (time.time() - 7200, time.time() - 7200))
    result = run_cli("cache")
    assert "lexical" in result.output and "1 leftover temporary files" in result.output
    result = run_cli("cache", "--clean")
    assert "removed 1" in result.output and not leftover.exists()


def test_the_copy_writers_temporary_names_are_recognised():
    from aigvqa.video_writing import is_temporary, temporary_path

    for name in ("blur-s0.500-r1.mkv", "base.crf23.mp4", "webm.webm", "no_suffix"):
        assert is_temporary(temporary_path(Path("/cache/augmented/v9-ab") / name).name), name
    # what earlier writers left: a coded family member (no suffix after .tmp), a benchmark's copy (no pid)
    assert is_temporary(".base.crf23.mp4.4242.tmp") and is_temporary(".crf17.mp4.tmp.mp4")
    for name in ("blur-s0.500-r1.mkv", "ab" * 16 + ".npz", ".tmp-x.npz", ".latest.tmp", ".a.mkv.tmp.mp4",
                 ".a.mkv.12.tmp.mp4", ".hidden.mkv"):
        assert not is_temporary(name), name


def test_the_copy_writers_write_under_a_name_the_scan_recognises(tmp_path, monkeypatch):
    """What a writer killed before its rename leaves is what ``aigvqa cache --clean`` looks for."""
    from aigvqa.augment import write_lossless
    from aigvqa.families import _write_h264
    from aigvqa.video_writing import is_temporary, write_coded

    renamed: list[tuple[str, str]] = []
    replace = Path.replace

    def spy(self, target):
        renamed.append((self.name, Path(target).name))
        return replace(self, target)

    monkeypatch.setattr(Path, "replace", spy)
    frames = list(np.full((4, 48, 64, 3), 128, np.uint8))
    write_lossless(tmp_path / "copy.mkv", frames, 8)
    write_coded(tmp_path / "coded.webm", frames, 8, "libvpx-vp9", {"deadline": "realtime"})
    _write_h264(tmp_path / "base.crf23.mp4", frames, 8, 23)
    assert [target for _, target in renamed] == ["copy.mkv", "coded.webm", "base.crf23.mp4"]
    assert all(is_temporary(tmp) for tmp, _ in renamed), renamed
    assert sorted(os.listdir(tmp_path)) == ["base.crf23.mp4", "coded.webm", "copy.mkv"]


def test_stale_temporaries_of_copy_writers_are_counted_and_removed(tmp_path, monkeypatch):
    """A run killed while writing a degraded or coded copy (or a fine-tuning frame file) leaves its
    temporary file in its folder: counted and removed like the cache's own once an hour old, a
    younger one kept."""
    from aigvqa.augment import copy_folder_prefix
    from aigvqa.families import family_folder_prefix
    from aigvqa.video_writing import temporary_path
    from conftest import run_cli

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    augmented = tmp_path / "augmented" / f"{copy_folder_prefix()}ab"
    family = tmp_path / "families" / f"{family_folder_prefix()}cd-n40"
    benchmark = tmp_path / "modern_eval" / "m3-ef-n48"
    frames = tmp_path / "frames" / "settings" / "ab"
    for folder in (augmented, family, benchmark, frames):
        folder.mkdir(parents=True)
    copy = augmented / "blur-s0.500-r1.mkv"
    copy.write_bytes(b"a finished copy")
    stale = [
        temporary_path(augmented / "noise-s0.200-r3.mkv"),
        temporary_path(family / "base.crf23.mp4"),
        family / ".warp-s0.100-r2.crf35.mp4.4242.tmp",  # an earlier aigvqa's coded member
        benchmark / ".crf17.mp4.tmp.mp4",  # an earlier modern_eval.py's copy
        frames / ".tmp-k2j4.npy",  # the fine-tuning frame store's
    ]
    fresh = temporary_path(family / "base.mkv")  # may belong to a run still writing
    old = time.time() - 2 * 3600
    for path in [*stale, fresh]:
        path.write_bytes(b"partial")
    for path in [*stale, copy]:
        os.utime(path, (old, old))

    assert sorted(FeatureCache(tmp_path).usage().stale_temporaries) == sorted(stale)
    result = run_cli("cache")
    assert "5 leftover temporary files" in result.output
    assert "degraded copies (augmented): 0.0 MB" in result.output
    result = run_cli("cache", "--clean")
    assert "removed 5 leftover temporary files" in result.output
    assert not any(p.exists() for p in stale) and fresh.exists() and copy.exists()
    assert FeatureCache(tmp_path).usage().stale_temporaries == []


def test_copies_an_older_version_made_are_reported_and_cleaned(tmp_path, monkeypatch):
    """Copy folders carry their version: those an older aigvqa made are never read again."""
    from aigvqa.augment import copy_folder_prefix
    from aigvqa.families import family_folder_prefix
    from conftest import run_cli

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    current = tmp_path / "augmented" / f"{copy_folder_prefix()}ab"
    family = tmp_path / "families" / f"{family_folder_prefix()}cd-n40"
    old = [tmp_path / "augmented" / "v1-ab", tmp_path / "families" / "f1-cd-n40"]
    for folder in [current, family, *old]:
        folder.mkdir(parents=True)
        (folder / "blur-s0.500-r1.mkv").write_bytes(b"x" * 1000)
    result = run_cli("cache")
    assert "degraded copies (augmented): 0.0 MB" in result.output
    assert "2 folders of copies an older aigvqa made" in result.output
    assert all(p.exists() for p in old)
    result = run_cli("cache", "--clean")
    assert "removed 2 folders of outdated copies" in result.output
    assert not any(p.exists() for p in old) and current.exists() and family.exists()
