"""A batch job's processes run with the allocator settings of :mod:`minsheng.batch.allocators`:
the command line sets them before Polars is loaded, worker processes start with them, and a
setting the user made is left alone."""

from __future__ import annotations

import os
import subprocess
import sys

import polars as pl
import pytest

from minsheng.batch.allocators import MALLOC_KEEP, POLARS_JEMALLOC
from minsheng.batch.pool import worker_pool

JEMALLOC = "_RJEM_MALLOC_CONF"
SETTINGS = tuple(POLARS_JEMALLOC)


def _in_fresh_python(code: str, env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    done = subprocess.run([sys.executable, "-c", code], env={**base, **env}, check=True,
                          capture_output=True, text=True)
    return done.stdout.strip()


PREPARE_THEN_LOAD = ("import os; from minsheng.batch.allocators import prepare_batch_process; "
                     "prepare_batch_process(); import polars; "
                     "print(os.environ['POLARS_THP'], os.environ['_RJEM_MALLOC_CONF'])")


def test_the_command_line_sets_polars_allocator_before_loading_it() -> None:
    thp, conf = _in_fresh_python(PREPARE_THEN_LOAD, {}).split()
    assert thp == "1"
    assert conf.endswith("," + POLARS_JEMALLOC[JEMALLOC])  # (after Polars' own defaults)


def test_a_setting_the_user_made_is_kept() -> None:
    thp, conf = _in_fresh_python(PREPARE_THEN_LOAD, {"POLARS_THP": "0", JEMALLOC: "narenas:1"}
                                 ).split()
    assert thp == "0"
    assert conf.endswith(",narenas:1") and "decay_ms:3000" not in conf


def test_nothing_is_set_once_polars_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    from minsheng.batch.allocators import prepare_batch_process

    monkeypatch.delenv("POLARS_THP", raising=False)
    prepare_batch_process()  # (this test process has Polars loaded: too late to matter)
    assert "POLARS_THP" not in os.environ


def test_worker_processes_start_with_the_settings_and_this_process_keeps_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLARS_THP", "1")
    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    with worker_pool(2, {}) as pool:
        assert pool is not None
        seen = {k: pool.submit(os.getenv, k).result()
                for k in ("POLARS_THP", "POLARS_MAX_THREADS", *MALLOC_KEEP)}
        threads = pool.submit(pl.thread_pool_size).result()
    assert seen == {"POLARS_THP": "1", "POLARS_MAX_THREADS": "1", **MALLOC_KEEP}
    assert threads == 1
    assert "POLARS_MAX_THREADS" not in os.environ and "MALLOC_TOP_PAD_" not in os.environ
