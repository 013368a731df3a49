"""Artifact augmentation: graded degraded copies of labelled clips, with lowered targets.

Human labels on generated video are few and full of confounds (on FETV, the better generators
also make sharper, noisier-looking texture). Augmentation teaches a model what the labels
alone cannot: that blur, noise, flicker, frozen or stuttering frames, shake, warping, colour
drift and low-bitrate compression make a clip worse, and that its size does not.

For every labelled clip and every artifact, ``copies`` degraded versions are made at seeded
random severities ``s`` in ``[min_severity, 1]``, with target

    y' = y - drop * s * (y - floor)

(``drop_by_artifact`` gives some artifacts a factor of their own: one the features find subtle,
such as warping, needs a steeper fall to be learned as firmly as the others), so a clip falls
towards the bottom of the scale in proportion to the artifact's severity and to how far it had
to fall: a strong artifact makes a good clip poor, and a poor clip stays
poor (it cannot fall below the floor of the scale). Rescaled copies (``scales``, e.g. half and
double size, good interpolation) keep the clip's target: size is not quality.

Copies are written losslessly (FFV1), content-addressed under the feature cache's folder, so
they are made once and their features are cached like any video's.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from aigvqa.artifacts import ARTIFACTS, degrade
from aigvqa.cache import file_digest
from aigvqa.data import Item
from aigvqa.video_writing import write_coded

AUGMENT_VERSION = "3"  # bump when the copies made for the same settings change
AUGMENT_FOLDER = "augmented"  # under the cache root


@dataclass(frozen=True)
class AugmentConfig:
    """What degraded copies to make for each labelled clip, and their targets."""

    artifacts: tuple[str, ...] = ARTIFACTS
    copies: int = 1  # degraded copies per clip and artifact
    min_severity: float = 0.2
    drop: float = 0.8  # y' = y - drop * s * (y - floor)
    drop_by_artifact: dict[str, float] | None = None  # per-artifact factors instead of ``drop``
    floor: float = 1.0  # the bottom of the score scale
    scales: tuple[float, ...] = (0.5, 2.0)  # rescaled copies with unchanged targets
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.artifacts) - set(ARTIFACTS))
        if unknown:
            raise ValueError(f"augment: unknown artifacts {unknown}; choose from {', '.join(ARTIFACTS)}")
        if not 0 <= self.min_severity <= 1 or not 0 <= self.drop <= 1 or self.copies < 0:
            raise ValueError("augment: need 0 <= min_severity <= 1, 0 <= drop <= 1 and copies >= 0")
        own = dict(self.drop_by_artifact or {})
        unknown = sorted(set(own) - set(ARTIFACTS))
        if unknown:
            raise ValueError(f"augment: drop_by_artifact names unknown artifacts {unknown}")
        if not all(isinstance(v, int | float) and 0 <= v <= 1 for v in own.values()):
            raise ValueError(f"augment: drop_by_artifact factors must be numbers in [0, 1], got {own}")
        if any(s <= 0 for s in self.scales):
            raise ValueError(f"augment: scales must be positive, got {self.scales}")

    @classmethod
    def from_dict(cls, d: dict) -> AugmentConfig:
        d = dict(d)
        for key in ("artifacts", "scales"):
            if key in d:
                d[key] = tuple(d[key])
        if isinstance(d.get("drop_by_artifact"), dict):  # a copy: the recipe's dict may change later
            d["drop_by_artifact"] = dict(d["drop_by_artifact"])
        try:
            return cls(**d)
        except TypeError as exc:
            raise ValueError(f"augment: {exc}") from None

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def drop_for(self, artifact: str | None) -> float:
        """The factor ``drop`` of ``artifact`` (its own in ``drop_by_artifact``, else ``drop``)."""
        return float((self.drop_by_artifact or {}).get(artifact, self.drop)) if artifact else self.drop

    def target(self, y: float, severity: float, artifact: str | None = None) -> float:
        """The target of a copy of a clip scored ``y`` degraded by ``artifact`` at ``severity``."""
        return float(y - self.drop_for(artifact) * severity * max(y - self.floor, 0.0))


@dataclass(frozen=True)
class Variant:
    """One copy to make of a clip: an artifact at a severity, or a rescaling (artifact None)."""

    artifact: str | None
    severity: float = 0.0
    scale: float = 1.0
    seed: int = 0

    @property
    def tag(self) -> str:
        if self.artifact is None:
            return f"scale{self.scale:g}"
        return f"{self.artifact}-s{self.severity:.3f}-r{self.seed}"


def stable_seed(*parts: object) -> int:
    """A seed that depends only on ``parts`` (not on Python's hash randomisation)."""
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little") >> 1


def plan(video: str, config: AugmentConfig) -> list[Variant]:
    """The copies made of one clip (depends only on its name and the settings)."""
    out = []
    for artifact in config.artifacts:
        for c in range(config.copies):
            rng = np.random.default_rng(stable_seed(config.seed, video, artifact, c))
            s = round(float(rng.uniform(config.min_severity, 1.0)), 3)
            out.append(Variant(artifact, s, seed=int(rng.integers(2**31))))
    out.extend(Variant(None, scale=float(f)) for f in config.scales)
    return out


def read_frames(path: str | os.PathLike) -> tuple[list[np.ndarray], float]:
    """Every frame of a video as uint8 RGB, and its frame rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or 0
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    if not frames:
        raise ValueError("no frames decoded")
    fps = float(rate) if rate else 8.0
    return frames, fps if 1 <= fps <= 240 else 8.0


def rescale(frames: list[np.ndarray], factor: float) -> list[np.ndarray]:
    """Frames resized by ``factor`` (area averaging down, Lanczos up), at least 2 px a side."""
    h, w = frames[0].shape[:2]
    size = (max(2, round(w * factor)), max(2, round(h * factor)))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LANCZOS4
    return [cv2.resize(f, size, interpolation=interp) for f in frames]


def write_lossless(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """Write RGB frames losslessly (FFV1 in Matroska) atomically: decoding gives them back exactly,
    and the same frames give the same bytes (no random segment id or date), so a copy made again
    keeps its features' cache entries (they are keyed by the file's digest). A writer killed
    mid-write leaves a temporary file :func:`aigvqa.video_writing.is_temporary` recognises."""
    write_coded(path, frames, fps, "ffv1", {"threads": "1"}, pix_fmt="bgr0")


def make_variant(frames: list[np.ndarray], fps: float, variant: Variant) -> list[np.ndarray]:
    """The frames of one copy."""
    if variant.artifact is None:
        return rescale(frames, variant.scale)
    return degrade(frames, fps, [(variant.artifact, variant.severity)], variant.seed)


def copy_folder_prefix() -> str:
    """How the names of this version's copy folders start (older folders are never read)."""
    return f"v{AUGMENT_VERSION}-"


