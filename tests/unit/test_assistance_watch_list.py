"""The watch-list function the settlement kernel calls once per person-year (POLICY.md §3.5)."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minsheng.core.calculation import Context
from minsheng.core.categories import CATEGORIES
from minsheng.core.errors import ParameterMissing
from minsheng.core.parameters import ParameterView, default_store
from minsheng.core.regions import get_region
from minsheng.core.trace import NullTrace, Trace
from minsheng.rules.assistance import watch_list_status

SHANXI_SEED = "002_e6e604b5a3b60eed.txt"


def context(day: str = "2023-06-30", region: str = "140105", *, trace: Trace | None = None,
            overrides: dict[str, object] | None = None) -> Context:
    store = default_store()
    return Context(dt.date.fromisoformat(day), get_region(region),
                   ParameterView(store, store.parse_overrides(overrides or {})), trace)


def test_the_signature_the_settlement_kernel_imports_stays_as_agreed() -> None:
    sig = inspect.signature(watch_list_status)
    assert list(sig.parameters) == ["ctx", "categories", "burden"]
    assert sig.return_annotation == "tuple[str, int]"


def test_a_vulnerable_person_just_over_6000_is_on_the_relapse_watch_list() -> None:
    assert watch_list_status(context(), ("minimum_allowance",), 600001) == ("relapse_watch", 600000)
    assert watch_list_status(context(), ("minimum_allowance",), 600000) == ("none", 600000)


def test_anyone_else_just_over_20000_is_on_the_impoverishment_watch_list() -> None:
    assert watch_list_status(context(), (), 2000001) == ("impoverish_watch", 2000000)
    assert watch_list_status(context(), (), 2000000) == ("none", 2000000)


def test_every_category_of_the_contract_counts_as_vulnerable_or_lifted_from_poverty() -> None:
    for key in CATEGORIES:
        assert watch_list_status(context(), (key,), 600001)[0] == "relapse_watch", key


def test_the_trace_cites_the_threshold_and_says_why() -> None:
    trace = Trace()
    watch_list_status(context(trace=trace), ("lifted_from_poverty",), 700000)
    steps = trace.to_json()
    threshold = next(s for s in steps if s["name"] == "medical.monitoring.relapse_watch.threshold")
    assert threshold["reference"]["source"] == SHANXI_SEED
    assert "超6000元" in threshold["reference"]["clause"]
    rule = next(s for s in steps if s["kind"] == "rule")
    assert "7000.00 超过 6000.00" in rule["description"]
    assert "脱贫人口" in rule["description"]


def test_it_runs_without_a_trace_for_bulk_settlement() -> None:
    assert watch_list_status(context(trace=NullTrace()), (), 2500000) == ("impoverish_watch",
                                                                          2000000)


def test_a_what_if_threshold_is_used() -> None:
    ctx = context(overrides={"medical.monitoring.impoverish_watch.threshold": "15000.00"})
    assert watch_list_status(ctx, (), 1500001) == ("impoverish_watch", 1500000)


def test_outside_shanxi_the_missing_rule_is_named_with_region_and_date() -> None:
    with pytest.raises(ParameterMissing) as caught:
        watch_list_status(context(region="220100"), (), 2500000)
    body = caught.value.to_dict()
    assert body["region"] == "220100" and body["date"] == "2023-06-30"
    assert body["parameter"].startswith("medical.monitoring.")


@given(burden=st.integers(min_value=0, max_value=10**10),
       categories=st.lists(st.sampled_from(sorted(CATEGORIES)), max_size=3, unique=True))
def test_a_person_is_on_a_list_exactly_when_the_burden_exceeds_the_threshold_applied(
        burden: int, categories: list[str]) -> None:
    key, threshold = watch_list_status(context(trace=NullTrace()), tuple(categories), burden)
    assert (key != "none") == (burden > threshold)
    assert threshold == (600000 if categories else 2000000)
