"""A batch job's processes run with the allocator settings of :mod:`minsheng.batch.allocators`:
the command line sets them before Polars is loaded, worker processes start with them, and a
setting the user made is left alone."""

from __future__ import annotations

import os
import subprocess
import sys

import polars as pl
import pytest

from minsheng.batch.allocators import MALLOC_KEEP, NO_HUGE_PAGES, POLARS_JEMALLOC
from minsheng.batch.pool import worker_pool

JEMALLOC = "_RJEM_MALLOC_CONF"
HUGE = "NUMPY_MADVISE_HUGEPAGE"
SETTINGS = (*POLARS_JEMALLOC, *NO_HUGE_PAGES)


def _in_fresh_python(code: str, env: dict[str, str]) -> str:
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    done = subprocess.run([sys.executable, "-c", code], env={**base, **env}, check=True,
                          capture_output=True, text=True)
    return done.stdout.strip()


PREPARE_THEN_LOAD = ("import os; import numpy; from numpy._core import multiarray; "
                     "from minsheng.batch.allocators import prepare_batch_process; "
                     "prepare_batch_process(); import polars; "
                     "print(os.environ['_RJEM_MALLOC_CONF'], os.environ['NUMPY_MADVISE_HUGEPAGE'], "
                     "multiarray._get_madvise_hugepage(), 'POLARS_THP' in os.environ)")


def test_the_command_line_sets_polars_allocator_before_loading_it_and_turns_huge_pages_off(
        ) -> None:
    conf, huge, numpy_asks, polars_thp = _in_fresh_python(PREPARE_THEN_LOAD, {}).split()
    assert conf.endswith("," + POLARS_JEMALLOC[JEMALLOC])  # (after Polars' own defaults)
    # numpy was loaded before: it is told at once, and worker processes read the variable
    assert (huge, numpy_asks, polars_thp) == ("0", "False", "False")


def test_a_setting_the_user_made_is_kept() -> None:
    conf, huge, numpy_asks, _ = _in_fresh_python(
        PREPARE_THEN_LOAD, {HUGE: "1", JEMALLOC: "narenas:1"}).split()
    assert (huge, numpy_asks) == ("1", "True")
    assert conf.endswith(",narenas:1") and "decay_ms:3000" not in conf


def test_polars_settings_are_not_made_once_polars_is_loaded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from minsheng.batch.allocators import prepare_batch_process

    monkeypatch.delenv(JEMALLOC, raising=False)
    monkeypatch.setenv(HUGE, "1")  # (and numpy in this process keeps asking for huge pages)
    prepare_batch_process()  # (this test process has Polars loaded: too late to matter)
    assert JEMALLOC not in os.environ


def test_worker_processes_start_with_the_settings_and_this_process_keeps_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HUGE, "0")
    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    with worker_pool(2, {}) as pool:
        assert pool is not None
        seen = {k: pool.submit(os.getenv, k).result()
                for k in (HUGE, "POLARS_MAX_THREADS", "OPENBLAS_NUM_THREADS", *MALLOC_KEEP)}
        threads = pool.submit(pl.thread_pool_size).result()
        numpy_asks = pool.submit(_numpy_asks_for_huge_pages).result()
    assert seen == {HUGE: "0", "POLARS_MAX_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                    **MALLOC_KEEP}
    assert threads == 1
    assert numpy_asks is False
    assert "POLARS_MAX_THREADS" not in os.environ and "MALLOC_TOP_PAD_" not in os.environ


def _numpy_asks_for_huge_pages() -> bool:
    from numpy._core import multiarray

    return bool(multiarray._get_madvise_hugepage())
