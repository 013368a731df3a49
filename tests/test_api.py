"""The Python API: load, score (files and frames in memory), score_many, explain, train, predict, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

import aigvqa
from aigvqa.augment import write_lossless

FETV = Path(__file__).resolve().parents[2] / "shared" / "data" / "fetv"


def _decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _clip(seed: int, n: int = 20, size: tuple[int, int] = (120, 96)) -> np.ndarray:
    """A moving gradient with texture: frames that differ, so temporal features are not degenerate."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    base = rng.integers(0, 60, (h, w, 3))
    frames = [(base + np.stack([(x + 3 * t) % 256, (y + t) % 256, (x + y) % 256], -1) * 0.7) for t in range(n)]
    return np.clip(frames, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def lossless_clips(tmp_path_factory) -> list[tuple[Path, np.ndarray, float]]:
    """Clips written losslessly (FFV1): three synthetic (one above the 256-px motion side, so
    frames are downscaled; one longer than the spatial sampler's 16 candidates) and, when the
    shared data is present, three FETV GIFs copied to FFV1."""
    root = tmp_path_factory.mktemp("lossless")
    clips = [(_clip(0), 24.0), (_clip(1, n=40, size=(300, 170)), 30.0), (_clip(2, n=9), 8.0)]
    if FETV.is_dir():
        for gif in sorted((FETV / "videos").glob("*.gif"))[:3]:
            clips.append((_decode(gif), 8.0))
    out = []
    for i, (frames, fps) in enumerate(clips):
        path = root / f"clip{i}.mkv"
        write_lossless(path, list(frames), fps)
        out.append((path, _decode(path), fps))
    return out


def test_list_models_has_the_bundled_default_with_its_card():
    cards = {c["name"]: c for c in aigvqa.list_models()}
    assert "default" in cards
    assert cards["default"]["licence"] and cards["default"]["summary"]


def test_frames_in_memory_get_the_score_of_the_lossless_file(lossless_clips):
    scorer = aigvqa.load("default", cache=False)
    for path, frames, fps in lossless_clips:
        from_file = scorer.score(path, prompt="a red flower")
        from_memory = scorer.score(frames, prompt="a red flower", fps=fps)
        assert from_file.error is None and from_memory.error is None
        assert abs(from_file.score - from_memory.score) <= 1e-6, path.name
        assert [a for a, _ in from_file.reasons] == [a for a, _ in from_memory.reasons]
        assert [c for _, c in from_file.reasons] == pytest.approx([c for _, c in from_memory.reasons], abs=1e-6)
        assert 1.0 <= from_file.score <= 5.0


def test_a_torch_tensor_scores_like_its_array(lossless_clips):
    torch = pytest.importorskip("torch")
    _, frames, fps = lossless_clips[0]
    scorer = aigvqa.load("default", cache=False)
    as_array = scorer.score(frames, fps=fps, reasons=False).score
    assert scorer.score(torch.from_numpy(frames), fps=fps, reasons=False).score == as_array
    channels_first = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255  # (T, 3, H, W) in [0, 1]
    assert scorer.score(channels_first, fps=fps, reasons=False).score == pytest.approx(as_array, abs=1e-6)


def test_score_many_keeps_order_and_names_a_bad_file(lossless_clips, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    scorer = aigvqa.load("default")
    paths = [p for p, _, _ in lossless_clips]
    one_by_one = [scorer.score(p).score for p in paths]
    results = scorer.score_many([paths[0], broken, *paths[1:]], workers=0)
    assert [r.video for r in results] == [str(paths[0]), str(broken), *map(str, paths[1:])]
    assert results[1].error and "not a readable video" in results[1].error
    assert np.isfinite(results[1].score)  # the fallback score, never a lost item
    assert [r.score for r in results if r.error is None] == pytest.approx(one_by_one, abs=1e-6)
    mixed = scorer.score_many([paths[0], lossless_clips[0][1]], fps=[None, lossless_clips[0][2]])
    assert mixed[0].score == pytest.approx(mixed[1].score, abs=1e-6)
    assert mixed[1].video == "<frames 1>"


def test_frames_are_checked_with_a_clear_message():
    scorer = aigvqa.load("default", cache=False)
    with pytest.raises(ValueError, match="fps"):
        scorer.score(np.zeros((4, 32, 32, 3), np.uint8))
    bad = scorer.score(np.zeros((4, 32, 32), np.uint8), fps=24)
    assert bad.error and "(T, H, W, 3)" in bad.error
    assert scorer.score(np.zeros((4, 32, 32, 3), np.float32), fps=24).error.startswith("frames must be uint8")


def test_same_frames_in_any_container_give_the_same_features(tmp_path):
    """Sampling depends on the decoded frame count only, never on the header's (MKV has none)."""
    from aigvqa.video import read_clip

    frames = _clip(3, n=37, size=(96, 64))
    clips = []
    for ext in ("mkv", "avi"):
        path = tmp_path / f"c.{ext}"
        with av.open(str(path), "w") as out:
            stream = out.add_stream("ffv1", rate=24)
            stream.width, stream.height, stream.pix_fmt = 96, 64, "bgr0"
            for f in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        clips.append(read_clip(path))
    assert clips[0].frame_numbers == clips[1].frame_numbers
    assert np.array_equal(clips[0].frames, clips[1].frames) and np.array_equal(clips[0].motion, clips[1].motion)


def test_explain_gives_the_score_and_its_parts(lossless_clips):
    scorer = aigvqa.load("default", cache=False)
    path, frames, fps = lossless_clips[0]
    expl = scorer.explain(path)
    assert expl.score == pytest.approx(scorer.score(path).score, abs=1e-9)
    assert expl.by_artifact and expl.by_extractor
    assert scorer.explain(frames, fps=fps).score == pytest.approx(expl.score, abs=1e-6)


def test_train_predict_evaluate_round_trip(synthetic_data, tmp_path):
    scorer = aigvqa.train(synthetic_data.train_json, videos=synthetic_data.videos, out=tmp_path / "model",
                          features="classic,lexical", workers=0)  # fmt: skip
    assert scorer.training.n_items == len(synthetic_data.records) and not scorer.training.errors
    assert (tmp_path / "model" / "model.json").is_file()
    preds = aigvqa.predict(synthetic_data.test_json, videos=synthetic_data.videos, model=tmp_path / "model",
                           out=tmp_path / "pred.json", zip=tmp_path / "sub.zip", workers=0)  # fmt: skip
    written = json.loads((tmp_path / "pred.json").read_text())
    assert [r["video"] for r in written] == [r["video"] for r in synthetic_data.test_records]
    assert [r["predict_score"] for r in written] == pytest.approx(list(preds.scores))
    assert (tmp_path / "sub.zip").is_file()
    same = aigvqa.predict(synthetic_data.test_json, videos=synthetic_data.videos, model=scorer, workers=0)
    assert np.array_equal(same.scores, preds.scores)
    metrics = aigvqa.evaluate(tmp_path / "pred.json", synthetic_data.train_json, by="artifact")
    assert metrics["n"] == len(synthetic_data.records) and -1 <= metrics["score"] <= 1
    assert set(metrics["groups"]) == {r["artifact"] for r in synthetic_data.records}
    # a Scorer scores a file with the score predict gave its item
    first = synthetic_data.test_records[0]
    direct = scorer.score(synthetic_data.videos / first["video"], prompt=first["prompt"]).score
    assert direct == pytest.approx(float(preds.scores[0]), abs=1e-9)


def test_cross_validate_summarises_each_metric(synthetic_data):
    result = aigvqa.cross_validate(synthetic_data.train_json, videos=synthetic_data.videos, folds=3, repeats=1,
                                   features="classic,lexical", regressor="ridge", workers=0)  # fmt: skip
    assert result["n"] == len(synthetic_data.records)
    assert set(result["score"]) == {"median", "min", "max", "std"}


def test_load_names_what_is_wrong(tmp_path):
    with pytest.raises(aigvqa.api.ModelError, match="neither a model directory nor a bundled model"):
        aigvqa.load(tmp_path / "nowhere")
