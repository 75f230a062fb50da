"""With worker processes, each row group is checked and each chunk settled in parallel:
the output is the same, and a bad row is still named by its row number in the whole file."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pytest
from batch_helpers import Population, read_output
from typer.testing import CliRunner

from minsheng.batch import local, pool
from minsheng.batch.bad_rows import BadRows
from minsheng.batch.ingest import bucket_count, bucket_of
from minsheng.batch.pool import share
from minsheng.cli import app


def _small_row_groups(pop: Population, tmp_path: Path, change: dict[int, dict[str, object]] | None = None
                      ) -> Path:
    claims = pl.read_parquet(pop.claims)
    if change:
        claims = claims.with_columns(pl.col("medfee_sumamt").cast(pl.String))
        for row, values in change.items():
            for k, v in values.items():
                claims = claims.with_columns(
                    pl.when(pl.int_range(pl.len()) == row - 1).then(pl.lit(v)).otherwise(pl.col(k)).alias(k))
    path = tmp_path / "claims.parquet"
    claims.write_parquet(path, row_group_size=700)
    return path


def test_worker_processes_give_the_same_output_as_one_process(shanxi: Population, tmp_path: Path) -> None:
    claims = _small_row_groups(shanxi, tmp_path)
    one = local.settle_file(claims, shanxi.persons, tmp_path / "one", chunk_rows=900, workers=1,
                            person_years=tmp_path / "one_py")
    two = local.settle_file(claims, shanxi.persons, tmp_path / "two", chunk_rows=900, workers=2,
                            person_years=tmp_path / "two_py")
    assert one.chunks == two.chunks >= 4
    assert read_output(tmp_path / "one").equals(read_output(tmp_path / "two"))
    assert read_output(tmp_path / "one_py").equals(read_output(tmp_path / "two_py"))
    for part in (tmp_path / "one").glob("part-*.parquet"):
        assert pl.read_parquet(part).equals(pl.read_parquet(tmp_path / "two" / part.name))


def test_a_bad_row_in_a_later_row_group_is_named_by_its_row_in_the_file(
        shanxi: Population, tmp_path: Path) -> None:
    claims = _small_row_groups(shanxi, tmp_path, {2345: {"medfee_sumamt": "12.345"},
                                                  3001: {"setl_id": "C20230000000007"}})
    with pytest.raises(BadRows) as err:
        local.settle_file(claims, shanxi.persons, tmp_path / "out", workers=2)
    assert [(r.row, r.field) for r in err.value.rows] == [(2345, "medfee_sumamt"), (3001, "setl_id")]
    assert err.value.count == 2
    assert not (tmp_path / "out").exists()


def test_the_tasks_are_shared_between_the_pool_and_this_process() -> None:
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    def work(task: int) -> tuple[int, str]:
        time.sleep(0.002 * (task % 3))
        return task, threading.current_thread().name

    seen: list[tuple[int, str]] = []
    with ThreadPoolExecutor(1, thread_name_prefix="pool") as pool:
        share(pool, work, list(range(40)), seen.append)
    assert sorted(t for t, _ in seen) == list(range(40))  # each task once
    where = {name.startswith("pool") for _, name in seen}
    assert where == {True, False}  # some in the pool, some here


def test_the_last_chunk_is_split_in_two_so_that_the_processes_finish_together() -> None:
    import numpy as np

    persons = 1000
    buckets = bucket_count(10 * 500, 500)  # ten chunks' worth of claims
    of = bucket_of(np.arange(persons), buckets, persons)
    sizes = np.bincount(of, minlength=buckets).tolist()
    assert buckets == 11
    assert sizes == [100] * 9 + [50, 50]
    assert (np.diff(of) >= 0).all()  # each bucket a run of persons, in order
    assert bucket_count(400, 500) == 1
    assert bucket_of(np.arange(10), 1, 10).tolist() == [0] * 10


def test_the_job_takes_the_workers_the_command_line_started_ahead_of_it(
        shanxi: Population, tmp_path: Path) -> None:
    pool.start_workers(shanxi.claims, 2, ("minsheng.batch.local",))
    started = pool._STARTED[-1]
    summary = local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "out", workers=2)
    assert not pool._STARTED  # taken by the job ...
    assert started._shutdown_thread  # ... and shut down with it
    one = local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "one", workers=1)
    assert summary.rows == one.rows
    assert read_output(tmp_path / "out").equals(read_output(tmp_path / "one"))


def test_workers_started_for_a_job_that_failed_before_it_took_them_are_stopped(
        shanxi: Population) -> None:
    pool.start_workers(shanxi.claims, 2, ("minsheng.batch.local",))
    pids = list(pool._STARTED[-1]._processes)
    assert len(pids) == 1
    pool.discard_started_workers()
    assert not pool._STARTED
    deadline = time.monotonic() + 10
    while not all(_ended(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(_ended(pid) for pid in pids)


def _ended(pid: int) -> bool:
    """Whether a process has ended (gone, or a zombie not yet reaped). (``Process.is_alive``
    cannot tell once the pool's own thread has reaped it.)"""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_no_workers_are_started_ahead_for_a_csv_or_a_missing_file(
        shanxi_csv: Population, tmp_path: Path) -> None:
    pool.start_workers(shanxi_csv.claims, 2, ("minsheng.batch.local",))
    pool.start_workers(tmp_path / "missing.parquet", 2, ("minsheng.batch.local",))
    assert not pool._STARTED


