"""Texts that all have one length, as 64-bit words: the form in which the persons' ids are
compared (:meth:`minsheng.batch.persons.Persons.lookup`) and the claims' ``setl_id`` are
spilled and put in settlement order (:mod:`minsheng.batch.ingest`, :mod:`minsheng.batch.chunks`).

A text of ``width`` bytes (1 to 64) is zero-padded to ``8·⌈width/8⌉`` bytes and read as that
many little-endian 64-bit words: two texts are equal exactly when all their words are. Numbers
gather several times faster than texts (a gathered Polars text column costs a copy of every
text to become Arrow; Arrow's ``take`` of texts is slower still), and the texts come back from
the words in one strided copy (:func:`texts_of_words`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

if TYPE_CHECKING:
    import polars as pl

MAX_WIDTH = 64
"""Longer texts are left as texts."""


def fixed_width_texts(texts: pa.Array | pa.ChunkedArray | pl.Series
                      ) -> tuple[int, npt.NDArray[np.uint64]] | None:
    """When every text (of an Arrow array or a Polars series) has the same length in bytes
    (1 to :data:`MAX_WIDTH`, no nulls): that length and the texts as 64-bit words,
    zero-padded (``words[j][i]``: word ``j`` of text ``i``). Else None."""
    array = texts if isinstance(texts, pa.Array | pa.ChunkedArray) else texts.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    n = len(array)
    if not n or array.null_count or not (pa.types.is_string(array.type)
                                         or pa.types.is_large_string(array.type)):
        return None
    wide = pa.types.is_large_string(array.type)
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int64 if wide else np.int32, n + 1, array.offset
                            * (8 if wide else 4)).astype(np.int64)
    width = int(offsets[1] - offsets[0])
    if not 0 < width <= MAX_WIDTH or int(offsets[-1] - offsets[0]) != width * n or \
            bool((np.diff(offsets) != width).any()):
        return None
    data = np.frombuffer(data_buffer, np.uint8)[offsets[0]:offsets[-1]].reshape(n, width)
    words = (width + 7) // 8
    padded = np.zeros((n, 8 * words), np.uint8)
    padded[:, :width] = data
    return width, np.ascontiguousarray(padded.view(np.uint64).T)


def texts_of_words(width: int, words: Iterable[npt.NDArray[Any]]) -> pa.StringArray:
    """The texts back from their words (:func:`fixed_width_texts`), as an Arrow string
    array."""
    columns = list(words)
    n = len(columns[0]) if columns else 0
    if n * width >= 1 << 31:
        raise ValueError("texts_of_words: more text than one Arrow string array holds")
    rows = np.empty((n, len(columns)), np.uint64)
    for j, column in enumerate(columns):
        rows[:, j] = column
    data = np.ascontiguousarray(rows.view(np.uint8)[:, :width])
    offsets = np.arange(0, n * width + 1, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
