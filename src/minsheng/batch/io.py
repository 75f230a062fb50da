"""Reading and validating claims and persons files (Parquet or CSV); writing outputs.

Columns are named as in SETTLEMENT.md. Money may be a decimal string (``"580.00"``), an
integer, a decimal, or a float that is exactly a number of fen; ``categories`` is a
``|``-separated string of keys or Chinese names (CONTRACT.md). Every row is checked
vectorised (Polars) before anything is settled: a bad row is reported by its row number
(data rows counted from 1, the CSV header not counted) and its field, with the first
:data:`MAX_REPORTED` of them shown and the number of bad rows counted, and then nothing is
settled and nothing is written (:class:`BadRows`, exit status 2).

A validated claim becomes a *prepared* row: integer fen, the settlement time as seconds
since 1970-01-01 (China time, no zone), and the person's index in the persons file
(:data:`PREPARED_SCHEMA`). The local and the Spark engine both settle prepared rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from minsheng.batch.money_text import money_arrays
from minsheng.core.categories import category_key
from minsheng.core.errors import InputError
from minsheng.core.parameters import ParameterView, default_store
from minsheng.core.regions import all_regions
from minsheng.rules.settlement_params import CATEGORY_BITS, MAX_FEN

AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "overlmt_selfpay")
CLAIM_COLUMNS = ("setl_id", "psn_no", "setl_time", "med_type", "hosp_lv", "in_province", *AMOUNTS)
PERSON_COLUMNS = ("psn_no", "insutype", "region", "categories")
OUTPUT_MONEY = ("inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt",
                "psn_part_amt", "act_pay_dedc")
CAP_ROOMS = ("basic_cap_left", "critical_cap_left", "assistance_cap_left")
"""Cap room left after each claim per fund (``crt_payb_lmt_amt``); empty where no cap applies."""
PERSON_YEAR_MONEY = ("medfee_sumamt", "inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay",
                     "fund_pay_sumamt", "psn_part_amt")
MAX_REPORTED = 20
SECONDS_PER_DAY = 86_400
_PSN_NO = r"^[A-Za-z0-9_.\-]{1,32}$"
_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M",
                 "%Y-%m-%d %H:%M", "%Y-%m-%d")

PREPARED_SCHEMA = pa.schema([
    ("row", pa.int64()), ("pidx", pa.int64()), ("t", pa.int64()), ("setl_id", pa.string()),
    ("med_type", pa.int8()), ("hosp_lv", pa.int8()), ("in_province", pa.bool_()),
    *((name, pa.int64()) for name in AMOUNTS),
])
"""A validated claim: ``row`` its data row number (from 1), ``pidx`` the person's index in
the persons file, ``t`` the settlement time in seconds since 1970-01-01 (China time)."""

I64 = npt.NDArray[np.int64]


# -- errors -------------------------------------------------------------------------------

@dataclass(frozen=True)
class BadRow:
    table: str
    row: int
    field: str
    zh: str
    en: str

    def text(self) -> str:
        return f"{self.table} 第 {self.row} 行 {self.field}：{self.zh}"


class BadRows(InputError):
    """Rows that cannot be settled: the first few by row and field, and how many there are."""

    def __init__(self, rows: list[BadRow], count: int) -> None:
        shown = rows[:MAX_REPORTED]
        first = shown[0]
        more = f"（仅列出前 {len(shown)} 行）" if count > len(shown) else ""
        zh = (f"共 {count} 行数据有误，未结算任何一笔{more}：\n"
              + "\n".join(f"  {r.text()}" for r in shown))
        en = (f"{count} bad row(s); nothing was settled: "
              + "; ".join(f"{r.table} row {r.row} {r.field}: {r.en}" for r in shown))
        super().__init__(f"{first.table}[{first.row}].{first.field}", zh, en)
        self.rows = shown
        self.count = count


# -- files --------------------------------------------------------------------------------

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


def _parquet_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet")
                       if not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts))
        if not files:
            raise InputError(str(path), "文件夹中没有 Parquet 文件", "no Parquet files in folder")
        return files
    return [path]


def _csv_header(path: Path) -> list[str]:
    with path.open("r", encoding="utf-8-sig") as f:
        line = f.readline()
    return [h.strip().strip('"') for h in line.rstrip("\r\n").split(",")]


def _check_columns(table: str, present: list[str], wanted: tuple[str, ...]) -> None:
    for name in wanted:
        if name not in present:
            raise InputError(f"{table}.{name}", "缺少该列（列名按 SETTLEMENT.md）",
                             "column missing (names as in SETTLEMENT.md)")


def count_rows(path: Path) -> int | None:
    """The number of data rows of a Parquet input (None for CSV: not known before reading)."""
    if file_kind(path) != "parquet":
        return None
    try:
        return int(sum(pq.ParquetFile(p).metadata.num_rows for p in _parquet_files(path)))
    except pa.ArrowException as exc:
        raise unreadable(path, "claims", exc) from None


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


def unreadable(path: Path, table: str, exc: BaseException) -> InputError:
    return InputError(table, f"无法读取文件 {path}：{exc}", f"cannot read {path}: {exc}")


def _iter_frames(path: Path, table: str, columns: tuple[str, ...],
                 batch_rows: int) -> Iterator[pl.DataFrame]:
    if file_kind(path) == "parquet":
        for p in _parquet_files(path):
            pf = pq.ParquetFile(p)
            _check_columns(table, pf.schema_arrow.names, columns)
            rows = pf.metadata.num_rows
            scan = pl.scan_parquet(p).select(columns)  # Polars decodes only the row groups
            for start in range(0, rows, max(1, batch_rows)):  # a slice touches, in parallel
                yield scan.slice(start, batch_rows).collect()
        return
    header = _csv_header(path)
    _check_columns(table, header, columns)
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


def load_overrides(path: Path | None, view_store: Any = None) -> dict[str, Any]:
    """Parameter overrides from a JSON file (an object like ``"parameters"`` of settle-input.json).

    Returns the raw values (kept raw so that they can be sent to Spark workers); each is
    checked against its parameter's unit here. ``null`` in the file means none."""
    if path is None:
        return {}
    try:
        raw = json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise InputError("--params", f"文件不存在：{path}", "no such file") from None
    except ValueError as exc:
        raise InputError("--params", f"不是有效的 JSON：{exc}", "not valid JSON") from None
    if raw is None:
        return {}
    if isinstance(raw, Mapping) and set(raw) == {"parameters"}:
        raw = raw["parameters"] or {}
    if not isinstance(raw, Mapping):
        raise InputError("--params", "应为 JSON 对象 {参数名: 取值}", "expected a JSON object")
    store = view_store or default_store()
    store.parse_overrides(raw)
    return dict(raw)


