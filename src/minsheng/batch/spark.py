"""The Spark batch engine: the same kernel, one call per group of whole persons.

The claims are checked exactly as by the local engine (:func:`minsheng.batch.ingest.ingest`,
the same vectorised checks and the same row-numbered errors; nothing is settled when a
row is bad) and staged as Parquet, the persons beside them as an Arrow file. Spark then
reads the staged rows, groups them by a hash of the person (``groupBy(group)``, where a
group holds many whole persons) and calls :func:`minsheng.batch.local.settle_rows` on each
group through ``applyInArrow`` — what the local engine calls on each of its buckets, around
the kernel the service calls — and writes the per-claim outputs as Parquet (money as text
with two decimals).

What travels between Spark's JVM and the Python workers is kept narrow: the staged rows hold
only the claim's own columns (the person's id, region and categories are read from the
persons file by the workers, by ``pidx``), and the workers return the claims' outputs
alone: with ``--person-years`` each task writes its group's person-year totals itself. The
parts are written, like the local engine's, without dictionaries or statistics and
uncompressed unless ``--compression`` says otherwise: the money texts are nearly all
distinct, and a dictionary costs more to write than it saves.

The session binds to 127.0.0.1, runs without its web UI and logs errors only.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from minsheng.batch.chunks import CLAIM_OUTPUT_SCHEMA, PERSON_YEAR_SCHEMA
from minsheng.batch.ingest import (
    DEFAULT_CHUNK,
    STAGED_CLAIMS,
    Ingested,
    count_claims,
    ingest_buckets,
)
from minsheng.batch.inputs import file_kind
from minsheng.batch.local import Summary, settle_rows
from minsheng.batch.overrides import parameter_view
from minsheng.batch.parts import COMPRESSIONS, DEFAULT_COMPRESSION, write_part
from minsheng.batch.person_years import missing_warnings, watch_lists
from minsheng.batch.persons import load_persons
from minsheng.batch.pool import worker_count, worker_pool
from minsheng.batch.progress import NullReporter, Reporter
from minsheng.batch.worker_state import overrides_json, stage_persons
from minsheng.core.errors import InputError

SPARK_CODECS = {"none": "none", "lz4": "lz4_raw", "snappy": "snappy", "zstd": "zstd"}
"""``--compression`` as Spark's Parquet codec names (``lz4_raw``: the LZ4 the local engine
writes, without Hadoop's framing)."""
GROUP_ROWS = 200_000
"""At most about this many claims per group handed to the kernel in one call."""
GROUPS_PER_PARTITION = 4
"""Groups of persons per shuffle partition, at least: groups fall into partitions by a hash,
so with about one group per partition some tasks would get two or three and others none."""


def layout(rows: int, cores: int, group_rows: int = GROUP_ROWS) -> tuple[int, int]:
    """Shuffle partitions and groups of persons for ``rows`` claims on ``cores`` task slots:
    two partitions per slot (tasks of uneven length even out), each with at least
    :data:`GROUPS_PER_PARTITION` groups, and groups of at most about ``group_rows`` claims."""
    partitions = 2 * max(1, cores)
    return partitions, max(GROUPS_PER_PARTITION * partitions, math.ceil(max(rows, 1) / group_rows))


def _ddl(schema: pa.Schema) -> str:
    names = {pa.string(): "string", pa.int32(): "int", pa.int64(): "bigint"}
    return ", ".join(f"{f.name} {names[f.type]}{'' if f.nullable else ' not null'}"
                     for f in schema)


