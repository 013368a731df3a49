"""Executors: apply one function to many independent tasks, locally or on a Ray cluster.

Every executor has the signature ``map_x(fn, tasks, workers, ..., ordered=False, on_crash=None)``
and yields ``fn(task)`` for every task, as results complete (or in task order with
``ordered``). Which executor runs a task, and how many workers there are, never changes a
result: only where and how fast it is computed.

A worker that dies while running a task (a decoder crash, the kernel's out-of-memory killer)
does not lose the other tasks: the task that killed it is found, ``on_crash(task, reason)``
supplies its result, and the others are run again. Without ``on_crash`` a
:class:`WorkerCrashed` error is raised naming the task.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

RAY_MISSING = "--executor ray needs the ray extra: pip install 'aigvqa[ray]'"
GIL_SWITCH_INTERVAL_S = 0.0005  # in a worker running two videos side by side; see _run_together
CRASH_REASON = "the worker process died while processing this video (decoder crash or out of memory)"

Executor = Callable[..., Iterator[Any]]
CrashHandler = Callable[[Any, str], Any]


class WorkerCrashed(RuntimeError):
    """A worker died while running a task and no ``on_crash`` handler was given."""


_worker_ready = False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed parent not yet reaped by its own parent is a zombie: dead
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _watch_parent(pid: int, interval: float = 1.0) -> None:
    import time

    while _alive(pid):
        time.sleep(interval)
    os._exit(1)


def init_worker(parent_pid: int | None = None, ignore_sigint: bool = True, cores: int = 1) -> None:
    """Per-process set-up of a worker: one OpenCV thread (parallelism comes from processes),
    ``cores`` cores for one video (its decoder's threads, see :mod:`aigvqa.threads`; a Ray
    task gets the default, one), no reaction to Ctrl-C (the parent decides when workers stop) and,
    given the parent's pid, exit when the parent dies (a pool's workers otherwise outlive a
    ``kill -9``'d parent)."""
    global _worker_ready
    if _worker_ready:
        return
    import signal
    import threading

    import cv2

    from aigvqa.threads import set_worker_cores

    cv2.setNumThreads(1)
    set_worker_cores(cores)
    if ignore_sigint and sys.platform != "win32":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None and sys.platform != "win32":
        threading.Thread(target=_watch_parent, args=(parent_pid,), name="aigvqa-parent-watch", daemon=True).start()
    _worker_ready = True


def _in_order(pairs: Iterator[tuple[int, Any]], n: int) -> Iterator[Any]:
    """Results of ``(position, result)`` pairs, released in position order."""
    waiting: dict[int, Any] = {}
    nxt = 0
    for pos, result in pairs:
        waiting[pos] = result
        while nxt in waiting:
            yield waiting.pop(nxt)
            nxt += 1
    assert nxt == n, "an executor lost a task"


def _crashed(task: Any, on_crash: CrashHandler | None) -> Any:
    if on_crash is None:
        raise WorkerCrashed(f"a worker process died while running {task!r}")
    return on_crash(task, CRASH_REASON)


# --------------------------------------------------------------------------- local processes


def _pool(workers: int):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    if sys.platform == "darwin" or sys.platform == "win32":
        ctx = mp.get_context("spawn")
    else:
        # forkserver: safe with threads in the parent; workers fork from a server that has
        # already imported the extraction code, so starting a pool costs little.
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["aigvqa.extract"])
    from aigvqa.threads import cores_per_worker

    return ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=init_worker,
        initargs=(os.getpid(), True, cores_per_worker(workers)),
    )  # fmt: skip


def _stop(pool) -> None:
    """Stop a pool now: cancel queued tasks and end the running ones (their work is lost)."""
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        if proc.is_alive():
            proc.terminate()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.join(timeout=5)


