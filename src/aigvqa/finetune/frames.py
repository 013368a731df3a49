"""Frames for fine-tuning: decoding in data-loader workers, a memory-mapped frame cache, views.

Each video is decoded once (PyAV, :func:`aigvqa.video.read_clip`, in a data-loader worker
process) into ``frames`` uint8 RGB frames spread over the clip, stored as one ``.npy`` file in
the frame cache (``$AIGVQA_CACHE_DIR/frames/<settings>/<dd>/<digest>.npy``, keyed like the
feature cache: the video's content digest and the settings that change the stored pixels).
Later epochs memory-map those files and never decode again; a fragment view reads only the
pages it needs. Files are written to a temporary name and renamed, so a killed run never
leaves a partial entry.

Views (what the network sees, ``size`` × ``size`` per frame):

- ``resize``: the shorter side resized to ``size`` (area filter) and the centre cropped; the
  cache stores the views themselves (``size``² × 3 bytes per frame);
- ``fragments`` (FAST-VQA): the frame is cut into a ``grid`` × ``grid`` grid and one
  ``size / grid`` px patch is taken from every cell *at native resolution* (frames are cached
  with their longer side at most ``max_side``, 0 = native), so compression, noise and
  blur artifacts are not hidden by a resize. In training the patches move within their cells
  (the same offsets for every frame of a clip, seeded by (seed, epoch, row)); in evaluation
  they are centred.

All randomness is a function of (seed, epoch, row), never of the worker or process that loads a
row, so one process and N DistributedDataParallel processes see the same pixels.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from aigvqa.cache import default_cache_dir, settings_digest
from aigvqa.video import DECODER_VERSION, SamplingConfig, VideoError, read_clip

VIEWS = ("resize", "fragments")


@dataclass(frozen=True)
class FrameSpec:
    """What is decoded and stored per video, and how a network view is cut from it."""

    frames: int = 8
    size: int = 224
    view: str = "resize"
    grid: int = 7
    max_side: int = 0  # fragments: longer side of the stored frames (0: native resolution)
    flip: bool = False  # training: mirror a clip left-right with probability 1/2

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise ValueError(f"finetune: view must be one of {', '.join(VIEWS)}, got {self.view!r}")
        if not isinstance(self.frames, int) or self.frames < 1:
            raise ValueError(f"finetune: frames must be a positive integer, got {self.frames!r}")
        if not isinstance(self.size, int) or self.size < 16:
            raise ValueError(f"finetune: size must be an integer ≥ 16, got {self.size!r}")
        if self.view == "fragments" and (self.grid < 1 or self.size % self.grid):
            raise ValueError(f"finetune: size ({self.size}) must be a multiple of grid ({self.grid}) for fragments")

    def stored_settings(self) -> dict[str, Any]:
        """The settings that change the stored pixels (the frame cache's settings key)."""
        stored = {"frames": self.frames, "view": self.view, "decoder": DECODER_VERSION}
        if self.view == "resize":
            stored["size"] = self.size
        else:
            stored["max_side"] = self.max_side
        return stored

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _resize_view(frame: np.ndarray, size: int) -> np.ndarray:
    """Shorter side to ``size`` (area filter when shrinking), centre crop ``size`` × ``size``."""
    h, w = frame.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    out = cv2.resize(frame, (nw, nh), interpolation=interp)
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(out[top : top + size, left : left + size])


def decode(path: str, spec: FrameSpec) -> np.ndarray:
    """The stored frames of one video: (frames, H, W, 3) uint8 (raises VideoError)."""
    if spec.view == "resize":
        side = max(2 * spec.size, 512)  # enough pixels for an area-filtered resize to ``size``
    else:
        side = spec.max_side if spec.max_side > 0 else 1 << 16  # 1 << 16: native resolution
    sampling = SamplingConfig(spatial_frames=spec.frames, spatial_side=side, motion_frames=2, motion_side=16)
    clip = read_clip(path, sampling)
    frames = clip.frames
    if len(frames) < spec.frames:  # short clip: repeat frames evenly to the fixed count
        frames = frames[np.linspace(0, len(frames) - 1, spec.frames).round().astype(int)]
    if spec.view == "resize":
        return np.stack([_resize_view(f, spec.size) for f in frames])
    return np.ascontiguousarray(frames)


class FrameStore:
    """The memory-mapped frame cache of one :class:`FrameSpec` (see module docs)."""

    def __init__(self, spec: FrameSpec, root: str | os.PathLike | None = None):
        self.spec = spec
        base = Path(root) if root is not None else default_cache_dir() / "frames"
        self.dir = base / settings_digest(spec.stored_settings())

    def path(self, digest: str) -> Path:
        return self.dir / digest[:2] / f"{digest}.npy"

    def load(self, digest: str) -> np.ndarray | None:
        """The stored frames, memory-mapped (None when absent or unreadable)."""
        path = self.path(digest)
        if not path.exists():
            return None
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return None
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[0] != self.spec.frames or arr.shape[3] != 3:
            return None
        return arr

    def put(self, digest: str, frames: np.ndarray) -> None:
        """Store atomically (temporary file, then rename); a full disk costs speed, not results."""
        path = self.path(digest)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.ascontiguousarray(frames, dtype=np.uint8))
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)

    def get(self, path: str, digest: str) -> np.ndarray:
        """The frames of a video: from the cache, else decoded now and stored (raises VideoError)."""
        arr = self.load(digest)
        if arr is None:
            arr = decode(path, self.spec)
            self.put(digest, arr)
        return arr


