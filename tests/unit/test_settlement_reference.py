"""The kernel agrees, to the fen, with a plain claim-by-claim reading of SETTLEMENT.md.

The reference below is written from SETTLEMENT.md's text alone: Python ints and
Fractions, one claim after the other, parameters looked up per claim. It shares no code
with the kernel except the parameter store. Random parameters (none values, per-year
deductibles, caps that get hit, the tilt, mid-year parameter changes) and random claims
(categories changing between claims, several years) are settled both ways.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from fractions import Fraction
from typing import Any

import pytest

from minsheng.core.parameters import ParameterStore, ParameterView
from minsheng.rules.settlement import resolve, settle
from minsheng.settle.parse import Claim, Person, build_batch

ORDER = ("extreme_poverty", "relapsed_poverty", "minimum_allowance", "monitored",
         "marginal_allowance", "illness_impoverished")
TILT = ("extreme_poverty", "minimum_allowance", "relapsed_poverty")
ALL_CATEGORIES = (*ORDER, "at_risk_poverty", "lifted_from_poverty", "orphan")
GROUP = {"11": "outpatient", "14": "chronic", "21": "inpatient"}
PERIODS = ((dt.date(2023, 1, 1), dt.date(2023, 6, 30)),
           (dt.date(2023, 7, 1), dt.date(2023, 12, 31)),
           (dt.date(2024, 1, 1), None))
OUTPUTS = ("inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt",
           "psn_part_amt")


def half_up(x: Fraction) -> int:
    """Round a non-negative amount of fen half-up (四舍五入)."""
    return int((x + Fraction(1, 2)) // 1)


# -- the reference ------------------------------------------------------------------------

def reference(claims: list[Claim], persons: dict[str, Person],
              categories: dict[str, tuple[str, ...]], view: ParameterView
              ) -> dict[str, dict[str, int]]:
    acc: dict[tuple[Any, ...], int] = defaultdict(int)
    out: dict[str, dict[str, int]] = {}
    for c in sorted(claims, key=lambda c: (c.psn_no, c.setl_time, c.setl_id)):
        person = persons[c.psn_no]
        day = c.setl_time.date()
        year = day.year
        cats = categories[c.setl_id]

        def get(name: str, day: dt.date = day, region: str = person.region) -> Any:
            return view.get(name, day, region).value

        total = c.medfee_sumamt
        r = total - c.fulamt_ownpay_amt - c.preselfpay_amt - c.overlmt_selfpay
        group = GROUP[c.med_type]
        kind = "resident" if person.insutype == "390" else "employee"

        # tier 1
        prefix = f"medical.basic.{kind}.{group}"
        deductible = get(f"{prefix}.deductible.lv{c.hosp_lv}") or 0
        if get(f"{prefix}.deductible_basis") == "per_year":
            before = acc[c.psn_no, year, "base", group, c.hosp_lv]
            eligible = max(0, before + r - deductible) - max(0, before - deductible)
        else:
            eligible = max(0, r - deductible)
        acc[c.psn_no, year, "base", group, c.hosp_lv] += r
        ratio = get(f"{prefix}.ratio.lv{c.hosp_lv}")
        u = 0 if ratio is None else half_up(eligible * ratio)
        cap = get(f"{prefix}.annual_cap")
        before = acc[c.psn_no, year, "u1", group]
        acc[c.psn_no, year, "u1", group] += u
        hifp = u if cap is None else min(before + u, cap) - min(before, cap)
        s1 = r - hifp

        # tier 2
        hifmi = 0
        if person.insutype == "390" and group != "outpatient":
            p = "medical.critical.resident"
            ded = get(f"{p}.deductible") or 0
            brackets = get(f"{p}.brackets") or ()
            ccap = get(f"{p}.annual_cap")
            bonus = Fraction(0)
            if any(k in cats for k in TILT):
                factor = get(f"{p}.tilt.deductible_factor")
                if factor is not None:
                    ded = half_up(ded * factor)
                bonus = get(f"{p}.tilt.ratio_bonus") or Fraction(0)
                if get(f"{p}.tilt.remove_cap"):
                    ccap = None

            def benefit(y: int, ded: int = ded, brackets: Any = brackets, bonus: Fraction = bonus,
                        ccap: int | None = ccap) -> Fraction:
                z = max(0, y - ded)
                owed = Fraction(0)
                for i, b in enumerate(brackets):
                    upper = brackets[i + 1].lower if i + 1 < len(brackets) else None
                    part = max(0, (z if upper is None else min(z, upper)) - b.lower)
                    owed += part * min(Fraction(1), b.ratio + bonus)
                return owed if ccap is None else min(owed, Fraction(ccap))

            before = acc[c.psn_no, year, "s1"]
            acc[c.psn_no, year, "s1"] += s1
            hifmi = half_up(benefit(before + s1)) - half_up(benefit(before))
        s2 = s1 - hifmi

        # tier 3
        maf = 0
        if group != "outpatient":
            before_s2 = acc[c.psn_no, year, "s2"]
            acc[c.psn_no, year, "s2"] += s2
            category = next((k for k in ORDER if k in cats), None)
            u = 0
            cap = None
            if category is not None:
                p = f"medical.assistance.{category}"
                share = get(f"{p}.deductible_share")
                ded = 0 if share is None else half_up(
                    get("statistics.per_capita_disposable_income") * share)
                eligible = max(0, before_s2 + s2 - ded) - max(0, before_s2 - ded)
                ratio = get(f"{p}.inpatient_ratio" if group == "inpatient"
                            else f"{p}.outpatient_chronic_ratio")
                u = 0 if ratio is None else half_up(eligible * ratio)
                target = get(f"{p}.topup_target")
                if target is not None and group == "inpatient" and c.in_province:
                    u = max(u, min(s2, half_up(target * r) - hifp - hifmi))
                cap = get(f"{p}.annual_cap")
            before = acc[c.psn_no, year, "u3"]
            acc[c.psn_no, year, "u3"] += u
            maf = u if cap is None else min(before + u, cap) - min(before, cap)

        fund = hifp + hifmi + maf
        out[c.setl_id] = {"inscp_scp_amt": r, "hifp_pay": hifp, "hifmi_pay": hifmi,
                          "maf_pay": maf, "fund_pay_sumamt": fund, "psn_part_amt": total - fund}
    return out


# -- random parameters and claims ---------------------------------------------------------

def _money(rng: random.Random, high: int, none: float = 0.2) -> str | None:
    if rng.random() < none:
        return None
    return f"{rng.randint(0, high)}.{rng.randint(0, 99):02d}"


def _ratio(rng: random.Random, none: float = 0.15) -> float | str | None:
    if rng.random() < none:
        return None
    choice = rng.random()
    if choice < 0.1:
        return 1
    if choice < 0.6:
        return round(rng.randint(0, 20) * 0.05, 2)
    return f"0.{rng.randint(0, 999999):06d}"


def random_parameters(rng: random.Random) -> dict[str, tuple[str, Any]]:
    """One random value (unit, raw) per settlement parameter."""
    p: dict[str, tuple[str, Any]] = {}
    for kind in ("resident", "employee"):
        for group in ("outpatient", "chronic", "inpatient"):
            prefix = f"medical.basic.{kind}.{group}"
            p[f"{prefix}.deductible_basis"] = ("text", rng.choice(["per_claim", "per_year"]))
            for lv in range(4):
                p[f"{prefix}.deductible.lv{lv}"] = ("money", _money(rng, 1500))
                p[f"{prefix}.ratio.lv{lv}"] = ("ratio", _ratio(rng))
            p[f"{prefix}.annual_cap"] = ("money", _money(rng, 60000, none=0.3))
    c = "medical.critical.resident"
    p[f"{c}.deductible"] = ("money", _money(rng, 20000))
    if rng.random() < 0.1:
        brackets = None
    else:
        lowers = sorted(rng.sample(range(1, 150), rng.randint(0, 4)))
        brackets = [{"from": "0.00", "ratio": _ratio(rng, none=0) or 0}]
        brackets += [{"from": f"{lo * 1000}.00", "ratio": _ratio(rng, none=0) or 0}
                     for lo in lowers]
    p[f"{c}.brackets"] = ("brackets", brackets)
    p[f"{c}.annual_cap"] = ("money", _money(rng, 80000, none=0.4))
    p[f"{c}.tilt.deductible_factor"] = ("ratio", _ratio(rng))
    p[f"{c}.tilt.ratio_bonus"] = ("ratio", rng.choice([None, 0.05, 0.1, "0.25"]))
    p[f"{c}.tilt.remove_cap"] = ("bool", rng.choice([None, True, False]))
    for cat in ORDER:
        a = f"medical.assistance.{cat}"
        p[f"{a}.deductible_share"] = ("ratio", rng.choice([None, 0.1, 0.25, _ratio(rng)]))
        p[f"{a}.inpatient_ratio"] = ("ratio", _ratio(rng))
        p[f"{a}.outpatient_chronic_ratio"] = ("ratio", _ratio(rng, none=0.4))
        p[f"{a}.annual_cap"] = ("money", _money(rng, 30000, none=0.4))
        p[f"{a}.topup_target"] = ("ratio", rng.choice([None, None, 0.9, _ratio(rng)]))
    p["statistics.per_capita_disposable_income"] = ("money", _money(rng, 40000, none=0))
    return p


def random_store(rng: random.Random) -> ParameterStore:
    store = ParameterStore()
    for jurisdiction in ("140000", "220000"):
        periods = [random_parameters(rng) for _ in PERIODS]
        params: dict[str, Any] = {}
        for name, (unit, _) in periods[0].items():
            values = []
            for (start, end), chosen in zip(PERIODS, periods, strict=True):
                entry: dict[str, Any] = {"from": start.isoformat(), "value": chosen[name][1],
                                         "reference": {"source": "test"}}
                if end is not None:
                    entry["to"] = end.isoformat()
                values.append(entry)
            params[name] = {"description": name, "unit": unit, "values": values}
        store.load_document({"jurisdiction": jurisdiction, "parameters": params},
                            f"random/{jurisdiction}.yaml")
    return store


def random_claims(rng: random.Random, n: int
                  ) -> tuple[list[Claim], dict[str, Person], dict[str, tuple[str, ...]]]:
    persons = {}
    for i in range(max(n // 20, 1)):
        psn_no = f"P{i:04d}"
        persons[psn_no] = Person(psn_no, rng.choice(["390", "390", "310"]),
                                 rng.choice(["140100", "140000", "220100", "220112"]))
    claims: list[Claim] = []
    categories: dict[str, tuple[str, ...]] = {}
    start = dt.datetime(2023, 1, 1)
    for j in range(n):
        psn_no = rng.choice(sorted(persons))
        size = rng.choice([1, 1, 1, 10, 100, 1000])
        total = rng.randint(0, 5_000_00 * size)
        parts = [rng.randint(0, total // 4) if rng.random() < 0.6 else 0 for _ in range(3)]
        when = start + dt.timedelta(hours=rng.randint(0, 2 * 365 * 24))
        setl_id = f"C{j:05d}"
        claims.append(Claim(setl_id, psn_no, when, rng.choice(["11", "14", "21", "21"]),
                            rng.randint(0, 3), rng.random() < 0.7, total, *parts))
        held = rng.sample(ALL_CATEGORIES, rng.choice([0, 0, 1, 1, 2, 3]))
        categories[setl_id] = tuple(held)
    return claims, persons, categories


def kernel(claims: list[Claim], persons: dict[str, Person],
           categories: dict[str, tuple[str, ...]], view: ParameterView, chunk: int
           ) -> dict[str, dict[str, int]]:
    batch = build_batch(persons, claims, [categories[c.setl_id] for c in claims])
    result = settle(batch.arrays, resolve(batch.arrays, view), chunk=chunk)
    out = {}
    for k, j in enumerate(batch.order.tolist()):
        out[claims[j].setl_id] = {name: int(getattr(result, name)[k]) for name in OUTPUTS}
    return out


@pytest.mark.parametrize("seed", range(8))
def test_the_kernel_agrees_with_a_claim_by_claim_reading_of_settlement_md(seed: int) -> None:
    rng = random.Random(seed)
    view = ParameterView(random_store(rng))
    claims, persons, categories = random_claims(rng, 700)
    expected = reference(claims, persons, categories, view)
    got = kernel(claims, persons, categories, view, chunk=rng.choice([1, 7, 64, 1 << 16]))
    for c in claims:
        assert got[c.setl_id] == expected[c.setl_id], (c, categories[c.setl_id])


def test_the_random_cases_reach_every_tier_and_hit_caps() -> None:
    """Guard against a comparison that passes only because nothing is paid."""
    paid = defaultdict(int)
    for seed in range(8):
        rng = random.Random(seed)
        view = ParameterView(random_store(rng))
        claims, persons, categories = random_claims(rng, 700)
        for out in reference(claims, persons, categories, view).values():
            for name in ("hifp_pay", "hifmi_pay", "maf_pay"):
                paid[name] += out[name] > 0
    assert all(count > 100 for count in paid.values()), paid