def parameter_view(overrides: Mapping[str, Any]) -> ParameterView:
    store = default_store()
    return ParameterView(store, store.parse_overrides(overrides))


# -- checks -------------------------------------------------------------------------------

Check = tuple[pl.Expr, str, str]


def _text(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype != pl.String:
        col = col.cast(pl.String, strict=False)
    return col.str.strip_chars()


def _integer_of(name: str, dtype: pl.DataType) -> pl.Expr:
    if dtype.is_integer():
        return pl.col(name).cast(pl.Int64)
    return _text(name, dtype).cast(pl.Int64, strict=False)


def money(name: str, dtype: pl.DataType) -> tuple[pl.Expr, list[Check]]:
    """Fen of a money column, and its checks (in the order they are reported)."""
    col = pl.col(name)
    missing = col.is_null()
    if dtype.is_integer():
        fen = col.cast(pl.Int64) * 100
        return fen, [(missing, "缺少金额", "missing"),
                     (col < 0, "金额不能为负", "must not be negative"),
                     (col.cast(pl.Int64) > MAX_FEN // 100, "金额过大", "amount too large")]
    if dtype.is_float():
        scaled = (col * 100).round(0)
        finite = col.is_finite()
        fen = pl.when(finite & (scaled.abs() < 2.0**53)).then(scaled).otherwise(0).cast(pl.Int64)
        return fen, [(missing, "缺少金额", "missing"),
                     (~finite, "金额无效", "not a finite number"),
                     (col < 0, "金额不能为负", "must not be negative"),
                     (finite & (fen.cast(pl.Float64) / 100 != col), "金额最多两位小数",
                      "at most two decimals"),
                     (fen > MAX_FEN, "金额过大", "amount too large")]
    if isinstance(dtype, pl.Decimal) and (dtype.scale or 0) <= 2:
        # the unscaled integer is the amount in 10^-scale yuan: fen by integer arithmetic
        unscaled = col.to_physical()
        small = unscaled.cast(pl.Int64, strict=False)
        fen = pl.when(small.abs() <= MAX_FEN).then(small * 10 ** (2 - (dtype.scale or 0)))
        return fen, [(missing, "缺少金额", "missing"),
                     (unscaled < 0, "金额不能为负", "must not be negative"),
                     (fen.is_null() | (fen > MAX_FEN), "金额过大", "amount too large")]
    text = _text(name, dtype).str.replace_all(",", "", literal=True)
    shape = text.str.contains(r"^-?(\d+\.?\d*|\.\d+)$")
    whole = text.str.extract(r"^-?(\d*)", 1)
    frac = text.str.extract(r"\.(\d*)$", 1).fill_null("")
    long = whole.str.len_chars() > 13
    fen = (pl.when(shape & ~long)
           .then(whole.replace("", "0").cast(pl.Int64, strict=False) * 100
                 + frac.str.slice(0, 2).str.pad_end(2, "0").cast(pl.Int64, strict=False))
           .otherwise(0))
    return fen, [(missing | (text == ""), "缺少金额", "missing"),
                 (~shape, "不是金额", "not an amount"),
                 (text.str.starts_with("-"), "金额不能为负", "must not be negative"),
                 (frac.str.strip_chars_end("0").str.len_chars() > 2, "金额最多两位小数",
                  "at most two decimals"),
                 (long | (fen > MAX_FEN), "金额过大", "amount too large")]


def _time(name: str, dtype: pl.DataType) -> tuple[pl.Expr, list[Check]]:
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            return pl.lit(0, pl.Int64), [(pl.lit(True), "日期时间不带时区（按北京时间）",
                                          "no time zone: China time")]
        t = col.dt.epoch("s")
    elif dtype == pl.Date:
        t = col.cast(pl.Datetime("us")).dt.epoch("s")
    else:
        text = _text(name, dtype)
        t = pl.coalesce([text.str.to_datetime(f, strict=False, time_unit="us")
                         for f in _TIME_FORMATS]).dt.epoch("s")
    return t.fill_null(0), [(col.is_null(), "缺少结算时间", "missing"),
                            (t.is_null(), "日期时间应为 YYYY-MM-DDTHH:MM:SS 格式（不带时区）",
                             "expected an ISO date-time without zone")]


def _choice(name: str, dtype: pl.DataType, allowed: tuple[int, ...], zh: str,
            en: str) -> tuple[pl.Expr, list[Check]]:
    value = _integer_of(name, dtype)
    bad = value.is_null() | ~value.is_in(list(allowed))
    return value.fill_null(allowed[0]), [(pl.col(name).is_null(), "缺少该字段", "missing"),
                                         (bad, zh, en)]


def _boolean(name: str, dtype: pl.DataType) -> tuple[pl.Expr, list[Check]]:
    col = pl.col(name)
    if dtype == pl.Boolean:
        return col.fill_null(False), [(col.is_null(), "缺少该字段", "missing")]
    text = _text(name, dtype).str.to_lowercase()
    return text == "true", [(col.is_null(), "缺少该字段", "missing"),
                            (~text.is_in(["true", "false"]), "应为 true 或 false",
                             "expected true or false")]


# -- persons ------------------------------------------------------------------------------

PSN_SEED = 17
"""Seed of the 64-bit hashes that find a claim's person (:meth:`Persons.lookup`)."""
SETL_SEED = 7
"""Seed of the 64-bit hashes of ``setl_id`` that find duplicates (:func:`duplicate_setl_ids`)."""


@dataclass
class Persons:
    """The persons file, validated: one row per person, by index ``pidx``."""

    psn_no: pl.Series
    region: I64
    resident: npt.NDArray[np.bool_]
    categories: npt.NDArray[np.uint16]
    index: pl.DataFrame = field(repr=False)
    _by_hash: HashIndex | None = field(default=None, init=False, repr=False, compare=False)
    _key: I64 | None = field(default=None, init=False, repr=False, compare=False)
    _psn_arrow: pa.Array | None = field(default=None, init=False, repr=False, compare=False)
    _fixed: tuple[int, npt.NDArray[np.uint64]] | None = field(default=None, init=False, repr=False,
                                                             compare=False)
    """The ids as 64-bit words when all have one length (:func:`fixed_width_texts`)."""

    def __len__(self) -> int:
        return len(self.region)

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> Persons:
        """From a frame with ``psn_no``, ``region`` (int), ``resident``, ``categories`` (mask)."""
        psn = frame["psn_no"]
        index = pl.DataFrame({"psn_no": psn, "pidx": pl.int_range(len(psn), dtype=pl.Int64,
                                                                   eager=True)})
        return cls(psn, frame["region"].to_numpy().astype(np.int64),
                   frame["resident"].to_numpy().astype(np.bool_),
                   frame["categories"].to_numpy().astype(np.uint16), index)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame({"psn_no": self.psn_no, "region": self.region,
                             "resident": self.resident, "categories": self.categories})

    def psn_arrow(self) -> pa.Array:
        """``psn_no`` as an Arrow string array (kept: a chunk's ids are taken from it)."""
        if self._psn_arrow is None:
            array = self.psn_no.to_arrow()
            self._psn_arrow = array if array.type == pa.string() else array.cast(pa.string())
        return self._psn_arrow

    def parameter_key(self) -> I64:
        """Region, resident and categories of each person packed in one integer (≥ 0)."""
        if self._key is None:
            self._key = (np.maximum(self.region, 0) << 17) \
                | (self.resident.astype(np.int64) << 16) | self.categories.astype(np.int64)
        return self._key

    def lookup(self, psn_no: pl.Series) -> I64:
        """The index of each ``psn_no`` in the persons file, −1 where it is not there.

        Exact: the person is found by a 64-bit hash of the text and the texts are then
        compared, so a hash collision never finds the wrong person."""
        if self._by_hash is None:
            self._by_hash = HashIndex(self.psn_no.hash(seed=PSN_SEED).to_numpy())
        if not self._by_hash.distinct:  # two persons' texts share a hash: join the texts
            joined = pl.DataFrame({"psn_no": psn_no}).join(
                self.index, on="psn_no", how="left", maintain_order="left")["pidx"]
            return joined.fill_null(-1).to_numpy().astype(np.int64)
        found = self._by_hash.find(psn_no.hash(seed=PSN_SEED).to_numpy())
        rows = np.flatnonzero(found >= 0)
        if self._fixed is None:
            self._fixed = fixed_width_texts(self.psn_arrow()) or (0, np.zeros((1, 0), np.uint64))
        width, mine = self._fixed
        if width:  # every person's id is `width` bytes long: compare the bytes as integers
            theirs = fixed_width_texts(_arrow_of(psn_no))
            if theirs is not None and theirs[0] == width:
                at = found[rows]
                whole = len(rows) == len(found)
                same_bytes = np.ones(len(rows), np.bool_)
                for word, query in zip(mine, theirs[1], strict=True):
                    same_bytes &= word[at] == (query if whole else query[rows])
                found[rows[~same_bytes]] = -1
                return found
        if len(rows) == len(found):
            same = self.psn_no.gather(found) == psn_no
        else:
            same = self.psn_no.gather(found[rows]) == psn_no.gather(rows)
        wrong = ~same.fill_null(False).to_numpy()
        if wrong.any():
            found[rows[wrong]] = -1
        return found


def _arrow_of(texts: pl.Series) -> pa.Array:
    array = texts.to_arrow()
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def fixed_width_texts(array: pa.Array) -> tuple[int, npt.NDArray[np.uint64]] | None:
    """When every text of ``array`` has the same length in bytes (1 to 64, no nulls): that
    length and the texts as 64-bit words, zero-padded (``words[j][i]``: word ``j`` of text
    ``i``), so that two texts are equal exactly when all their words are. Else None."""
    n = len(array)
    if not n or array.null_count or not (pa.types.is_string(array.type)
                                         or pa.types.is_large_string(array.type)):
        return None
    wide = pa.types.is_large_string(array.type)
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int64 if wide else np.int32, n + 1, array.offset
                            * (8 if wide else 4)).astype(np.int64)
    width = int(offsets[1] - offsets[0])
    if not 0 < width <= 64 or int(offsets[-1] - offsets[0]) != width * n or \
            bool((np.diff(offsets) != width).any()):
        return None
    data = np.frombuffer(data_buffer, np.uint8)[offsets[0]:offsets[-1]].reshape(n, width)
    words = (width + 7) // 8
    padded = np.zeros((n, 8 * words), np.uint8)
    padded[:, :width] = data
    return width, np.ascontiguousarray(padded.view(np.uint64).T)


class HashIndex:
    """Positions of 64-bit keys in an open-addressing table (linear probing, at most half
    full), found by one gather per probe. ``distinct`` tells whether no key repeats.

    The table is laid out from one value sort: each key's position is packed into its low
    bits, the packed keys are sorted, and the ``i``-th key (in that order) takes slot
    ``max(home_i, slot_{i-1} + 1)`` — a running maximum, with no loop over the keys."""

    def __init__(self, keys: npt.NDArray[np.uint64]) -> None:
        n = len(keys)
        self.keys = keys
        bits = _position_bits(n)
        self.home_bits = min(bits + 1, 64 - bits)
        """The table has 2^home_bits slots: a key's home slot is its top bits."""
        self.distinct = True
        if not n:
            self.slots: npt.NDArray[np.signedinteger[Any]] = np.full(2, -1, np.int32)
            return
        low = np.uint64((1 << bits) - 1)
        packed = sort_u64((keys & ~low) | np.arange(n, dtype=np.uint64))
        position = (packed & low).astype(np.int64)
        # the home slot comes from bits above the position bits: it grows with the order
        home = (packed >> np.uint64(64 - self.home_bits)).astype(np.int64)
        rank = np.arange(n, dtype=np.int64)
        slot = rank + np.maximum.accumulate(home - rank)
        # the last slot stays empty: a probe past the end stops there
        self.slots = np.full(max(1 << self.home_bits, int(slot[-1]) + 1) + 1, -1,
                             np.int32 if n < 1 << 31 else np.int64)
        self.slots[slot] = position
        # equal keys share their high bits: only keys sharing them with a neighbour can repeat
        shared = np.flatnonzero((packed[1:] ^ packed[:-1]) <= low)
        if shared.size:
            candidates = keys[position[np.union1d(shared, shared + 1)]]
            self.distinct = len(np.unique(candidates)) == len(candidates)

    def find(self, queries: npt.NDArray[np.uint64]) -> I64:
        """The position of each query among the keys (the first if repeated), −1 if absent."""
        out = np.full(len(queries), -1, np.int64)
        if not len(self.keys) or not len(queries):
            return out
        at = (queries >> np.uint64(64 - self.home_bits)).astype(np.int64)
        todo = np.arange(len(queries))
        q = queries
        last = len(self.slots) - 1
        while todo.size:  # (at most half full: a probe or two)
            k = self.slots[at].astype(np.int64)
            empty = k < 0
            k[empty] = 0
            hit = ~empty & (self.keys[k] == q)
            out[todo[hit]] = k[hit]
            more = np.flatnonzero(~(hit | empty))
            todo, q, at = todo[more], q[more], np.minimum(at[more] + 1, last)
        return out


def sort_u64(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """``values`` sorted (Polars' sort of 64-bit integers takes about half numpy's time)."""
    out: npt.NDArray[np.uint64] = pl.Series(values, dtype=pl.UInt64).sort().to_numpy()
    return out


def _position_bits(n: int) -> int:
    return max(1, (max(n, 1) - 1).bit_length())


def _category_masks(values: list[str | None]) -> dict[str | None, tuple[int, str | None]]:
    """Mask of each distinct ``categories`` text, or the error text for a bad one."""
    out: dict[str | None, tuple[int, str | None]] = {}
    for text in values:
        mask, problem = 0, None
        for item in (text or "").split("|"):
            if not item.strip():
                continue
            try:
                mask |= CATEGORY_BITS[category_key(item)]
            except InputError:
                problem = item.strip()
                break
        out[text] = (mask, problem)
    return out


def load_persons(path: Path) -> Persons:
    """Read and validate the persons file (every bad row reported; none: :class:`BadRows`)."""
    df = read_frame(path, "persons", PERSON_COLUMNS)
    schema = df.schema
    # each text stripped once (a lazy query would strip it again for each use)
    df = df.with_columns(_text("psn_no", schema["psn_no"]).alias("__psn_no"),
                         _text("insutype", schema["insutype"]).alias("__insutype"),
                         _text("region", schema["region"]).alias("__region"))
    psn, insutype, region = pl.col("__psn_no"), pl.col("__insutype"), pl.col("__region")
    cats = pl.col("categories").cast(pl.String, strict=False).fill_null("")
    known = sorted({f"{int(c):06d}" for c in all_regions()})  # as texts: one lookup per row
    masks = _category_masks(df.select(cats.unique())["categories"].to_list())
    mask_df = pl.DataFrame({"categories": list(masks), "mask": [m for m, _ in masks.values()],
                            "bad_category": [p for _, p in masks.values()]},
                           schema={"categories": pl.String, "mask": pl.UInt16,
                                   "bad_category": pl.String})
    work = df.with_columns(cats).join(mask_df, on="categories", how="left",
                                      maintain_order="left")
    # the index that finds claims' persons (kept by the Persons below): no two hashes alike
    # means no two texts alike; else the texts are compared
    by_hash = HashIndex(work["__psn_no"].hash(seed=PSN_SEED).to_numpy())
    repeated = pl.lit(False) if by_hash.distinct else ~psn.is_first_distinct()
    checks: list[tuple[str, list[Check]]] = [
        ("psn_no", [(psn.is_null() | ~psn.str.contains(_PSN_NO),
                     "个人编号应为1至32位字母、数字、下划线、点或连字符",
                     "psn_no: 1-32 letters, digits, '_', '.' or '-'"),
                    (repeated, "个人编号重复（与前面某行相同）", "duplicate psn_no")]),
        ("insutype", [(~insutype.is_in(["390", "310"]).fill_null(False),
                       "险种类型应为 390（城乡居民）或 310（职工）",
                       "insutype must be 390 (resident) or 310 (employee)")]),
        ("region", [(~region.is_in(known).fill_null(False),
                     "未知的地区代码（GB/T 2260 六位代码）", "unknown region code")]),
        ("categories", [(pl.col("bad_category").is_not_null(),
                         "未知的救助对象类别（用“|”分隔类别键或中文名）", "unknown category")]),
    ]
    flags = [expr.fill_null(False) for _, items in checks for expr, _, _ in items]
    out = work.lazy().select(
        psn.alias("psn_no"), region.cast(pl.Int64, strict=False).alias("region"),
        (insutype == "390").alias("resident"), pl.col("mask").alias("categories"),
        pl.any_horizontal(flags).alias("__bad")).collect()
    if out["__bad"].any():
        bad, count = _collect(work, "persons", 1, checks,
                              {"categories": pl.col("bad_category")})
        raise BadRows(bad, count)
    persons = Persons.from_frame(out.drop("__bad"))
    persons._by_hash = by_hash  # the same texts, in the same order
    return persons


def _collect(frame: pl.DataFrame, table: str, first_row: int,
             checks: list[tuple[str, list[Check]]],
             shown: Mapping[str, pl.Expr] | None = None) -> tuple[list[BadRow], int]:
    """Evaluate the checks; the first bad rows (first failing check of each) and their count."""
    flags = []
    names = []
    for field_name, items in checks:
        for j, (expr, _, _) in enumerate(items):
            flags.append(expr.fill_null(False).alias(f"__{field_name}_{j}"))
            names.append((field_name, j))
    if not flags:
        return [], 0
    result = frame.select(flags)
    any_bad = result.select(pl.any_horizontal(pl.all()).alias("bad"))["bad"]
    count = int(any_bad.sum())
    if not count:
        return [], 0
    where = np.flatnonzero(any_bad.to_numpy())[:MAX_REPORTED]
    values = {}
    sub = frame[where.tolist()]
    for field_name, _ in checks:
        expr = (shown or {}).get(field_name, pl.col(field_name) if field_name in frame.columns
                                 else pl.lit(None))
        values[field_name] = sub.select(expr.alias("v"))["v"].to_list()
    rows: list[BadRow] = []
    columns = result[where.tolist()]
    for k, i in enumerate(where.tolist()):
        for (field_name, j), col in zip(names, columns.columns, strict=True):
            if columns[col][k]:
                _, zh, en = dict(checks)[field_name][j]
                value = values[field_name][k]
                rows.append(BadRow(table, first_row + i, field_name, f"{zh}（{value!r}）", en))
                break
    return rows, count


# -- claims -------------------------------------------------------------------------------

@dataclass
class PreparedBatch:
    frame: pl.DataFrame
    """Validated rows in :data:`PREPARED_SCHEMA` (empty when the batch has bad rows)."""
    bad: list[BadRow]
    bad_count: int
    hashes: npt.NDArray[np.uint64]
    rows: I64


def _longer_than(df: pl.DataFrame, name: str, text: pl.Expr, limit: int) -> pl.Expr:
    """``text`` longer than ``limit`` characters; counted only when some raw value is longer
    than ``limit`` bytes (a character takes at least one byte)."""
    raw = pl.col(name)
    if df.schema[name] != pl.String:
        raw = raw.cast(pl.String, strict=False)
    longest = df.select(raw.str.len_bytes().max()).item()
    if longest is None or longest <= limit:
        return pl.lit(False)
    return text.str.len_chars() > limit


def prepare_claims(df: pl.DataFrame, first_row: int, persons: Persons) -> PreparedBatch:
    """Validate a batch of claims (rows ``first_row``…) and turn it into prepared rows.

    Duplicate ``setl_id`` across batches is checked by the caller from ``hashes``."""
    schema = df.schema
    n = df.height
    # the two ids stripped once (a lazy query would strip them again for each use)
    ids = df.select(_text("setl_id", schema["setl_id"]).alias("__setl_id"),
                    _text("psn_no", schema["psn_no"]).alias("__psn_no"))
    setl_id, psn = pl.col("__setl_id"), pl.col("__psn_no")
    t, t_checks = _time("setl_time", schema["setl_time"])
    med, med_checks = _choice("med_type", schema["med_type"], (11, 14, 21),
                              "医疗类别应为 11（普通门诊）、14（门诊慢特病）或 21（住院）",
                              "med_type must be 11, 14 or 21")
    lv, lv_checks = _choice("hosp_lv", schema["hosp_lv"], (0, 1, 2, 3),
                            "医院等级应为 0（村卫生室）、1、2 或 3", "hosp_lv must be 0..3")
    inp, inp_checks = _boolean("in_province", schema["in_province"])
    fen = {}
    checks: list[tuple[str, list[Check]]] = [
        ("setl_id", [(setl_id.is_null() | (setl_id.str.len_bytes() == 0), "缺少结算流水号",
                      "missing"),
                     (_longer_than(df, "setl_id", setl_id, 64), "结算流水号最长64个字符",
                      "at most 64 characters")]),
        ("psn_no", [(psn.is_null() | (psn.str.len_bytes() == 0), "缺少个人编号", "missing"),
                    (pl.col("__pidx") < 0, "未知参保人（不在人员文件中）",
                     "unknown person (not in the persons file)")]),
        ("setl_time", t_checks), ("med_type", med_checks), ("hosp_lv", lv_checks),
        ("in_province", inp_checks),
    ]
    for name in AMOUNTS:
        fen[name], money_checks = money(name, schema[name])
        checks.append((name, money_checks))
    pidx = persons.lookup(ids["__psn_no"])
    work = df.with_columns(ids["__setl_id"], ids["__psn_no"], pl.Series("__pidx", pidx))
    over = fen["fulamt_ownpay_amt"] + fen["preselfpay_amt"] + fen["overlmt_selfpay"] \
        > fen["medfee_sumamt"]
    checks.append(("medfee_sumamt",
                   [(over, "全自费、先行自付与超限价自付之和超过医疗费总额",
                     "fulamt_ownpay_amt + preselfpay_amt + overlmt_selfpay exceeds medfee_sumamt")]))
    # the combined check goes last but is keyed by medfee_sumamt: merge both lists
    merged: dict[str, list[Check]] = {}
    for name, items in checks:
        merged.setdefault(name, []).extend(items)
    rows = np.arange(first_row, first_row + n, dtype=np.int64)
    # one pass computes every check, the hashes and the prepared columns; the bad rows are
    # looked at one by one only when there are some
    flags = [expr.fill_null(False) for _, items in merged.items() for expr, _, _ in items]
    frame = work.lazy().select(  # lazy: each stripped text is computed once
        pl.Series("row", rows),
        pl.col("__pidx").alias("pidx"),
        t.cast(pl.Int64).alias("t"),
        setl_id.alias("setl_id"),
        med.cast(pl.Int8, strict=False).alias("med_type"),  # (bad rows are not kept)
        lv.cast(pl.Int8, strict=False).alias("hosp_lv"),
        inp.alias("in_province"),
        *[fen[name].cast(pl.Int64).alias(name) for name in AMOUNTS],
        setl_id.hash(seed=SETL_SEED).alias("__hash"),
        (pl.any_horizontal(flags) if flags else pl.lit(False)).alias("__bad"),
    ).collect()
    hashes = frame["__hash"].to_numpy()
    if frame["__bad"].any():
        bad, count = _collect(work, "claims", first_row, list(merged.items()))
        return PreparedBatch(pl.DataFrame(schema=pl.Schema(PREPARED_SCHEMA)), bad, count,
                             hashes, rows)
    # one buffer per column: gathers on chunked columns are several times slower
    return PreparedBatch(frame.drop("__hash", "__bad").rechunk(), [], 0, hashes, rows)


def duplicate_setl_ids(path: Path, runs: list[npt.NDArray[np.uint64]]) -> tuple[list[BadRow], int]:
    """Rows whose ``setl_id`` repeats an earlier row's, over the whole file.

    ``runs``: the 64-bit hashes of the stripped ``setl_id`` texts (:func:`prepare_claims`),
    each run sorted (a stable sort merges sorted runs quickly). Hashes seen twice are
    candidates; their rows are found by reading ``setl_id`` again and their texts compared,
    so a hash collision is never reported as a duplicate."""
    if not runs:
        return [], 0
    merged = np.sort(np.concatenate(runs), kind="stable") if len(runs) > 1 else runs[0]
    same = merged[1:] == merged[:-1]
    if not bool(same.any()):
        return [], 0
    wanted = np.unique(merged[1:][same])
    texts: dict[int, str] = {}
    offset = 1
    for frame in iter_frames(path, "claims", ("setl_id",)):
        ids = frame.select(_text("setl_id", frame.schema["setl_id"]).alias("s"))["s"]
        local = np.flatnonzero(np.isin(ids.hash(seed=SETL_SEED).to_numpy(), wanted))
        if local.size:
            texts.update(zip((offset + i for i in local.tolist()), ids.gather(local).to_list(),
                             strict=True))
        offset += frame.height
    first_seen: dict[str, int] = {}
    bad: list[BadRow] = []
    count = 0
    for r in sorted(texts):
        text = texts[r]
        if text in first_seen:
            count += 1
            if len(bad) < MAX_REPORTED:
                bad.append(BadRow("claims", r, "setl_id",
                                  f"结算流水号重复（{text!r} 与第 {first_seen[text]} 行相同）",
                                  f"duplicate setl_id {text!r} (same as row {first_seen[text]})"))
        else:
            first_seen[text] = r
    return bad, count


# -- outputs ------------------------------------------------------------------------------

def money_texts(values: Mapping[str, I64], no_cap: tuple[str, ...] = CAP_ROOMS) -> dict[str, pl.Series]:
    """Fen arrays as two-decimal texts (``"580.00"``); ``-1`` in a cap-room column: empty
    (:func:`minsheng.batch.money_text.money_arrays`, as Polars Series)."""
    out = {}
    for k, array in money_arrays(values, no_cap).items():
        series = pl.from_arrow(array)
        assert isinstance(series, pl.Series)
        out[k] = series.alias(k)
    return out
