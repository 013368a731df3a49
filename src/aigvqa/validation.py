"""Check a challenge JSON file and, optionally, that every video it names exists and decodes."""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aigvqa.data import DataError, Item, load_items
from aigvqa.video import VideoInfo


@dataclass
class ValidationReport:
    """What :func:`validate` found: the items, their target's range and, with videos, what
    decoded (``infos``) and what did not (``failures``: item index → reason)."""

    path: str
    items: list[Item]
    target: str
    target_values: list[float]
    infos: dict[int, VideoInfo] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    checked_videos: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def n_prompts(self) -> int:
        return len({it.prompt for it in self.items})

    def target_summary(self) -> dict[str, float] | None:
        """Min, median and max of the target, when items carry it."""
        if not self.target_values:
            return None
        v = self.target_values
        return {"min": min(v), "median": statistics.median(v), "max": max(v)}

    def video_summary(self) -> dict[str, list[tuple[str, int]]]:
        """The most common resolutions, frame rates and codecs of the decodable videos."""
        infos = self.infos.values()
        return {
            "resolution": Counter(f"{v.width}x{v.height}" for v in infos).most_common(6),
            "fps": Counter(f"{v.fps:.3g}" for v in infos).most_common(5),
            "codec": Counter(v.codec for v in infos).most_common(5),
        }

    def durations(self) -> dict[str, float] | None:
        d = [v.duration for v in self.infos.values()]
        return {"min": min(d), "median": statistics.median(d), "max": max(d)} if d else None


def validate(
    data: str | os.PathLike,
    *,
    videos: str | os.PathLike | None = None,
    target: str = "gt_score",
    workers: int | None = None,
) -> ValidationReport:
    """Load ``data`` (errors name the file, item and field) and, with ``videos``, decode every
    video once in ``workers`` processes, recording each one's properties or why it failed."""
    from aigvqa.extract import map_local
    from aigvqa.video import probe_safely

    start = time.perf_counter()
    items = load_items(data, target=target)
    values = [float(it.meta[target]) for it in items if target in it.meta]
    report = ValidationReport(str(data), items, target, values)
    if videos is not None:
        if not Path(videos).is_dir():
            raise DataError(f"--videos {videos}: not a directory")
        paths = [str(Path(videos) / it.video) for it in items]
        probes = map_local(probe_safely, paths, workers or os.cpu_count() or 1, ordered=True,
                           on_crash=lambda _, reason: (None, reason))  # fmt: skip
        for i, (info, problem) in enumerate(probes):
            if problem:
                report.failures[i] = problem
            else:
                report.infos[i] = info
        report.checked_videos = True
    report.seconds = time.perf_counter() - start
    return report
