"""The local batch engine: a file of claims settled on this machine, in chunks of whole persons.

1. **Ingest** (:func:`ingest`): the persons file is read and checked; the claims are read
   in batches, every row checked vectorised (:mod:`minsheng.batch.io`), and each batch's
   prepared rows are spilled to one of ``B`` bucket files by the person's index (a bucket
   holds *whole persons*, about ``chunk_rows`` claims). Duplicate ``setl_id`` over the whole
   file and every parameter the claims need (each distinct region, period, insurance type,
   benefit group, hospital level and category set once) are checked before anything is
   settled: one bad row, or one parameter without a value, and nothing is settled and
   nothing is left behind.
2. **Settle** (:func:`settle_rows`): each bucket is sorted by person, ``setl_time`` and
   ``setl_id`` and handed whole to :func:`minsheng.rules.settlement.settle` — the same
   kernel the service calls one claim at a time — and its outputs are written as one
   Parquet part file (money as text with two decimals). Buckets run in parallel worker
   processes (``workers``), so memory stays bounded by a few chunks whatever the file size.
3. **Resume**: while the job runs, ``OUT/_work/manifest.json`` records it (a fingerprint
   of the inputs, the overrides and the chunk size) and every completed bucket; each part
   is written to a temporary name and renamed when complete. Running the same command
   again after an interruption settles only the buckets not yet done, and the output is
   identical. When the job is complete ``_work`` is removed; every part carries the job's
   fingerprint in its metadata, so running the same command once more changes nothing.

``OUT`` is then a folder holding only Parquet part files (``part-00000.parquet`` …), read as
one table by pyarrow, Polars (``pl.read_parquet(OUT)``), pandas and Spark.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import shutil
import time
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
from dataclasses import dataclass, field
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from minsheng.batch.allocators import WORKER_ENVIRONMENT, keep_freed_memory
from minsheng.batch.arrow_buffers import arrow_ints, numpy_of
from minsheng.batch.io import (
    AMOUNTS,
    CAP_ROOMS,
    CLAIM_COLUMNS,
    MAX_REPORTED,
    OUTPUT_MONEY,
    PERSON_YEAR_MONEY,
    PREPARED_SCHEMA,
    SECONDS_PER_DAY,
    BadRow,
    BadRows,
    Persons,
    count_rows,
    duplicate_setl_ids,
    file_kind,
    iter_frames,
    load_persons,
    money_texts,
    parameter_view,
    prepare_claims,
    sort_u64,
    unreadable,
)
from minsheng.batch.money_text import money_arrays
from minsheng.batch.person_years import WATCH_MISSING, WatchLists, missing_warnings, watch_lists
from minsheng.core.errors import InputError, MinshengError
from minsheng.core.parameters import ParameterView
from minsheng.rules.settlement import (
    Claims,
    ParameterResolver,
    Settlement,
    parameter_resolver,
    resolve,
    settle,
)
from minsheng.rules.settlement_params import period_breaks

DEFAULT_CHUNK = 500_000
COMPRESSIONS = ("none", "lz4", "snappy", "zstd")
"""Compressions of the Parquet parts. ``none`` (the default) writes fastest: per million
claims about 0.15 CPU-second and 100 MB, against 0.26 and 32 MB with ``lz4`` and 0.34 and
18 MB with ``zstd`` (measured on synthetic Shanxi claims)."""
DEFAULT_COMPRESSION = "none"
KERNEL_CHUNK = 1 << 15
"""Claims per step inside the kernel (``settle(chunk=…)``): measured a little faster here
than the kernel's default on chunks of half a million claims."""
WORK = "_work"
MANIFEST = f"{WORK}/manifest.json"
META_KEY = b"minsheng.batch"
FORMAT = "minsheng-batch-settle/1"
I64 = npt.NDArray[np.int64]

CLAIM_OUTPUT_SCHEMA = pa.schema([("setl_id", pa.string()), ("psn_no", pa.string()),
                                 *((k, pa.string()) for k in (*OUTPUT_MONEY, *CAP_ROOMS))])
PERSON_YEAR_SCHEMA = pa.schema([("psn_no", pa.string()), ("year", pa.int32()),
                                *((k, pa.string()) for k in PERSON_YEAR_MONEY),
                                ("watch_list", pa.string()), ("watch_list_threshold", pa.string())])


