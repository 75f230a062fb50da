"""Bad input to `straw_feed_subsidy_eligibility` is an error naming the field (POLICY.md §9)."""

from __future__ import annotations

from typing import Any

import pytest

from minsheng.core.calculation import run
from minsheng.core.errors import InputError

APPLICATION = {"applicant_type": "herbivore_farm", "item": "storage_pit",
               "item_date": "2020-10-20", "application_date": "2020-11-10"}


def check(**changes: Any) -> Any:
    inputs = {k: v for k, v in (APPLICATION | changes).items() if v is not None}
    return run("straw_feed_subsidy_eligibility", date=None, region=None, inputs=inputs)


@pytest.mark.parametrize(("changes", "field"), [
    ({"applicant_type": "poultry_farm"}, "applicant_type"),
    ({"item": "tractor_fuel"}, "item"),
    ({"item_date": "2020-13-01"}, "item_date"),
    ({"item_date": None}, "item_date"),
    ({"application_date": "30/11/2020"}, "application_date"),
    ({"pit_structure": "wood"}, "pit_structure"),
    ({"item_date": "2020-11-11"}, "item_date"),
])
def test_a_bad_straw_feed_input_is_an_error_naming_its_field(changes: dict[str, Any],
                                                             field: str) -> None:
    with pytest.raises(InputError) as caught:
        check(**changes)
    assert caught.value.field == field


def test_the_application_date_and_yushu_are_used_when_date_and_region_are_omitted() -> None:
    result = check()
    assert (result.date.isoformat(), result.region.code) == ("2020-11-10", "220182")
    assert result.outputs["eligible"] is True
