"""On-disk feature cache.

One entry per (content, extractor name, version, settings). Entries are ``.npz`` files written
to a temporary name and atomically renamed, so an interrupted run never leaves a partial entry
under a real name; an unreadable or inconsistent entry is treated as missing and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from aigvqa.video_writing import is_temporary

CACHE_ENV = "AIGVQA_CACHE_DIR"
TEMP_PREFIX = ".tmp-"
STALE_AFTER_S = 3600.0  # a temporary file this old belongs to a writer that was killed


def _is_temporary(name: str) -> bool:
    """Whether a file under the cache root is a writer's temporary: an entry's (``.tmp-*.npz``),
    the fine-tuning frame store's (``.tmp-*.npy``, :mod:`aigvqa.finetune.frames`) or a degraded
    or coded copy's (:func:`aigvqa.video_writing.is_temporary`)."""
    return (name.startswith(TEMP_PREFIX) and name.endswith((".npz", ".npy"))) or is_temporary(name)


@dataclass
class CacheUsage:
    """What a cache directory holds: entries and bytes per extractor, and leftover temporaries."""

    entries: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    stale_temporaries: list[Path] = field(default_factory=list)
    copy_bytes: dict[str, int] = field(default_factory=dict)  # degraded copies per kind
    outdated_copies: list[Path] = field(default_factory=list)  # folders an older aigvqa made


def default_cache_dir() -> Path:
    """``$AIGVQA_CACHE_DIR`` if set, else the user's cache directory."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(platformdirs.user_cache_dir("aigvqa"))


def file_digest(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """BLAKE2b digest of a file's bytes (the cache identifies videos by content, not name)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def text_digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def settings_digest(settings: dict[str, Any]) -> str:
    """Digest of JSON-serialisable settings (extractor name, version, config, sampling)."""
    blob = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.blake2b(blob.encode("utf-8"), digest_size=8).hexdigest()


class FeatureCache:
    """Content-addressed store of feature dicts (name → float) and optional arrays."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def _path(self, extractor: str, settings: str, content: str) -> Path:
        return self.root / extractor / settings / content[:2] / f"{content}.npz"

    def get(self, extractor: str, settings: str, content: str) -> dict[str, Any] | None:
        """The cached features, or None when absent, partial or corrupt."""
        path = self._path(extractor, settings, content)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                names = [str(n) for n in data["names"]]
                values = np.asarray(data["values"], dtype=np.float64)
                extra = {k: np.array(data[k]) for k in data.files if k not in ("names", "values")}
        except Exception:  # any unreadable entry (zipfile also raises NotImplementedError, RuntimeError)
            return None
        if values.shape != (len(names),):
            return None
        features: dict[str, Any] = dict(zip(names, values.tolist(), strict=False))
        if extra:
            features["__arrays__"] = extra
        return features

    def put(self, extractor: str, settings: str, content: str, features: dict[str, Any]) -> None:
        """Store features atomically (write to a temporary file, then rename; a killed writer
        never leaves a partial entry under the final name)."""
        path = self._path(extractor, settings, content)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = features.get("__arrays__", {})
        scalars = {k: v for k, v in features.items() if k != "__arrays__"}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    names=np.array(list(scalars), dtype=str),
                    values=np.array(list(scalars.values()), dtype=np.float64),
                    **arrays,
                )
            # no fsync: a cache entry lost or cut short by a power failure reads as missing
            # (``get`` returns None for any unreadable entry) and is recomputed
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def usage(self, stale_after_s: float = STALE_AFTER_S, copies: dict[str, str] | None = None) -> CacheUsage:
        """Entries and bytes per extractor, and temporary files older than ``stale_after_s``
        (left by a writer killed mid-write; a younger one may belong to a running writer): the
        cache's own (``.tmp-*.npz``), the frame store's (``.tmp-*.npy``) and those of the writers of
        degraded and coded copies anywhere under the root (:func:`aigvqa.video_writing.is_temporary`).

        ``copies`` maps a folder of degraded copies (``"augmented"``, ...) to the name prefix of
        the folders the current version makes: its bytes are counted, and its folders without
        that prefix are listed as outdated (their copies are never read again)."""
        out = CacheUsage()
        if not self.root.is_dir():
            return out
        now = time.time()
        copies = copies or {}
        for kind, prefix in copies.items():
            for folder in sorted(p for p in (self.root / kind).glob("*") if p.is_dir()):
                size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
                out.copy_bytes[kind] = out.copy_bytes.get(kind, 0) + size
                if not folder.name.startswith(prefix):
                    out.outdated_copies.append(folder)
        for top in sorted(p for p in self.root.iterdir() if p.is_dir()):
            name, holds_entries = top.name, top.name not in copies
            for path in top.rglob("*"):
                temporary = _is_temporary(path.name)
                if not temporary and not (holds_entries and path.suffix == ".npz"):
                    continue
                try:
                    st = path.stat()
                except OSError:  # removed by a concurrent run
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                if temporary:
                    if now - st.st_mtime > stale_after_s:
                        out.stale_temporaries.append(path)
                    continue
                out.entries[name] = out.entries.get(name, 0) + 1
                out.bytes[name] = out.bytes.get(name, 0) + st.st_size
        return out

    def remove_outdated_copies(self, usage: CacheUsage) -> int:
        """Delete the copy folders ``usage`` lists as outdated; returns how many were removed."""
        for folder in usage.outdated_copies:
            shutil.rmtree(folder, ignore_errors=True)
        return len(usage.outdated_copies)

    def remove_stale_temporaries(self, usage: CacheUsage | None = None) -> int:
        """Delete temporary files left by killed writers (those listed by ``usage``, default a
        fresh :meth:`usage`); returns how many were removed."""
        removed = 0
        for path in (usage or self.usage()).stale_temporaries:
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
        return removed

