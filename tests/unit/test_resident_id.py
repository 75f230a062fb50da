"""Resident ids (GB 11643-1999): the check character, the birth date, masking."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minsheng.core.errors import InputError
from minsheng.core.resident_id import (
    check_char,
    make_certno,
    mask_certno,
    mask_certnos_in,
    validate_certno,
)

# The worked example of GB 11643-1999 (appendix): 11010519491231002X.
STANDARD_EXAMPLE = "11010519491231002X"


def test_the_standards_worked_example_has_check_character_x() -> None:
    assert check_char(STANDARD_EXAMPLE[:17]) == "X"
    assert validate_certno(STANDARD_EXAMPLE) == STANDARD_EXAMPLE


def test_a_lower_case_x_is_accepted_and_written_upper_case() -> None:
    assert validate_certno(STANDARD_EXAMPLE.lower()) == STANDARD_EXAMPLE


def test_a_wrong_check_character_is_rejected_naming_the_field() -> None:
    with pytest.raises(InputError) as err:
        validate_certno("110105194912310021", "persons[0].certno")
    assert err.value.field == "persons[0].certno"
    assert "校验码" in err.value.message


@pytest.mark.parametrize("bad", ["", "12345", "1101051949123100211", "11010519491231002Y",
                                 "1101051949123100 X"])
def test_a_number_of_the_wrong_shape_is_rejected(bad: str) -> None:
    with pytest.raises(InputError, match="18位"):
        validate_certno(bad)


def test_a_number_with_an_impossible_birth_date_is_rejected() -> None:
    first17 = "22010219800231123"  # 31 February
    with pytest.raises(InputError, match="出生日期"):
        validate_certno(first17 + check_char(first17))


def test_a_number_that_is_not_text_is_rejected() -> None:
    with pytest.raises(InputError):
        validate_certno(220102198005061239)


@given(st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)), st.integers(0, 999))
def test_every_made_number_validates_and_any_changed_digit_does_not(born: dt.date,
                                                                    seq: int) -> None:
    certno = make_certno("140105", born, seq)
    assert validate_certno(certno) == certno
    digit = int(certno[14])
    changed = certno[:14] + str((digit + 1) % 10) + certno[15:]
    with pytest.raises(InputError):
        validate_certno(changed)


def test_masking_keeps_the_first_and_last_four_characters() -> None:
    assert mask_certno("220102198005061239") == "2201**********1239"
    assert mask_certno(None) is None


def test_masking_in_free_text_hides_every_id_but_not_other_numbers() -> None:
    text = "person 220102198005061239 and 11010519491231002X paid 123456.78"
    assert mask_certnos_in(text) == ("person 2201**********1239 and 1101**********002X "
                                     "paid 123456.78")
