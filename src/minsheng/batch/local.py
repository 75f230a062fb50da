"""The local batch engine: a file of claims settled on this machine, in chunks of whole persons.

1. **Ingest** (:func:`minsheng.batch.ingest.ingest`): the persons file is read and checked;
   the claims are read in batches, every row checked vectorised (:mod:`minsheng.batch.claims`),
   and each batch's prepared rows are spilled to one of ``B`` bucket files by the person's
   index (a bucket holds *whole persons*, about ``chunk_rows`` claims). Duplicate
   ``setl_id`` over the whole file and every parameter the claims need (each distinct
   region, period, insurance type, benefit group, hospital level and category set once)
   are checked before anything is settled: one bad row, or one parameter without a value,
   and nothing is settled and nothing is left behind.
2. **Settle** (:func:`settle_rows`): each bucket is sorted by person, ``setl_time`` and
   ``setl_id`` and handed whole to :func:`minsheng.rules.settlement.settle` — the same
   kernel the service calls one claim at a time (:mod:`minsheng.batch.chunks`) — and its
   outputs are written as one Parquet part file (money as text with two decimals). Buckets
   run in parallel worker processes (``workers``, :mod:`minsheng.batch.pool`), so memory
   stays bounded by a few chunks whatever the file size.
3. **Resume** (:mod:`minsheng.batch.parts`): while the job runs, ``OUT/_work/manifest.json``
   records it (a fingerprint of the inputs, the overrides and the chunk size) and every
   completed bucket; each part is written to a temporary name and renamed when complete.
   Running the same command again after an interruption settles only the buckets not yet
   done, and the output is identical. When the job is complete ``_work`` is removed; every
   part carries the job's fingerprint in its metadata, so running the same command once
   more changes nothing.

``OUT`` is then a folder holding only Parquet part files (``part-00000.parquet`` …), read as
one table by pyarrow, Polars (``pl.read_parquet(OUT)``), pandas and Spark.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from minsheng.batch.arrow_buffers import arrow_ints
from minsheng.batch.chunks import (
    PERSON_YEAR_SCHEMA,
    claim_arrow,
    person_year_table,
    settle_table,
)
from minsheng.batch.ingest import (
    DEFAULT_CHUNK,
    bucket_count,
    count_claims,
    ingest_buckets,
    ingest_tasks,
    ingest_unit,
    read_bucket,
)
from minsheng.batch.inputs import file_kind
from minsheng.batch.overrides import parameter_view
from minsheng.batch.parts import (
    COMPRESSIONS,
    DEFAULT_COMPRESSION,
    FORMAT,
    MANIFEST,
    WORK,
    Parts,
    fingerprint,
    part_name,
    publish,
    read_manifest,
    write_json,
    write_parts,
    write_text,
)
from minsheng.batch.person_years import WATCH_MISSING, missing_warnings
from minsheng.batch.persons import load_persons
from minsheng.batch.pool import carried, pool_workers, share, worker_count, worker_pool
from minsheng.batch.progress import NullReporter, Reporter
from minsheng.batch.worker_state import (
    ABANDONED,
    JobAbandoned,
    overrides_json,
    stage_persons,
    staged_file,
    worker_persons,
    worker_resolver,
    worker_view,
)
from minsheng.core.errors import InputError
from minsheng.core.parameters import ParameterView


@dataclass
class Summary:
    out: str
    rows: int
    chunks: int
    resumed_chunks: int
    warnings: list[str]
    seconds: float
    person_years: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"out": self.out, "rows": self.rows, "chunks": self.chunks,
                "resumed_chunks": self.resumed_chunks, "warnings": self.warnings,
                "seconds": round(self.seconds, 3), "person_years": self.person_years,
                **self.extra}


BucketResult = tuple[int, int, list[str], list[tuple[str, str, str]]]
"""A settled bucket: its number, its rows, the kernel's warnings, and the watch-list
parameters not encoded (parameter, region, date)."""


@dataclass(frozen=True)
class BucketTask:
    bucket: int
    work: str
    out: str
    person_years: str | None
    overrides_json: str
    meta: str
    compression: str = DEFAULT_COMPRESSION


@dataclass(frozen=True)
class SettledRows:
    """What one call of the kernel on prepared rows of whole persons gives the outputs."""

    claims: pa.Table
    """:data:`minsheng.batch.chunks.CLAIM_OUTPUT_SCHEMA`, in settlement order."""
    person_years: pl.DataFrame | None
    """:data:`minsheng.batch.chunks.PERSON_YEAR_SCHEMA` (when asked for)."""
    warnings: list[str]
    missing: list[tuple[str, str, str]]
    """The watch-list parameters not encoded for some person-year (their lists are empty)."""


def settle_rows(prepared: pa.Table, work: str, overrides_json: str, person_years: bool
                ) -> SettledRows:
    """Settle prepared rows of whole persons (the columns of :data:`PREPARED_SCHEMA`) with
    the persons and parameters of the job in ``work``: the local engine calls it on each
    bucket, the Spark engine on each group of persons."""
    persons = worker_persons(work)
    view = worker_view(overrides_json)
    settled = settle_table(prepared, view, persons, worker_resolver(work, overrides_json))
    ids = persons.psn_arrow().take(arrow_ints(settled.frame["pidx"].to_numpy()))
    warnings = list(settled.warnings)
    years: pl.DataFrame | None = None
    missing: list[tuple[str, str, str]] = []
    if person_years:
        psn_no = pl.from_arrow(ids)
        assert isinstance(psn_no, pl.Series)
        years, watch = person_year_table(settled, psn_no, view)
        warnings += [w for w in watch.warnings if w not in warnings
                     and not w.startswith(WATCH_MISSING)]
        missing = sorted(watch.missing)
    return SettledRows(claim_arrow(settled, ids), years, warnings, missing)


def settle_bucket(task: BucketTask) -> tuple[BucketResult, Parts]:
    """Settle one bucket: its result and the tables of its part files (not yet written)."""
    prepared = read_bucket(task.work, task.bucket)
    settled = settle_rows(prepared, task.work, task.overrides_json, task.person_years is not None)
    parts: Parts = []
    if task.person_years is not None and settled.person_years is not None:
        parts.append((settled.person_years.to_arrow().cast(PERSON_YEAR_SCHEMA),
                      Path(task.person_years) / part_name(task.bucket)))
    parts.append((settled.claims, Path(task.out) / part_name(task.bucket)))
    return (task.bucket, prepared.num_rows, settled.warnings, settled.missing), parts


@carried
def run_bucket(task: BucketTask) -> BucketResult | None:
    """Settle one bucket file and write its part file(s). Runs in a worker process.

    A task without ``meta`` was handed out while this process still ran the checks over the
    whole file (:func:`_stage`): its part is written once they have passed (when the job's
    part metadata is staged, :data:`PART_META`); if they fail, nothing is written and the
    result is None."""
    result, parts = settle_bucket(task)
    try:
        meta = task.meta or staged_file(Path(task.work), PART_META).read_text("utf-8")
    except JobAbandoned:
        return None
    publish(write_parts(parts, meta, task.compression))
    return result


PART_META = "part-meta.json"
"""In ``_work``: the metadata of the job's parts, written once its checks have passed."""