class Reporter(Protocol):
    """Progress of a batch job (the CLI shows it as a Rich progress bar on stderr)."""

    def phase(self, description: str, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...


class NullReporter:
    def phase(self, description: str, total: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


# -- ingest -------------------------------------------------------------------------------

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
        hashes.append(sort_u64(batch.hashes))
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
    batch's, sorted), then the bad rows (:class:`BadRows`), then every parameter the claims
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


@carried
def ingest_unit(task: IngestTask) -> tuple[int, npt.NDArray[np.uint64], list[BadRow], int,
                                           pl.DataFrame | None]:
    """Check some rows and spill them as prepared rows (runs in a worker process)."""
    persons = worker_persons(task.work)
    view = worker_view(task.overrides_json)
    try:
        frame = pl.scan_parquet(task.path).select(CLAIM_COLUMNS).slice(task.offset,
                                                                        task.rows).collect()
    except (pa.ArrowException, pl.exceptions.PolarsError) as exc:
        raise unreadable(Path(task.path), "claims", exc) from None
    batch = prepare_claims(frame, task.first_row, persons)
    hashes = sort_u64(batch.hashes)  # (sorted here, in parallel: merged quickly)
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
    from minsheng.batch.io import _check_columns, _parquet_files

    groups = []
    for p in _parquet_files(path):
        try:
            pf = pq.ParquetFile(p)
        except pa.ArrowException as exc:
            raise unreadable(p, "claims", exc) from None
        _check_columns("claims", pf.schema_arrow.names, CLAIM_COLUMNS)
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


def ingest_parallel(claims_path: Path, persons: Persons, view: ParameterView, pool: Executor,
                    work: Path, buckets: int, overrides: Mapping[str, Any],
                    reporter: Reporter) -> Ingested:
    """:func:`ingest` with each piece of the file checked and spilled by a worker process
    (into ``buckets`` bucket files; 0: each piece as a Parquet file of staged rows)."""
    units = parquet_units(claims_path, _pool_workers(pool))
    total = sum(u[3] for u in units)
    reporter.phase("校验结算单 validating claims", total)
    overrides_json = json.dumps(dict(overrides), sort_keys=True)
    tasks = [IngestTask(i, path, offset, n, first, str(work), buckets, overrides_json)
             for i, (path, offset, first, n) in enumerate(units)]
    results: dict[int, Any] = {}

    def done(result: Any) -> None:
        unit, hashes, bad, bad_count, keys = result
        results[unit] = (hashes, bad, bad_count, keys)
        reporter.advance(units[unit][3])

    share(pool, ingest_unit, tasks, done)
    hashes_all, bad_all, keys_all = [], [], []
    bad_count = 0
    for i in range(len(units)):
        hashes, bad, count, keys = results[i]
        hashes_all.append(hashes)
        bad_all.extend(bad)
        bad_count += count
        if keys is not None:
            keys_all.append(keys)
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


# -- settling one chunk -------------------------------------------------------------------

@dataclass
class Settled:
    """One chunk settled: the prepared rows in settlement order and the kernel's result."""

    frame: pl.DataFrame
    region: I64
    resident: npt.NDArray[np.bool_]
    categories: npt.NDArray[np.uint16]
    result: Settlement
    warnings: list[str]
    setl_id: pa.Array | None = None
    """``setl_id`` in settlement order when ``frame`` does not hold it (:func:`settle_table`)."""


def _settle_sorted(pidx: I64, columns: Mapping[str, npt.NDArray[Any]], region: I64,
                   resident: npt.NDArray[np.bool_], categories: npt.NDArray[np.uint16],
                   view: ParameterView, resolver: ParameterResolver | None
                   ) -> tuple[Settlement, list[str]]:
    """The kernel on prepared columns already in settlement order, with each claim's
    person terms: the result and the warnings of the example values read."""
    claims = Claims.from_columns({
        "person": pidx, "day": columns["t"] // SECONDS_PER_DAY, "region": region,
        "resident": resident, "med_type": columns["med_type"], "hosp_lv": columns["hosp_lv"],
        "in_province": columns["in_province"], "categories": categories,
        **{a: columns[a] for a in AMOUNTS}})
    params = resolve(claims, view, resolver)
    return settle(claims, params, chunk=KERNEL_CHUNK), list(params.tables.warnings)


def settle_table(table: pa.Table, view: ParameterView, persons: Persons,
                 resolver: ParameterResolver | None = None) -> Settled:
    """Settle prepared rows of whole persons (an Arrow table, in any order) with the kernel,
    each claim with its person's ``region``, ``resident`` and ``categories`` from ``persons``
    (by ``pidx``); ``resolver`` (made for ``view``) keeps the terms read for earlier chunks.
    The columns go to numpy and ``setl_id`` stays Arrow text.

    ``frame`` of the result holds the numeric prepared columns in settlement order; the
    texts are in ``setl_id``."""
    names = [n for n in PREPARED_SCHEMA.names if n not in ("setl_id", "row")]
    columns: dict[str, Any] = {n: numpy_of(table.column(n)) for n in names}
    ids = table.column("setl_id")

    def id_texts(rows: npt.NDArray[np.intp]) -> pl.Series:
        texts = pl.from_arrow(ids.take(arrow_ints(rows)))
        assert isinstance(texts, pl.Series)
        return texts

    order = _order(columns["pidx"], columns["t"], id_texts)
    ordered = {n: v[order] for n, v in columns.items()}
    taken = ids.take(arrow_ints(order))
    setl_id = taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken
    pidx = ordered["pidx"]
    region, resident = persons.region[pidx], persons.resident[pidx]
    categories = persons.categories[pidx]
    result, warnings = _settle_sorted(pidx, ordered, region, resident, categories, view,
                                      resolver)
    return Settled(pl.DataFrame(ordered), region, resident, categories, result, warnings,
                   setl_id)


def settlement_order(frame: pl.DataFrame) -> npt.NDArray[np.intp]:
    """The permutation putting prepared rows in settlement order: by person, ``setl_time``,
    then ``setl_id`` as text.

    Person and time are packed with the row's position into one 64-bit key when they fit
    (one fast value sort), else sorted with ``lexsort``; rows alike in person and time are
    then ordered by ``setl_id``."""
    return _order(frame["pidx"].to_numpy(), frame["t"].to_numpy(),
                  lambda rows: frame["setl_id"].gather(rows))


def _order(pidx: I64, t: I64, setl_ids: Callable[[npt.NDArray[np.intp]], pl.Series]
           ) -> npt.NDArray[np.intp]:
    """:func:`settlement_order` of the columns ``pidx`` and ``t``; ``setl_ids(rows)`` gives
    the ``setl_id`` of some rows (only rows alike in person and time need it)."""
    n = len(pidx)
    if n < 2:
        return np.arange(n, dtype=np.intp)
    p0, t0 = int(pidx.min()), int(t.min())
    p_bits = (int(pidx.max()) - p0).bit_length()
    t_bits = (int(t.max()) - t0).bit_length()
    i_bits = (n - 1).bit_length()
    if p_bits + t_bits + i_bits <= 64:
        key = ((pidx - p0).astype(np.uint64) << np.uint64(t_bits + i_bits)) \
            | ((t - t0).astype(np.uint64) << np.uint64(i_bits)) \
            | np.arange(n, dtype=np.uint64)
        key = sort_u64(key)
        order = (key & np.uint64((1 << i_bits) - 1)).astype(np.intp)
        when = key >> np.uint64(i_bits)
        tie = when[1:] == when[:-1]
    else:
        order = np.lexsort((t, pidx))
        ps, ts = pidx[order], t[order]
        tie = (ps[1:] == ps[:-1]) & (ts[1:] == ts[:-1])
    if bool(tie.any()):  # the same person and second: setl_id decides
        alike = np.zeros(n, np.bool_)
        alike[1:] |= tie
        alike[:-1] |= tie
        at = np.flatnonzero(alike)
        rows = order[at]
        ties = pl.DataFrame({"pidx": pidx[rows], "t": t[rows], "o": rows,
                             "setl_id": setl_ids(rows)})
        order[at] = ties.sort(["pidx", "t", "setl_id"])["o"].to_numpy()
    return order


def claim_arrow(s: Settled, psn_no: pl.Series | pa.Array) -> pa.Table:
    """Per-claim outputs (:data:`CLAIM_OUTPUT_SCHEMA`): ``setl_id``, ``psn_no``, money as
    text, cap rooms (empty: no cap)."""
    r = s.result
    texts = money_arrays({k: getattr(r, k) for k in (*OUTPUT_MONEY, *CAP_ROOMS)}, CAP_ROOMS,
                         alike={"fund_pay_sumamt": "hifp_pay"})
    setl_id = s.setl_id if s.setl_id is not None else s.frame["setl_id"]
    return pa.table({"setl_id": _arrow_text(setl_id), "psn_no": _arrow_text(psn_no),
                     **texts}, schema=CLAIM_OUTPUT_SCHEMA)


def _arrow_text(texts: pl.Series | pa.Array) -> pa.Array:
    array = texts.to_arrow() if isinstance(texts, pl.Series) else texts
    return array if array.type == pa.string() else array.cast(pa.string())


def segment_last(result: Settlement) -> npt.NDArray[np.intp]:
    """Index of the last claim of each person-year."""
    seg = result.segment
    n = len(seg)
    if n == 0:
        return np.zeros(0, np.intp)
    last = np.empty(n, np.bool_)
    last[-1] = True
    last[:-1] = seg[1:] != seg[:-1]
    return np.flatnonzero(last)


def person_year_table(s: Settled, psn_no: pl.Series, view: ParameterView
                      ) -> tuple[pl.DataFrame, WatchLists]:
    """Per person-year totals and watch list (:mod:`minsheng.batch.person_years`)."""
    after = s.result.after
    cols = {k: after.columns[k] for k in ("medfee_sumamt", "inscp_scp_amt", "hifp_pay",
                                          "hifmi_pay", "maf_pay", "psn_part_amt")}
    cols["fund_pay_sumamt"] = cols["hifp_pay"] + cols["hifmi_pay"] + cols["maf_pay"]
    last = segment_last(s.result)
    day = s.frame["t"].to_numpy()[last] // SECONDS_PER_DAY
    watch = watch_lists(s.region[last], s.categories[last], day, cols["psn_part_amt"], view)
    texts = money_texts({k: cols[k] for k in PERSON_YEAR_MONEY})
    threshold = money_texts({"t": watch.threshold}, no_cap=("t",))["t"]
    frame = pl.DataFrame({"psn_no": psn_no.gather(last), "year": after.year.astype(np.int32),
                          **texts, "watch_list": pl.Series(watch.key, dtype=pl.String),
                          "watch_list_threshold": threshold})
    return frame, watch


# -- the job ------------------------------------------------------------------------------

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


def _stat(path: Path) -> dict[str, Any]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {"path": str(path.resolve()),
            "files": [[str(p.relative_to(path)) if path.is_dir() else p.name,
                       p.stat().st_size, p.stat().st_mtime_ns] for p in files]}


def fingerprint(claims: Path, persons: Path, overrides: Mapping[str, Any], chunk_rows: int,
                person_years: Path | None) -> str:
    doc = {"format": FORMAT, "claims": _stat(claims), "persons": _stat(persons),
           "overrides": overrides, "chunk_rows": chunk_rows,
           "person_years": str(person_years.resolve()) if person_years else None}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False,
                                     default=str).encode()).hexdigest()


