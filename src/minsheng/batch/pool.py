"""The worker processes of a batch job and what each keeps for the job it runs.

A job runs on ``processes`` cores: this process and ``processes − 1`` worker processes
(:func:`worker_pool`), sharing the tasks (:func:`share`); an error raised in a worker comes
back as the user-facing error it was (:func:`carried`). Each process reads the job's persons
(staged in its ``_work`` folder, :func:`stage_persons`) and parameters once
(:func:`worker_persons`, :func:`worker_view`, :func:`worker_resolver`).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import polars as pl

from minsheng.batch.allocators import WORKER_ENVIRONMENT, keep_freed_memory
from minsheng.batch.overrides import parameter_view
from minsheng.batch.persons import Persons
from minsheng.core.errors import MinshengError
from minsheng.core.parameters import ParameterView
from minsheng.rules.settlement import ParameterResolver, parameter_resolver


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


PERSONS_FILE = "persons.arrow"
_PERSONS: dict[str, Persons] = {}
"""The persons of the job being run in this process (by its ``_work`` folder)."""


def stage_persons(persons: Persons, work: Path) -> None:
    """Keep the job's persons in ``work`` for the processes that settle its rows (this
    process included, which need not read them back)."""
    persons.frame().write_ipc(work / PERSONS_FILE)
    _PERSONS.clear()
    _PERSONS[str(work)] = persons


def worker_persons(work: str) -> Persons:
    """The persons of the job staged in ``work``, read once per process."""
    persons = _PERSONS.get(work)
    if persons is None:
        persons = Persons.from_frame(pl.read_ipc(Path(work) / PERSONS_FILE))
        _PERSONS.clear()  # (one job at a time)
        _PERSONS[work] = persons
    return persons


@cache
def worker_view(overrides_json: str) -> ParameterView:
    """The parameters with the job's overrides (JSON), made once per process."""
    return parameter_view(json.loads(overrides_json))


@functools.lru_cache(maxsize=2)
def worker_resolver(work: str, overrides_json: str) -> ParameterResolver:
    """One resolver per job in each process: each term is read once for all its chunks (and
    its warnings are the job's own)."""
    return parameter_resolver(worker_view(overrides_json))


def _start_pool(n_workers: int, overrides: Mapping[str, Any]) -> ProcessPoolExecutor:
    """Worker processes, started at once and reading the parameters while the main process
    reads the persons. Each runs Polars on one thread: the workers are the parallelism."""
    pool = ProcessPoolExecutor(n_workers, mp_context=get_context("spawn"))
    settings = WORKER_ENVIRONMENT  # read by each worker as it starts
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        overrides_json = json.dumps(dict(overrides), sort_keys=True)
        for _ in range(n_workers):  # a worker is started for each task while none is idle
            pool.submit(_warm, overrides_json)
    finally:
        for k, v in saved.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v
    return pool


@contextlib.contextmanager
def worker_pool(processes: int, overrides: Mapping[str, Any]
                ) -> Iterator[ProcessPoolExecutor | None]:
    """``processes`` in all for a job: this one (which works too, :func:`share`) and
    ``processes − 1`` worker processes (none for one), shut down on leaving; freed memory is
    kept for reuse (:func:`minsheng.batch.allocators.keep_freed_memory`)."""
    keep_freed_memory()
    pool = _start_pool(processes - 1, overrides) if processes > 1 else None
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _warm(overrides_json: str) -> None:
    """A worker's first task: read the parameters, then keep every object made so far (the
    modules, the parameters) out of the garbage collector's walks, during the job and at the
    worker's exit, which the job waits for."""
    with contextlib.suppress(MinshengError):  # (reported where the parameters are used)
        worker_view(overrides_json)
    gc.collect()
    gc.freeze()


def pool_workers(pool: Executor) -> int:
    """The number of worker processes of ``pool`` (as given to its constructor)."""
    return int(getattr(pool, "_max_workers", 1))


def worker_count(requested: int | None, rows: int) -> int:
    if requested is not None:
        return max(1, requested)
    if rows < 2_000_000:
        return 1  # starting worker processes costs more than it saves below this
    return max(1, os.cpu_count() or 1)


def share(pool: Executor, fn: Callable[[Any], Any], tasks: list[Any],
           done: Callable[[Any], None]) -> None:
    """Run ``fn`` on each task, in the pool's worker processes and in this process (on a
    thread of its own, so that this one keeps handing out tasks): a job on N cores needs only
    N − 1 worker processes. Each runs one task at a time and takes the next task as soon as
    it is free, so all finish within about one task of each other."""
    here = getattr(fn, "__wrapped__", fn)  # (this process raises the errors themselves)
    queue = deque(tasks)
    pending: dict[Future[Any], bool] = {}  # future → run here
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