def test_a_repeated_setl_id_found_after_buckets_were_handed_out_still_settles_nothing(
        shanxi: Population, tmp_path: Path) -> None:
    # every row is spilled without a bad row, so the workers start settling while this
    # process finds the repeated id over the whole file: nothing may be left behind
    claims = _small_row_groups(shanxi, tmp_path, {3001: {"setl_id": "C20230000000007"}})
    with pytest.raises(BadRows) as err:
        local.settle_file(claims, shanxi.persons, tmp_path / "out", chunk_rows=900, workers=2,
                          person_years=tmp_path / "years")
    assert [(r.row, r.field) for r in err.value.rows] == [(3001, "setl_id")]
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "years").exists()


def test_a_bad_persons_file_stops_the_pieces_handed_out_before_it_was_read(
        shanxi: Population, tmp_path: Path) -> None:
    # the workers start checking claims while the persons are read: they must stop, and
    # nothing may be left behind
    claims = _small_row_groups(shanxi, tmp_path)
    persons = pl.read_parquet(shanxi.persons).with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(pl.lit("999")).otherwise(pl.col("insutype"))
        .alias("insutype"))
    persons.write_parquet(tmp_path / "persons.parquet")
    with pytest.raises(BadRows) as err:
        local.settle_file(claims, tmp_path / "persons.parquet", tmp_path / "out", workers=2)
    assert [(r.table, r.row, r.field) for r in err.value.rows] == [("persons", 5, "insutype")]
    assert not (tmp_path / "out").exists()


def test_the_command_line_starts_the_workers_and_its_job_takes_them(
        shanxi: Population, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    claims = _small_row_groups(shanxi, tmp_path)
    started: list[object] = []
    start = pool.start_workers

    def start_and_note(*args: object) -> None:
        start(*args)  # type: ignore[arg-type]
        started.extend(pool._STARTED)

    monkeypatch.setattr(pool, "start_workers", start_and_note)
    settle = ["batch", "settle", str(claims), "--persons", str(shanxi.persons), "--workers", "2",
              "--json", "-q", "--out"]
    result = CliRunner().invoke(app, [*settle, str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert len(started) == 1 and started[0]._shutdown_thread  # type: ignore[attr-defined]
    assert not pool._STARTED
    local.settle_file(claims, shanxi.persons, tmp_path / "one", workers=1)
    assert read_output(tmp_path / "out").equals(read_output(tmp_path / "one"))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x.txt").write_text("x")
    failed = CliRunner().invoke(app, [*settle, str(tmp_path / "taken")])  # fails before it
    assert failed.exit_code == 2                                          # takes its workers
    assert "--out" in failed.output
    assert not pool._STARTED