def _write_json(path: Path, doc: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), "utf-8")
    os.replace(tmp, path)


def _read_manifest(out: Path) -> dict[str, Any] | None:
    """The running job's manifest, or that of a completed job (from its parts' metadata)."""
    path = out / MANIFEST
    doc: Any = None
    if path.exists():
        try:
            doc = json.loads(path.read_text("utf-8"))
        except ValueError:
            doc = None
    elif (out / part_name(0)).exists():
        meta = pq.ParquetFile(out / part_name(0)).metadata.metadata or {}
        if META_KEY in meta:
            doc = json.loads(meta[META_KEY])
            doc["done"] = list(range(int(doc["buckets"])))
            if not all((out / part_name(b)).exists() for b in range(int(doc["buckets"]))):
                return None
    return doc if isinstance(doc, dict) and doc.get("format") == FORMAT else None


def part_name(b: int) -> str:
    return f"part-{b:05d}.parquet"


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


def write_part(table: pa.Table, path: Path, compression: str = DEFAULT_COMPRESSION) -> None:
    """``table`` as one Parquet part file: pages without dictionaries or statistics (the
    money texts are nearly all distinct, and dictionaries and statistics cost more to write
    than they save). Every engine's parts are written so."""
    pq.write_table(table, path, compression=compression, row_group_size=1 << 20,
                   use_dictionary=False, write_statistics=False)


