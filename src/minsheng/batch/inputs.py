"""What the engines and the command line learn of an input file before reading it: its kind
(:func:`file_kind`), its Parquet part files (:func:`parquet_files`) and, for Parquet, its
number of rows (:func:`count_rows`). Imports only pyarrow: the command line uses it before it
loads the engines (:func:`minsheng.batch.pool.start_workers`).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from minsheng.core.errors import InputError


def file_kind(path: Path) -> str:
    """``parquet`` (a file or a folder of part files) or ``csv``."""
    if not path.exists():
        raise InputError(str(path), "文件不存在", "no such file")
    if path.is_dir():
        return "parquet"
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    with path.open("rb") as f:
        return "parquet" if f.read(4) == b"PAR1" else "csv"


def parquet_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet")
                       if not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts))
        if not files:
            raise InputError(str(path), "文件夹中没有 Parquet 文件", "no Parquet files in folder")
        return files
    return [path]


def count_rows(path: Path) -> int | None:
    """The number of data rows of a Parquet input (None for CSV: not known before reading)."""
    if file_kind(path) != "parquet":
        return None
    try:
        return int(sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_files(path)))
    except pa.ArrowException as exc:
        raise unreadable(path, "claims", exc) from None


def unreadable(path: Path, table: str, exc: BaseException) -> InputError:
    return InputError(table, f"无法读取文件 {path}：{exc}", f"cannot read {path}: {exc}")
