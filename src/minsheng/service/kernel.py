"""The service's one door to the settlement kernel (:mod:`minsheng.rules.settlement`).

The service settles one claim at a time, through the same code as ``minsheng settle`` and
the batch: :func:`parse_claim` is :func:`minsheng.settle.parse.parse_claim` (errors name
the field as sent, e.g. ``fulamt_ownpay_amt``), the arrays are built by
:func:`minsheng.settle.parse.build_batch`, the kernel runs on that one claim with the
person's stored accumulators for the claim's year and the categories held on the claim
date, and the reply is :func:`minsheng.settle.output.claim_json` plus the warnings (the
example parameters used). So the service's fen are the batch's fen by construction.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from minsheng.core.errors import InputError
from minsheng.core.parameters import ParameterView, default_store
from minsheng.rules import settlement as k
from minsheng.rules.settlement_params import (
    NO_ASSISTANCE,
    NO_CRITICAL,
    AssistanceTerms,
    BasicTerms,
    ClaimParameters,
    CriticalTerms,
    ParameterTables,
    category_mask,
    day_number,
)
from minsheng.rules.settlement_trace import MED_GROUP, claim_trace
from minsheng.service.trace_store import TraceRecord, record, record_columns
from minsheng.settle import parse
from minsheng.settle.output import CAPS_LEFT, claim_json, reply_json

Claim = parse.Claim
OUTPUTS = k.Settlement.OUTPUTS
_WHERE = "claim"


@dataclass
class Result:
    reply: dict[str, Any]
    amounts: dict[str, int]
    accumulators: dict[str, int]
    trace: list[dict[str, Any]]
    warnings: list[str]
    contributions: dict[str, int] = field(default_factory=dict)
    """What this claim added to each accumulator column (non-zero columns only)."""
    record: TraceRecord | None = None
    """What the trace is made of, when the trace itself was not built (see :func:`settle_many`)."""


def parse_claim(raw: Any) -> Claim:
    """One claim of SETTLEMENT.md (without ``parameters``); errors name the field as sent."""
    if not isinstance(raw, Mapping):
        raise InputError("body", "请求体应为 JSON 对象（一笔结算）", "the body must be a JSON object")
    try:
        return parse.parse_claim(raw, _WHERE)
    except InputError as exc:
        if not exc.field.startswith(_WHERE + "."):
            raise
        field = exc.field[len(_WHERE) + 1:]
        zh = exc.message.split("：", 1)[-1]
        en = exc.message_en.split(": ", 1)[-1] if exc.message_en else ""
        if field == "parameters":
            zh += "（结算服务按已发布的参数结算，不接受参数假设值；试算请用 /api/v1/settlements/preview）"
        raise InputError(field, zh, en) from None


def canonical(claim: Claim) -> dict[str, Any]:
    """The claim as plain JSON values: what idempotency compares."""
    return claim.to_json()


def accumulator_fields() -> tuple[str, ...]:
    return k.ACCUMULATOR_FIELDS


def reported_totals(values: Mapping[str, int]) -> dict[str, int]:
    """The year's totals reported to users, from the accumulator columns."""
    totals = {name: int(values.get(name, 0)) for name in
              ("medfee_sumamt", "hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt")}
    totals["fund_pay_sumamt"] = totals["hifp_pay"] + totals["hifmi_pay"] + totals["maf_pay"]
    return totals


@lru_cache(maxsize=4096)
def _parameters(region: int, day: int, resident: bool, med_type: int, hosp_lv: int,
                categories: int) -> ClaimParameters:
    """The parameters of a one-claim batch, read once per distinct key (the shipped
    parameters do not change while the process runs)."""
    one = k.Claims.from_columns({
        "person": [0], "day": [day], "region": [region], "resident": [resident],
        "med_type": [med_type], "hosp_lv": [hosp_lv], "in_province": [True],
        "categories": [categories], "medfee_sumamt": [0], "fulamt_ownpay_amt": [0],
        "preselfpay_amt": [0], "overlmt_selfpay": [0]})
    return k.resolve(one, ParameterView(default_store()))