def _write_temporary(frame: pl.DataFrame | pa.Table, path: Path, meta: str,
                     compression: str = DEFAULT_COMPRESSION) -> Path:
    """``frame`` written as the part file ``path`` (:func:`write_part`) under a temporary
    name (in ``_work``), with the job's metadata."""
    tmp = path.parent / WORK / f"{path.parent.name}-{path.name}.tmp"
    tmp.parent.mkdir(exist_ok=True)
    table = frame.to_arrow() if isinstance(frame, pl.DataFrame) else frame
    write_part(table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: meta}),
               tmp, compression)
    return tmp


Parts = list[tuple[pl.DataFrame | pa.Table, Path]]
"""The tables of a settled bucket and the part files they become."""


def _write_parts(parts: Parts, meta: str, compression: str = DEFAULT_COMPRESSION
                 ) -> list[tuple[Path, Path]]:
    return [(_write_temporary(frame, path, meta, compression), path) for frame, path in parts]


def _publish(written: list[tuple[Path, Path]]) -> None:
    for tmp, path in written:
        os.replace(tmp, path)


@dataclass(frozen=True)
class SettledRows:
    """What one call of the kernel on prepared rows of whole persons gives the outputs."""

    claims: pa.Table
    """:data:`CLAIM_OUTPUT_SCHEMA`, in settlement order."""
    person_years: pl.DataFrame | None
    """:data:`PERSON_YEAR_SCHEMA` (when asked for)."""
    warnings: list[str]
    missing: list[tuple[str, str, str]]
    """The watch-list parameters not encoded for some person-year (their lists are empty)."""


