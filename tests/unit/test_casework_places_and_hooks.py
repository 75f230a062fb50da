"""Places of care outside the region tree, and the casework fields of a settlement request
(POLICY.md §5; 001_2744dedfd50d42c2.txt measure 8: a filing covers its whole province)."""

from __future__ import annotations

import pytest

from minsheng.core.errors import InputError
from minsheng.service.casework.common import insured_city, place
from minsheng.service.casework.settlement_hooks import take

CLAIM = {"setl_id": "S1", "psn_no": "P1", "setl_time": "2023-09-10T10:00:00", "med_type": "11",
         "hosp_lv": 2, "in_province": True, "medfee_sumamt": "100.00",
         "fulamt_ownpay_amt": "0.00", "preselfpay_amt": "0.00", "overlmt_selfpay": "0.00"}


def test_a_known_region_has_its_province_and_city_from_the_tree() -> None:
    p = place("222401", "care_region")
    assert (p.province, p.city, p.known, p.name) == ("220000", "222400", True, "延吉市")
    assert insured_city("220102") == "220100" and insured_city("220000") == "220000"


def test_a_place_outside_the_tree_is_read_by_its_province_code() -> None:
    haikou = place("460100", "care_region")
    assert (haikou.province, haikou.city, haikou.known) == ("460000", "460100", False)
    assert place("460000", "x").name == "海南省"
    assert place(460105, "x").city == "460100"


@pytest.mark.parametrize("raw", ["990000", "4601", "abcdef", "", None, True, "720000"])
def test_a_code_of_no_province_is_refused_naming_the_field(raw: object) -> None:
    with pytest.raises(InputError) as caught:
        place(raw, "care_region")
    assert caught.value.field == "care_region"


def test_a_claim_without_casework_fields_passes_through_with_its_hash_unchanged() -> None:
    req = take(CLAIM)
    assert req.claim is CLAIM and req.fields == {} and req.digest("abc") == "abc"
    assert take(["not", "a", "claim"]).claim == ["not", "a", "claim"]


def test_casework_fields_are_taken_off_the_claim_and_change_the_hash() -> None:
    a = take({**CLAIM, "care_region": "460100", "visit": "急诊留观、急诊抢救", "disease": "糖尿病"})
    b = take({**CLAIM, "care_region": "460200", "visit": "emergency_observation"})
    assert a.claim == CLAIM and a.visit == "emergency_observation" and a.disease == "diabetes"
    assert a.digest("abc") != "abc" and a.digest("abc") != b.digest("abc")
    assert take({**CLAIM, "care_region": "460100"}).digest("x") == \
        take({**CLAIM, "care_region": " 460100 "}).digest("x")


@pytest.mark.parametrize(("extra", "field"), [
    ({"visit": "walk-in"}, "visit"),
    ({"discharge_time": "yesterday"}, "discharge_time"),
    ({"disease": 7}, "disease"),
    ({"dual_channel_drug": 1}, "dual_channel_drug"),
    ({"care_region": "000000"}, "care_region"),
])
def test_a_bad_casework_field_is_refused_naming_it(extra: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as caught:
        take({**CLAIM, **extra})
    assert caught.value.field == field
