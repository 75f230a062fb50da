"""What each process of a batch job keeps for the job it runs: the persons (staged in the
job's ``_work`` folder by :func:`stage_persons`, read once per process by
:func:`worker_persons`), the parameters with the job's overrides (:func:`worker_view`, keyed by
:func:`overrides_json`) and the terms read from them (:func:`worker_resolver`). :func:`warm` is a worker's first task.

A task may be handed out before a file it needs is staged (the persons, the parts'
metadata): it waits for the file (:func:`staged_file`), and stops when the job writes
:data:`ABANDONED` instead.

(The worker processes themselves are started and shared out by :mod:`minsheng.batch.pool`,
which imports nothing heavy.)
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import multiprocessing
import time
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from minsheng.batch.overrides import parameter_view
from minsheng.batch.persons import Persons
from minsheng.core.errors import MinshengError
from minsheng.core.parameters import ParameterView
from minsheng.rules.settlement import ParameterResolver, parameter_resolver

PERSONS_FILE = "persons.arrow"
_PERSONS: dict[str, Persons] = {}
"""The persons of the job being run in this process (by its ``_work`` folder)."""
ABANDONED = "abandoned"
"""Written in ``_work`` when the job fails, for the tasks handed out before a file they wait
for (:func:`staged_file`) was staged."""


class JobAbandoned(Exception):
    """The job of a task handed out early failed first (the task has nothing more to do)."""


def staged_file(work: Path, name: str) -> Path:
    """``work / name`` once the job has staged it (written under another name and renamed:
    a task may be handed out before it is there); :class:`JobAbandoned` if the job fails
    first, or the process that runs it is gone."""
    path = work / name
    parent = multiprocessing.parent_process()
    while not path.exists():
        if (work / ABANDONED).exists() or not work.exists() or \
                (parent is not None and not parent.is_alive()):
            raise JobAbandoned(str(work))
        time.sleep(0.002)
    return path


def stage_persons(persons: Persons, work: Path) -> None:
    """Keep the job's persons in ``work`` for the processes that settle its rows (this
    process included, which need not read them back)."""
    temporary = work / f"{PERSONS_FILE}.tmp"
    persons.frame().write_ipc(temporary)
    temporary.replace(work / PERSONS_FILE)
    _PERSONS.clear()
    _PERSONS[str(work)] = persons


def worker_persons(work: str) -> Persons:
    """The persons of the job staged in ``work``, read once per process (waiting for them
    when a task comes before they are staged)."""
    persons = _PERSONS.get(work)
    if persons is None:
        persons = Persons.from_frame(pl.read_ipc(staged_file(Path(work), PERSONS_FILE)))
        _PERSONS.clear()  # (one job at a time)
        _PERSONS[work] = persons
    return persons


def overrides_json(overrides: Mapping[str, Any]) -> str:
    """The job's parameter overrides as its tasks carry them: the key by which each process
    reads the parameters once (:func:`worker_view`), so it is spelt one way everywhere."""
    return json.dumps(dict(overrides), sort_keys=True)


@cache
def worker_view(overrides_json: str) -> ParameterView:
    """The parameters with the job's overrides (JSON), made once per process."""
    return parameter_view(json.loads(overrides_json))


@functools.lru_cache(maxsize=2)
def worker_resolver(work: str, overrides_json: str) -> ParameterResolver:
    """One resolver per job in each process: each term is read once for all its chunks (and
    its warnings are the job's own)."""
    return parameter_resolver(worker_view(overrides_json))


def warm(overrides_json: str) -> None:
    """A worker's first task for a job: read the parameters, then keep every object made so
    far (the modules, the parameters) out of the garbage collector's walks, during the job
    and at the worker's exit, which the job waits for."""
    with contextlib.suppress(MinshengError):  # (reported where the parameters are used)
        worker_view(overrides_json)
    gc.collect()
    gc.freeze()
