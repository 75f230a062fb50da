from __future__ import annotations

from fractions import Fraction

import pytest

from minsheng.core.errors import InputError
from minsheng.core.money import div_half_up, format_fen, mul_ratio, parse_fen, split


def test_yuan_strings_and_numbers_parse_to_fen() -> None:
    assert parse_fen("580.00") == 58000
    assert parse_fen("139.2") == 13920
    assert parse_fen(139.2) == 13920
    assert parse_fen(7) == 700
    assert parse_fen("1,234.56") == 123456


@pytest.mark.parametrize("bad", ["1.234", 0.001, "abc", "", "NaN", "inf", True, None, [1]])
def test_an_amount_with_more_than_two_decimals_or_not_a_number_is_refused(bad: object) -> None:
    with pytest.raises(InputError) as caught:
        parse_fen(bad, "medfee_sumamt")
    assert caught.value.field == "medfee_sumamt"


def test_a_negative_amount_is_refused_naming_the_field() -> None:
    with pytest.raises(InputError, match="preselfpay_amt"):
        parse_fen("-0.01", "preselfpay_amt")


def test_fen_format_as_yuan_with_exactly_two_decimals() -> None:
    assert format_fen(58000) == "580.00"
    assert format_fen(5) == "0.05"
    assert format_fen(-1205) == "-12.05"


def test_half_a_fen_rounds_up() -> None:
    assert mul_ratio(735, Fraction(1, 2)) == 368  # 3.675 → 3.68 (ring expressway example)
    assert div_half_up(-5, 2) == -3  # half away from zero
    assert mul_ratio(665533, Fraction(3, 5)) == 399320  # 3993.198 → 3993.20


def test_a_split_that_is_exact_gives_each_level_its_exact_share() -> None:
    assert split(58000, [Fraction(3, 5), Fraction(6, 25), Fraction(4, 25)]) == [34800, 13920,
                                                                                  9280]


def test_a_split_that_is_not_exact_gives_the_left_over_fen_to_the_largest_remainders() -> None:
    assert split(100, [Fraction(1, 3)] * 3) == [34, 33, 33]


def test_shares_that_do_not_add_up_to_one_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        split(100, [Fraction(1, 2), Fraction(1, 3)])
