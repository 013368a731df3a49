"""Families of graded copies: a clip, its degraded copies at known severities, and copies that
must not change its quality (other sizes). They need no human label.

What a clip without a human score can still teach: how much of each artifact a copy shows
(the severity applied to it), and that a copy is no better than its source. The dimension
estimators (:mod:`aigvqa.dimensions`) learn from such families of FETV's and of modern
generators' clips.

A family's source is the clip's first ``max_frames`` frames, written losslessly (so a long
720p clip costs what a two-second one does); each artifact gets ``copies`` copies whose
severities are drawn log-uniformly from ``[min_severity, 1]``, one per stratum, so faint
artifacts (a few hundredths) are as well represented as strong ones. With ``coded`` (libx264
CRFs), every member is also written as an H.264 MP4 at each rate, as a user's script writes a
degraded copy: the dimensions then learn an artifact as it looks after an encoder smoothed it
(a trace of noise coded at CRF 23 leaves little of its per-pixel grain), and that a plain
re-encode is none of them.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from aigvqa.artifacts import ARTIFACTS, encode_h264
from aigvqa.augment import Variant, make_variant, stable_seed, warn_copy_failed, write_lossless
from aigvqa.cache import file_digest
from aigvqa.data import Item
from aigvqa.video_writing import atomic_path

FAMILY_VERSION = "3"  # bump when the copies made for the same settings change
FAMILY_FOLDER = "families"  # under the cache root


@dataclass(frozen=True)
class FamilyConfig:
    """Which graded copies make up a clip's family."""

    artifacts: tuple[str, ...] = ARTIFACTS
    copies: int = 2  # per artifact, one per log-spaced stratum of [min_severity, 1]
    min_severity: float = 0.02
    max_frames: int = 40  # the family's source: the clip's first frames
    scales: tuple[float, ...] = (0.5, 2.0)
    seed: int = 0
    coded: tuple[int, ...] = ()  # libx264 CRFs: every member also written as an H.264 MP4 at each

    def __post_init__(self) -> None:
        unknown = sorted(set(self.artifacts) - set(ARTIFACTS))
        if unknown:
            raise ValueError(f"families: unknown artifacts {unknown}")
        if not 0 < self.min_severity <= 1 or self.copies < 0 or self.max_frames < 2:
            raise ValueError("families: need 0 < min_severity <= 1, copies >= 0 and max_frames >= 2")
        if any(not isinstance(c, int) or isinstance(c, bool) or not 0 <= c <= 51 for c in self.coded):
            raise ValueError(f"families: coded must list libx264 CRFs (integers 0-51), got {list(self.coded)}")

    @classmethod
    def from_dict(cls, d: dict) -> FamilyConfig:
        d = {k: tuple(v) if k in ("artifacts", "scales", "coded") else v for k, v in d.items()}
        try:
            return cls(**d)
        except TypeError as exc:
            raise ValueError(f"families: {exc}") from None


def load_unlabelled(folder: str | os.PathLike, split: str = "train") -> list[Item]:
    """The clips of one split of a folder laid out like ``shared/data/modern`` (``manifest.json``
    listing ``video`` paths relative to it, with ``split``, ``prompt``, ``generator``), as items
    with absolute paths."""
    import json

    folder = Path(folder).resolve()
    entries = json.loads((folder / "manifest.json").read_text())
    return [
        Item(video=str(folder / e["video"]), prompt=e.get("prompt", ""), meta={"generator": e.get("generator")})
        for e in entries
        if e.get("split") == split
    ]


def plan(video: str, config: FamilyConfig) -> list[Variant]:
    """The copies of one clip (depends only on the settings, its file name and its folder's name,
    so a clip gets the same family wherever its folder lies)."""
    video = "/".join(Path(video).parts[-2:])
    out = []
    lo, k = math.log(config.min_severity), max(config.copies, 1)
    for artifact in config.artifacts:
        for c in range(config.copies):
            rng = np.random.default_rng(stable_seed("family", config.seed, video, artifact, c))
            u = (c + float(rng.uniform())) / k  # stratified: copy c falls in the c-th stratum
            s = round(math.exp(lo * (1 - u)), 4)
            out.append(Variant(artifact, s, seed=int(rng.integers(2**31))))
    out.extend(Variant(None, scale=float(f)) for f in config.scales)
    return out


