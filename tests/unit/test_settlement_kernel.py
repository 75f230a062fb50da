"""The settlement kernel's interface: what the service, the batch and Spark rely on."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from minsheng.core.errors import InputError
from minsheng.core.parameters import ParameterView, default_store
from minsheng.rules.settlement import (
    ACCUMULATOR_FIELDS,
    Accumulators,
    Claims,
    person_years,
    resolve,
    settle,
    settlement_order,
    year_of,
)
from minsheng.rules.settlement_params import CATEGORY_BITS, category_mask, day_number
from minsheng.rules.settlement_trace import claim_trace

VIEW = ParameterView(default_store())


def claims(n: int = 1, **changes: Any) -> Claims:
    """n inpatient claims of one Shanxi resident 低保 person on 2023-03-01, 10,000.00 each."""
    columns: dict[str, Any] = {
        "person": [0] * n, "day": [day_number(dt.date(2023, 3, 1))] * n,
        "region": [140100] * n, "resident": [True] * n, "med_type": [21] * n,
        "hosp_lv": [3] * n, "in_province": [True] * n,
        "categories": [category_mask(("minimum_allowance",))] * n,
        "medfee_sumamt": [1_000_000] * n, "fulamt_ownpay_amt": [0] * n,
        "preselfpay_amt": [0] * n, "overlmt_selfpay": [0] * n,
    }
    columns.update(changes)
    return Claims.from_columns(columns)


def test_accumulator_fields_are_a_fixed_tuple_of_named_columns() -> None:
    assert len(ACCUMULATOR_FIELDS) == len(set(ACCUMULATOR_FIELDS)) == 24
    assert {"hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt", "medfee_sumamt",
            "basic_base_inpatient_lv3", "basic_uncapped_chronic", "critical_base",
            "assistance_base", "assistance_uncapped"} <= set(ACCUMULATOR_FIELDS)


def test_one_claim_after_stored_accumulators_equals_settling_the_earlier_claims_first() -> None:
    batch = claims(3, medfee_sumamt=[12_000_000, 9_000_000, 7_000_000])
    params = resolve(batch, VIEW)
    together = settle(batch, params)
    first_two = settle(batch.take(slice(0, 2)), params.take(slice(0, 2)))
    person, year = person_years(batch.take(slice(2, 3)))
    stored = Accumulators.from_rows(person, year, [first_two.after.row(0)])
    alone = settle(batch.take(slice(2, 3)), params.take(slice(2, 3)), stored)
    assert int(alone.maf_pay[0]) == int(together.maf_pay[2])
    assert alone.after.row(0) == together.after.row(0)


def test_a_claims_contribution_subtracted_restores_the_accumulators_exactly() -> None:
    batch = claims(2, medfee_sumamt=[12_000_000, 9_000_000])
    params = resolve(batch, VIEW)
    first = settle(batch.take(slice(0, 1)), params.take(slice(0, 1)))
    person, year = person_years(batch.take(slice(1, 2)))
    before = Accumulators.from_rows(person, year, [first.after.row(0)])
    second = settle(batch.take(slice(1, 2)), params.take(slice(1, 2)), before)
    contribution = {k: second.after.row(0)[k] - before.row(0)[k] for k in ACCUMULATOR_FIELDS}
    restored = {k: second.after.row(0)[k] - contribution[k] for k in ACCUMULATOR_FIELDS}
    assert restored == first.after.row(0)
    assert contribution["maf_pay"] == int(second.maf_pay[0])
    assert contribution["medfee_sumamt"] == 9_000_000


def test_the_accumulator_totals_are_the_sums_of_the_claims() -> None:
    batch = claims(3, medfee_sumamt=[500_000, 9_000_000, 40_000_000],
                   med_type=[11, 14, 21], hosp_lv=[0, 2, 3])
    result = settle(batch, resolve(batch, VIEW))
    row = result.after.row(0)
    assert row["medfee_sumamt"] == int(batch.medfee_sumamt.sum()) == 49_500_000
    for name in ("inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt"):
        assert row[name] == int(getattr(result, name).sum()), name
    assert row["basic_base_outpatient_lv0"] == 500_000
    assert row["basic_base_chronic_lv2"] == 9_000_000
    assert row["assistance_base"] == int(
        (result.inscp_scp_amt - result.hifp_pay - result.hifmi_pay)[1:].sum())


def test_a_person_year_is_one_accumulator_row_and_a_new_year_starts_from_zero() -> None:
    days = [day_number(dt.date(2023, 12, 31)), day_number(dt.date(2024, 1, 1))]
    batch = claims(2, day=days)
    person, year = person_years(batch)
    assert year.tolist() == [2023, 2024] and person.tolist() == [0, 0]
    result = settle(batch, resolve(batch, VIEW))
    assert result.segment.tolist() == [0, 1]
    assert result.after.row(0)["maf_pay"] == int(result.maf_pay[0])
    assert result.after.row(1)["maf_pay"] == int(result.maf_pay[1])


def test_claims_out_of_order_are_refused_naming_the_claim() -> None:
    days = [day_number(dt.date(2023, 5, 1)), day_number(dt.date(2023, 4, 1))]
    with pytest.raises(InputError) as caught:
        settle(claims(2, day=days), resolve(claims(2, day=days), VIEW))
    assert caught.value.field == "claims[1].setl_time"


@pytest.mark.parametrize(("changes", "field"), [
    ({"fulamt_ownpay_amt": [0, -1]}, "claims[1].fulamt_ownpay_amt"),
    ({"preselfpay_amt": [0, 1_000_001]}, "claims[1].medfee_sumamt"),
    ({"hosp_lv": [3, 5]}, "claims[1].hosp_lv"),
])
def test_the_kernel_checks_its_arrays_and_names_the_bad_claim(changes: dict[str, Any],
                                                              field: str) -> None:
    batch = claims(2, **changes)
    with pytest.raises(InputError) as caught:
        settle(batch, resolve(claims(2), VIEW))
    assert caught.value.field == field


def test_an_unknown_med_type_or_region_is_refused_when_resolving_parameters() -> None:
    with pytest.raises(InputError) as caught:
        resolve(claims(2, med_type=[21, 13]), VIEW)
    assert caught.value.field == "claims[1].med_type"
    with pytest.raises(InputError) as caught:
        resolve(claims(2, region=[140100, 990000]), VIEW)
    assert caught.value.field == "claims[1].region"


def test_accumulators_for_other_person_years_are_refused() -> None:
    batch = claims(1)
    wrong = Accumulators.zeros(np.array([7]), np.array([2023]))
    with pytest.raises(InputError) as caught:
        settle(batch, resolve(batch, VIEW), wrong)
    assert caught.value.field == "accumulators"


@pytest.mark.parametrize("column", ["basic_base_inpatient_lv1", "maf_pay", "psn_part_amt"])
@pytest.mark.parametrize("value", [-1, 10**12 + 1])
def test_stored_accumulators_out_of_range_are_refused_naming_the_column(
        column: str, value: int) -> None:
    batch = claims(1)
    person, year = person_years(batch)
    stored = Accumulators.zeros(person, year)
    stored.columns[column][0] = value
    with pytest.raises(InputError) as caught:
        settle(batch, resolve(batch, VIEW), stored)
    assert caught.value.field == f"accumulators.{column}"


def test_stored_accumulators_missing_a_column_are_refused_naming_it() -> None:
    batch = claims(1)
    person, year = person_years(batch)
    stored = Accumulators.zeros(person, year)
    del stored.columns["critical_base"]
    with pytest.raises(InputError) as caught:
        settle(batch, resolve(batch, VIEW), stored)
    assert caught.value.field == "accumulators.critical_base"


def test_ties_in_settlement_time_are_ordered_by_setl_id_as_text() -> None:
    person = np.array([1, 0, 0, 0])
    times = np.array(["2023-01-01T09:00", "2023-01-01T09:00", "2023-01-01T08:00",
                      "2023-01-01T09:00"], "datetime64[s]")
    order = settlement_order(person, times, ["A", "C9", "C2", "C10"])
    assert order.tolist() == [2, 3, 1, 0]


def test_the_accumulation_year_is_the_calendar_year_of_the_claim_date() -> None:
    days = [day_number(dt.date(y, m, d)) for y, m, d in
            ((1999, 12, 31), (2000, 1, 1), (2024, 2, 29), (2024, 12, 31), (2025, 1, 1))]
    assert year_of(np.array(days)).tolist() == [1999, 2000, 2024, 2024, 2025]


def test_ten_thousand_claims_cost_only_a_few_parameter_reads() -> None:
    n = 10_000
    rng = np.random.default_rng(1)
    batch = claims(n, hosp_lv=rng.integers(0, 4, n), med_type=rng.choice([11, 14, 21], n),
                   categories=rng.choice(list(CATEGORY_BITS.values()), n))
    params = resolve(batch, VIEW)
    assert len(params.tables.basic) <= 12
    assert len(params.tables.critical) <= 3
    assert len(params.tables.assistance) <= 7


def test_every_example_parameter_used_is_named_in_a_warning() -> None:
    params = resolve(claims(1), VIEW)
    names = params.tables.example_parameters()
    assert "medical.basic.resident.inpatient.ratio.lv3" in names
    for name in names:
        assert any(name in w for w in params.tables.warnings), name
    assert not any("medical.assistance" in name for name in names)  # Shanxi's are cited


def test_the_trace_gives_each_tiers_base_deductible_ratio_cap_room_and_references() -> None:
    batch = claims(1)
    params = resolve(batch, VIEW)
    trace = claim_trace(batch, params, settle(batch, params, detail=True), 0).to_json()
    names = [s["name"] for s in trace]
    for expected in ("inscp_scp_amt", "basic_eligible", "basic_uncapped", "basic_cap_left_before",
                     "basic_cap_left", "hifp_pay", "critical_base", "critical_deductible",
                     "hifmi_pay", "assistance_base", "assistance_deductible",
                     "assistance_eligible", "assistance_cap_left_before", "assistance_cap_left",
                     "maf_pay", "psn_part_amt"):
        assert expected in names, expected
    cited = {s["reference"]["source"] for s in trace if s["kind"] == "parameter"}
    assert "002_e6e604b5a3b60eed.txt" in cited
    room = next(s for s in trace if s["name"] == "assistance_cap_left")
    maf = next(s for s in trace if s["name"] == "maf_pay")
    assert float(room["value"]) == 60000 - float(maf["value"])


def test_a_trace_needs_the_details_kept_by_detail_mode() -> None:
    batch = claims(1)
    params = resolve(batch, VIEW)
    with pytest.raises(ValueError, match="detail=True"):
        claim_trace(batch, params, settle(batch, params), 0)


def test_an_empty_batch_settles_to_nothing() -> None:
    batch = claims(0)
    result = settle(batch, resolve(batch, VIEW))
    assert len(result) == 0 and len(result.after) == 0
