"""Deposit waiver (POLICY.md §3.4) and MS charity aid (§4): reasons and the yearly cap."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minsheng.core.calculation import run
from minsheng.core.errors import InputError
from minsheng.core.money import format_fen, mul_ratio, parse_fen

CAP = 1000000  # 10,000.00 yuan, printed in 001_2744dedfd50d42c2.txt


def waiver(categories: str, referred: bool, home_city: bool) -> dict[str, object]:
    result = run("deposit_waiver", date="2023-05-10", region="140100",
                 inputs={"categories": categories, "referred_from_primary_care": referred,
                         "admitted_in_home_city": home_city})
    outputs: dict[str, object] = result.to_json()["outputs"]
    return outputs


def test_a_waiver_refused_for_every_reason_names_every_failed_condition() -> None:
    reason = str(waiver("低保边缘家庭成员", False, False)["reason"])
    assert "不属低保对象、特困人员、返贫致贫人口、监测对象" in reason
    assert "未经基层首诊转诊" in reason
    assert "未在本市域内定点医疗机构住院" in reason


def test_a_granted_waiver_says_who_and_why() -> None:
    out = waiver("监测对象", True, True)
    assert out["waived"] is True
    assert "监测对象" in str(out["reason"]) and "免除住院押金" in str(out["reason"])


def aid(self_pay: int, ytd: int, categories: str = "低保对象") -> int:
    result = run("ms_charity_aid", date="2023-09-01", region="220102",
                 inputs={"categories": categories, "self_pay": format_fen(self_pay),
                         "ytd_aid": format_fen(ytd)})
    return parse_fen(result.to_json()["outputs"]["aid"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1500000), min_size=1, max_size=8))
def test_aid_over_a_year_of_claims_is_half_of_each_until_the_cap_and_never_above_it(
        claims: list[int]) -> None:
    from fractions import Fraction

    paid = 0
    for self_pay in claims:
        paid += aid(self_pay, paid)
    assert paid == min(CAP, sum(mul_ratio(c, Fraction(1, 2)) for c in claims))


def test_a_person_not_eligible_gets_nothing_with_the_reason() -> None:
    result = run("ms_charity_aid", date="2023-09-01", region="220102",
                 inputs={"categories": "孤儿", "self_pay": "800"})
    outputs = result.to_json()["outputs"]
    assert outputs["aid"] == "0.00" and outputs["eligible"] is False
    assert "不属救助对象" in outputs["reason"] and "孤儿" in outputs["reason"]


def test_the_trace_cites_the_charity_clause() -> None:
    result = run("ms_charity_aid", date="2023-09-01", region="220102",
                 inputs={"categories": "脱贫人口", "self_pay": "800"})
    clauses = [s["reference"]["clause"] for s in result.to_json()["trace"] if "reference" in s]
    assert any("慈善基金资助50%,最高救助1万元" in c for c in clauses)


def test_a_what_if_eligibility_list_with_an_unknown_name_is_an_error_naming_the_parameter() -> None:
    with pytest.raises(InputError) as caught:
        run("ms_charity_aid", date="2023-09-01", region="220102",
            inputs={"categories": "低保对象", "self_pay": "800"},
            parameters={"charity.multiple_sclerosis.eligible": ["低保对象", "贫困户"]})
    assert caught.value.field == "parameters.charity.multiple_sclerosis.eligible[1]"


def test_a_what_if_can_add_a_category_to_the_eligible_list() -> None:
    result = run("ms_charity_aid", date="2023-09-01", region="220102",
                 inputs={"categories": "监测对象", "self_pay": "800"},
                 parameters={"charity.multiple_sclerosis.eligible": "监测对象,农村困难家庭"})
    assert result.to_json()["outputs"]["aid"] == "400.00"
