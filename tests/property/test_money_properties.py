"""Money is exact: splits add up, rounding is half-up, parsing and formatting round-trip."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from minsheng.core.money import format_fen, mul_ratio, mul_ratio_array, parse_fen, split

fen = st.integers(min_value=0, max_value=10**12)
ratios = st.decimals(min_value=0, max_value=3, places=4).map(lambda d: Fraction(d))


@st.composite
def share_lists(draw: st.DrawFn) -> list[Fraction]:
    weights = draw(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=6)
                   .filter(lambda ws: sum(ws) > 0))
    total = sum(weights)
    return [Fraction(w, total) for w in weights]


@given(fen, share_lists())
def test_the_parts_of_a_split_always_add_up_to_the_whole(total: int,
                                                         shares: list[Fraction]) -> None:
    parts = split(total, shares)
    assert sum(parts) == total
    assert all(p >= 0 for p in parts)


@given(fen, share_lists())
def test_each_part_of_a_split_is_within_one_fen_of_its_exact_share(
        total: int, shares: list[Fraction]) -> None:
    for part, share in zip(split(total, shares), shares, strict=True):
        assert abs(part - total * share) < 1


@given(st.integers(min_value=-10**12, max_value=10**12), ratios)
def test_multiplying_by_a_ratio_rounds_half_up_like_the_decimal_module(
        amount: int, ratio: Fraction) -> None:
    exact = Decimal(amount) * Decimal(ratio.numerator) / Decimal(ratio.denominator)
    expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert mul_ratio(amount, ratio) == expected


@given(st.lists(st.integers(min_value=-10**11, max_value=10**11), min_size=1, max_size=50),
       ratios)
def test_the_vectorised_multiplication_gives_the_same_fen(amounts: list[int],
                                                          ratio: Fraction) -> None:
    got = mul_ratio_array(np.array(amounts, dtype=np.int64), ratio)
    assert got.tolist() == [mul_ratio(a, ratio) for a in amounts]


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_formatting_and_parsing_round_trip(amount: int) -> None:
    assert parse_fen(format_fen(amount), allow_negative=True) == amount


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_formatting_writes_the_amount_in_yuan_with_exactly_two_decimals(amount: int) -> None:
    assert format_fen(amount) == f"{Decimal(amount) / 100:.2f}"


@given(st.from_regex(r"[0-9]{1,15}\.[0-9]{2}", fullmatch=True))
def test_plain_yuan_texts_are_read_as_their_decimal_value(text: str) -> None:
    assert parse_fen(text) == int(Decimal(text) * 100)
