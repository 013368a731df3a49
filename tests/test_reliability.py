"""Reliability of batch scoring.

* unusual but valid videos (1 frame, 16x16, 4K, odd sizes, grayscale, variable frame rate, a
  2-minute clip, VP9, MJPEG, MOV, GIF, HEVC 10-bit, AV1) are read and scored normally;
* broken inputs (empty, truncated, not a video, audio only, no frames, missing, a directory)
  never lose the batch: they get the fallback score and are listed in ``<pred>.errors.json``;
* predictions do not depend on ``--workers``; a fully cached run starts no worker process;
* damaged cache entries are recomputed; a run killed with SIGKILL resumes from the cache and
  gives byte-identical output; Ctrl-C exits cleanly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from aigvqa.cli import app
from aigvqa.synthetic import write_video
from aigvqa.video import VideoError, read_clip

# -- inputs ----------------------------------------------------------------------------------


def _moving(n: int, height: int, width: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth colour gradient with a white bar moving 3 px per frame (cheap to encode)."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.zeros((height, width, 3), np.uint8)
    base[..., 0] = x * 255 // max(width - 1, 1)
    base[..., 1] = y * 255 // max(height - 1, 1)
    base[..., 2] = (37 * seed) % 256
    frames = []
    for i in range(n):
        f = base.copy()
        col = (3 * i + 7 * seed) % max(width - 2, 1)
        f[:, col : col + 2] = 255
        frames.append(f)
    return frames


def _write(path: Path, codec: str, frames, fps: int = 10, pix_fmt: str = "yuv420p", options=None, fmt="rgb24"):
    """Encode frames with PyAV directly (codecs and containers write_video does not cover)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        stream.options = dict(options or {})
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format=fmt)))
        container.mux(stream.encode())
    return path


