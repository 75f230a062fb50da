"""Arrow arrays on numpy buffers and back, without pandas.

``pa.array(ndarray)`` and ``Array.to_numpy()`` import pandas the first time they run (about
a sixth of a second in each process of a batch job); these helpers build and read the
buffers themselves."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa


def arrow_ints(values: npt.NDArray[np.integer], absent: npt.NDArray[np.bool_] | None = None
               ) -> pa.Array:
    """An Arrow integer array on the numpy buffer (rows where ``absent``: null)."""
    values = np.ascontiguousarray(values)
    validity = None
    null_count = 0
    if absent is not None and absent.any():
        validity = pa.py_buffer(np.packbits(~absent, bitorder="little"))
        null_count = int(absent.sum())
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values),
                                 [validity, pa.py_buffer(values)], null_count)


def numpy_of(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.generic]:
    """A column of integers or booleans without nulls as one numpy array."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        raise ValueError("numpy_of: the column holds nulls")
    n, offset = len(array), array.offset
    data = array.buffers()[1]
    if pa.types.is_boolean(array.type):
        bits = np.unpackbits(np.frombuffer(data, np.uint8), count=offset + n, bitorder="little")
        out: npt.NDArray[np.generic] = bits[offset:].astype(np.bool_)
        return out
    dtype = np.dtype(array.type.to_pandas_dtype())
    if not n:
        return np.zeros(0, dtype)
    return np.frombuffer(data, dtype, n, offset * dtype.itemsize)
