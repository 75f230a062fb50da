"""Ingest of the local engine (and of the Spark engine's staging): the claims read in
batches, every row checked vectorised (:mod:`minsheng.batch.claims`), duplicate ``setl_id`` and
every parameter the claims need checked, and the prepared rows spilled into bucket files of
whole persons (:func:`bucket_of`) or staged as Parquet files for Spark
(:class:`StagingSink`) — here alone or in worker processes (:func:`ingest_buckets`).

Also here, as ingest is every job's first step and sizes its buckets by it: the default
chunk size (:data:`DEFAULT_CHUNK`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from minsheng.batch.arrow_buffers import arrow_ints
from minsheng.batch.bad_rows import MAX_REPORTED, BadRow, BadRows
from minsheng.batch.claims import check_claims, duplicate_setl_ids, prepare_claims, with_persons
from minsheng.batch.columns import (
    AMOUNTS,
    CLAIM_COLUMNS,
    PREPARED_SCHEMA,
    SECONDS_PER_DAY,
    setl_id_words,
    spilled_schema,
    spilled_width,
    spilled_words,
)
from minsheng.batch.files import check_columns, iter_frames
from minsheng.batch.fixed_texts import fixed_width_texts, texts_of_words
from minsheng.batch.inputs import count_rows, file_kind, parquet_files, unreadable
from minsheng.batch.persons import Persons
from minsheng.batch.pool import carried, pool_workers, share
from minsheng.batch.progress import NullReporter, Reporter
from minsheng.batch.worker_state import overrides_json, worker_persons, worker_view
from minsheng.core.parameters import ParameterView
from minsheng.rules.settlement import I64, Claims, ParameterResolver, resolve
from minsheng.rules.settlement_params import period_breaks

DEFAULT_CHUNK = 500_000


@dataclass
class Ingested:
    persons: Persons
    rows: int
    warnings: list[str]
    keys: list[pl.DataFrame] = field(default_factory=list)
    """The distinct parameter lookups the claims need (see :func:`check_parameters`)."""


def count_claims(path: Path) -> int:
    """Data rows of a claims file (CSV: counted from line ends; used to size the chunks)."""
    n = count_rows(path)
    if n is not None:
        return n
    lines = 0
    last = b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 24):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(0, lines - 1 + (last != b"\n"))


def ingest(claims_path: Path, persons: Persons, view: ParameterView,
           sink: Callable[[pl.DataFrame], None], *, batch_rows: int = DEFAULT_CHUNK,
           total: int | None = None, reporter: Reporter | None = None) -> Ingested:
    """Check every claim and hand the prepared batches to ``sink`` (see the module docstring).

    Raises :class:`BadRows` (after reading the whole file, so every bad row is counted) or
    the error of a parameter the claims need; the caller then discards what ``sink`` got."""
    reporter = reporter or NullReporter()
    reporter.phase("校验结算单 validating claims", total)
    bad: list[BadRow] = []
    bad_count = 0
    hashes: list[npt.NDArray[np.uint64]] = []
    keys: list[pl.DataFrame] = []
    breaks = period_breaks(view)
    offset = 1
    for frame in iter_frames(claims_path, "claims", CLAIM_COLUMNS, batch_rows):
        batch = prepare_claims(frame, offset, persons)
        offset += frame.height
        hashes.append(batch.hashes)
        if batch.bad_count:
            bad.extend(batch.bad[: max(0, MAX_REPORTED - len(bad))])
            bad_count += batch.bad_count
        elif not bad_count and batch.frame.height:
            keys.append(_parameter_keys(batch.frame, persons, breaks))
            sink(batch.frame)
        reporter.advance(frame.height)
    return finish_ingest(claims_path, persons, view, hashes, bad, bad_count, keys)


def finish_ingest(claims_path: Path, persons: Persons, view: ParameterView,
                  hashes: list[npt.NDArray[np.uint64]], bad: list[BadRow], bad_count: int,
                  keys: list[pl.DataFrame]) -> Ingested:
    """After every batch is checked: duplicate ``setl_id`` over the file (``hashes``: each
    batch's), then the bad rows (:class:`BadRows`), then every parameter the claims
    need."""
    dup, dup_count = duplicate_setl_ids(claims_path, hashes)
    if bad_count or dup_count:
        shown = sorted(bad + dup, key=lambda r: r.row)[:MAX_REPORTED]
        raise BadRows(shown, bad_count + dup_count)
    warnings = check_parameters(keys, view)
    return Ingested(persons, int(sum(len(h) for h in hashes)), warnings, keys)


@dataclass(frozen=True)
class IngestTask:
    """Consecutive rows of a Parquet claims file, checked and spilled by a worker process."""

    unit: int
    path: str
    offset: int
    """The first row's position in ``path`` (from 0)."""
    rows: int
    first_row: int
    """The first row's number in the whole input (data rows from 1)."""
    work: str
    buckets: int
    """Bucket files to spill into; 0: one Parquet file of staged rows (the Spark engine)."""
    overrides_json: str


@carried
def ingest_unit(task: IngestTask) -> tuple[int, npt.NDArray[np.uint64], list[BadRow], int,
                                           pl.DataFrame | None]:
    """Check some rows and spill them as prepared rows (runs in a worker process; the rows
    are read and checked before the persons are needed: a task may be handed out while they
    are still being read)."""
    view = worker_view(task.overrides_json)
    try:
        frame = pl.scan_parquet(task.path).select(CLAIM_COLUMNS).slice(task.offset,
                                                                        task.rows).collect()
    except (pa.ArrowException, pl.exceptions.PolarsError) as exc:
        raise unreadable(Path(task.path), "claims", exc) from None
    checked = check_claims(frame, task.first_row)
    persons = worker_persons(task.work)
    batch = with_persons(checked, persons)
    hashes = batch.hashes
    if batch.bad_count:
        return task.unit, hashes, batch.bad, batch.bad_count, None
    keys = _parameter_keys(batch.frame, persons, period_breaks(view))
    sink: _BucketSink | StagingSink
    if task.buckets:
        sink = _BucketSink(Path(task.work), task.buckets, len(persons), f"-u{task.unit:05d}")
    else:
        sink = StagingSink(Path(task.work) / STAGED_CLAIMS / f"claims-u{task.unit:05d}.parquet")
    try:
        sink(batch.frame)
    finally:
        sink.close()
    return task.unit, hashes, [], 0, keys


def parquet_units(path: Path, workers: int = 1, rows: int = 4 * DEFAULT_CHUNK
                  ) -> list[tuple[str, int, int, int]]:
    """``(file, offset in the file, first row, rows)``: the row groups of the input, each
    whole (Polars decodes the whole row group a piece lies in, so pieces of one group
    decode it again and again) unless it has more than ``rows`` rows, or the file has fewer
    than two row groups per worker: then in even pieces."""
    groups = []
    for p in parquet_files(path):
        try:
            pf = pq.ParquetFile(p)
        except pa.ArrowException as exc:
            raise unreadable(p, "claims", exc) from None
        check_columns("claims", pf.schema_arrow.names, CLAIM_COLUMNS)
        for rg in range(pf.metadata.num_rows and pf.metadata.num_row_groups):
            groups.append((str(p), rg, pf.metadata.row_group(rg).num_rows))
    least = math.ceil(2 * workers / len(groups)) if 0 < len(groups) < 2 * workers else 1
    units = []
    first = 1
    offset, last_file = 0, None
    for p_name, _, n in groups:
        if p_name != last_file:
            offset, last_file = 0, p_name
        pieces = max(least, math.ceil(n / max(1, rows)))
        size = math.ceil(n / pieces) if n else 1  # even pieces
        for start in range(0, n, size):
            units.append((p_name, offset + start, first + start, min(size, n - start)))
        offset += n
        first += n
    return units


def ingest_tasks(claims_path: Path, pool: Executor | None, work: Path, buckets: int,
                 overrides: Mapping[str, Any]) -> list[IngestTask]:
    """The pieces of the claims the pool's processes and this one check in parallel, one
    task each (:func:`ingest_parallel`): a Parquet file of more than one piece; else none
    (the file is checked here alone)."""
    if pool is None or file_kind(claims_path) != "parquet":
        return []
    units = parquet_units(claims_path, pool_workers(pool))
    if len(units) < 2:
        return []
    key = overrides_json(overrides)
    return [IngestTask(i, path, offset, n, first, str(work), buckets, key)
            for i, (path, offset, first, n) in enumerate(units)]


def ingest_parallel(claims_path: Path, persons: Persons, view: ParameterView, pool: Executor,
                    tasks: list[IngestTask], reporter: Reporter,
                    spilled: Callable[[], None] | None = None,
                    running: Mapping[int, Future[Any]] | None = None) -> Ingested:
    """:func:`ingest` with each piece of the file (``tasks``, :func:`ingest_tasks`) checked
    and spilled by a worker process (into bucket files, or as a Parquet file of staged rows).
    ``running``: the pieces (by number) already handed out. ``spilled()`` is called once
    every piece is spilled without a bad row, before the checks over the whole file
    (repeated ``setl_id``, parameters) run in this process."""
    running = running or {}
    reporter.phase("校验结算单 validating claims", sum(t.rows for t in tasks))
    results: dict[int, Any] = {}

    def done(result: Any) -> None:
        unit, hashes, bad, bad_count, keys = result
        results[unit] = (hashes, bad, bad_count, keys)
        reporter.advance(tasks[unit].rows)

    share(pool, ingest_unit, [t for t in tasks if t.unit not in running], done,
          running=running.values())
    hashes_all, bad_all, keys_all = [], [], []
    bad_count = 0
    for i in range(len(tasks)):
        hashes, bad, count, keys = results[i]
        hashes_all.append(hashes)
        bad_all.extend(bad)
        bad_count += count
        if keys is not None:
            keys_all.append(keys)
    if not bad_count and spilled is not None:
        spilled()
    return finish_ingest(claims_path, persons, view, hashes_all, bad_all[:MAX_REPORTED],
                         bad_count, keys_all)


def _parameter_keys(frame: pl.DataFrame, persons: Persons, breaks: I64) -> pl.DataFrame:
    """The distinct (region, resident, categories, med_type, hosp_lv, period) of a batch,
    each with the day of its first claim."""
    pidx = frame["pidx"].to_numpy()
    day = frame["t"].to_numpy() // SECONDS_PER_DAY
    period = np.searchsorted(breaks, day, side="right")
    med = frame["med_type"].to_numpy().astype(np.int64)
    lv = frame["hosp_lv"].to_numpy().astype(np.int64)
    person = persons.parameter_key()
    if len(breaks) < 1 << 10 and len(pidx) and int(person.max()) < 1 << 45:
        # the whole key in one integer: one distinct over one column
        key = (person[pidx] << 17) | (med << 12) | (lv << 10) | period
        first = pl.Series(key).is_first_distinct().to_numpy()
        at = np.flatnonzero(first)
        return pl.DataFrame({
            "region": persons.region[pidx[at]], "resident": persons.resident[pidx[at]],
            "categories": persons.categories[pidx[at]], "med_type": frame["med_type"].gather(at),
            "hosp_lv": frame["hosp_lv"].gather(at), "period": period[at], "day": day[at]})
    keyed = pl.DataFrame({
        "region": persons.region[pidx], "resident": persons.resident[pidx],
        "categories": persons.categories[pidx], "med_type": frame["med_type"],
        "hosp_lv": frame["hosp_lv"], "period": period, "day": day})
    return keyed.unique(subset=["region", "resident", "categories", "med_type", "hosp_lv",
                                "period"], keep="first", maintain_order=True)


def check_parameters(keys: list[pl.DataFrame], view: ParameterView,
                     resolver: ParameterResolver | None = None) -> list[str]:
    """Read every parameter the claims need, once per distinct combination (errors raise).

    Returns the warnings of the example values read (the kernel's own warnings)."""
    if not keys:
        return []
    distinct = pl.concat(keys).unique(
        subset=["region", "resident", "categories", "med_type", "hosp_lv", "period"],
        keep="first", maintain_order=True)
    n = distinct.height
    zeros = np.zeros(n, np.int64)
    claims = Claims.from_columns({
        "person": np.arange(n), "day": distinct["day"].to_numpy(),
        "region": distinct["region"].to_numpy(), "resident": distinct["resident"].to_numpy(),
        "med_type": distinct["med_type"].to_numpy(), "hosp_lv": distinct["hosp_lv"].to_numpy(),
        "in_province": np.ones(n, np.bool_), "categories": distinct["categories"].to_numpy(),
        **{a: zeros for a in AMOUNTS}})
    return list(resolve(claims, view, resolver).tables.warnings)


def bucket_count(claims: int, chunk_rows: int) -> int:
    """Buckets for ``claims`` in chunks of about ``chunk_rows``: one per chunk and, from two
    chunks on, one more — the last chunk's persons split into two buckets (:func:`bucket_of`)."""
    shares = max(1, math.ceil(claims / chunk_rows))
    return shares + 1 if shares >= 2 else shares


def bucket_of(pidx: I64, buckets: int, persons: int) -> I64:
    """The bucket of each person index: even shares of the persons, except that from three
    buckets on the last two hold half a share each. The buckets are handed out in order, so
    the last tasks of a parallel job are short and its processes finish closer together
    (with two processes the last ~0.5 s had one core idle)."""
    if buckets < 3:
        even: I64 = pidx * buckets // persons
        return even
    shares = buckets - 1
    half = pidx * (2 * shares) // persons  # the half share each person is in
    tapered: I64 = np.maximum(half >> 1, half - (shares - 1))
    return tapered


def _spilled(frame: pl.DataFrame, order: npt.NDArray[np.intp] | None) -> pa.Table:
    """The prepared rows of ``frame`` (in ``order``: all when None) as they are spilled
    (:func:`minsheng.batch.columns.spilled_schema`): ``setl_id`` as 64-bit words when all have
    one width (in a 10-million-claim job, gathering the texts and turning them into Arrow
    cost about 0.06 CPU-second per million claims more than gathering their words)."""
    fixed = fixed_width_texts(frame["setl_id"])
    if fixed is None:
        rows = frame if order is None else frame[order]
        return rows.to_arrow().cast(PREPARED_SCHEMA)
    width, words = fixed
    rest = frame.drop("setl_id")
    table = (rest if order is None else rest[order]).to_arrow()
    for name, word in zip(setl_id_words(width), words, strict=True):
        table = table.append_column(name, arrow_ints(word if order is None else word[order]))
    schema = spilled_schema(width)
    return table.cast(schema).replace_schema_metadata(schema.metadata)


class _BucketSink:
    """Spills prepared batches into bucket files by person index (whole persons per bucket)."""

    def __init__(self, work: Path, buckets: int, persons: int, suffix: str = "") -> None:
        self.work = work
        self.suffix = suffix
        self.buckets = buckets
        self.persons = max(persons, 1)
        self.writers: dict[tuple[int, int], pa.ipc.RecordBatchFileWriter] = {}

    def __call__(self, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        bucket = bucket_of(frame["pidx"].to_numpy(), self.buckets, self.persons)
        first, last = int(bucket.min()), int(bucket.max())
        if first == last:
            self._write(first, _spilled(frame, None))
            return
        order = np.argsort((bucket - first).astype(np.uint16 if last - first < 1 << 16
                                                   else np.uint32), kind="stable")
        table = _spilled(frame, order)
        bounds = np.searchsorted(bucket[order], np.arange(first, last + 2)).tolist()
        for b in range(first, last + 1):
            a, z = bounds[b - first], bounds[b - first + 1]
            if z > a:
                self._write(b, table.slice(a, z - a))

    def _write(self, b: int, table: pa.Table) -> None:
        width = spilled_width(table.schema)  # (a file for each form a batch came in)
        writer = self.writers.get((b, width))
        if writer is None:
            name = f"bucket-{b:05d}{self.suffix}-w{width}.arrow"
            writer = pa.ipc.new_file(str(self.work / name), table.schema)
            self.writers[b, width] = writer
        writer.write_table(table)

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
        self.writers.clear()


def read_bucket(work: str, bucket: int) -> pa.Table:
    """The prepared rows spilled into one bucket (by one process or by several), in the form
    they were spilled (:func:`minsheng.batch.columns.spilled_schema`; ``setl_id`` as texts
    when its files differ)."""
    files = sorted(Path(work).glob(f"bucket-{bucket:05d}*.arrow"))
    tables = [pa.ipc.open_file(pa.memory_map(str(f))).read_all() for f in files]
    if not tables:
        return PREPARED_SCHEMA.empty_table()
    if len({t.schema for t in tables}) > 1:
        tables = [_with_texts(t) for t in tables]
    return pa.concat_tables(tables)


def _with_texts(table: pa.Table) -> pa.Table:
    """Spilled rows with ``setl_id`` as texts (:data:`PREPARED_SCHEMA`)."""
    width, words = spilled_words(table)
    if not width:
        return table
    texts = texts_of_words(width, words)
    return pa.table({n: texts if n == "setl_id" else table.column(n)
                     for n in PREPARED_SCHEMA.names}, schema=PREPARED_SCHEMA)


STAGED_CLAIMS = "claims"
"""The folder of staged claims (Parquet files) in a staging folder, beside the persons."""


class StagingSink:
    """Writes prepared rows as one Parquet file of staged claims (:data:`PREPARED_SCHEMA`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None

    def __call__(self, frame: pl.DataFrame) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, PREPARED_SCHEMA, compression="lz4")
        table = frame.select(PREPARED_SCHEMA.names).to_arrow().cast(PREPARED_SCHEMA)
        self.writer.write_table(table, row_group_size=1 << 18)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def ingest_buckets(claims: Path, persons: Persons, view: ParameterView, work: Path, buckets: int,
                   overrides: Mapping[str, Any], reporter: Reporter, pool: Executor | None,
                   batch_rows: int, total: int, spilled: Callable[[], None] | None = None,
                   running: Mapping[int, Future[Any]] | None = None,
                   tasks: list[IngestTask] | None = None) -> Ingested:
    """Check the claims and spill them into ``buckets`` bucket files in ``work`` (0: stage
    them as Parquet files in ``work / STAGED_CLAIMS``, for Spark): in the pool's processes
    and this one when there are :func:`ingest_tasks` (``tasks``: when already made;
    ``spilled``, ``running``: see :func:`ingest_parallel`), else here alone."""
    if tasks is None:
        tasks = ingest_tasks(claims, pool, work, buckets, overrides)
    if pool is not None and tasks:
        return ingest_parallel(claims, persons, view, pool, tasks, reporter, spilled, running)
    sink: _BucketSink | StagingSink = (
        _BucketSink(work, buckets, len(persons)) if buckets
        else StagingSink(work / STAGED_CLAIMS / "claims.parquet"))
    try:
        return ingest(claims, persons, view, sink, batch_rows=batch_rows, total=total,
                      reporter=reporter)
    finally:
        sink.close()
