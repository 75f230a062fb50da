from __future__ import annotations

import datetime as dt

import pytest

from minsheng.core.errors import InputError, ParameterMissing
from minsheng.core.parameters import ParameterStore, ParameterView, default_store

REF = {"source": "000_41bda435cb7595ae.txt"}


def store_with_yanbian_override() -> ParameterStore:
    store = ParameterStore()
    store.load_document({"jurisdiction": "220000", "parameters": {"share": {
        "description": "中央分担比例", "unit": "ratio", "values": [
            {"from": "2021-01-01", "to": "2021-12-31", "value": 0.6, "reference": REF},
            {"from": "2021-01-01", "to": "2021-12-31", "region": "222400", "value": 0.8,
             "reference": REF},
        ]}}}, "test.yaml")
    return store


def test_a_county_inherits_its_prefectures_value() -> None:
    store = store_with_yanbian_override()
    assert float(store.get("share", dt.date(2021, 6, 1), "222426").value) == 0.8
    assert float(store.get("share", dt.date(2021, 6, 1), "220102").value) == 0.6


def test_a_date_outside_every_period_is_an_error_naming_parameter_region_and_date() -> None:
    store = store_with_yanbian_override()
    with pytest.raises(ParameterMissing) as caught:
        store.get("share", dt.date(2022, 1, 1), "222426")
    assert caught.value.to_dict() == caught.value.to_dict() | {
        "parameter": "share", "region": "222426", "date": "2022-01-01"}


def test_an_override_replaces_the_value_for_one_run_only() -> None:
    store = store_with_yanbian_override()
    view = ParameterView(store, store.parse_overrides({"share": "0.5"}))
    assert float(view.get("share", dt.date(2030, 1, 1), "220102").value) == 0.5
    assert float(store.get("share", dt.date(2021, 6, 1), "220102").value) == 0.6


def test_an_override_of_an_unknown_parameter_is_refused() -> None:
    with pytest.raises(InputError, match=r"parameters\.nope"):
        store_with_yanbian_override().parse_overrides({"nope": 1})


def test_the_listing_shows_everything_in_force_with_its_reference() -> None:
    listed = default_store().in_force(dt.date(2021, 6, 1), "222400", "medical.financing")
    names = {r.name for r in listed}
    assert "medical.financing.resident.fiscal_subsidy.total" in names
    assert all(r.reference.source for r in listed)