def _run_together(fn: Callable, tasks: list, cores: int) -> list:
    """In a worker: ``fn`` on each of ``tasks`` side by side, in threads, each with an equal
    share of the worker's ``cores`` (see :mod:`aigvqa.threads`); the results in task order."""
    if len(tasks) == 1:
        return [fn(tasks[0])]
    from concurrent.futures import ThreadPoolExecutor

    from aigvqa.threads import cores_in_this_thread

    # Two videos' threads hand the GIL back and forth hundreds of times per clip; a thread
    # that wants it waits up to the switch interval (default 5 ms) for the other to yield.
    # 0.5 ms cuts that wait (720p clips 5-13% faster on 2 cores in A/B runs); results are unchanged.
    # This process is a pool worker, so the caller's interpreter is not touched.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    share = max(1, cores // len(tasks))

    def run(task: Any) -> Any:
        with cores_in_this_thread(share):
            return fn(task)

    with ThreadPoolExecutor(len(tasks), thread_name_prefix="aigvqa-task") as pool:
        return list(pool.map(run, tasks))


def _local_pairs(
    fn: Callable, tasks: list, workers: int, on_crash: CrashHandler | None, threads: int = 1
) -> Iterator[tuple[int, Any]]:
    """``(position, fn(task))`` in completion order, surviving worker crashes.

    Each worker gets ``threads`` consecutive tasks at a time and runs them side by side.
    After a crash, the tasks that may have been running (those of the first ``2 * workers + 1``
    unfinished groups: a pool dispatches them in submission order) are run one at a time in a
    single-worker pool, where a crash names its task exactly; the rest then go back to the
    parallel pool.
    """
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    from aigvqa.threads import cores_per_worker

    queue = list(range(len(tasks)))  # positions not yet done, in submission order
    suspects: list[int] = []
    while queue or suspects:
        isolating = bool(suspects)
        batch = suspects if isolating else queue
        size = 1 if isolating else max(1, threads)
        groups = [batch[i : i + size] for i in range(0, len(batch), size)]
        n = 1 if isolating else min(workers, len(groups))
        cores = cores_per_worker(n)
        done: set[int] = set()
        pool = _pool(n)
        clean = False
        try:
            futures = {pool.submit(_run_together, fn, [tasks[p] for p in g], cores): tuple(g) for g in groups}
            remaining = set(futures)
            broken = False
            while remaining and not broken:
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for fut in sorted(finished, key=futures.get):
                    if isinstance(fut.exception(), BrokenProcessPool):
                        broken = True
                        continue
                    results = fut.result()  # an exception raised by fn itself propagates
                    for p, result in zip(futures[fut], results, strict=True):
                        done.add(p)
                        yield p, result
            if broken:  # keep what finished before the crash
                for fut, group in futures.items():
                    if fut.done() and not fut.cancelled() and fut.exception() is None and group[0] not in done:
                        for p, result in zip(group, fut.result(), strict=True):
                            done.add(p)
                            yield p, result
            clean = True
        finally:
            if clean:
                pool.shutdown(wait=True, cancel_futures=True)
            else:  # interrupted (Ctrl-C) or fn raised: do not wait for queued tasks
                _stop(pool)
        unfinished = [p for p in batch if p not in done]
        if isolating:
            # a single worker runs its tasks in order: the first unfinished one killed it,
            # the others never started and stay suspects
            suspects = unfinished[1:]
            if unfinished:
                yield unfinished[0], _crashed(tasks[unfinished[0]], on_crash)
        elif unfinished:
            # groups are dispatched in submission order: the crash happened in one of the
            # first 2n + 1 unfinished ones (n running, n + 1 queued)
            k = (2 * n + 1) * size
            suspects, queue = unfinished[:k], unfinished[k:]
        else:
            queue = []