def settle_one(claim: Claim, insutype: str, region: str, categories: Sequence[str],
               before: Mapping[str, int]) -> Result:
    """Run the kernel on this claim alone, after the person-year's accumulators ``before``."""
    person = parse.Person(claim.psn_no, insutype, region)
    batch = parse.build_batch({claim.psn_no: person}, [claim], [tuple(categories)])
    a = batch.arrays
    params = _parameters(int(a.region[0]), int(a.day[0]), bool(a.resident[0]),
                         int(a.med_type[0]), int(a.hosp_lv[0]), int(a.categories[0]))
    acc = k.Accumulators.from_rows(np.zeros(1, np.int64),
                                   np.array([claim.setl_time.year], np.int64), [dict(before)])
    res = k.settle(batch.arrays, params, acc, detail=True, check=False)  # parsed and sorted
    warnings = list(params.tables.warnings)
    reply = claim_json(res, 0, claim.setl_id, claim.psn_no, insutype)
    reply["warnings"] = warnings
    amounts = {name: int(getattr(res, name)[0]) for name in OUTPUTS}
    trace = claim_trace(batch.arrays, params, res, 0).to_json()
    return Result(reply, amounts, res.after.row(0), trace, warnings)


# -- many claims at once (the settlement writer's group commit) -----------------------------

@dataclass(frozen=True)
class Prepared:
    """A claim ready for :func:`settle_many`: its person's terms and its parameters read."""

    claim: Claim
    insutype: str
    region: str
    categories: tuple[str, ...]
    params: ClaimParameters  # the claim's own parameters (one row), shared through the cache


def prepare(claim: Claim, insutype: str, region: str, categories: Sequence[str]) -> Prepared:
    """Read the parameters of one claim (ParameterMissing names parameter, region and date),
    so that a claim that cannot be settled is refused on its own, before the batch."""
    cats = tuple(categories)
    params = _parameters(int(region), day_number(claim.setl_time.date()), insutype == "390",
                         int(claim.med_type), claim.hosp_lv, category_mask(cats))
    return Prepared(claim, insutype, region, cats, params)


class _Tables:
    """Every set of terms this process has settled with, as one parameter table that only
    grows (rebuilt when new terms appear, which is rare): a batch's claims then only need
    their row numbers. Each claim keeps its own terms — the very objects read for it, so
    their references stay in its trace."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.basic: list[BasicTerms] = []
        self.critical: list[CriticalTerms] = [NO_CRITICAL]
        self.assistance: list[AssistanceTerms] = [NO_ASSISTANCE]
        self.row: dict[int, int] = {}  # id of a terms object (kept alive above) → its row
        self.tables = ParameterTables([], [NO_CRITICAL], [NO_ASSISTANCE], [])

    def combine(self, parts: Sequence[ClaimParameters]) -> ClaimParameters:
        with self._lock:
            if len(self.row) > self.LIMIT:
                self._reset()
            rows = np.zeros((3, len(parts)), np.int32)
            grown = False
            tables: tuple[list[Any], list[Any], list[Any]] = (self.basic, self.critical,
                                                                self.assistance)
            for j, p in enumerate(parts):
                t = p.tables
                b, c, a = int(p.basic_row[0]), int(p.critical_row[0]), int(p.assistance_row[0])
                chosen = (t.basic[b], t.critical[c] if c else None, t.assistance[a] if a else None)
                for i, terms in enumerate(chosen):
                    if terms is None:
                        continue
                    row = self.row.get(id(terms))
                    if row is None:
                        row = self.row[id(terms)] = len(tables[i])
                        tables[i].append(terms)
                        grown = True
                    rows[i, j] = row
            if grown:
                self.tables = ParameterTables(list(self.basic), list(self.critical),
                                              list(self.assistance), [])
            return ClaimParameters(self.tables, rows[0].copy(), rows[1].copy(), rows[2].copy())


_tables = _Tables()


_FIELD = {name: j for j, name in enumerate(k.ACCUMULATOR_FIELDS)}


def _contributions(batch: parse.Batch, res: k.Settlement) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Per settled claim (kernel order), what it added to each accumulator column.

    Every column is a plain sum of per-claim amounts (see :mod:`minsheng.rules.settlement`):
    the policy-range amount R in its benefit group and level, the uncapped tier-1 payment,
    the tier-2 and tier-3 bases, the uncapped tier-3 payment and the totals. The sums are
    checked against the kernel's accumulators after the batch, so this cannot drift."""
    a, d = batch.arrays, res.details
    assert d is not None
    n = len(a)
    m = np.zeros((n, len(_FIELD)), np.int64)
    rows = np.arange(n)
    groups = [MED_GROUP[int(t)] for t in a.med_type]
    m[rows, [_FIELD[f"basic_base_{g}_lv{int(lv)}"] for g, lv in zip(groups, a.hosp_lv, strict=True)]] \
        = res.inscp_scp_amt
    m[rows, [_FIELD[f"basic_uncapped_{g}"] for g in groups]] = d["basic_uncapped"]
    for name, values in (("critical_base", d["critical_base"]),
                         ("assistance_base", d["assistance_base"]),
                         ("assistance_uncapped", d["assistance_uncapped"]),
                         ("medfee_sumamt", a.medfee_sumamt), ("inscp_scp_amt", res.inscp_scp_amt),
                         ("hifp_pay", res.hifp_pay), ("hifmi_pay", res.hifmi_pay),
                         ("maf_pay", res.maf_pay), ("psn_part_amt", res.psn_part_amt)):
        m[:, _FIELD[name]] = values
    if n:
        starts = np.flatnonzero(np.r_[True, res.segment[1:] != res.segment[:-1]])
        added = np.add.reduceat(m, starts, axis=0)
        change = np.stack([res.after.columns[f] - res.before.columns[f] for f in _FIELD], axis=1)
        if not np.array_equal(added, change):
            raise RuntimeError("per-claim contributions do not add up to the accumulators")
    return m


