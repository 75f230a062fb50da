"""The Spark batch engine: the same kernel, one call per group of whole persons.

The claims are checked exactly as by the local engine (:func:`minsheng.batch.local.ingest`,
the same vectorised checks and the same row-numbered errors; nothing is settled when a
row is bad) and staged as Parquet with each claim's person attributes beside it. Spark then
reads the staged rows, groups them by a hash of the person (``groupBy(group)``, where a
group holds many whole persons) and calls :func:`minsheng.batch.local.settle_chunk` on each
group through ``applyInArrow`` — the kernel the service and the local engine call — and
writes the per-claim outputs as Parquet (money as text with two decimals).

The session binds to 127.0.0.1, runs without its web UI and logs errors only.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from minsheng.batch.io import PREPARED_SCHEMA, load_persons, parameter_view
from minsheng.batch.local import (
    CLAIM_OUTPUT_SCHEMA,
    PERSON_YEAR_SCHEMA,
    NullReporter,
    Reporter,
    Summary,
    _worker_view,
    claim_table,
    count_claims,
    ingest,
    person_year_table,
    settle_chunk,
)
from minsheng.batch.person_years import missing_warnings, watch_lists
from minsheng.core.errors import InputError

GROUP_ROWS = 200_000
"""About this many claims per group handed to the kernel in one call."""
STAGED_SCHEMA = pa.schema([*PREPARED_SCHEMA, ("psn_no", pa.string()), ("region", pa.int64()),
                           ("resident", pa.bool_()), ("categories", pa.int32())])


def _ddl(schema: pa.Schema) -> str:
    names = {pa.string(): "string", pa.int32(): "int", pa.int64(): "bigint"}
    return ", ".join(f"{f.name} {names[f.type]}" for f in schema)


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
             .config("spark.sql.shuffle.partitions", "8")
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


class _StagingSink:
    """Writes validated claims with their person's attributes as one Parquet file."""

    def __init__(self, path: Path, persons: Any) -> None:
        self.path = path
        self.persons = persons
        self.writer: pq.ParquetWriter | None = None

    def __call__(self, frame: pl.DataFrame) -> None:
        pidx = frame["pidx"].to_numpy()
        p = self.persons
        staged = frame.with_columns(
            psn_no=p.psn_no.gather(pidx), region=pl.Series(p.region[pidx]),
            resident=pl.Series(p.resident[pidx]),
            categories=pl.Series(p.categories[pidx].astype(np.int32)))
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, STAGED_SCHEMA, compression="lz4")
        self.writer.write_table(staged.to_arrow().cast(STAGED_SCHEMA), row_group_size=1 << 18)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def combined_schema() -> pa.Schema:
    """Claim outputs and person-year outputs in one schema, told apart by ``kind``."""
    fields = {f.name: f for f in CLAIM_OUTPUT_SCHEMA}
    for f in PERSON_YEAR_SCHEMA:
        fields.setdefault(f.name, f)
    return pa.schema([*fields.values(), ("kind", pa.string())])


def settle_groups(overrides_json: str, person_years: bool) -> Any:
    """The function ``applyInArrow`` calls on each group of whole persons.

    It returns the claims' outputs (``kind`` = ``claim``) and, when ``person_years``, the
    person-years' totals (``kind`` = ``person_year``), so that the kernel runs once."""
    schema = combined_schema()

    def run(table: pa.Table) -> pa.Table:
        view = _worker_view(overrides_json)
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        settled = settle_chunk(frame, view, None)
        psn_no = settled.frame["psn_no"]
        parts = [claim_table(settled, psn_no).with_columns(kind=pl.lit("claim"))]
        if person_years:
            years, _ = person_year_table(settled, psn_no, view)
            parts.append(years.with_columns(kind=pl.lit("person_year")))
        out = pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]
        return _pad(out.to_arrow(), schema)

    return run


def _pad(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with the columns of ``schema`` it lacks, all empty."""
    columns = [table[f.name].cast(f.type) if f.name in table.column_names
               else pa.nulls(table.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _tidy(path: Path) -> None:
    """Leave only the Parquet part files (no _SUCCESS, no checksum files)."""
    for p in path.iterdir():
        if p.name.startswith(("_", ".")) and p.is_file():
            p.unlink()


def settle_file(claims: Path, persons_path: Path, out: Path, *,
                overrides: Mapping[str, Any] | None = None, master: str = "local[*]",
                person_years: Path | None = None, reporter: Reporter | None = None,
                spark: Any = None, group_rows: int = GROUP_ROWS) -> Summary:
    """``minsheng batch settle --engine spark``."""
    started = time.perf_counter()
    reporter = reporter or NullReporter()
    overrides = dict(overrides or {})
    view = parameter_view(overrides)
    for target, option in ((out, "--out"), (person_years, "--person-years")):
        if target is not None and target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise InputError(option, f"输出目录 {target} 已存在且不是空目录", "output exists and is not empty")
    reporter.phase("读取人员 reading persons", None)
    persons = load_persons(persons_path)
    total = count_claims(claims)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".minsheng-spark-", dir=out.parent))
    try:
        sink = _StagingSink(staging / "claims.parquet", persons)
        try:
            ingested = ingest(claims, persons, view, sink, total=total, reporter=reporter)
        finally:
            sink.close()
        warnings = list(ingested.warnings)
        if person_years is not None and ingested.keys:
            warnings += _watch_warnings(ingested.keys, view)
        ingest_seconds = time.perf_counter() - started
        reporter.phase("Spark 结算 settling", ingested.rows)
        session = spark or spark_session(master)
        job_started = time.perf_counter()
        groups = max(2 * session.sparkContext.defaultParallelism,
                     math.ceil(max(ingested.rows, 1) / group_rows))
        overrides_json = json.dumps(overrides, sort_keys=True)
        if ingested.rows:
            _run(session, staging, out, person_years, groups, overrides_json)
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


def _watch_warnings(keys: list[pl.DataFrame], view: Any) -> list[str]:
    """The watch-list parameters not encoded for the claims' regions and dates (the Spark
    workers leave those person-years' lists empty; the warning is given here)."""
    k = pl.concat(keys).unique(subset=["region", "categories", "day"])
    watch = watch_lists(k["region"].to_numpy(), k["categories"].to_numpy().astype(np.uint16),
                        k["day"].to_numpy(), np.zeros(k.height, np.int64), view)
    return missing_warnings(watch.missing)


def _run(session: Any, staging: Path, out: Path, person_years: Path | None, groups: int,
         overrides_json: str) -> None:
    from pyspark.sql import functions as F

    df = session.read.parquet(str(staging))
    grouped = df.withColumn("__group", F.pmod(F.xxhash64("pidx"), F.lit(groups))).groupBy("__group")
    result = grouped.applyInArrow(settle_groups(overrides_json, person_years is not None),
                                  _ddl(combined_schema()))
    if person_years is not None:
        result = result.persist()
    try:
        for target, kind, schema in ((out, "claim", CLAIM_OUTPUT_SCHEMA),
                                     (person_years, "person_year", PERSON_YEAR_SCHEMA)):
            if target is None:
                continue
            if target.exists():
                shutil.rmtree(target)
            (result.filter(F.col("kind") == kind).select(*schema.names)
             .write.option("compression", "snappy").parquet(str(target)))
            _tidy(target)
    finally:
        if person_years is not None:
            result.unpersist()


def _empty(target: Path, schema: pa.Schema) -> None:
    target.mkdir(parents=True, exist_ok=True)
    pq.write_table(schema.empty_table(), target / "part-00000.parquet")
