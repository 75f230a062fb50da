"""Settling one chunk of prepared rows of whole persons: the rows put in settlement order
(:func:`settlement_order`) and handed to the kernel (:func:`settle_table`), and its outputs as
Arrow and Polars tables (:data:`CLAIM_OUTPUT_SCHEMA`, :data:`PERSON_YEAR_SCHEMA`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from minsheng.batch.arrow_buffers import arrow_ints, numpy_of
from minsheng.batch.columns import (
    AMOUNTS,
    CAP_ROOMS,
    OUTPUT_MONEY,
    PERSON_YEAR_MONEY,
    PREPARED_SCHEMA,
    SECONDS_PER_DAY,
    spilled_words,
)
from minsheng.batch.fixed_texts import texts_of_words
from minsheng.batch.money_text import money_arrays, money_texts
from minsheng.batch.person_years import WatchLists, watch_lists
from minsheng.batch.persons import Persons
from minsheng.core.parameters import ParameterView
from minsheng.rules.settlement import (
    I64,
    Claims,
    ParameterResolver,
    Settlement,
    resolve,
    settle,
)

KERNEL_CHUNK = 1 << 15
"""Claims per step inside the kernel (``settle(chunk=…)``): measured a little faster here
than the kernel's default on chunks of half a million claims."""

CLAIM_OUTPUT_SCHEMA = pa.schema([
    pa.field("setl_id", pa.string(), nullable=False), pa.field("psn_no", pa.string(), nullable=False),
    *(pa.field(k, pa.string(), nullable=False) for k in OUTPUT_MONEY),
    *(pa.field(k, pa.string()) for k in CAP_ROOMS)])
"""The per-claim outputs. Only the cap rooms can be empty; every other column is declared
non-null, so that Parquet stores it without definition levels (a third less CPU to write the
parts: 500,000 claims 115 → 78 ms, docs/batch.md, sitting 11)."""
PERSON_YEAR_SCHEMA = pa.schema([
    pa.field("psn_no", pa.string(), nullable=False), pa.field("year", pa.int32(), nullable=False),
    *(pa.field(k, pa.string(), nullable=False) for k in PERSON_YEAR_MONEY),
    pa.field("watch_list", pa.string()), pa.field("watch_list_threshold", pa.string())])


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
    """Settle prepared rows of whole persons (an Arrow table, in any order, as spilled:
    :func:`minsheng.batch.columns.spilled_schema`) with the kernel, each claim with its
    person's ``region``, ``resident`` and ``categories`` from ``persons`` (by ``pidx``);
    ``resolver`` (made for ``view``) keeps the terms read for earlier chunks. The columns go
    to numpy; ``setl_id`` stays Arrow text, or 64-bit words until it is put in order.

    ``frame`` of the result holds the numeric prepared columns in settlement order; the
    texts are in ``setl_id``."""
    names = [n for n in PREPARED_SCHEMA.names if n != "setl_id"]
    columns: dict[str, Any] = {n: numpy_of(table.column(n)) for n in names}
    width, words = spilled_words(table)
    ids = None if width else table.column("setl_id")

    def id_array(rows: npt.NDArray[np.intp]) -> pa.Array:
        if ids is None:
            return texts_of_words(width, [w[rows] for w in words])
        taken = ids.take(arrow_ints(rows))
        return taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken

    def id_texts(rows: npt.NDArray[np.intp]) -> pl.Series:
        texts = pl.from_arrow(id_array(rows))
        assert isinstance(texts, pl.Series)
        return texts

    order = _order(columns["pidx"], columns["t"], id_texts)
    ordered = {n: v[order] for n, v in columns.items()}
    setl_id = id_array(order)
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
        key = np.sort(key)
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