def settle_rows(prepared: pa.Table, work: str, overrides_json: str, person_years: bool
                ) -> SettledRows:
    """Settle prepared rows of whole persons (the columns of :data:`PREPARED_SCHEMA`;
    ``row`` may be absent) with the persons and parameters of the job in ``work``: the
    local engine calls it on each bucket, the Spark engine on each group of persons."""
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


def read_bucket(work: str, bucket: int) -> pa.Table:
    """The prepared rows spilled into one bucket (by one process or by several)."""
    files = sorted(Path(work).glob(f"bucket-{bucket:05d}*.arrow"))
    return pa.concat_tables([pa.ipc.open_file(pa.memory_map(str(f))).read_all()
                             for f in files]) if files else PREPARED_SCHEMA.empty_table()


def settle_bucket(task: BucketTask) -> tuple[BucketResult, Parts]:
    """Settle one bucket: its result and the tables of its part files (not yet written)."""
    prepared = read_bucket(task.work, task.bucket)
    settled = settle_rows(prepared, task.work, task.overrides_json, task.person_years is not None)
    parts: Parts = []
    if task.person_years is not None and settled.person_years is not None:
        parts.append((settled.person_years, Path(task.person_years) / part_name(task.bucket)))
    parts.append((settled.claims, Path(task.out) / part_name(task.bucket)))
    return (task.bucket, prepared.num_rows, settled.warnings, settled.missing), parts


@carried
def run_bucket(task: BucketTask) -> BucketResult:
    """Settle one bucket file and write its part file(s). Runs in a worker process."""
    result, parts = settle_bucket(task)
    _publish(_write_parts(parts, task.meta, task.compression))
    return result


def _run_in_turn(tasks: list[BucketTask], record: Callable[[BucketResult], None]) -> None:
    """The buckets one after another, each bucket's part files written by a second thread
    while the next bucket is settled (Parquet writing runs without the GIL). A part file is
    renamed into place, and its bucket recorded, only once it is written."""
    with ThreadPoolExecutor(1, thread_name_prefix="minsheng-parts") as writer:
        pending: tuple[Future[list[tuple[Path, Path]]], BucketResult] | None = None
        for task in tasks:
            result, parts = settle_bucket(task)
            if pending is not None:
                _publish(pending[0].result())
                record(pending[1])
            pending = (writer.submit(_write_parts, parts, task.meta, task.compression), result)
        if pending is not None:
            _publish(pending[0].result())
            record(pending[1])


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