def read_head(path: str | os.PathLike, max_frames: int) -> tuple[list[np.ndarray], float]:
    """The first ``max_frames`` frames of a video as uint8 RGB, and its frame rate."""
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or 0
        for f in container.decode(stream):
            frames.append(f.to_ndarray(format="rgb24"))
            if len(frames) >= max_frames:
                break
    if not frames:
        raise ValueError("no frames decoded")
    fps = float(rate) if rate else 8.0
    return frames, fps if 1 <= fps <= 240 else 8.0


def family_folder_prefix() -> str:
    """How the names of this version's family folders start (older folders are never read)."""
    return f"f{FAMILY_VERSION}-"


def family_folder(root: str | os.PathLike, src: str | os.PathLike, config: FamilyConfig) -> Path:
    """Where the family of video file ``src`` lives: named by the file's content and the length kept."""
    return Path(root) / f"{family_folder_prefix()}{file_digest(src)}-n{config.max_frames}"


def coded_path(path: Path, crf: int) -> Path:
    """Where a member written losslessly at ``path`` is kept coded at ``crf``."""
    return path.with_name(f"{path.stem}.crf{crf}.mp4")


def make_family(
    src: str, out_dir: str, variants: list[Variant], max_frames: int, coded: tuple[int, ...] = ()
) -> list[str | None]:
    """Write a clip's source (``base.mkv``) and copies (existing files are kept), and each also coded
    at every CRF of ``coded``; paths, base first, each member followed by its coded files, or None
    where one failed (a warning names it)."""
    out = Path(out_dir)
    tags = ["base"] + [v.tag for v in variants]
    groups = [[p, *(coded_path(p, c) for c in coded)] for p in (out / f"{t}.mkv" for t in tags)]
    paths = [q for group in groups for q in group]
    if all(p.exists() for p in paths):
        return [str(p) for p in paths]
    try:
        frames, fps = read_head(src, max_frames)
    except Exception:
        return [None] * len(paths)
    out.mkdir(parents=True, exist_ok=True)
    done: list[str | None] = []
    for v, t, group in zip([None, *variants], tags, groups, strict=True):
        try:
            if not all(q.exists() for q in group):
                copy = frames if v is None else make_variant(frames, fps, v)
                if not group[0].exists():
                    write_lossless(group[0], copy, fps)
                for q, c in zip(group[1:], coded, strict=True):
                    if not q.exists():
                        _write_h264(q, copy, fps, c)
            done.extend(str(q) for q in group)
        except Exception as exc:
            warn_copy_failed(src, t, exc)
            done.extend([None] * len(group))
    return done


def _write_h264(path: Path, frames: list[np.ndarray], fps: float, crf: int) -> None:
    """An H.264 MP4 at ``crf`` (libx264's default preset, as a user's script writes one), atomically.

    Its bytes are :func:`~aigvqa.artifacts.encode_h264`'s (OpenCV's RGB -> YUV conversion, odd sizes
    padded), not :func:`~aigvqa.video_writing.write_coded`'s: the family's cached features are keyed
    by them."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(encode_h264(frames, fps, crf, preset="medium"))


def family_items(
    items: list[Item],
    videos_dir: str | os.PathLike | None,
    root: str | os.PathLike,
    config: FamilyConfig,
    workers: int = 0,
) -> list[Item]:
    """Every family member of ``items`` as an item with ``family`` (the source video), ``artifact``
    (None for the source and rescaled copies) and ``severity`` in its meta; the prompt is the source's."""
    tasks, owners = [], []
    for i, it in enumerate(items):
        src = Path(videos_dir or "") / it.video
        if not src.is_file():
            continue
        tasks.append((str(src), str(family_folder(root, src, config)), plan(it.video, config), config.max_frames,
                      config.coded))
        owners.append(i)
    if workers and workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(make_family, *zip(*tasks, strict=True)))
    else:
        results = [make_family(*t) for t in tasks]
    out = []
    rates = (None, *config.coded)  # each member's files: the lossless one, then one per CRF
    for owner, (_, _, variants, _, _), paths in zip(owners, tasks, results, strict=True):
        it = items[owner]
        members = (None, *variants)
        for k, p in enumerate(paths):
            if p is None:
                continue
            v = members[k // len(rates)]
            art = v.artifact if v is not None else None
            meta = {"family": it.video, "artifact": art, "severity": v.severity if v is not None else 0.0,
                    "scale": v.scale if v is not None else 1.0}  # fmt: skip
            if config.coded:
                meta["coded"] = rates[k % len(rates)]
            out.append(Item(video=p, prompt=it.prompt, meta=meta))
    return out
