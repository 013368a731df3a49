"""How many cores this process may use for one video: the number of its decoder's threads.

A pool of N worker processes on C cores gives each worker C // N cores (at least one), so N
decoders do not start N × C threads that fight over the cores; a Ray task (one CPU each) gets
one. Unset (0, a run in the calling process) means "all the cores of the machine". A video
that may use more than one core is also decoded ahead in a thread of its own, and its
``concurrent`` extractors run side by side in threads.

A worker with two or more cores runs two videos at a time, in two threads
(:func:`videos_per_worker`), each with half the worker's cores (:func:`cores_in_this_thread`):
one video's own threads leave cores idle (its decoder's start, the extractors that run after
the last frame), and a second video fills them. No setting changes a result: only how fast
it is computed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_cores = 0
_this_thread = threading.local()


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def set_worker_cores(count: int) -> None:
    """Cores one video may use in this process (0: all of them)."""
    global _cores
    if int(count) < 0:
        raise ValueError(f"worker cores must be >= 0, got {count}")
    _cores = int(count)


@contextmanager
def cores_in_this_thread(count: int) -> Iterator[None]:
    """Within the block, a video read in this thread may use ``count`` cores (the worker's
    setting elsewhere): for a worker that runs several videos side by side in threads."""
    if int(count) < 1:
        raise ValueError(f"cores must be >= 1, got {count}")
    previous = getattr(_this_thread, "cores", None)
    _this_thread.cores = int(count)
    try:
        yield
    finally:
        _this_thread.cores = previous


def _video_budget() -> int:
    own = getattr(_this_thread, "cores", None)
    return _cores if own is None else own


def decoder_threads() -> int:
    """Threads for a decoder in this thread: the video's cores when they are fewer than the
    machine's, else 0 (FFmpeg's own choice, about one per core plus one)."""
    cores = _video_budget()
    return cores if 0 < cores < available_cores() else 0


def video_cores() -> int:
    """Cores one video may use in this thread (its decoder's threads, or all the cores)."""
    return decoder_threads() or available_cores()


def cores_per_worker(workers: int) -> int:
    """Cores each of ``workers`` processes gets on this machine (at least 1)."""
    return max(1, available_cores() // max(1, workers))


def videos_per_worker(workers: int) -> int:
    """Videos each of ``workers`` processes runs at a time: two when it has two cores or more
    (each on half of them), else one. Not more: the extractors' Python code holds the GIL."""
    return 2 if cores_per_worker(workers) >= 2 else 1