def copy_folder(root: str | os.PathLike, src: str | os.PathLike) -> Path:
    """Where the copies of video file ``src`` live: named by the file's content, not its name."""
    return Path(root) / f"{copy_folder_prefix()}{file_digest(src)}"


def make_copies(src: str, out_dir: str, variants: list[Variant]) -> list[str | None]:
    """Write the copies of one clip (existing ones are kept); paths, or None where one failed (a
    warning names it)."""
    out = Path(out_dir)
    paths = [out / f"{v.tag}.mkv" for v in variants]
    if all(p.exists() for p in paths):
        return [str(p) for p in paths]
    try:
        frames, fps = read_frames(src)
    except Exception:  # an unreadable source is reported by feature extraction as usual
        return [None] * len(variants)
    out.mkdir(parents=True, exist_ok=True)
    done: list[str | None] = []
    for v, p in zip(variants, paths, strict=True):
        try:
            if not p.exists():
                write_lossless(p, make_variant(frames, fps, v), fps)
            done.append(str(p))
        except Exception as exc:
            warn_copy_failed(src, v.tag, exc)
            done.append(None)
    return done


def warn_copy_failed(src: str, tag: str, exc: Exception) -> None:
    """Say which copy (its file's tag) of which file could not be made, and why (training goes on
    without it)."""
    warnings.warn(f"{src}: its {tag} copy could not be made ({type(exc).__name__}: {exc}); "
                  "training goes on without it", RuntimeWarning, stacklevel=2)


def augmented_items(
    items: list[Item], videos_dir: str | os.PathLike | None, root: str | os.PathLike, config: AugmentConfig,
    target: str, workers: int = 0,
) -> tuple[list[Item], list[int]]:
    """Degraded and rescaled copies of ``items`` as new labelled items, and each one's source index.

    Copies live under ``root/<digest of the source file>/``; an item whose video cannot be read
    gets no copies (its own failure is reported by feature extraction)."""
    tasks, owners = [], []
    for i, it in enumerate(items):
        src = Path(videos_dir or "") / it.video
        if not src.is_file() or it.target(target) is None:
            continue
        tasks.append((str(src), str(copy_folder(root, src)), plan(it.video, config)))
        owners.append(i)
    if workers and workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(make_copies, *zip(*tasks, strict=True), chunksize=4))
    else:
        results = [make_copies(*t) for t in tasks]
    new_items, sources = [], []
    for owner, (_, _, variants), paths in zip(owners, tasks, results, strict=True):
        it = items[owner]
        y = float(it.target(target))
        for v, p in zip(variants, paths, strict=True):
            if p is None:
                continue
            yv = y if v.artifact is None else config.target(y, v.severity, v.artifact)
            meta = {**it.meta, target: yv, "augmented_from": it.video, "artifact": v.artifact or "rescale",
                    "severity": v.severity, "scale": v.scale}  # fmt: skip
            new_items.append(Item(video=p, prompt=it.prompt, meta=meta))
            sources.append(owner)
    return new_items, sources