def _write_vfr(path: Path) -> float:
    """30 frames with 33 ms and 100 ms gaps (ms time base); returns the true span in seconds."""
    gaps = [100 if i % 3 == 0 else 33 for i in range(30)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for frame, gap in zip(_moving(30, 48, 64), gaps, strict=True):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = t, Fraction(1, 1000)
            t += gap
            container.mux(stream.encode(vf))
        container.mux(stream.encode())
    return (t - gaps[-1]) / 1000 * 30 / 29  # (last - first) * n / (n - 1)


def _write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _write_no_frames(path: Path) -> Path:
    """A container with a video stream header and not a single frame."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    container.start_encoding()
    container.close()
    return path


def _encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
        return True
    except Exception:
        return False


# name -> expected (width, height, frames); AV1 only where libsvtav1 is available
UNUSUAL = {
    "one_frame.mp4": (32, 32, 1),
    "tiny_16x16.mp4": (16, 16, 6),
    "uhd_3840x2160.mp4": (3840, 2160, 3),
    "odd_33x17_mjpeg.avi": (33, 17, 5),
    "odd_33x17_ffv1.mkv": (33, 17, 5),
    "grayscale.mp4": (64, 48, 6),
    "vfr.mkv": (64, 48, 30),
    "two_minutes.mp4": (32, 24, 1200),
    "vp9.webm": (64, 48, 8),
    "mjpeg.avi": (64, 48, 8),
    "quicktime.mov": (64, 48, 8),
    "animation.gif": (64, 48, 8),
    "hevc_10bit.mp4": (64, 48, 6),
    "av1.mp4": (64, 64, 6),
}
BROKEN = {  # name -> a fragment of the reason
    "empty.mp4": "empty",
    "truncated.mp4": "not a readable video",
    "not_a_video.mp4": "not a readable video",
    "audio_only.m4a": "no video stream",
    "no_frames.mkv": "",
    "missing.mp4": "not found",
    "folder.mp4": "directory",
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    """Unusual and broken videos in one directory, plus the VFR clip's true duration."""
    d = tmp_path_factory.mktemp("reliability-videos")
    write_video(d / "one_frame.mp4", _moving(1, 32, 32), 10)
    write_video(d / "tiny_16x16.mp4", _moving(6, 16, 16), 10)
    _write(d / "uhd_3840x2160.mp4", "libx264", _moving(3, 2160, 3840), options={"preset": "ultrafast"})
    write_video(d / "odd_33x17_mjpeg.avi", _moving(5, 17, 33), 10, "mjpeg")
    write_video(d / "odd_33x17_ffv1.mkv", _moving(5, 17, 33), 10, "ffv1")
    gray = [np.ascontiguousarray(f[..., 1]) for f in _moving(6, 48, 64)]
    _write(d / "grayscale.mp4", "libx264", gray, pix_fmt="gray", fmt="gray")
    vfr_span = _write_vfr(d / "vfr.mkv")
    write_video(d / "two_minutes.mp4", _moving(1200, 24, 32), 10)
    write_video(d / "vp9.webm", _moving(8, 48, 64), 10, "libvpx-vp9")
    write_video(d / "mjpeg.avi", _moving(8, 48, 64), 10, "mjpeg")
    _write(d / "quicktime.mov", "libx264", _moving(8, 48, 64))
    write_video(d / "animation.gif", _moving(8, 48, 64), 10, "gif")
    _write(d / "hevc_10bit.mp4", "libx265", _moving(6, 48, 64), pix_fmt="yuv420p10le",
           options={"x265-params": "log-level=none"})
    unusual = dict(UNUSUAL)
    if _encoder("libsvtav1"):
        _write(d / "av1.mp4", "libsvtav1", _moving(6, 64, 64), options={"preset": "12"})
    else:
        del unusual["av1.mp4"]
    (d / "empty.mp4").write_bytes(b"")
    good = (d / "two_minutes.mp4").read_bytes()  # index at the end: a cut file is unreadable
    (d / "truncated.mp4").write_bytes(good[: len(good) // 3])
    (d / "not_a_video.mp4").write_text("this is a text file, not a video\n" * 30)
    _write_audio_only(d / "audio_only.m4a")
    _write_no_frames(d / "no_frames.mkv")
    (d / "folder.mp4").mkdir()
    return {"dir": d, "unusual": unusual, "vfr_span": vfr_span}


@pytest.mark.parametrize("name", list(UNUSUAL))
def test_unusual_valid_videos_are_read(inputs, name):
    if name not in inputs["unusual"]:
        pytest.skip(f"no encoder for {name} in this FFmpeg build")
    width, height, n = UNUSUAL[name]
    clip = read_clip(inputs["dir"] / name)
    info = clip.info
    assert (info.width, info.height, info.n_frames) == (width, height, n)
    assert info.decode_errors == 0 and info.fps > 0 and info.duration > 0
    k, h, w, c = clip.frames.shape
    assert k == min(n, 8) and c == 3 and max(h, w) <= 512 and clip.frames.dtype == np.uint8
    assert 1 <= len(clip.motion) <= 192 and max(clip.motion.shape[1:3]) <= 256
    assert clip.frames.std() > 0  # real content, not a blank buffer
    if name == "grayscale.mp4":
        assert np.abs(clip.frames[..., 0].astype(int) - clip.frames[..., 2]).max() <= 2
    if name == "two_minutes.mp4":
        assert info.duration == pytest.approx(120.0)
    if name == "vfr.mkv":  # duration and mean rate from the timestamps, not the nominal 30 fps
        assert info.duration == pytest.approx(inputs["vfr_span"], rel=0.02)
        assert info.fps == pytest.approx(30 / inputs["vfr_span"], rel=0.02)
    again = read_clip(inputs["dir"] / name)  # deterministic
    assert np.array_equal(again.frames, clip.frames) and np.array_equal(again.motion, clip.motion)
    assert again.info == info


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_inputs_raise_a_named_video_error(inputs, name):
    with pytest.raises(VideoError) as caught:
        read_clip(inputs["dir"] / name)
    assert BROKEN[name] in caught.value.reason and "\n" not in caught.value.reason


def test_damaged_stream_keeps_its_readable_frames(tmp_path):
    """Undecodable packets are skipped (and counted); the rest of the video is still used."""
    path = _write(tmp_path / "clip.mkv", "libx264", _moving(30, 48, 64))
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    damaged = tmp_path / "damaged.mkv"
    for _ in range(20):  # flip bytes until the decoder complains but frames survive
        copy = bytearray(data)
        for pos in rng.integers(len(data) // 3, len(data), 20):
            copy[pos] ^= 0xFF
        damaged.write_bytes(copy)
        try:
            info = read_clip(damaged).info
        except VideoError:
            continue
        if info.decode_errors:
            assert 0 < info.n_frames < 30
            assert read_clip(damaged).info == info
            return
    pytest.skip("no corruption pattern produced a partly decodable stream")


# -- predict on a mixed batch ----------------------------------------------------------------


def run_cli(*args, code: int = 0):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def _predict(input_json, model_dir, videos, out, workers, *extra, code: int = 0):
    return run_cli(
        "predict", input_json, "--model", model_dir, "--videos", videos, "--out", out,
        "--workers", workers, "-q", *extra, code=code,
    )


BROKEN_PROMPT = "a red ball bouncing on a wooden floor"


@pytest.fixture(scope="module")
def batch(inputs, synthetic_data, tmp_path_factory) -> dict:
    """A batch mixing normal, unusual and broken videos in one folder, and its input JSON."""
    root = tmp_path_factory.mktemp("batch")
    videos = root / "videos"
    shutil.copytree(inputs["dir"], videos)
    normal = synthetic_data.records[:3]
    for r in normal:
        shutil.copy(synthetic_data.videos / r["video"], videos / r["video"])
    records = [{"video": r["video"], "prompt": r["prompt"]} for r in normal]
    records += [{"video": name, "prompt": f"an unusual video: {name}"} for name in inputs["unusual"]]
    records += [{"video": name, "prompt": BROKEN_PROMPT} for name in BROKEN]
    order = np.random.default_rng(3).permutation(len(records))
    records = [records[i] for i in order]
    input_json = root / "input.json"
    input_json.write_text(json.dumps(records))
    return {"root": root, "videos": videos, "records": records, "json": input_json}


@pytest.fixture(scope="module")
def batch_run(batch, trained_model, tmp_path_factory) -> dict:
    """'aigvqa predict --workers 2' on the mixed batch, with its own empty cache."""
    root = tmp_path_factory.mktemp("batch-run")
    out = root / "preds.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIGVQA_CACHE_DIR", str(root / "cache"))
        result = _predict(batch["json"], trained_model.dir, batch["videos"], out, 2)
    return {"out": out, "cache": root / "cache", "result": result}


def test_every_item_is_scored_and_bad_inputs_are_reported(batch, batch_run):
    preds = json.loads(batch_run["out"].read_text())
    assert [p["video"] for p in preds] == [r["video"] for r in batch["records"]]
    assert all(isinstance(p["predict_score"], float) and np.isfinite(p["predict_score"]) for p in preds)
    errors = json.loads((batch_run["out"].parent / "preds.errors.json").read_text())
    by_video = {e["video"]: e for e in errors}
    assert set(by_video) == set(BROKEN)  # unusual videos are scored normally
    score = {p["video"]: p["predict_score"] for p in preds}
    for name, fragment in BROKEN.items():
        e = by_video[name]
        assert fragment in e["reason"], e
        assert e["fallback"] == "prompt-only model"
        assert batch["records"][e["index"]]["video"] == name
        assert e["predict_score"] == score[name]
    # the fallback depends only on the prompt: every broken item has the same prompt, hence score
    assert len({score[name] for name in BROKEN}) == 1
    stderr = batch_run["result"].stderr
    assert f"{len(BROKEN)} of {len(preds)} videos could not be read" in stderr
    for name in BROKEN:
        assert name in stderr
    assert "preds.errors.json" in stderr


def test_strict_exits_non_zero_but_still_writes_everything(batch, batch_run, trained_model, tmp_path):
    out = tmp_path / "strict.json"
    _predict(batch["json"], trained_model.dir, batch["videos"], out, 1, "--strict", code=1)
    assert out.read_bytes() == batch_run["out"].read_bytes()
    assert (tmp_path / "strict.errors.json").exists()


def test_predictions_do_not_depend_on_workers(batch, batch_run, trained_model, tmp_path, monkeypatch):
    monkeypatch.setenv("AIGVQA_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "one_worker.json"
    _predict(batch["json"], trained_model.dir, batch["videos"], out, 1)
    assert out.read_bytes() == batch_run["out"].read_bytes()
    assert (tmp_path / "one_worker.errors.json").read_bytes() == (
        batch_run["out"].parent / "preds.errors.json"
    ).read_bytes()


def test_fully_cached_run_starts_no_worker_process(batch, batch_run, trained_model, tmp_path, monkeypatch):
    import aigvqa.executors

    def no_pool(workers):
        raise AssertionError("a process pool was started although every feature is cached")

    monkeypatch.setattr(aigvqa.executors, "_pool", no_pool)
    monkeypatch.setenv("AIGVQA_CACHE_DIR", str(batch_run["cache"]))
    out = tmp_path / "cached.json"
    _predict(batch["json"], trained_model.dir, batch["videos"], out, 2)  # unreadable files are remembered too
    assert out.read_bytes() == batch_run["out"].read_bytes()


def test_damaged_cache_entries_are_recomputed(batch, batch_run, trained_model, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    shutil.copytree(batch_run["cache"], cache)
    entries = sorted(cache.rglob("*.npz"))
    assert len(entries) > 20
    rng = np.random.default_rng(0)
    damaged = [entries[i] for i in rng.choice(len(entries), 12, replace=False)]
    for k, path in enumerate(damaged):
        data = bytearray(path.read_bytes())
        if k % 4 == 0:
            path.write_bytes(data[: len(data) // 2])  # truncated
        elif k % 4 == 1:
            path.write_bytes(b"")  # empty
        elif k % 4 == 2:
            data[len(data) // 3] ^= 0xFF  # flipped byte (CRC mismatch)
            path.write_bytes(data)
        else:
            path.write_bytes(os.urandom(len(data)))  # garbage
    monkeypatch.setenv("AIGVQA_CACHE_DIR", str(cache))
    out = tmp_path / "repaired.json"
    _predict(batch["json"], trained_model.dir, batch["videos"], out, 1)
    assert out.read_bytes() == batch_run["out"].read_bytes()
    from aigvqa.cache import FeatureCache

    store = FeatureCache(cache)
    for path in damaged:  # rewritten whole
        extractor, settings, content = path.parts[-4], path.parts[-3], path.stem
        assert store.get(extractor, settings, content) is not None


# -- interrupted runs ----------------------------------------------------------------------------


def _script() -> list[str]:
    exe = Path(sys.executable).with_name("aigvqa")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from aigvqa.cli import main; main()"]


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process, from /proc."""
    table = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            table[int(d.name)] = (int(fields[1]), fields[0])
    return table


def _descendants(pid: int) -> set[int]:
    table = _proc_table()
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, _) in table.items():
            if ppid == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pids: set[int]) -> set[int]:
    table = _proc_table()
    return {p for p in pids if p in table and table[p][1] != "Z"}


@pytest.fixture(scope="module")
def resumable(synthetic_data, tmp_path_factory) -> dict:
    """24 small clips followed by 8 slower ones (1280x720, 8 s), so a run can be stopped mid-way
    (the slow ones keep a 2-worker run busy for seconds after the first cache entries appear)."""
    root = tmp_path_factory.mktemp("resumable")
    videos = root / "videos"
    videos.mkdir()
    records = [{"video": r["video"], "prompt": r["prompt"]} for r in synthetic_data.records]
    for r in records:
        shutil.copy(synthetic_data.videos / r["video"], videos / r["video"])
    for i in range(8):
        write_video(videos / f"slow_{i}.mp4", _moving(96, 720, 1280, seed=i + 1), 12)
        records.append({"video": f"slow_{i}.mp4", "prompt": f"a slow clip number {i}"})
    (root / "input.json").write_text(json.dumps(records))
    return {"root": root, "videos": videos, "json": root / "input.json"}


@pytest.fixture(scope="module")
def clean_output(resumable, trained_model, tmp_path_factory) -> bytes:
    root = tmp_path_factory.mktemp("clean")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIGVQA_CACHE_DIR", str(root / "cache"))
        _predict(resumable["json"], trained_model.dir, resumable["videos"], root / "p.json", 2)
    return (root / "p.json").read_bytes()


def _start_predict(resumable, trained_model, out: Path, cache: Path, **popen) -> subprocess.Popen:
    cmd = [*_script(), "predict", str(resumable["json"]), "--model", str(trained_model.dir), "--videos",
           str(resumable["videos"]), "--out", str(out), "--workers", "2", "-q"]
    env = dict(os.environ, AIGVQA_CACHE_DIR=str(cache))
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _wait_for_entries(cache: Path, count: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(list(cache.rglob("*.npz"))) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.005)


def _stop_all(pids: set[int]) -> None:
    for p in _running(pids):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_sigkill_then_rerun_resumes_and_gives_identical_output(resumable, trained_model, clean_output, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "p.json"
    proc = _start_predict(resumable, trained_model, out, cache)
    children: set[int] = set()
    try:
        _wait_for_entries(cache, 6, proc)  # two videos done (3 video extractors each)
        children = _descendants(proc.pid)
        proc.kill()  # SIGKILL, to the main process only
        proc.communicate(timeout=30)
        assert not out.exists()  # killed mid-way
        before = {p: p.stat().st_mtime_ns for p in cache.rglob("*.npz")}
        assert before
        # the pool's workers notice their parent died and exit
        deadline = time.monotonic() + 15
        while _running(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(children), "worker processes outlived their killed parent"
    finally:
        _stop_all(children)
    rerun = _start_predict(resumable, trained_model, out, cache)
    stdout, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert out.read_bytes() == clean_output
    for path, mtime in before.items():  # entries written before the kill were reused as they were
        assert path.stat().st_mtime_ns == mtime


def test_ctrl_c_exits_cleanly(resumable, trained_model, tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "p.json"
    # a run started in the background by a non-interactive shell inherits an ignored SIGINT, which
    # Python keeps ignored: give the child the terminal's default, as a user at a terminal has it
    proc = _start_predict(resumable, trained_model, out, cache, start_new_session=True,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    children: set[int] = set()
    try:
        _wait_for_entries(cache, 3, proc)
        children = _descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C
        stdout, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130, stderr
        assert "interrupted" in stderr and "Traceback" not in stderr + stdout
        assert not out.exists()
        deadline = time.monotonic() + 15
        while _running(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(children)
    finally:
        _stop_all(children)
