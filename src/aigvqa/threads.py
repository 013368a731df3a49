"""How many cores this process may use for one video: the number of its decoder's threads.

A pool of N worker processes on C cores gives each worker C // N cores (at least one), so N
decoders do not start N × C threads that fight over the cores; a Ray task (one CPU each) gets
one. Unset (0, a run in the calling process) means "all the cores of the machine". A video
that may use more than one core is also decoded ahead in a thread of its own, and its
``concurrent`` extractors run side by side in threads. No setting
changes a result: only how fast it is computed.
"""

from __future__ import annotations

import os

_cores = 0


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


def decoder_threads() -> int:
    """Threads for a decoder in this process: the worker's cores when a pool capped them below
    the machine's, else 0 (FFmpeg's own choice, about one per core plus one)."""
    return _cores if 0 < _cores < available_cores() else 0


def video_cores() -> int:
    """Cores one video may use in this process (its decoder's threads, or all the cores)."""
    return decoder_threads() or available_cores()


def cores_per_worker(workers: int) -> int:
    """Cores each of ``workers`` processes gets on this machine (at least 1)."""
    return max(1, available_cores() // max(1, workers))
