"""Fen as two-decimal texts (``58000 → "580.00"``), built as Arrow string arrays.

The batch outputs hold money as text (CONTRACT.md), ten columns per claim, so this is one of
the engine's hot paths. When the package was built with a C compiler (``setup.py``), each
column is written in one compiled loop (:mod:`minsheng.batch._money`, about 8 ns a value
against about 28 with Arrow below; in a 10-million-claim job about a third of the settling
CPU was this formatting). Otherwise — and the texts are the same, which the tests check —
three steps keep it cheap:

1. **One integer cast.** ``w = yuan × 1000 + cents`` is written as text by Arrow's integer
   formatter: ``580.00`` comes out as ``"580000"`` and the third character from the end
   (always ``0``, since cents < 100) is overwritten with ``"."``. Below one yuan, ``w`` gets
   1000 added (``"1005"`` for 5 fen) and its first two characters become ``"0."`` — every
   text thus has the same shape as :func:`minsheng.core.money.format_fen`'s, signs included.
2. **Only the rows that differ.** Most claims pay nothing in tiers 2 and 3, and most have
   no cap left to report: a column's texts are formatted only where the value is neither
   ``0`` nor absent (nor, with ``alike``, equal to an earlier column's value, as
   ``fund_pay_sumamt`` is to ``hifp_pay`` for most claims); the column is then gathered
   from those texts and ``"0.00"`` (or the earlier column's texts) in one Arrow ``take``.
3. **No detour.** The arrays go into the Parquet writer as they are.

Where Polars wants them, :func:`money_texts` gives the same texts as Polars Series.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from minsheng.batch.arrow_buffers import arrow_ints
from minsheng.batch.columns import CAP_ROOMS
from minsheng.core.money import format_fen
from minsheng.rules.settlement import I64

compiled: ModuleType | None
"""The compiled loop (:mod:`minsheng.batch._money`), or None where it was not built."""
try:
    from minsheng.batch import _money as compiled
except ImportError:  # built without a C compiler: Arrow and numpy below
    compiled = None

LARGEST = 9 * 10**17
"""Larger magnitudes (far above any amount the kernel accepts) are formatted in Python."""
DENSE = 0.75
"""Above this share of rows to format, a column is formatted whole (no gather)."""


_ZERO = pa.StringArray.from_buffers(1, pa.py_buffer(np.array([0, 4], np.int32)),
                                    pa.py_buffer(b"0.00"))


def fen_texts(fen: I64, absent: npt.NDArray[np.bool_] | None = None) -> pa.StringArray:
    """Each fen amount as yuan text with two decimals; rows where ``absent``: null."""
    fen = np.asarray(fen, np.int64)
    n = len(fen)
    if compiled is not None:
        return _compiled_texts(fen, absent)
    if n and (int(fen.max()) >= LARGEST or int(fen.min()) <= -LARGEST):
        texts = [None if absent is not None and absent[i] else format_fen(v)
                 for i, v in enumerate(fen.tolist())]
        return pa.array(texts, pa.string())
    negative = fen < 0
    signed = bool(negative.any())
    magnitude = np.abs(fen) if signed else fen
    yuan = magnitude // 100
    under = yuan == 0
    w = yuan * 1000 + (magnitude - yuan * 100)
    w[under] += 1000
    if signed:
        np.negative(w, out=w, where=negative)
    array = pc.cast(arrow_ints(w, absent), pa.string())
    validity, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32, n + 1, array.offset * 4)
    data = np.frombuffer(data_buffer, np.uint8).copy()
    end = offsets[1:]
    if absent is not None:
        present = ~absent
        data[end[present] - 3] = ord(".")
        data[end[present & under] - 4] = ord("0")
    else:
        data[end - 3] = ord(".")
        data[end[under] - 4] = ord("0")
    return pa.StringArray.from_buffers(n, offsets_buffer, pa.py_buffer(data), validity,
                                       array.null_count, array.offset)


def _compiled_texts(fen: I64, absent: npt.NDArray[np.bool_] | None) -> pa.StringArray:
    assert compiled is not None
    offsets, data = compiled.fen_texts(np.ascontiguousarray(fen),
                                       None if absent is None else np.ascontiguousarray(absent))
    validity, nulls = None, 0
    if absent is not None and (nulls := int(np.count_nonzero(absent))):
        validity = pa.py_buffer(np.packbits(~absent, bitorder="little"))
    return pa.StringArray.from_buffers(len(fen), pa.py_buffer(offsets), pa.py_buffer(data),
                                       validity, nulls)


def money_arrays(values: Mapping[str, I64], no_cap: tuple[str, ...] = (),
                 alike: Mapping[str, str] | None = None) -> dict[str, pa.StringArray]:
    """Fen columns as text columns (see the module docstring).

    A negative value in a column named in ``no_cap`` means "no cap": its text is null.
    ``alike[k] = j`` (``j`` an earlier column of ``values``): where ``k`` equals ``j``, the
    text of ``j`` is reused."""
    out: dict[str, pa.StringArray] = {}
    for name, raw in values.items():
        fen = np.asarray(raw, np.int64)
        n = len(fen)
        absent = fen < 0 if name in no_cap else None
        if compiled is not None:  # every text in one loop: cheaper than choosing rows
            out[name] = _compiled_texts(fen, absent)
            continue
        source = (alike or {}).get(name)
        if source is not None and source in out:
            base = np.asarray(values[source], np.int64)
            same = fen == base
            if source in no_cap:
                same &= base >= 0
        else:
            source = None
            same = fen == 0
        plain = same if absent is None else same | absent
        rest = np.flatnonzero(~plain)
        if len(rest) >= DENSE * n:
            out[name] = fen_texts(fen, absent)
            continue
        formatted = fen_texts(fen[rest])
        if source is None:  # texts: the rest, then "0.00"
            pool = pa.concat_arrays([formatted, _ZERO])
            index = np.full(n, len(rest), np.int64)
            index[rest] = np.arange(len(rest))
        else:  # texts: the source column's, then the rest
            pool = pa.concat_arrays([out[source], formatted])
            index = np.arange(n, dtype=np.int64)
            index[rest] = n + np.arange(len(rest))
        taken = pc.take(pool, arrow_ints(index, absent))
        out[name] = taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken
    return out


def money_texts(values: Mapping[str, I64], no_cap: tuple[str, ...] = CAP_ROOMS) -> dict[str, pl.Series]:
    """Fen arrays as two-decimal texts (``"580.00"``); ``-1`` in a cap-room column: empty
    (:func:`money_arrays`, as Polars Series)."""
    out = {}
    for k, array in money_arrays(values, no_cap).items():
        series = pl.from_arrow(array)
        assert isinstance(series, pl.Series)
        out[k] = series.alias(k)
    return out
