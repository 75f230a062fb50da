"""Enrollment subsidy of Shanxi (POLICY.md §3.1): the invariants behind the scenarios."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from minsheng.core.calculation import run
from minsheng.core.categories import CATEGORIES
from minsheng.core.money import format_fen, parse_fen

ALONE = {  # the subsidy each category gives alone on a standard of 380.00 (hand-worked)
    "extreme_poverty": "380.00", "minimum_allowance": "304.00", "relapsed_poverty": "342.00",
    "at_risk_poverty": "280.00", "monitored": "0.00", "marginal_allowance": "0.00",
    "illness_impoverished": "0.00", "lifted_from_poverty": "0.00", "orphan": "380.00",
}


def subsidise(categories: list[str], standard: int, day: str = "2024-06-01") -> dict[str, str]:
    result = run("enrollment_subsidy", date=day, region="140100",
                 inputs={"categories": categories, "contribution_standard": format_fen(standard)})
    outputs: dict[str, str] = result.to_json()["outputs"]
    return outputs


def test_each_category_alone_gets_its_printed_subsidy() -> None:
    for key, expected in ALONE.items():
        assert subsidise([key], 38000)["subsidy"] == expected, key


@settings(max_examples=60, deadline=None)
@given(categories=st.lists(st.sampled_from(sorted(CATEGORIES)), max_size=4, unique=True),
       standard=st.integers(min_value=0, max_value=200000))
def test_subsidy_and_personal_payment_add_up_to_the_standard_and_neither_is_negative(
        categories: list[str], standard: int) -> None:
    out = subsidise(categories, standard)
    subsidy, personal = parse_fen(out["subsidy"]), parse_fen(out["personal_payment"])
    assert subsidy + personal == standard
    assert 0 <= subsidy <= standard


@settings(max_examples=40, deadline=None)
@given(categories=st.lists(st.sampled_from(sorted(CATEGORIES)), min_size=1, max_size=4,
                           unique=True),
       standard=st.integers(min_value=0, max_value=200000))
def test_a_person_in_several_categories_gets_the_largest_single_subsidy(
        categories: list[str], standard: int) -> None:
    alone = [parse_fen(subsidise([c], standard)["subsidy"]) for c in categories]
    assert parse_fen(subsidise(categories, standard)["subsidy"]) == max(alone)


def test_the_trace_names_the_category_chosen_among_several() -> None:
    result = run("enrollment_subsidy", date="2023-03-01", region="140100",
                 inputs={"categories": "低保对象,易返贫致贫人口", "contribution_standard": "300"})
    text = result.explain()
    assert "低保对象 240.00" in text and "易返贫致贫人口 280.00" in text
    assert "就高原则取易返贫致贫人口的资助 280.00" in text


def test_the_trace_explains_a_fixed_amount_capped_at_the_standard() -> None:
    result = run("enrollment_subsidy", date="2023-03-01", region="140100",
                 inputs={"categories": "易返贫致贫人口", "contribution_standard": "250"})
    assert "280.00 高于个人缴费标准 250.00，以个人缴费标准为限" in result.explain()


def test_a_what_if_that_lists_a_category_without_a_rule_is_reported_missing() -> None:
    from minsheng.core.errors import ParameterMissing

    try:
        run("enrollment_subsidy", date="2023-03-01", region="140100",
            inputs={"categories": "监测对象", "contribution_standard": "380"},
            parameters={"medical.enrollment_subsidy.categories": ["监测对象"]})
    except ParameterMissing as exc:
        assert exc.name == "medical.enrollment_subsidy.monitored.ratio"
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("expected ParameterMissing")