def settle_many(prepared: Sequence[Prepared],
                before: Mapping[tuple[str, int], Mapping[str, int]], *,
                trace: bool = True) -> list[Result]:
    """Settle claims of several persons in ONE kernel call; results in the order given.

    ``before`` holds the stored accumulators per (psn_no, year) (missing: none yet). Claims
    of one person-year are settled in ``setl_time`` order (ties by ``setl_id`` as text) with
    the accumulators carried from one to the next — exactly as one by one in that order,
    so each result (reply, trace, contributions) is the one :func:`settle_one` would give.
    Each claim's warnings are the example parameters it used itself. With ``trace=False``
    each result carries the :class:`TraceRecord` its trace is rendered from instead
    (:mod:`minsheng.service.trace_store`) and an empty ``trace``."""
    if not prepared:
        return []
    claims = [p.claim for p in prepared]
    persons = {p.claim.psn_no: parse.Person(p.claim.psn_no, p.insutype, p.region)
               for p in prepared}
    batch = parse.build_batch(persons, claims, [p.categories for p in prepared])
    order = [int(i) for i in batch.order]
    params = _tables.combine([prepared[i].params for i in order])
    py_person, py_year = k.person_years(batch.arrays)
    fields = k.ACCUMULATOR_FIELDS
    running = []  # per person-year: its accumulators so far, every column present
    for p, y in zip(py_person.tolist(), py_year.tolist(), strict=True):
        stored = before.get((batch.people[p], y)) or {}
        running.append({f: stored.get(f, 0) for f in fields})
    acc = k.Accumulators(py_person, py_year, {f: np.array([r[f] for r in running], np.int64)
                                              for f in fields})
    res = k.settle(batch.arrays, params, acc, detail=True, check=False)  # parsed and sorted
    added = _contributions(batch, res)
    # each column read once for the batch, as Python lists (not item by item from numpy)
    outputs = {name: getattr(res, name).tolist() for name in OUTPUTS}
    left = [getattr(res, name).tolist() for name in CAPS_LEFT]
    segment = res.segment.tolist()
    added_rows = added.tolist()
    recorded = None if trace else record_columns(res, params)
    results: list[Result | None] = [None] * len(prepared)
    for kk, i in enumerate(order):
        p = prepared[i]
        amounts = {name: outputs[name][kk] for name in OUTPUTS}
        reply = reply_json(amounts, [c[kk] for c in left], p.claim.setl_id, p.claim.psn_no,
                           p.insutype)
        warnings = list(p.params.tables.warnings)
        reply["warnings"] = warnings
        contributions = {f: v for f, v in zip(fields, added_rows[kk], strict=True) if v}
        acc_now = running[segment[kk]]
        for f, v in contributions.items():
            acc_now[f] += v
        if recorded is None:
            steps, rec = claim_trace(batch.arrays, params, res, kk).to_json(), None
        else:
            steps, rec = [], record(batch.arrays, params, recorded, kk, amounts)
        results[i] = Result(reply, amounts, dict(acc_now), steps, warnings, contributions, rec)
    return [r for r in results if r is not None]
