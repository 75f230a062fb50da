"""Arrow arrays on numpy buffers and back (without pandas) hold the same values."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from minsheng.batch.arrow_buffers import arrow_ints, numpy_of


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint64])
def test_integers_go_to_arrow_and_back(dtype: type[np.integer]) -> None:
    values = np.arange(-3, 40).astype(dtype)
    absent = values % 5 == 1
    array = arrow_ints(values, absent)
    assert array.to_pylist() == [None if a else int(v) for v, a in zip(values, absent, strict=True)]
    assert arrow_ints(values).to_pylist() == values.tolist()
    assert numpy_of(arrow_ints(values)).tolist() == values.tolist()


def test_chunked_sliced_and_boolean_columns_come_back_whole() -> None:
    ints = pa.chunked_array([pa.array([1, 2, 3, 4], pa.int64()).slice(1), pa.array([9], pa.int64())])
    assert numpy_of(ints).tolist() == [2, 3, 4, 9]
    flags = [True, False, True, True, False, False, True, False, True, True]
    bools = pa.chunked_array([pa.array(flags).slice(3), pa.array([False, True])])
    assert numpy_of(bools).tolist() == [*flags[3:], False, True]
    assert numpy_of(pa.array([], pa.int64())).tolist() == []
    with pytest.raises(ValueError):
        numpy_of(pa.array([1, None]))