def _run_in_turn(tasks: list[BucketTask], record: Callable[[BucketResult], None]) -> None:
    """The buckets one after another, each bucket's part files written by a second thread
    while the next bucket is settled (Parquet writing runs without the GIL). A part file is
    renamed into place, and its bucket recorded, only once it is written."""
    with ThreadPoolExecutor(1, thread_name_prefix="minsheng-parts") as writer:
        pending: tuple[Future[list[tuple[Path, Path]]], BucketResult] | None = None
        for task in tasks:
            result, parts = settle_bucket(task)
            if pending is not None:
                publish(pending[0].result())
                record(pending[1])
            pending = (writer.submit(write_parts, parts, task.meta, task.compression), result)
        if pending is not None:
            publish(pending[0].result())
            record(pending[1])


def settle_file(claims: Path, persons_path: Path, out: Path, *,
                overrides: Mapping[str, Any] | None = None, chunk_rows: int = DEFAULT_CHUNK,
                person_years: Path | None = None, workers: int | None = None,
                reporter: Reporter | None = None,
                after_chunk: Callable[[int], None] | None = None,
                compression: str = DEFAULT_COMPRESSION) -> Summary:
    """``minsheng batch settle --engine local`` (see the module docstring).

    ``workers`` worker processes (default: one per core for files of two million claims or
    more, else none) check and settle the chunks in parallel. ``after_chunk(bucket)`` is
    called after each completed chunk is recorded (tests use it to simulate an interruption).
    ``compression``: of the Parquet parts (:data:`minsheng.batch.parts.COMPRESSIONS`; the
    values are the same)."""
    started = time.perf_counter()
    reporter = reporter or NullReporter()
    overrides = dict(overrides or {})
    if chunk_rows < 1:
        raise InputError("--chunk-rows", "每块结算单数应为正整数", "chunk size must be positive")
    if compression not in COMPRESSIONS:
        raise InputError("--compression", f"应为 {'、'.join(COMPRESSIONS)} 之一，收到 {compression!r}",
                         f"expected one of {', '.join(COMPRESSIONS)}")
    view = parameter_view(overrides)
    file_kind(claims)
    file_kind(persons_path)
    fp = fingerprint(claims, persons_path, overrides, chunk_rows, person_years)
    manifest = read_manifest(out)
    if manifest is not None:
        if manifest.get("fingerprint") != fp:
            raise InputError("--out", f"输出目录 {out} 中已有另一批次（输入、参数或分块不同）的结果；"
                                      "请换一个输出目录或先删除它",
                             "the output folder holds another job's results")
    elif out.exists() and (not out.is_dir() or any(p.name != WORK for p in out.iterdir())):
        # (a lone _work folder is what an interrupted check leaves: it is checked again)
        raise InputError("--out", f"输出目录 {out} 已存在且不是空目录", "output exists and is not empty")
    if manifest is not None and manifest.get("state") == "complete":
        return _summary(out, manifest, 0.0, time.perf_counter() - started, person_years)
    job = _Job(out, overrides, person_years, compression)
    total = count_claims(claims)  # (a CSV file is read through to count its rows: once)
    with worker_pool(worker_count(workers, total), overrides) as pool:
        ahead: dict[int, Future[Any]] = {}  # buckets handed out while the checks ran
        if manifest is None or manifest.get("state") != "staged":
            manifest = _stage_or_clean(claims, total, persons_path, job, view, fp, chunk_rows,
                                       reporter, pool, ahead)
        staged = time.perf_counter()
        _settle_buckets(manifest, job, reporter, pool, after_chunk, ahead)
    manifest["state"] = "complete"
    shutil.rmtree(out / WORK, ignore_errors=True)
    if person_years is not None:
        shutil.rmtree(person_years / WORK, ignore_errors=True)
    return _summary(out, manifest, staged - started, time.perf_counter() - started, person_years)