def row_rng(seed: int, epoch: int, row: int) -> np.random.Generator:
    """The random stream of one row in one epoch (independent of workers and processes)."""
    return np.random.default_rng([int(seed), int(epoch), int(row), 7919])


def view(frames: np.ndarray, spec: FrameSpec, rng: np.random.Generator | None) -> np.ndarray:
    """The network's input (frames, size, size, 3) uint8 from stored frames; ``rng`` None: the
    evaluation view (centred fragments, no flip)."""
    if spec.view == "resize":
        out = np.asarray(frames)
    else:
        out = _fragments(frames, spec, rng)
    if spec.flip and rng is not None and rng.random() < 0.5:
        out = out[:, :, ::-1]
    return np.ascontiguousarray(out)


def _fragments(frames: np.ndarray, spec: FrameSpec, rng: np.random.Generator | None) -> np.ndarray:
    k, h, w, _ = frames.shape
    g, patch = spec.grid, spec.size // spec.grid
    if min(h, w) < spec.size:  # a small video: upscale once so every cell holds a whole patch
        scale = spec.size / min(h, w)
        nh, nw = max(spec.size, round(h * scale)), max(spec.size, round(w * scale))
        frames = np.stack([cv2.resize(np.asarray(f), (nw, nh), interpolation=cv2.INTER_CUBIC) for f in frames])
        h, w = nh, nw
    ys = np.linspace(0, h, g + 1).astype(int)
    xs = np.linspace(0, w, g + 1).astype(int)
    out = np.empty((k, spec.size, spec.size, 3), dtype=np.uint8)
    for i in range(g):
        for j in range(g):
            room_y = ys[i + 1] - ys[i] - patch
            room_x = xs[j + 1] - xs[j] - patch
            if rng is None:
                dy, dx = room_y // 2, room_x // 2
            else:
                dy, dx = int(rng.integers(0, room_y + 1)), int(rng.integers(0, room_x + 1))
            y0, x0 = ys[i] + dy, xs[j] + dx
            cell = frames[:, y0 : y0 + patch, x0 : x0 + patch]
            out[:, i * patch : (i + 1) * patch, j * patch : (j + 1) * patch] = cell
    return out


class FramesDataset:
    """A map-style dataset (``torch.utils.data.Dataset`` protocol) of network views.

    Row ``i`` gives ``(i, views uint8 (frames, size, size, 3), "")``, or ``(i, zeros, reason)``
    when the video cannot be decoded (the caller decides what a failure means). ``epoch`` and
    ``train`` are set by the training loop; ``train=False`` gives the evaluation views.
    """

    def __init__(self, paths: list[str], digests: list[str], spec: FrameSpec, store: FrameStore, seed: int = 0):
        self.paths, self.digests = list(paths), list(digests)
        self.spec, self.store, self.seed = spec, store, int(seed)
        self.epoch = 0
        self.train = False

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        i = int(i)
        try:
            frames = self.store.get(self.paths[i], self.digests[i])
        except VideoError as exc:
            return i, self._empty(), exc.reason
        except MemoryError:
            return i, self._empty(), "out of memory while decoding"
        except Exception as exc:  # a decoder bug must not stop a whole run
            return i, self._empty(), f"cannot decode video ({type(exc).__name__}: {exc})"
        rng = row_rng(self.seed, self.epoch, i) if self.train else None
        return i, view(frames, self.spec, rng), ""

    def _empty(self) -> np.ndarray:
        return np.zeros((self.spec.frames, self.spec.size, self.spec.size, 3), dtype=np.uint8)


def collate(batch):
    """(rows, views tensor uint8 (B, K, S, S, 3), failure reasons) for a DataLoader."""
    import torch

    rows = torch.tensor([b[0] for b in batch], dtype=torch.long)
    views = torch.from_numpy(np.stack([b[1] for b in batch]))
    return rows, views, [b[2] for b in batch]
