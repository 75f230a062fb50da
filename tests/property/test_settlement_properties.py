"""Invariants of SETTLEMENT.md that hold for any claims and any parameters.

- every payment is ≥ 0, fund + person = total exactly, the funds pay at most R;
- cumulative payments never exceed a cap;
- the result does not depend on the order the claims are given in;
- settling a batch in two parts, carrying the accumulators, gives the same fen.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minsheng.core.parameters import ParameterView, default_store
from minsheng.rules.settlement import Accumulators, person_years, resolve, settle
from minsheng.settle.parse import Claim, Person, build_batch

PRIORITY = ("extreme_poverty", "relapsed_poverty", "minimum_allowance", "monitored",
            "marginal_allowance", "illness_impoverished")
CATEGORIES = (*PRIORITY, "at_risk_poverty", "lifted_from_poverty", "orphan")
OUTPUTS = ("inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt",
           "psn_part_amt", "act_pay_dedc")
GROUPS = ("outpatient", "chronic", "inpatient")
START = dt.datetime(2023, 1, 1)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fen_text(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _money(rng: random.Random, high: int, none: float = 0.2) -> str | None:
    return None if rng.random() < none else fen_text(rng.randint(0, high))


def _ratio(rng: random.Random) -> str | None:
    return None if rng.random() < 0.15 else f"{rng.randint(0, 100) / 100:.2f}"


BRACKETS = (
    None,
    [{"from": "0.00", "ratio": 0.5}],
    [{"from": "0.00", "ratio": 0.6}, {"from": "5000.00", "ratio": 0.7},
     {"from": "20000.00", "ratio": 0.9}],
)


def random_parameters(seed: int) -> dict[str, Any]:
    """What-if values for every settlement parameter (none values, small caps that get hit)."""
    rng = random.Random(seed)
    p: dict[str, Any] = {}
    for kind in ("resident", "employee"):
        for group in GROUPS:
            prefix = f"medical.basic.{kind}.{group}"
            p[f"{prefix}.deductible_basis"] = rng.choice(["per_claim", "per_year"])
            for lv in range(4):
                p[f"{prefix}.deductible.lv{lv}"] = _money(rng, 3_000_00)
                p[f"{prefix}.ratio.lv{lv}"] = _ratio(rng)
            p[f"{prefix}.annual_cap"] = _money(rng, 20_000_00, none=0.4)
    c = "medical.critical.resident"
    p[f"{c}.deductible"] = _money(rng, 3_000_00)
    p[f"{c}.brackets"] = rng.choice(BRACKETS)
    p[f"{c}.annual_cap"] = _money(rng, 20_000_00, none=0.4)
    p[f"{c}.tilt.deductible_factor"] = _ratio(rng)
    p[f"{c}.tilt.ratio_bonus"] = rng.choice([None, "0.05", "0.2"])
    p[f"{c}.tilt.remove_cap"] = rng.choice([None, True, False])
    for cat in PRIORITY:
        a = f"medical.assistance.{cat}"
        p[f"{a}.deductible_share"] = rng.choice([None, "0.1", "0.25"])
        p[f"{a}.inpatient_ratio"] = _ratio(rng)
        p[f"{a}.outpatient_chronic_ratio"] = _ratio(rng)
        p[f"{a}.annual_cap"] = _money(rng, 20_000_00, none=0.4)
        p[f"{a}.topup_target"] = rng.choice([None, "0.9", "1"])
    p["statistics.per_capita_disposable_income"] = fen_text(rng.randint(0, 40_000_00))
    return p


parameters = st.integers(0, 2**32).map(random_parameters)


@st.composite
def claim_batches(draw: st.DrawFn, per_person_categories: bool = False
                  ) -> tuple[list[Claim], dict[str, Person], dict[str, tuple[str, ...]]]:
    persons = {f"P{i}": Person(f"P{i}", draw(st.sampled_from(["390", "310"])), "140100")
               for i in range(3)}
    fixed = {p: tuple(draw(st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True)))
             for p in persons}
    claims: list[Claim] = []
    categories: dict[str, tuple[str, ...]] = {}
    for j in range(draw(st.integers(1, 25))):
        psn_no = draw(st.sampled_from(sorted(persons)))
        total = draw(st.integers(0, 50_000_00))
        f = draw(st.integers(0, total))
        pre = draw(st.integers(0, total - f))
        over = draw(st.integers(0, total - f - pre))
        when = START + dt.timedelta(days=draw(st.integers(0, 500)),
                                    hours=draw(st.sampled_from([0, 9])))
        setl_id = f"C{j}"
        claims.append(Claim(setl_id, psn_no, when, draw(st.sampled_from(["11", "14", "21"])),
                            draw(st.integers(0, 3)), draw(st.booleans()), total, f, pre, over))
        categories[setl_id] = fixed[psn_no] if per_person_categories else tuple(
            draw(st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True)))
    return claims, persons, categories


def run(claims: list[Claim], persons: dict[str, Person], categories: dict[str, tuple[str, ...]],
        overrides: dict[str, Any]) -> dict[str, dict[str, int]]:
    store = default_store()
    view = ParameterView(store, store.parse_overrides(overrides))
    batch = build_batch(persons, claims, [categories[c.setl_id] for c in claims])
    result = settle(batch.arrays, resolve(batch.arrays, view))
    return {claims[j].setl_id: {name: int(getattr(result, name)[k]) for name in OUTPUTS}
            for k, j in enumerate(batch.order.tolist())}


@FAST
@given(claim_batches(), parameters)
def test_every_payment_is_non_negative_and_fund_plus_person_is_the_total(
        batch: Any, overrides: dict[str, Any]) -> None:
    claims, persons, categories = batch
    out = run(claims, persons, categories, overrides)
    for c in claims:
        o = out[c.setl_id]
        assert min(o["hifp_pay"], o["hifmi_pay"], o["maf_pay"], o["act_pay_dedc"]) >= 0, o
        assert o["fund_pay_sumamt"] == o["hifp_pay"] + o["hifmi_pay"] + o["maf_pay"]
        assert o["fund_pay_sumamt"] + o["psn_part_amt"] == c.medfee_sumamt
        assert o["fund_pay_sumamt"] <= o["inscp_scp_amt"] == c.inscp_scp_amt
        assert o["psn_part_amt"] >= c.medfee_sumamt - c.inscp_scp_amt


@FAST
@given(claim_batches(per_person_categories=True), parameters)
def test_no_cap_is_ever_exceeded(batch: Any, overrides: dict[str, Any]) -> None:
    claims, persons, categories = batch
    out = run(claims, persons, categories, overrides)
    paid: dict[tuple[Any, ...], int] = defaultdict(int)
    for c in claims:
        year = c.setl_time.year
        kind = "resident" if persons[c.psn_no].insutype == "390" else "employee"
        group = {"11": "outpatient", "14": "chronic", "21": "inpatient"}[c.med_type]
        paid["basic", c.psn_no, year, f"medical.basic.{kind}.{group}.annual_cap"] += \
            out[c.setl_id]["hifp_pay"]
        cats = categories[c.setl_id]
        tilted = any(k in cats for k in ("extreme_poverty", "minimum_allowance",
                                          "relapsed_poverty"))
        if not (tilted and overrides["medical.critical.resident.tilt.remove_cap"]):
            paid["critical", c.psn_no, year, "medical.critical.resident.annual_cap"] += \
                out[c.setl_id]["hifmi_pay"]
        category = next((k for k in PRIORITY if k in cats), None)
        if category is not None:
            paid["assistance", c.psn_no, year, f"medical.assistance.{category}.annual_cap"] += \
                out[c.setl_id]["maf_pay"]
    for (_, _, _, name), total in paid.items():
        limit = overrides[name]
        if limit is not None:
            yuan, fen = limit.split(".")
            assert total <= int(yuan) * 100 + int(fen), (name, total, limit)


@FAST
@given(claim_batches(), parameters, st.randoms(use_true_random=False))
def test_the_result_does_not_depend_on_the_order_claims_are_given_in(
        batch: Any, overrides: dict[str, Any], rnd: Any) -> None:
    claims, persons, categories = batch
    shuffled = list(claims)
    rnd.shuffle(shuffled)
    assert run(shuffled, persons, categories, overrides) == run(claims, persons, categories,
                                                                overrides)


@FAST
@given(claim_batches(), parameters, st.data())
def test_splitting_a_batch_and_carrying_the_accumulators_gives_the_same_fen(
        batch: Any, overrides: dict[str, Any], data: st.DataObject) -> None:
    claims, persons, categories = batch
    store = default_store()
    view = ParameterView(store, store.parse_overrides(overrides))
    whole = build_batch(persons, claims, [categories[c.setl_id] for c in claims])
    params = resolve(whole.arrays, view)
    expected = settle(whole.arrays, params)
    k = data.draw(st.integers(0, len(claims)))
    first, second = whole.arrays.take(slice(0, k)), whole.arrays.take(slice(k, None))
    part1 = settle(first, params.take(slice(0, k)))
    carried = {(int(p), int(y)): part1.after.row(i)
               for i, (p, y) in enumerate(zip(part1.after.person, part1.after.year, strict=True))}
    person, year = person_years(second)
    before = Accumulators.from_rows(person, year, [carried.get((int(p), int(y)))
                                                   for p, y in zip(person, year, strict=True)])
    part2 = settle(second, params.take(slice(k, None)), before)
    for name in OUTPUTS:
        joined = np.concatenate([getattr(part1, name), getattr(part2, name)])
        assert joined.tolist() == getattr(expected, name).tolist(), name
    final = {(int(p), int(y)): part2.after.row(i)
             for i, (p, y) in enumerate(zip(part2.after.person, part2.after.year, strict=True))}
    for i, (p, y) in enumerate(zip(expected.after.person, expected.after.year, strict=True)):
        assert final.get((int(p), int(y)), carried.get((int(p), int(y)))) == expected.after.row(i)
