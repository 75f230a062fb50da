"""A person's JSON is checked field by field; categories are held within their periods."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from minsheng.core.resident_id import make_certno
from minsheng.service.models import Person, PersonCategory
from minsheng.service.persons import categories_on, parse_person

GOOD: dict[str, Any] = {"psn_no": "P220102001", "insutype": "390", "region": "220102",
                        "categories": ["低保对象"], "psn_name": "张三",
                        "certno": make_certno("220102", dt.date(1980, 5, 6), 123)}


def test_a_good_person_is_parsed_with_category_keys_and_the_region_code() -> None:
    data = parse_person({**GOOD, "region": "南关区", "insutype": 390})
    assert (data.region, data.insutype) == ("220102", "390")
    assert [h.category for h in data.categories] == ["minimum_allowance"]


@pytest.mark.parametrize(("change", "field"), [
    ({"insutype": "999"}, "insutype"),
    ({"region": "000000"}, "region"),
    ({"certno": GOOD["certno"][:-1] + ("0" if GOOD["certno"][-1] != "0" else "1")}, "certno"),
    ({"categories": ["富人"]}, "categories[0]"),
    ({"categories": [{"category": "orphan", "valid_from": "2023-05-01",
                      "valid_to": "2023-04-30"}]}, "categories[0].valid_to"),
    ({"categories": [{"category": "orphan", "since": "2023-05-01"}]}, "categories[0].since"),
    ({"categories": "低保对象"}, "categories"),
    ({"psn_no": "has space"}, "psn_no"),
    ({"psn_name": ""}, "psn_name"),
    ({"nickname": "小张"}, "nickname"),
])
def test_a_bad_value_is_an_error_naming_its_field(change: dict[str, Any], field: str) -> None:
    from minsheng.core.errors import InputError

    with pytest.raises(InputError) as err:
        parse_person({**GOOD, **change})
    assert err.value.field == field


@pytest.mark.parametrize("missing", ["psn_no", "insutype", "region", "categories"])
def test_a_required_field_may_not_be_left_out(missing: str) -> None:
    from minsheng.core.errors import InputError

    with pytest.raises(InputError) as err:
        parse_person({k: v for k, v in GOOD.items() if k != missing})
    assert err.value.field == missing


def test_the_categories_held_on_a_date_respect_their_validity_periods() -> None:
    person = Person(psn_no="P1", categories=[
        PersonCategory(category="minimum_allowance"),
        PersonCategory(category="monitored", valid_from=dt.date(2023, 1, 1),
                       valid_to=dt.date(2023, 6, 30)),
        PersonCategory(category="orphan", valid_from=dt.date(2023, 7, 1)),
    ])
    assert categories_on(person, dt.date(2022, 12, 31)) == ("minimum_allowance",)
    assert categories_on(person, dt.date(2023, 6, 30)) == ("minimum_allowance", "monitored")
    assert categories_on(person, dt.date(2023, 7, 1)) == ("minimum_allowance", "orphan")
