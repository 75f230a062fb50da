"""The worker processes of a batch job: started (:func:`worker_pool`, or earlier by the
command line, :func:`start_workers`), sharing the tasks with this process (:func:`share`),
and an error raised in a worker carried back as the user-facing error it was
(:func:`carried`).

A job runs on ``processes`` cores: this process and ``processes − 1`` worker processes. What
each process keeps for the job is in :mod:`minsheng.batch.worker_state`. This module imports
nothing heavy (the standard library and pyarrow): the command line starts the workers with
it *before* it loads the engine, so that a worker imports Polars, numpy and the rules while
this process does the same, not after it (about a tenth of a 10-million-claim job's time
was this process importing with the second core idle, docs/batch.md, sitting 11).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from minsheng.batch.allocators import WORKER_ENVIRONMENT, keep_freed_memory
from minsheng.batch.inputs import count_rows
from minsheng.core.errors import MinshengError

PARALLEL_FROM = 2_000_000
"""By default a job uses every core from this many claims on, else only this process:
starting worker processes costs more than it saves below it."""


class WorkerFailure(Exception):
    """A user-facing error raised in a worker process, carried back to the main process
    (:class:`MinshengError` subclasses do not survive pickling with their arguments)."""

    def __init__(self, message: str, message_en: str) -> None:
        super().__init__(message, message_en)

    def error(self) -> MinshengError:
        return MinshengError(*self.args)


def carried(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(fn)
    def run(task: Any) -> Any:
        try:
            return fn(task)
        except MinshengError as exc:
            raise WorkerFailure(exc.message, exc.message_en) from None

    return run


def _result(future: Future[Any]) -> Any:
    try:
        return future.result()
    except WorkerFailure as exc:
        raise exc.error() from None


def worker_count(requested: int | None, rows: int) -> int:
    """The processes of a job on ``rows`` claims (``requested``: ``--workers``)."""
    if requested is not None:
        return max(1, requested)
    if rows < PARALLEL_FROM:
        return 1
    return max(1, os.cpu_count() or 1)


_STARTED: list[ProcessPoolExecutor] = []
"""Worker processes started ahead of their job (:func:`start_workers`), at most one pool."""


def _preload(modules: tuple[str, ...]) -> None:
    """A worker's first task when started ahead: import what its tasks will need."""
    for name in modules:
        importlib.import_module(name)


def _spawn(n_workers: int, first: Callable[..., None], *args: Any) -> ProcessPoolExecutor:
    """``n_workers`` worker processes, started at once, each running ``first(*args)`` first.
    Each runs Polars on one thread (the workers are the parallelism) and reads
    :data:`~minsheng.batch.allocators.WORKER_ENVIRONMENT` as it starts."""
    pool = ProcessPoolExecutor(n_workers, mp_context=get_context("spawn"))
    saved = {k: os.environ.get(k) for k in WORKER_ENVIRONMENT}
    os.environ.update(WORKER_ENVIRONMENT)
    try:
        for _ in range(n_workers):  # a worker is started for each task while none is idle
            pool.submit(first, *args)
    finally:
        for k, v in saved.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v
    return pool


def start_workers(claims: Path, requested: int | None, modules: tuple[str, ...]) -> None:
    """Start now the worker processes a job on the Parquet input ``claims`` will use (by
    :func:`worker_count`), each importing ``modules``; the job's :func:`worker_pool` takes
    them. Nothing is started for a CSV input (its rows are not known before it is read) or
    one that cannot be read (the job reports that)."""
    discard_started_workers()
    try:
        rows = count_rows(claims)
    except (MinshengError, OSError):
        return
    if rows is None:
        return
    processes = worker_count(requested, rows)
    if processes > 1:
        _STARTED.append(_spawn(processes - 1, _preload, modules))


def discard_started_workers() -> None:
    """Stop the workers :func:`start_workers` started if no job took them (the job failed
    before it needed them)."""
    while _STARTED:
        pool = _STARTED.pop()
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # (still importing: not worth waiting for)
            process.kill()


def _take_started(n_workers: int) -> ProcessPoolExecutor | None:
    if _STARTED and pool_workers(_STARTED[-1]) == n_workers:
        return _STARTED.pop()
    discard_started_workers()
    return None


@contextlib.contextmanager
def worker_pool(processes: int, overrides: Mapping[str, Any]
                ) -> Iterator[ProcessPoolExecutor | None]:
    """``processes`` in all for a job: this one (which works too, :func:`share`) and
    ``processes − 1`` worker processes (none for one; those :func:`start_workers` started if
    they are as many), shut down on leaving. Each worker reads the job's parameters first,
    while this process reads the persons. Freed memory is kept for reuse
    (:func:`minsheng.batch.allocators.keep_freed_memory`)."""
    from minsheng.batch.worker_state import overrides_json, warm  # (heavy to import)

    keep_freed_memory()
    n_workers = processes - 1
    key = overrides_json(overrides)
    pool = None
    if n_workers > 0:
        pool = _take_started(n_workers)
        if pool is None:
            pool = _spawn(n_workers, warm, key)
        else:
            for _ in range(n_workers):
                pool.submit(warm, key)
    else:
        discard_started_workers()
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def pool_workers(pool: Executor) -> int:
    """The number of worker processes of ``pool`` (as given to its constructor)."""
    return int(getattr(pool, "_max_workers", 1))


def share(pool: Executor, fn: Callable[[Any], Any], tasks: list[Any],
          done: Callable[[Any], None], running: Iterable[Future[Any]] = ()) -> None:
    """Run ``fn`` on each task, in the pool's worker processes and in this process (on a
    thread of its own, so that this one keeps handing out tasks): a job on N cores needs only
    N − 1 worker processes. Each runs one task at a time and takes the next task as soon as
    it is free, so all finish within about one task of each other. ``running``: tasks
    already handed to the pool, whose results are done the same way."""
    here = getattr(fn, "__wrapped__", fn)  # (this process raises the errors themselves)
    queue = deque(tasks)
    pending: dict[Future[Any], bool] = dict.fromkeys(running, False)  # future → run here
    width = pool_workers(pool)
    with ThreadPoolExecutor(1, thread_name_prefix="minsheng-here") as local_pool:
        try:
            while queue or pending:
                if queue and not any(pending.values()):
                    pending[local_pool.submit(here, queue.popleft())] = True
                while queue and sum(not h for h in pending.values()) < width:
                    pending[pool.submit(fn, queue.popleft())] = False
                for f in wait(pending, return_when=FIRST_COMPLETED).done:
                    del pending[f]
                    done(_result(f))
        except BaseException:
            for f in pending:
                f.cancel()
            raise
