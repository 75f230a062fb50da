"""The output part files of a batch job and its resume manifest.

Each part is written under a temporary name in ``_work`` and renamed into place when complete
(:func:`write_parts`, :func:`publish`); every engine's Parquet parts are written by
:func:`write_part`. While a job runs, ``OUT/_work/manifest.json`` (:data:`MANIFEST`) records
it; a completed job's manifest is in its parts' metadata (:data:`META_KEY`,
:func:`read_manifest`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

COMPRESSIONS = ("none", "lz4", "snappy", "zstd")
"""Compressions of the Parquet parts. ``none`` (the default) writes fastest: per million
claims about 0.15 CPU-second and 100 MB, against 0.26 and 32 MB with ``lz4`` and 0.34 and
18 MB with ``zstd`` (measured on synthetic Shanxi claims)."""
DEFAULT_COMPRESSION = "none"
WORK = "_work"
MANIFEST = f"{WORK}/manifest.json"
META_KEY = b"minsheng.batch"
FORMAT = "minsheng-batch-settle/1"


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


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    write_text(path, json.dumps(doc, ensure_ascii=False, indent=1))


def write_text(path: Path, text: str) -> None:
    """``text`` in ``path``, whole or not at all: written under another name and renamed (a
    reader waiting for the file never sees it half-written)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def read_manifest(out: Path) -> dict[str, Any] | None:
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


def write_parts(parts: Parts, meta: str, compression: str = DEFAULT_COMPRESSION
                 ) -> list[tuple[Path, Path]]:
    return [(_write_temporary(frame, path, meta, compression), path) for frame, path in parts]


def publish(written: list[tuple[Path, Path]]) -> None:
    for tmp, path in written:
        os.replace(tmp, path)