def map_local(
    fn: Callable,
    tasks: Iterable,
    workers: int,
    ordered: bool = False,
    on_crash: CrashHandler | None = None,
    threads: int = 1,
) -> Iterator:
    """Apply ``fn`` to ``tasks`` in ``workers`` local processes; ``workers <= 0`` runs them in
    this process (no start-up cost, but a crash in native code, e.g. a decoder segfault, ends
    the caller). One worker process is still a separate process: its crash costs one task.

    ``threads`` > 1: each worker runs that many tasks at a time, side by side in threads,
    each with an equal share of the worker's cores (``fn`` must be thread-safe)."""
    tasks = list(tasks)
    if workers <= 0 or not tasks:
        for t in tasks:
            yield fn(t)
        return
    pairs = _local_pairs(fn, tasks, workers, on_crash, threads)
    if ordered:
        yield from _in_order(pairs, len(tasks))
    else:
        for _, result in pairs:
            yield result


# --------------------------------------------------------------------------- Ray


def _ray_call(fn: Callable, task: Any) -> Any:
    init_worker(ignore_sigint=False)  # Ray manages its workers' signals
    return fn(task)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ImportError(RAY_MISSING) from None
    return ray


def map_ray(
    fn: Callable,
    tasks: Iterable,
    workers: int,
    address: str | None = None,
    ordered: bool = False,
    on_crash: CrashHandler | None = None,
) -> Iterator:
    """Apply ``fn`` to ``tasks`` as Ray tasks (one CPU each).

    Uses Ray as already initialised in this process, else connects to the cluster at
    ``address`` (``"auto"``: the one ``ray start`` began on this machine) or ``$RAY_ADDRESS``,
    else starts a private local Ray instance with ``workers`` CPUs. At most ``2 * workers``
    tasks are in flight (``workers <= 0``: twice the cluster's CPUs), so memory stays bounded
    on large batches. Tasks must reach the same files on every node: use absolute paths on a
    shared filesystem.
    """
    ray = _import_ray()
    tasks = list(tasks)
    if not tasks:
        return
    if not ray.is_initialized():
        import logging

        kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
        if address or os.environ.get("RAY_ADDRESS"):  # a cluster (RAY_ADDRESS: set for Ray jobs)
            kwargs["address"] = address or None
        else:  # a private local instance, even if another one runs on this machine
            kwargs["address"] = "local"
            if workers > 0:
                kwargs["num_cpus"] = workers
        ray.init(**kwargs)
    window = 2 * (workers if workers > 0 else max(1, int(ray.cluster_resources().get("CPU", 1))))
    pairs = _ray_pairs(ray, fn, tasks, window, on_crash)
    if ordered:
        yield from _in_order(pairs, len(tasks))
    else:
        for _, result in pairs:
            yield result


def _ray_pairs(ray, fn: Callable, tasks: list, window: int, on_crash: CrashHandler | None):
    remote = ray.remote(num_cpus=1, max_retries=1)(_ray_call)
    fn_ref = ray.put(fn)
    pending: dict[Any, int] = {}
    nxt = 0
    try:
        while nxt < len(tasks) or pending:
            while nxt < len(tasks) and len(pending) < window:
                pending[remote.remote(fn_ref, tasks[nxt])] = nxt
                nxt += 1
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                pos = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # fn raised: the same error as locally
                    raise exc.as_instanceof_cause() from None
                except ray.exceptions.RayError:  # the worker or its node died
                    result = _crashed(tasks[pos], on_crash)
                yield pos, result
    finally:  # interrupted or failed: do not leave tasks running on the cluster
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # already finished, or the cluster is gone
                pass


EXECUTORS: dict[str, Executor] = {"local": map_local, "ray": map_ray}


def get_executor(name: str) -> Executor:
    """The executor registered as ``name`` (``local`` or ``ray``), with a clear error otherwise."""
    try:
        return EXECUTORS[name]
    except KeyError:
        raise ValueError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}") from None


def require_executor(name: str) -> None:
    """Fail early, with the install hint, when ``name``'s dependencies are missing."""
    get_executor(name)
    if name == "ray":
        _import_ray()


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1
