"""Tests for the synthetic labelled-clip generator and the ``write_video`` helper."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from aigvqa.synthetic import ARTIFACTS, make_dataset, render_clip, write_video

FIELDS = {"video", "prompt", "gt_score", "artifact", "severity"}


def _decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _spearman(a: list[float], b: list[float]) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("synthetic")
    return out, make_dataset(out, n_clips=40, seed=0)


def test_items_and_json_files(dataset):
    out, items = dataset
    assert len(items) == 40
    for i, it in enumerate(items):
        assert FIELDS <= set(it)
        assert it["video"] == f"clip_{i:03d}.mp4"
        assert (out / "videos" / it["video"]).is_file()
        assert isinstance(it["prompt"], str) and len(it["prompt"]) > 20
        assert 1.0 <= it["gt_score"] <= 5.0
        assert 0.0 <= it["severity"] <= 1.0
        assert it["artifact"] in ARTIFACTS
    assert json.loads((out / "labels.json").read_text()) == items
    assert json.loads((out / "train.json").read_text()) == items
    assert not (out / "val.json").exists()


def test_all_artifacts_present(dataset):
    _, items = dataset
    assert {it["artifact"] for it in items} == set(ARTIFACTS)


def test_score_falls_with_severity(dataset):
    _, items = dataset
    rho = _spearman([it["severity"] for it in items], [it["gt_score"] for it in items])
    assert rho < -0.8
    rho_c = _spearman([it["combined_severity"] for it in items],
                      [it["gt_score"] for it in items])
    assert rho_c < -0.9


def test_clips_decode_to_requested_shape(dataset):
    out, items = dataset
    for it in items[:: 4]:
        frames = _decode(out / "videos" / it["video"])
        assert frames.shape == (24, 96, 128, 3)


def test_deterministic_and_prefix_stable(tmp_path, dataset):
    first = make_dataset(tmp_path / "a", n_clips=8, seed=0)
    second = make_dataset(tmp_path / "b", n_clips=8, seed=0)
    assert first == second
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert files_a == files_b
    # clip i depends only on (seed, i): the 40-clip dataset starts with the same clips
    out, items = dataset
    assert first == items[:8]
    for it in first:
        assert files_a[f"videos/{it['video']}"] == (out / "videos" / it["video"]).read_bytes()


def test_seed_changes_dataset(tmp_path, dataset):
    other = make_dataset(tmp_path, n_clips=3, seed=1)
    assert [it["prompt"] for it in other] != [it["prompt"] for it in dataset[1][:3]]


def test_split_and_other_codec_and_size(tmp_path):
    items = make_dataset(tmp_path, n_clips=5, seed=2, size=(64, 48), n_frames=6, fps=8,
                         codec="libvpx-vp9", split=0.4)
    assert all(it["video"].endswith(".webm") for it in items)
    train = json.loads((tmp_path / "train.json").read_text())
    val = json.loads((tmp_path / "val.json").read_text())
    assert len(val) == 2 and len(train) == 3
    assert {it["video"] for it in train} | {it["video"] for it in val} == {
        it["video"] for it in items}
    frames = _decode(tmp_path / "videos" / items[0]["video"])
    assert frames.shape == (6, 48, 64, 3)


@pytest.mark.parametrize("artifact", ARTIFACTS)
def test_artifact_changes_frames_with_severity(artifact):
    def render(s: float) -> np.ndarray:
        frames, _ = render_clip(np.random.default_rng(5), [(artifact, s)], (64, 48), 12, 12)
        return np.stack(list(frames)).astype(np.float32)

    clean, _ = render_clip(np.random.default_rng(5), [], (64, 48), 12, 12)
    clean_frames = np.stack(list(clean)).astype(np.float32)
    np.testing.assert_array_equal(render(0.0), clean_frames)
    mild = np.abs(render(0.2) - clean_frames).mean()
    strong = np.abs(render(1.0) - clean_frames).mean()
    assert strong > mild
    assert strong > 1.0


def test_freeze_repeats_frames():
    frames, _ = render_clip(np.random.default_rng(0), [("freeze", 0.5)], (64, 48), 21, 12)
    frames = np.stack(list(frames))
    repeats = sum(np.array_equal(a, b) for a, b in zip(frames[:-1], frames[1:], strict=True))
    assert repeats == 10


CODECS = [("libx264", ".mp4", 8), ("libvpx-vp9", ".webm", 10), ("gif", ".gif", 30),
          ("mjpeg", ".avi", 6), ("ffv1", ".mkv", 0)]


def _smooth_frames(t: int, h: int, w: int) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w]
    frames = [np.stack([(xs * 255 // w + 9 * i) % 256, ys * 255 // h,
                        np.full_like(xs, 40 * i % 256)], -1) for i in range(t)]
    return np.asarray(frames, np.uint8)


@pytest.mark.parametrize(("codec", "ext", "tol"), CODECS)
def test_write_video_codecs(tmp_path, codec, ext, tol):
    frames = _smooth_frames(7, 48, 64)
    path = write_video(tmp_path / f"clip{ext}", frames, fps=10, codec=codec)
    decoded = _decode(path)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() <= tol


@pytest.mark.parametrize("codec", ["mjpeg", "ffv1", "gif", "libvpx-vp9"])
def test_write_video_odd_size(tmp_path, codec):
    frames = _smooth_frames(3, 33, 47)
    path = write_video(tmp_path / f"odd{dict((c, e) for c, e, _ in CODECS)[codec]}", frames,
                       fps=10, codec=codec)
    assert _decode(path).shape == frames.shape


def test_write_video_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="even width and height"):
        write_video(tmp_path / "odd.mp4", _smooth_frames(2, 33, 48), fps=10)
    with pytest.raises(ValueError, match="unsupported codec"):
        write_video(tmp_path / "x.mp4", _smooth_frames(2, 32, 48), fps=10, codec="nope")
    with pytest.raises(ValueError):
        write_video(tmp_path / "gray.mp4", np.zeros((2, 32, 48), np.uint8), fps=10)
    with pytest.raises(ValueError, match="even width and height"):
        make_dataset(tmp_path / "ds", n_clips=1, size=(65, 48))
