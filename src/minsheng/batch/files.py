"""Reading the claims and persons files (Parquet or CSV) as Polars frames, in order and in
batches (:func:`iter_frames`); a missing column or a file that cannot be read is an error
naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from minsheng.batch.inputs import file_kind, parquet_files, unreadable
from minsheng.core.errors import InputError


def _csv_header(path: Path) -> list[str]:
    with path.open("r", encoding="utf-8-sig") as f:
        line = f.readline()
    return [h.strip().strip('"') for h in line.rstrip("\r\n").split(",")]


def check_columns(table: str, present: list[str], wanted: tuple[str, ...]) -> None:
    for name in wanted:
        if name not in present:
            raise InputError(f"{table}.{name}", "缺少该列（列名按 SETTLEMENT.md）",
                             "column missing (names as in SETTLEMENT.md)")


def iter_frames(path: Path, table: str, columns: tuple[str, ...],
                batch_rows: int = 1_000_000) -> Iterator[pl.DataFrame]:
    """The file's rows in order, as DataFrames of at most about ``batch_rows`` rows.

    CSV columns are read as text (so that money keeps its decimals exactly). A file that
    cannot be read (a CSV row with too few fields, a damaged Parquet file) is an error
    naming the file."""
    try:
        yield from _iter_frames(path, table, columns, batch_rows)
    except (pa.ArrowException, pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise unreadable(path, table, exc) from None


def _iter_frames(path: Path, table: str, columns: tuple[str, ...],
                 batch_rows: int) -> Iterator[pl.DataFrame]:
    if file_kind(path) == "parquet":
        for p in parquet_files(path):
            pf = pq.ParquetFile(p)
            check_columns(table, pf.schema_arrow.names, columns)
            rows = pf.metadata.num_rows
            scan = pl.scan_parquet(p).select(columns)  # Polars decodes only the row groups
            for start in range(0, rows, max(1, batch_rows)):  # a slice touches, in parallel
                yield scan.slice(start, batch_rows).collect()
        return
    header = _csv_header(path)
    check_columns(table, header, columns)
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=max(1 << 20, batch_rows * 64)),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header}, include_columns=list(columns),
            strings_can_be_null=False, quoted_strings_can_be_null=False))
    for batch in reader:
        yield _frame(pa.Table.from_batches([batch]))


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def read_frame(path: Path, table: str, columns: tuple[str, ...]) -> pl.DataFrame:
    frames = list(iter_frames(path, table, columns))
    if not frames:
        return pl.DataFrame({c: [] for c in columns}, schema={c: pl.String for c in columns})
    return pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]