def _summary(out: Path, manifest: Mapping[str, Any], ingest_seconds: float, seconds: float,
             person_years: Path | None) -> Summary:
    buckets = int(manifest["buckets"])
    return Summary(str(out), int(manifest["rows"]), buckets, int(manifest.get("resumed", buckets)),
                   list(manifest["warnings"]), seconds,
                   str(person_years) if person_years else None,
                   {"engine": "local", "ingest_seconds": round(ingest_seconds, 3),
                    "settle_seconds": round(seconds - ingest_seconds, 3)})


@dataclass(frozen=True)
class _Job:
    """Where a job writes and what it settles with."""

    out: Path
    overrides: Mapping[str, Any]
    person_years: Path | None
    compression: str

    def task(self, bucket: int, meta: str) -> BucketTask:
        return BucketTask(bucket, str(self.out / WORK), str(self.out),
                          str(self.person_years) if self.person_years else None,
                          overrides_json(self.overrides), meta,
                          self.compression)


def _stage_or_clean(claims: Path, total: int, persons_path: Path, job: _Job,
                    view: ParameterView, fp: str, chunk_rows: int, reporter: Reporter,
                    pool: Executor | None, ahead: dict[int, Future[Any]]) -> dict[str, Any]:
    """Check and spill the claims; on any error remove what was written and re-raise (the
    tasks handed out before the persons or the checks were done are told to write nothing,
    and waited for)."""
    work = job.out / WORK
    created = not job.out.exists()
    made_years = job.person_years is not None and not job.person_years.exists()
    early: list[Future[Any]] = []
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        return _stage(claims, total, persons_path, job, work, view, fp, chunk_rows, reporter,
                      pool, ahead, early)
    except BaseException:
        if early:
            (work / ABANDONED).touch()
            wait(early)
            ahead.clear()
        shutil.rmtree(work, ignore_errors=True)
        if created:
            shutil.rmtree(job.out, ignore_errors=True)
        if made_years and job.person_years is not None:
            shutil.rmtree(job.person_years, ignore_errors=True)
        raise


