from __future__ import annotations

import datetime as dt

import pytest

from minsheng.core.dates import CalendarNotCovered, add_working_days, is_working_day
from minsheng.core.errors import InputError
from minsheng.core.regions import all_regions, get_region, is_within, lineage


def test_a_county_inherits_from_its_prefecture_and_province() -> None:
    assert lineage("222426") == ("222426", "222400", "220000")
    assert is_within("220172", "220100")
    assert not is_within("140100", "220000")


def test_every_unit_named_by_the_policy_is_known() -> None:
    for code in ("220000", "220100", "220112", "220113", "220323", "220623", "220721",
                 "222400", "220182", "140000", "140100", "220171", "220174"):
        assert code in all_regions()


def test_every_county_of_yanbian_is_known() -> None:
    yanbian = [r for r in all_regions().values() if r.parent == "222400"]
    assert len(yanbian) == 8


def test_a_region_can_be_given_by_its_chinese_name() -> None:
    assert get_region("安图县").code == "222426"


def test_an_unknown_region_code_is_an_error_naming_the_field() -> None:
    with pytest.raises(InputError) as caught:
        get_region("999999", "region")
    assert caught.value.field == "region"


def test_national_day_and_its_adjusted_working_weekend_follow_the_official_calendar() -> None:
    assert not is_working_day(dt.date(2023, 10, 2))
    assert is_working_day(dt.date(2023, 10, 7))  # 调休 Saturday
    assert add_working_days(dt.date(2023, 9, 25), 15) == dt.date(2023, 10, 20)


def test_a_year_the_calendar_does_not_cover_is_an_error_not_a_guess() -> None:
    with pytest.raises(CalendarNotCovered, match="2099"):
        is_working_day(dt.date(2099, 3, 1))