def _spilled(frame: pl.DataFrame) -> pa.Table:
    return frame.to_arrow().cast(PREPARED_SCHEMA)


class _BucketSink:
    """Spills prepared batches into bucket files by person index (whole persons per bucket)."""

    def __init__(self, work: Path, buckets: int, persons: int, suffix: str = "") -> None:
        self.work = work
        self.suffix = suffix
        self.buckets = buckets
        self.persons = max(persons, 1)
        self.writers: dict[int, pa.ipc.RecordBatchFileWriter] = {}

    def __call__(self, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        bucket = bucket_of(frame["pidx"].to_numpy(), self.buckets, self.persons)
        first, last = int(bucket.min()), int(bucket.max())
        if first == last:
            self._write(first, _spilled(frame))
            return
        order = np.argsort((bucket - first).astype(np.uint16 if last - first < 1 << 16
                                                   else np.uint32), kind="stable")
        table = _spilled(frame[order])
        bounds = np.searchsorted(bucket[order], np.arange(first, last + 2)).tolist()
        for b in range(first, last + 1):
            a, z = bounds[b - first], bounds[b - first + 1]
            if z > a:
                self._write(b, table.slice(a, z - a))

    def _write(self, b: int, table: pa.Table) -> None:
        writer = self.writers.get(b)
        if writer is None:
            writer = pa.ipc.new_file(str(self.work / f"bucket-{b:05d}{self.suffix}.arrow"),
                                     PREPARED_SCHEMA)
            self.writers[b] = writer
        writer.write_table(table)

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
        self.writers.clear()


STAGED_SCHEMA = pa.schema([f for f in PREPARED_SCHEMA if f.name != "row"])
"""Staged claims (the Spark engine's input): the prepared rows without their data row
numbers (used only in errors)."""
STAGED_CLAIMS = "claims"
"""The folder of staged claims (Parquet files) in a staging folder, beside the persons."""


class StagingSink:
    """Writes prepared rows as one Parquet file of staged claims (:data:`STAGED_SCHEMA`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None

    def __call__(self, frame: pl.DataFrame) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, STAGED_SCHEMA, compression="lz4")
        table = frame.select(STAGED_SCHEMA.names).to_arrow().cast(STAGED_SCHEMA)
        self.writer.write_table(table, row_group_size=1 << 18)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


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
    ``compression``: of the Parquet parts (:data:`COMPRESSIONS`; the values are the same)."""
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
    manifest = _read_manifest(out)
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
    with worker_pool(worker_count(workers, count_claims(claims)), overrides) as pool:
        if manifest is None or manifest.get("state") != "staged":
            manifest = _stage_or_clean(claims, persons_path, out, view, fp, chunk_rows,
                                       person_years, reporter, pool, overrides)
        staged = time.perf_counter()
        _settle_buckets(manifest, out, overrides, person_years, reporter, pool, after_chunk,
                        compression)
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


def _stage_or_clean(claims: Path, persons_path: Path, out: Path, view: ParameterView, fp: str,
                    chunk_rows: int, person_years: Path | None, reporter: Reporter,
                    pool: Executor | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Check and spill the claims; on any error remove what was written and re-raise."""
    work = out / WORK
    created = not out.exists()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        return _stage(claims, persons_path, out, work, view, fp, chunk_rows, person_years,
                      reporter, pool, overrides)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise


def _settle_buckets(manifest: dict[str, Any], out: Path, overrides: Mapping[str, Any],
                    person_years: Path | None, reporter: Reporter, pool: Executor | None,
                    after_chunk: Callable[[int], None] | None,
                    compression: str = DEFAULT_COMPRESSION) -> None:
    done: set[int] = set(manifest["done"])
    manifest["resumed"] = len(done)
    todo = [b for b in range(int(manifest["buckets"])) if b not in done]
    warnings: list[str] = manifest["warnings"]
    if not todo:
        return
    reporter.phase("结算 settling", int(manifest["rows"]))
    if done:
        reporter.advance(int(sum(manifest.get("rows_done", {}).values())))
    tasks = [BucketTask(b, str(out / WORK), str(out), str(person_years) if person_years else None,
                        json.dumps(dict(overrides), sort_keys=True), _part_meta(manifest),
                        compression)
             for b in todo]

    def record(result: BucketResult) -> None:
        b, rows, notes, missing = result
        done.add(b)
        manifest["done"] = sorted(done)
        manifest.setdefault("rows_done", {})[str(b)] = rows
        warnings.extend(w for w in notes if w not in warnings)
        known = manifest.setdefault("watch_missing", [])
        known.extend(list(m) for m in missing if list(m) not in known)
        _write_json(out / MANIFEST, manifest)
        for spilled in (out / WORK).glob(f"bucket-{b:05d}*.arrow"):  # (recorded: not needed)
            spilled.unlink()
        reporter.advance(rows)
        if after_chunk is not None:
            after_chunk(b)

    if pool is None or len(tasks) == 1:
        _run_in_turn(tasks, record)
    else:
        _run_parallel(tasks, pool, record)
    missing = {(str(n), str(r), str(d)) for n, r, d in manifest.get("watch_missing", [])}
    warnings.extend(missing_warnings(missing))


def _part_meta(manifest: Mapping[str, Any]) -> str:
    keep = ("format", "fingerprint", "buckets", "rows", "warnings", "person_years")
    return json.dumps({**{k: manifest[k] for k in keep}, "state": "complete", "done": []},
                      ensure_ascii=False)


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
    with contextlib.suppress(MinshengError):  # (reported where the parameters are used)
        worker_view(overrides_json)


def _pool_workers(pool: Executor) -> int:
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
    width = _pool_workers(pool)
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


def _run_parallel(tasks: list[BucketTask], pool: Executor,
                  record: Callable[[BucketResult], None]) -> None:
    share(pool, run_bucket, tasks, record)


def ingest_buckets(claims: Path, persons: Persons, view: ParameterView, work: Path, buckets: int,
                   overrides: Mapping[str, Any], reporter: Reporter, pool: Executor | None,
                   batch_rows: int, total: int) -> Ingested:
    """Check the claims and spill them into ``buckets`` bucket files in ``work`` (0: stage
    them as Parquet files in ``work / STAGED_CLAIMS``, for Spark): in the pool's processes
    and this one when there is a pool and the file is Parquet of more than one piece, else
    here alone."""
    if pool is not None and file_kind(claims) == "parquet" and \
            len(parquet_units(claims, _pool_workers(pool))) > 1:
        return ingest_parallel(claims, persons, view, pool, work, buckets, overrides, reporter)
    sink: _BucketSink | StagingSink = (
        _BucketSink(work, buckets, len(persons)) if buckets
        else StagingSink(work / STAGED_CLAIMS / "claims.parquet"))
    try:
        return ingest(claims, persons, view, sink, batch_rows=batch_rows, total=total,
                      reporter=reporter)
    finally:
        sink.close()


def _stage(claims: Path, persons_path: Path, out: Path, work: Path, view: ParameterView,
           fp: str, chunk_rows: int, person_years: Path | None, reporter: Reporter,
           pool: Executor | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    reporter.phase("读取人员 reading persons", None)
    persons = load_persons(persons_path)
    stage_persons(persons, work)
    total = count_claims(claims)
    buckets = bucket_count(total, chunk_rows)
    ingested = ingest_buckets(claims, persons, view, work, buckets, overrides, reporter, pool,
                              min(chunk_rows, DEFAULT_CHUNK), total)
    if person_years is not None:
        if person_years.exists() and (not person_years.is_dir() or any(person_years.iterdir())):
            raise InputError("--person-years", f"输出目录 {person_years} 已存在且不是空目录",
                             "output exists and is not empty")
        person_years.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "format": FORMAT, "fingerprint": fp, "state": "staged", "buckets": buckets,
        "rows": ingested.rows, "done": [], "rows_done": {}, "warnings": ingested.warnings,
        "person_years": str(person_years) if person_years else None}
    _write_json(out / MANIFEST, manifest)
    return manifest