def _settle_buckets(manifest: dict[str, Any], job: _Job, reporter: Reporter,
                    pool: Executor | None, after_chunk: Callable[[int], None] | None,
                    ahead: Mapping[int, Future[Any]]) -> None:
    out = job.out
    done: set[int] = set(manifest["done"])
    manifest["resumed"] = len(done)
    todo = [b for b in range(int(manifest["buckets"])) if b not in done and b not in ahead]
    warnings: list[str] = manifest["warnings"]
    if not todo and not ahead:
        return
    reporter.phase("结算 settling", int(manifest["rows"]))
    if done:
        reporter.advance(int(sum(manifest.get("rows_done", {}).values())))
    meta = _part_meta(manifest)
    tasks = [job.task(b, meta) for b in todo]

    def record(result: BucketResult) -> None:
        b, rows, notes, missing = result
        done.add(b)
        manifest["done"] = sorted(done)
        manifest.setdefault("rows_done", {})[str(b)] = rows
        warnings.extend(w for w in notes if w not in warnings)
        known = manifest.setdefault("watch_missing", [])
        known.extend(list(m) for m in missing if list(m) not in known)
        write_json(out / MANIFEST, manifest)
        for spilled in (out / WORK).glob(f"bucket-{b:05d}*.arrow"):  # (recorded: not needed)
            spilled.unlink()
        reporter.advance(rows)
        if after_chunk is not None:
            after_chunk(b)

    if pool is None or (len(tasks) == 1 and not ahead):
        _run_in_turn(tasks, record)
    else:
        share(pool, run_bucket, tasks, record, running=ahead.values())
    missing = {(str(n), str(r), str(d)) for n, r, d in manifest.get("watch_missing", [])}
    warnings.extend(missing_warnings(missing))


def _part_meta(manifest: Mapping[str, Any]) -> str:
    keep = ("format", "fingerprint", "buckets", "rows", "warnings", "person_years")
    return json.dumps({**{k: manifest[k] for k in keep}, "state": "complete", "done": []},
                      ensure_ascii=False)


def _stage(claims: Path, total: int, persons_path: Path, job: _Job, work: Path,
           view: ParameterView, fp: str, chunk_rows: int, reporter: Reporter,
           pool: Executor | None, ahead: dict[int, Future[Any]], early: list[Future[Any]]
           ) -> dict[str, Any]:
    """Check and spill the ``total`` claims, then stage the job (its manifest and part
    metadata).

    The worker processes would wait twice, each time about half a second of one core in a
    10-million-claim job (docs/batch.md, sitting 11); instead each is handed, before this
    process reads the persons, a piece of the file to read and check (it waits for the
    persons only to find them, :func:`minsheng.batch.ingest.ingest_unit`) and, once every row
    is spilled, a bucket to settle while this one runs the checks over the whole file
    (:func:`run_bucket`). Those tasks, in ``ahead`` (the buckets) and ``early`` (all), are
    told to write nothing if the job fails first."""
    person_years = job.person_years
    if person_years is not None:
        if person_years.exists() and (not person_years.is_dir() or any(person_years.iterdir())):
            raise InputError("--person-years", f"输出目录 {person_years} 已存在且不是空目录",
                             "output exists and is not empty")
        person_years.mkdir(parents=True, exist_ok=True)
    buckets = bucket_count(total, chunk_rows)
    tasks = ingest_tasks(claims, pool, work, buckets, job.overrides)
    units: dict[int, Future[Any]] = {}  # pieces of the file handed out before the persons
    if pool is not None:
        for task in tasks[:pool_workers(pool)]:
            units[task.unit] = pool.submit(ingest_unit, task)
            early.append(units[task.unit])
    reporter.phase("读取人员 reading persons", None)
    persons = load_persons(persons_path)
    stage_persons(persons, work)

    def settle_ahead() -> None:
        if pool is not None:
            for b in range(min(pool_workers(pool), buckets)):
                ahead[b] = pool.submit(run_bucket, job.task(b, ""))
                early.append(ahead[b])

    ingested = ingest_buckets(claims, persons, view, work, buckets, job.overrides, reporter,
                              pool, min(chunk_rows, DEFAULT_CHUNK), total, settle_ahead, units,
                              tasks)
    manifest: dict[str, Any] = {
        "format": FORMAT, "fingerprint": fp, "state": "staged", "buckets": buckets,
        "rows": ingested.rows, "done": [], "rows_done": {}, "warnings": ingested.warnings,
        "person_years": str(person_years) if person_years else None}
    write_json(job.out / MANIFEST, manifest)
    write_text(work / PART_META, _part_meta(manifest))  # (the last step: see run_bucket)
    return manifest