def spark_session(master: str = "local[*]", app_name: str = "minsheng-batch") -> Any:
    """A SparkSession on 127.0.0.1, without the web UI, logging errors only."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    log4j = resources.files("minsheng.batch").joinpath("templates/log4j2.properties")
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS",
                          f"--driver-java-options -Dlog4j2.configurationFile=file:{log4j} pyspark-shell")
    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(master).appName(app_name)
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.sql.adaptive.enabled", "true")
             # the groups of persons stay in their shuffle partitions: merged into one
             # (adaptive coalescing of small partitions), they would run on one core
             .config("spark.sql.adaptive.coalescePartitions.enabled", "false")
             .config("spark.sql.execution.arrow.pyspark.enabled", "true")
             .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
             .config("spark.hadoop.parquet.enable.summary-metadata", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def settle_groups(staging: str, overrides_json: str, person_years: str | None = None,
                  compression: str = DEFAULT_COMPRESSION) -> Any:
    """The function ``applyInArrow`` calls on each group of whole persons: it returns the
    claims' outputs (:data:`CLAIM_OUTPUT_SCHEMA`). With ``person_years`` (a folder) the same
    kernel run also gives the group's person-year totals, which the task writes there itself
    as one part file per group (:func:`write_group_part`), so that Spark has one output to
    write and nothing to keep for a second pass."""

    def run(table: pa.Table) -> pa.Table:
        settled = settle_rows(table, staging, overrides_json, person_years is not None)
        if person_years is not None and settled.person_years is not None:
            group = table.column("__group")[0].as_py()
            write_group_part(settled.person_years.to_arrow(), Path(person_years), group,
                             compression)
        return settled.claims

    return run


def write_group_part(table: pa.Table, folder: Path, group: int, compression: str) -> None:
    """``table`` as ``folder/part-g{group}.parquet`` (:data:`PERSON_YEAR_SCHEMA`, written as
    the local engine's parts are), under a name of its own and then renamed into place: a
    retried or speculative task writes the same file again, never a second one."""
    target = folder / f"part-g{group:05d}.parquet"
    tmp = folder / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    write_part(table.cast(PERSON_YEAR_SCHEMA), tmp, compression)
    os.replace(tmp, target)


def _tidy(path: Path) -> None:
    """Leave only the Parquet part files (no _SUCCESS, no checksum files)."""
    for p in path.iterdir():
        if p.name.startswith(("_", ".")) and p.is_file():
            p.unlink()


def settle_file(claims: Path, persons_path: Path, out: Path, *,
                overrides: Mapping[str, Any] | None = None, master: str = "local[*]",
                person_years: Path | None = None, reporter: Reporter | None = None,
                spark: Any = None, group_rows: int = GROUP_ROWS,
                compression: str = DEFAULT_COMPRESSION, workers: int | None = None) -> Summary:
    """``minsheng batch settle --engine spark``; ``compression`` of the Parquet parts
    (:data:`minsheng.batch.parts.COMPRESSIONS`); ``workers``: processes checking the claims
    on this machine (as the local engine's: by default one per core from two million
    claims)."""
    started = time.perf_counter()
    reporter = reporter or NullReporter()
    overrides = dict(overrides or {})
    view = parameter_view(overrides)
    if compression not in COMPRESSIONS:
        raise InputError("--compression", f"应为 {'、'.join(COMPRESSIONS)} 之一，收到 {compression!r}",
                         f"expected one of {', '.join(COMPRESSIONS)}")
    for target, option in ((out, "--out"), (person_years, "--person-years")):
        if target is not None and target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise InputError(option, f"输出目录 {target} 已存在且不是空目录", "output exists and is not empty")
    total = count_claims(claims)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".minsheng-spark-", dir=out.parent))
    try:
        ingested = _stage(claims, persons_path, view, staging, overrides, total, reporter,
                          worker_count(workers, total))
        warnings = list(ingested.warnings)
        if person_years is not None and ingested.keys:
            warnings += _watch_warnings(ingested.keys, view)
        ingest_seconds = time.perf_counter() - started
        reporter.phase("Spark 结算 settling", ingested.rows)
        session = spark or spark_session(master)
        job_started = time.perf_counter()
        partitions, groups = layout(ingested.rows, session.sparkContext.defaultParallelism,
                                    group_rows)
        if ingested.rows:
            _run(session, staging, out, person_years, (partitions, groups),
                 overrides_json(overrides), compression)
        else:
            _empty(out, CLAIM_OUTPUT_SCHEMA)
            if person_years is not None:
                _empty(person_years, PERSON_YEAR_SCHEMA)
        reporter.advance(ingested.rows)
        finished = time.perf_counter()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Summary(str(out), ingested.rows, groups if ingested.rows else 0, 0,
                   warnings, finished - started,
                   str(person_years) if person_years else None,
                   {"engine": "spark", "master": session.sparkContext.master,
                    "ingest_seconds": round(ingest_seconds, 3),
                    "session_seconds": round(job_started - started - ingest_seconds, 3),
                    "spark_job_seconds": round(finished - job_started, 3)})


def _stage(claims: Path, persons_path: Path, view: Any, staging: Path,
           overrides: Mapping[str, Any], total: int, reporter: Reporter, workers: int
           ) -> Ingested:
    """Check the claims and stage them in ``staging`` (:data:`STAGED_CLAIMS`, the persons
    beside them), a Parquet file in ``workers`` processes as the local engine checks it."""
    with worker_pool(workers if file_kind(claims) == "parquet" else 1, overrides) as pool:
        reporter.phase("读取人员 reading persons", None)  # (the workers start meanwhile)
        persons = load_persons(persons_path)
        stage_persons(persons, staging)
        return ingest_buckets(claims, persons, view, staging, 0, overrides, reporter, pool,
                              DEFAULT_CHUNK, total)


def _watch_warnings(keys: list[pl.DataFrame], view: Any) -> list[str]:
    """The watch-list parameters not encoded for the claims' regions and dates (the Spark
    workers leave those person-years' lists empty; the warning is given here)."""
    k = pl.concat(keys).unique(subset=["region", "categories", "day"])
    watch = watch_lists(k["region"].to_numpy(), k["categories"].to_numpy().astype(np.uint16),
                        k["day"].to_numpy(), np.zeros(k.height, np.int64), view)
    return missing_warnings(watch.missing)


def _run(session: Any, staging: Path, out: Path, person_years: Path | None,
         shape: tuple[int, int], overrides_json: str, compression: str) -> None:
    """``shape``: shuffle partitions and groups of persons (:func:`layout`). The claims are
    shuffled once, into those partitions by group (the grouping keeps that partitioning;
    the session's ``spark.sql.shuffle.partitions`` is left as it is)."""
    codec = SPARK_CODECS[compression]
    from pyspark.sql import functions as F

    partitions, groups = shape
    df = session.read.parquet(str(staging / STAGED_CLAIMS))
    grouped = (df.withColumn("__group", F.pmod(F.xxhash64("pidx"), F.lit(groups)))
               .repartition(partitions, "__group").groupBy("__group"))
    if person_years is not None:
        person_years.mkdir(parents=True, exist_ok=True)  # (the tasks write into it)
    run = settle_groups(str(staging), overrides_json,
                        str(person_years) if person_years is not None else None, compression)
    _write(grouped.applyInArrow(run, _ddl(CLAIM_OUTPUT_SCHEMA)), out, codec)
    if person_years is not None:
        _tidy(person_years)


def _write(frame: Any, target: Path, codec: str) -> None:
    """Parquet parts without dictionaries or column statistics, as the local engine writes."""
    if target.exists():
        shutil.rmtree(target)
    (frame.write.option("compression", codec)
     .option("parquet.enable.dictionary", "false")
     .option("parquet.column.statistics.enabled", "false")
     .parquet(str(target)))
    _tidy(target)


def _empty(target: Path, schema: pa.Schema) -> None:
    target.mkdir(parents=True, exist_ok=True)
    pq.write_table(schema.empty_table(), target / "part-00000.parquet")
