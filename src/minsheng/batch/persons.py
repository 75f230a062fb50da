"""The persons file, read and validated (:func:`load_persons`) into :class:`Persons`, which
finds claims' persons by 64-bit hashes of ``psn_no`` (:class:`HashIndex`), comparing the
ids as 64-bit words when they all have one length
(:func:`minsheng.batch.fixed_texts.fixed_width_texts`).

``categories`` is a ``|``-separated string of keys or Chinese names (CONTRACT.md).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from minsheng.batch.bad_rows import BadRows
from minsheng.batch.checks import Check, collect, text_of
from minsheng.batch.columns import PERSON_COLUMNS
from minsheng.batch.files import read_frame
from minsheng.batch.fixed_texts import fixed_width_texts
from minsheng.core.categories import category_key
from minsheng.core.errors import InputError
from minsheng.core.regions import all_regions
from minsheng.rules.settlement import I64
from minsheng.rules.settlement_params import CATEGORY_BITS

PSN_SEED = 17
"""Seed of the 64-bit hashes that find a claim's person (:meth:`Persons.lookup`)."""
_PSN_NO = r"^[A-Za-z0-9_.\-]{1,32}$"


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
            theirs = fixed_width_texts(psn_no)
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
        # numpy's default sort is vectorised (x86-simd-sort): 2.27 million 64-bit keys in
        # 12 ms, against 27 ms for Polars' sort (docs/batch.md, sitting 10)
        packed = np.sort((keys & ~low) | np.arange(n, dtype=np.uint64))
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
    df = df.with_columns(text_of("psn_no", schema["psn_no"]).alias("__psn_no"),
                         text_of("insutype", schema["insutype"]).alias("__insutype"),
                         text_of("region", schema["region"]).alias("__region"))
    cats = pl.col("categories").cast(pl.String, strict=False).fill_null("")
    masks = _category_masks(df.select(cats.unique())["categories"].to_list())
    mask_df = pl.DataFrame({"categories": list(masks), "mask": [m for m, _ in masks.values()],
                            "bad_category": [p for _, p in masks.values()]},
                           schema={"categories": pl.String, "mask": pl.UInt16,
                                   "bad_category": pl.String})
    work = df.with_columns(cats).join(mask_df, on="categories", how="left",
                                      maintain_order="left")
    # the index that finds claims' persons (kept by the Persons below), built by numpy on a
    # thread of its own while Polars runs the checks: no two hashes alike means no two texts
    # alike (else the texts are compared, and repeated ids looked for)
    with ThreadPoolExecutor(1, thread_name_prefix="minsheng-persons") as side:
        building = side.submit(HashIndex, work["__psn_no"].hash(seed=PSN_SEED).to_numpy())
        checks, out = _checked_persons(work, building)
    if out["__bad"].any():
        bad, count = collect(work, "persons", 1, checks,
                             {"categories": pl.col("bad_category")})
        raise BadRows(bad, count)
    persons = Persons.from_frame(out.drop("__bad"))
    persons._by_hash = building.result()  # the same texts, in the same order
    return persons


def _checked_persons(work: pl.DataFrame, building: Future[HashIndex]
                     ) -> tuple[list[tuple[str, list[Check]]], pl.DataFrame]:
    """The checks of the persons and their verdict (``__bad``) beside the persons' columns;
    whether an id repeats is known once the hash index is built."""
    psn, insutype, region = pl.col("__psn_no"), pl.col("__insutype"), pl.col("__region")
    checks = _person_checks(pl.lit(False))
    flags = [expr.fill_null(False) for _, items in checks for expr, _, _ in items]
    out = work.lazy().select(
        psn.alias("psn_no"), region.cast(pl.Int64, strict=False).alias("region"),
        (insutype == "390").alias("resident"), pl.col("mask").alias("categories"),
        pl.any_horizontal(flags).alias("__bad")).collect()
    if building.result().distinct:
        return checks, out
    repeated = ~psn.is_first_distinct()  # (two hashes alike: are two ids alike?)
    out = out.with_columns(pl.col("__bad") | work.select(repeated.fill_null(False)).to_series())
    return _person_checks(repeated), out


def _person_checks(repeated: pl.Expr) -> list[tuple[str, list[Check]]]:
    """The checks of the persons file by field (``repeated``: which ids repeat an earlier
    row's)."""
    psn, insutype, region = pl.col("__psn_no"), pl.col("__insutype"), pl.col("__region")
    known = sorted({f"{int(c):06d}" for c in all_regions()})  # as texts: one lookup per row
    return [
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
