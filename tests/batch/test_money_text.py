"""Money texts built from the fen equal ``format_fen`` exactly, both as the compiled loop
writes them (:mod:`minsheng.batch._money`) and as Arrow and numpy do where it is not built
(one integer cast, gathers)."""

from __future__ import annotations

import shutil
import sysconfig
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minsheng.batch import money_text
from minsheng.batch.money_text import LARGEST, fen_texts, money_arrays
from minsheng.core.money import format_fen

BUILT = money_text.compiled


@pytest.fixture(autouse=True, scope="module", params=["compiled", "arrow"])
def formatter(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test runs with the compiled loop and with the Arrow and numpy path."""
    if request.param == "compiled" and BUILT is None:
        pytest.skip("minsheng.batch._money is not built (no C compiler at install)")
    money_text.compiled = BUILT if request.param == "compiled" else None
    yield request.param
    money_text.compiled = BUILT


def test_the_compiled_loop_is_built_where_a_c_compiler_is() -> None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}): the Arrow and numpy path formats the money")
    assert BUILT is not None, "make install should have built minsheng.batch._money"

AMOUNT = st.one_of(st.integers(0, 1200), st.integers(0, 10**12), st.integers(-(10**6), 10**6),
                   st.integers(-(2**63) + 1, 2**63 - 1), st.sampled_from([0, 99, 100, 999, 1000]))


def _expected(values: list[int], absent: list[bool] | None = None) -> list[str | None]:
    return [None if absent is not None and absent[i] else format_fen(v)
            for i, v in enumerate(values)]


@settings(max_examples=300, deadline=None)
@given(st.lists(AMOUNT, max_size=60))
def test_each_amount_is_written_as_format_fen_writes_it(values: list[int]) -> None:
    array = fen_texts(np.array(values, np.int64))
    assert array.type == pa.string()
    assert array.to_pylist() == _expected(values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 0, 0, -1, 1, 7, 12_345]), AMOUNT, st.booleans()),
                max_size=80))
def test_columns_of_mostly_zeros_absent_caps_and_alike_columns_are_exact(
        rows: list[tuple[int, int, bool]]) -> None:
    # a sparse column (mostly 0), a cap column (−1: no cap) and one alike to the first
    sparse = np.array([r[0] for r in rows], np.int64)
    other = np.array([r[1] for r in rows], np.int64)
    alike = np.where([r[2] for r in rows], sparse, other).astype(np.int64)
    cap = np.where(sparse < 0, -1, other).astype(np.int64)
    out = money_arrays({"a": sparse, "cap": cap, "b": alike, "c": cap},
                       no_cap=("cap",), alike={"b": "a", "c": "cap"})
    assert out["a"].to_pylist() == _expected(sparse.tolist())
    assert out["cap"].to_pylist() == _expected(cap.tolist(), (cap < 0).tolist())
    assert out["b"].to_pylist() == _expected(alike.tolist())
    assert out["c"].to_pylist() == _expected(cap.tolist())  # (not a cap column: signed text)
    for array in out.values():
        assert array.type == pa.string()


def test_the_edges_of_the_fast_path() -> None:
    values = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 58000, -1, -99, -100, -101, LARGEST - 1,
              -(LARGEST - 1), LARGEST, -LARGEST, 2**63 - 1, -(2**63)]
    assert fen_texts(np.array(values, np.int64)).to_pylist() == _expected(values)
    assert fen_texts(np.zeros(0, np.int64)).to_pylist() == []
    many = np.arange(-5000, 200_000, 7, dtype=np.int64)  # the dense path of a whole column
    absent = many % 3 == 0
    assert money_arrays({"x": many}, no_cap=("x",))["x"].to_pylist() == \
        _expected(many.tolist(), absent=(many < 0).tolist())
    assert fen_texts(many, absent).to_pylist() == _expected(many.tolist(), absent.tolist())


def test_every_row_absent_gives_empty_texts_and_a_column_of_one_value_is_whole() -> None:
    values = np.array([-1, -1, -1], np.int64)
    assert fen_texts(values, values < 0).to_pylist() == [None, None, None]
    assert fen_texts(values[:1]).to_pylist() == ["-0.01"]
    # arrays that are views (a step, an offset) are read as their values
    wide = np.arange(0, 40, dtype=np.int64)[5::3]
    assert fen_texts(wide).to_pylist() == _expected(wide.tolist())
