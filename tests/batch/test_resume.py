"""The local engine is resumable: after an interruption the same command continues from the
last completed chunk and gives output identical to an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from batch_helpers import Population, read_output

from minsheng.batch import local
from minsheng.batch.parts import MANIFEST, WORK
from minsheng.core.errors import InputError


class Interrupted(Exception):
    pass


def _interrupt_after(n: int) -> object:
    done: list[int] = []

    def hook(bucket: int) -> None:
        done.append(bucket)
        if len(done) == n:
            raise Interrupted

    return hook


def test_a_rerun_after_an_interruption_continues_from_the_last_completed_chunk(
        shanxi: Population, tmp_path: Path) -> None:
    clean = local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "clean", chunk_rows=700,
                              person_years=tmp_path / "clean_py")
    assert clean.chunks >= 5
    out, years = tmp_path / "out", tmp_path / "out_py"
    with pytest.raises(Interrupted):
        local.settle_file(shanxi.claims, shanxi.persons, out, chunk_rows=700, person_years=years,
                          workers=1, after_chunk=_interrupt_after(2))  # type: ignore[arg-type]
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["state"] == "staged" and len(manifest["done"]) == 2
    assert len(list(out.glob("part-*.parquet"))) == 2
    spilled = {int(f.name[7:12]) for f in (out / WORK).glob("bucket-*.arrow")}
    assert spilled == set(range(manifest["buckets"])) - set(manifest["done"])  # done: removed

    resumed = local.settle_file(shanxi.claims, shanxi.persons, out, chunk_rows=700,
                                person_years=years)
    assert resumed.resumed_chunks == 2
    assert resumed.rows == clean.rows
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in (tmp_path / "clean").iterdir())
    for part in sorted((tmp_path / "clean").glob("part-*.parquet")):
        assert pq.read_table(out / part.name).equals(pq.read_table(part)), part.name
    assert read_output(years).equals(read_output(tmp_path / "clean_py"))


def test_running_a_completed_job_again_settles_nothing_and_changes_nothing(
        shanxi: Population, tmp_path: Path) -> None:
    first = local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "out", chunk_rows=2000)
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}
    again = local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "out", chunk_rows=2000)
    assert again.resumed_chunks == first.chunks
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()} == before
    assert again.warnings == first.warnings


def test_another_job_does_not_overwrite_an_output_folder_it_did_not_write(
        shanxi: Population, tmp_path: Path) -> None:
    local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "out", chunk_rows=2000)
    with pytest.raises(InputError) as err:
        local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "out", chunk_rows=1000)
    assert err.value.field == "--out"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError):
        local.settle_file(shanxi.claims, shanxi.persons, tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep me"


def test_a_run_killed_while_checking_the_claims_is_checked_again(shanxi: Population, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / WORK).mkdir(parents=True)
    (out / WORK / "bucket-00000.arrow").write_bytes(b"half written")
    summary = local.settle_file(shanxi.claims, shanxi.persons, out)
    assert summary.resumed_chunks == 0
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.parquet"]
