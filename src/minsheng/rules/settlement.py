"""The one-stop settlement kernel (一站式结算): SETTLEMENT.md as one vectorised function.

Every face settles claims through :func:`settle` — the service one claim at a time with
the stored accumulators, the local batch a whole file, Spark one partition of persons —
so the fen agree by construction.

How to call it
==============

1. Sort the claims by person, then by ``setl_time``, ties by ``setl_id`` as text
   (:func:`settlement_order` gives that permutation). Persons are integer ids of your
   choice (``person`` must be non-decreasing; claims of one person are contiguous).
2. Build :class:`Claims` — numpy arrays, one row per claim:

   ================== ============ ===================================================
   ``person``         int64        the person's id (non-decreasing)
   ``day``            int64        date of ``setl_time`` as days since 1970-01-01
                                   (:func:`minsheng.rules.settlement_params.day_number`);
                                   its year is the accumulation year
   ``region``         int64        6-digit code of the person's insured place
   ``resident``       bool         ``insutype`` 390 (True) or 310 employee (False)
   ``med_type``       int8         11 outpatient, 14 chronic/special, 21 inpatient
   ``hosp_lv``        int8         0 village clinic, 1, 2, 3
   ``in_province``    bool
   ``categories``     uint16       bit mask of the assistance categories held on the
                                   claim date (``CATEGORY_BITS``; :func:`category_mask`)
   ``medfee_sumamt``  int64 fen    T; ``fulamt_ownpay_amt`` F, ``preselfpay_amt`` P,
                                   ``overlmt_selfpay`` O likewise (F + P + O ≤ T)
   ================== ============ ===================================================

3. ``params = resolve(claims, view)`` reads every parameter the claims need, each
   distinct combination once (:mod:`minsheng.rules.settlement_params`):
   ``params.tables.warnings`` names every example parameter used, and each table row
   keeps the parameters it read (with references) for traces.
4. ``person_years(claims)`` gives the person-years of the batch, in order of first
   appearance (arrays ``person``, ``year``). Look up their accumulators before the batch
   and pass them as :class:`Accumulators` (or ``None``: all zero).
5. ``result = settle(claims, params, before, detail=False)`` returns a
   :class:`Settlement`: per-claim int64 arrays ``inscp_scp_amt``, ``hifp_pay``,
   ``hifmi_pay``, ``maf_pay``, ``fund_pay_sumamt``, ``psn_part_amt``, ``act_pay_dedc``,
   the cap room left after each claim (``basic_cap_left``, ``critical_cap_left``,
   ``assistance_cap_left``; −1 where that fund has no cap, i.e. ``crt_payb_lmt_amt``
   absent), ``segment`` (each claim's person-year row) and ``after``, the accumulators
   after the batch. ``result.after`` of one batch is ``before`` of the next: splitting a
   batch anywhere and carrying the accumulators gives the same fen. With ``detail=True``
   it also keeps every intermediate value per claim (``details``) for
   :func:`minsheng.rules.settlement_trace.claim_trace`.

Accumulators
============

One row per person-year, int64 fen columns :data:`ACCUMULATOR_FIELDS`:

- ``basic_base_{outpatient|chronic|inpatient}_lv{0..3}`` — cumulative policy-range
  amount R per benefit group and hospital level (for yearly tier-1 deductibles);
- ``basic_uncapped_{outpatient|chronic|inpatient}`` — cumulative uncapped tier-1
  payment per benefit group (for the tier-1 annual cap);
- ``critical_base`` — cumulative S1 of residents' chronic and inpatient claims (tier 2);
- ``assistance_base`` — cumulative S2 of chronic and inpatient claims (tier-3 deductible);
- ``assistance_uncapped`` — cumulative uncapped tier-3 payment (tier-3 cap);
- totals: ``medfee_sumamt``, ``inscp_scp_amt``, ``hifp_pay``, ``hifmi_pay``,
  ``maf_pay``, ``psn_part_amt`` (the personal burden of POLICY.md §3.5).

Every column is a plain sum of per-claim contributions, so a reversal subtracts the
claim's contribution (its ``after − before`` when settled alone) and the accumulators are
as if it had never been settled.

The blocks
==========

Each tier uses the two telescoping blocks of SETTLEMENT.md — annual deductible
``max(0, cum_c − D) − max(0, cum_{c−1} − D)`` and annual cap
``min(cum_u_c, K) − min(cum_u_{c−1}, K)`` — computed with cumulative sums per
person-year (and per benefit group / hospital level where the accumulation group says so);
no tier depends on a later tier's payment, so there is no sequential loop. The work runs
in chunks of whole person-years to stay in cache.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt

from minsheng.core.errors import InputError
from minsheng.core.parameters import ParameterView
from minsheng.rules.settlement_params import (
    CATEGORY_BITS,
    GROUPS,
    I64,
    MAX_FEN,
    SCALE,
    ClaimParameters,
    ParameterResolver,
    ParameterTables,
    category_mask,
    parameter_resolver,
    resolve_parameters,
)

Bools = npt.NDArray[np.bool_]
Index = npt.NDArray[np.intp]

ACCUMULATOR_FIELDS: tuple[str, ...] = (
    *(f"basic_base_{g}_lv{lv}" for g in GROUPS for lv in range(4)),
    *(f"basic_uncapped_{g}" for g in GROUPS),
    "critical_base", "assistance_base", "assistance_uncapped",
    "medfee_sumamt", "inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt",
)
"""The per-person-year accumulator columns (int64 fen), in storage order."""

BASIC_BASE = tuple(f"basic_base_{g}_lv{lv}" for g in GROUPS for lv in range(4))
BASIC_UNCAPPED = tuple(f"basic_uncapped_{g}" for g in GROUPS)
CHUNK = 1 << 13
HALF = SCALE // 2

__all__ = [
    "ACCUMULATOR_FIELDS", "CATEGORY_BITS", "I64", "Accumulators", "Claims", "ParameterResolver",
    "Settlement", "assistance_block", "cap_block", "category_mask", "deductible_block",
    "parameter_resolver", "person_years", "resolve", "settle", "settlement_order", "year_of",
]


# -- inputs -------------------------------------------------------------------------------

@dataclass
class Claims:
    """A batch of claims as arrays (see the module docstring for names and dtypes)."""

    person: I64
    day: I64
    region: I64
    resident: Bools
    med_type: npt.NDArray[np.int8]
    hosp_lv: npt.NDArray[np.int8]
    in_province: Bools
    categories: npt.NDArray[np.uint16]
    medfee_sumamt: I64
    fulamt_ownpay_amt: I64
    preselfpay_amt: I64
    overlmt_selfpay: I64

    DTYPES: ClassVar[dict[str, Any]] = {
              "person": np.int64, "day": np.int64, "region": np.int64, "resident": np.bool_,
              "med_type": np.int8, "hosp_lv": np.int8, "in_province": np.bool_,
              "categories": np.uint16, "medfee_sumamt": np.int64,
              "fulamt_ownpay_amt": np.int64, "preselfpay_amt": np.int64,
              "overlmt_selfpay": np.int64}

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any]) -> Claims:
        """Claims from array-likes, converted to the kernel's dtypes."""
        missing = [k for k in cls.DTYPES if k not in columns]
        if missing:
            raise InputError(f"claims.{missing[0]}", "缺少该列", "column missing")
        arrays = {k: np.ascontiguousarray(np.asarray(columns[k]).astype(dtype, copy=False))
                  for k, dtype in cls.DTYPES.items()}
        return cls(**arrays)

    def __len__(self) -> int:
        return len(self.day)

    def take(self, index: Index | slice) -> Claims:
        return Claims(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def check(self) -> None:
        """The kernel's own guard: lengths, ranges, F + P + O ≤ T, order by person and date."""
        n = len(self)
        for f in fields(self):
            if len(getattr(self, f.name)) != n:
                raise InputError(f"claims.{f.name}", "各列长度不一致", "columns differ in length")
        amounts = ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "overlmt_selfpay")
        for name in amounts:
            a: I64 = getattr(self, name)
            _first_bad(a < 0, name, "金额不能为负", "must not be negative")
            _first_bad(a > MAX_FEN, name, "金额过大", "amount too large")
        extra = self.fulamt_ownpay_amt + self.preselfpay_amt + self.overlmt_selfpay
        _first_bad(extra > self.medfee_sumamt, "medfee_sumamt",
                   "全自费、先行自付与超限价自付之和超过医疗费总额",
                   "fulamt_ownpay_amt + preselfpay_amt + overlmt_selfpay exceeds medfee_sumamt")
        mt = self.med_type
        _first_bad((mt != 11) & (mt != 14) & (mt != 21), "med_type",
                   "医疗类别应为 11（普通门诊）、14（门诊慢特病）或 21（住院）",
                   "med_type must be 11, 14 or 21")
        _first_bad((self.hosp_lv < 0) | (self.hosp_lv > 3), "hosp_lv",
                   "医院等级应为 0 到 3", "hosp_lv must be 0..3")
        if n > 1:
            p, d = self.person, self.day
            back = np.zeros(n, np.bool_)
            back[1:] = (p[1:] < p[:-1]) | ((p[1:] == p[:-1]) & (d[1:] < d[:-1]))
            _first_bad(back, "setl_time", "结算须按人员、结算时间排序",
                       "claims must be sorted by person and setl_time")


def _first_bad(bad: Bools, name: str, zh: str, en: str) -> None:
    where = np.flatnonzero(bad)
    if where.size:
        raise InputError(f"claims[{int(where[0])}].{name}", zh, en)


_YEAR_STARTS = (np.arange(1900, 2201) - 1970).astype("datetime64[Y]").astype(
    "datetime64[D]").astype(np.int64)


def year_of(day: I64) -> I64:
    """Calendar year of day numbers (days since 1970-01-01; years 1900–2200)."""
    out: I64 = np.searchsorted(_YEAR_STARTS, day, side="right").astype(np.int64) + 1899
    return out


def settlement_order(person: I64, setl_time: npt.NDArray[Any], setl_id: Sequence[str]) -> Index:
    """The permutation that sorts claims by person, ``setl_time``, then ``setl_id`` as text."""
    t = np.asarray(setl_time).astype("datetime64[s]").astype(np.int64)
    p = np.asarray(person, np.int64)
    order: Index = np.lexsort((t, p))
    ps, ts = p[order], t[order]
    tie = np.flatnonzero((ps[1:] == ps[:-1]) & (ts[1:] == ts[:-1]))
    if tie.size:
        starts = tie[np.r_[True, tie[1:] != tie[:-1] + 1]]
        ends = tie[np.r_[tie[1:] != tie[:-1] + 1, True]] + 2
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            run = order[a:b]
            order[a:b] = sorted(run.tolist(), key=lambda i: setl_id[i])
    return order


def person_years(claims: Claims) -> tuple[I64, I64]:
    """The person-years of a sorted batch in order: arrays ``(person, year)``."""
    first = _segment_starts(claims.person, year_of(claims.day))
    return claims.person[first], year_of(claims.day[first])


def _segment_starts(person: I64, year: I64) -> Index:
    n = len(person)
    if n == 0:
        return np.zeros(0, np.intp)
    start = np.empty(n, np.bool_)
    start[0] = True
    start[1:] = (person[1:] != person[:-1]) | (year[1:] != year[:-1])
    return np.flatnonzero(start)


@dataclass
class Accumulators:
    """Accumulators per person-year: ``columns[name][i]`` for person-year ``i``."""

    person: I64
    year: I64
    columns: dict[str, I64]

    @classmethod
    def zeros(cls, person: I64, year: I64) -> Accumulators:
        n = len(person)
        return cls(np.asarray(person, np.int64), np.asarray(year, np.int64),
                   {k: np.zeros(n, np.int64) for k in ACCUMULATOR_FIELDS})

    @classmethod
    def from_rows(cls, person: I64, year: I64,
                  rows: Sequence[Mapping[str, int] | None]) -> Accumulators:
        """From one mapping per person-year (``None`` or missing columns: zero)."""
        acc = cls.zeros(person, year)
        for i, row in enumerate(rows):
            if row:
                for k in ACCUMULATOR_FIELDS:
                    acc.columns[k][i] = int(row.get(k, 0))
        return acc

    def __len__(self) -> int:
        return len(self.person)

    def row(self, i: int) -> dict[str, int]:
        return {k: int(self.columns[k][i]) for k in ACCUMULATOR_FIELDS}


# -- the blocks (shared by the kernel and single-claim calculations) ----------------------

def mul_scaled(amount: I64, ratio: I64) -> I64:
    """``amount × ratio / SCALE`` rounded half-up (amounts ≥ 0, ratios scaled by SCALE)."""
    out: I64 = (amount * ratio + HALF) // SCALE
    return out


def deductible_block(x: I64, cum_before: I64, deductible: I64) -> I64:
    """Annual deductible: the part of ``x`` above ``deductible`` given the year so far."""
    out: I64 = (np.maximum(cum_before + x - deductible, 0)
                - np.maximum(cum_before - deductible, 0))
    return out


def cap_block(u: I64, cum_before: I64, cap: I64) -> I64:
    """Annual cap: what is paid of ``u`` given the uncapped payments so far (``NO_CAP``: all)."""
    out: I64 = np.minimum(cum_before + u, cap) - np.minimum(cum_before, cap)
    return out


def assistance_block(s2: I64, cum_before: I64, inscp: I64, hifp: I64, hifmi: I64,
                     inpatient: Bools, in_province: Bools, deductible: I64, ratio: I64,
                     topup: I64) -> tuple[I64, I64, I64]:
    """Tier 3 before its cap: ``(eligible, u without top-up, u)``.

    ``ratio`` is the ratio for each claim's med_type (scaled; 0 = none); ``topup`` the
    category's ``topup_target`` scaled, −1 when none. The top-up applies to in-province
    inpatient claims: u = max(u, min(S2, round(target × R) − hifp − hifmi)).
    """
    eligible = deductible_block(s2, cum_before, deductible)
    plain = mul_scaled(eligible, ratio)
    applies = (topup >= 0) & inpatient & in_province
    if not applies.any():
        return eligible, plain, plain
    target = mul_scaled(inscp, np.maximum(topup, 0)) - hifp - hifmi
    u: I64 = np.where(applies, np.maximum(plain, np.minimum(s2, target)), plain)
    return eligible, plain, u


def critical_benefit(tables: ParameterTables, rows: I64, y: I64) -> I64:
    """round(B(y)) of SETTLEMENT.md tier 2, for cumulative bases ``y`` under table ``rows``."""
    z = np.maximum(y - tables.critical_deductible[rows], 0)
    nb = tables.critical_brackets
    lower = tables.critical_lower
    k = np.zeros(len(rows), np.int64)
    for j in range(1, nb):
        k += z >= lower[rows, j]
    flat = rows * nb + k
    total = (tables.critical_base.ravel()[flat]
             + tables.critical_ratio.ravel()[flat] * (z - lower.ravel()[rows * (nb + 1) + k]))
    total = np.where(tables.critical_has_cap[rows],
                     np.minimum(total, tables.critical_cap[rows] * SCALE), total)
    out: I64 = (total + HALF) // SCALE
    return out


# -- the kernel ---------------------------------------------------------------------------

@dataclass
class Settlement:
    """Per-claim outputs (int64 fen, in the order of the claims given) and accumulators."""

    inscp_scp_amt: I64
    hifp_pay: I64
    hifmi_pay: I64
    maf_pay: I64
    fund_pay_sumamt: I64
    psn_part_amt: I64
    act_pay_dedc: I64
    basic_cap_left: I64
    critical_cap_left: I64
    assistance_cap_left: I64
    segment: I64
    before: Accumulators
    after: Accumulators
    details: dict[str, I64] | None = field(default=None)

    OUTPUTS: ClassVar[tuple[str, ...]] = (
        "inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt",
        "psn_part_amt", "act_pay_dedc")

    def __len__(self) -> int:
        return len(self.hifp_pay)


DETAIL_FIELDS = (
    "basic_deductible", "basic_cum_before", "basic_eligible", "basic_uncapped",
    "basic_uncapped_before", "basic_cap",
    "critical_base", "critical_cum_before", "critical_benefit_before", "critical_benefit_after",
    "assistance_base", "assistance_cum_before", "assistance_deductible", "assistance_eligible",
    "assistance_ratio", "assistance_plain", "assistance_uncapped", "assistance_uncapped_before",
    "assistance_cap",
)


def resolve(claims: Claims, view: ParameterView,
            resolver: ParameterResolver | None = None) -> ClaimParameters:
    """Read the parameters every claim needs (see :func:`resolve_parameters`; a
    ``resolver`` from :func:`parameter_resolver` reuses the terms read by earlier calls)."""
    return resolve_parameters(view, region=claims.region, day=claims.day,
                              resident=claims.resident, med_type=claims.med_type,
                              hosp_lv=claims.hosp_lv, categories=claims.categories,
                              resolver=resolver)


def settle(claims: Claims, params: ClaimParameters, before: Accumulators | None = None, *,
           detail: bool = False, check: bool = True, chunk: int = CHUNK) -> Settlement:
    """Settle a sorted batch of claims: SETTLEMENT.md tiers 1–3 for every claim."""
    n = len(claims)
    if check:
        claims.check()
    if len(params) != n:
        raise InputError("params", "参数行数与结算单数不一致", "parameter rows differ from claims")
    year = year_of(claims.day)
    first = _segment_starts(claims.person, year)
    seg_person, seg_year = claims.person[first], year[first]
    fresh = before is None
    if before is None:
        before = Accumulators.zeros(seg_person, seg_year)
    else:
        _check_before(before, seg_person, seg_year)
    nseg = len(first)
    seg = np.zeros(n, np.int64)
    if n:
        seg[first[1:]] = 1
        seg = np.cumsum(seg)
    after = Accumulators(seg_person.copy(), seg_year.copy(),
                         {k: np.empty(nseg, np.int64) for k in ACCUMULATOR_FIELDS})
    out = {name: np.zeros(n, np.int64) for name in
           (*Settlement.OUTPUTS, "basic_cap_left", "critical_cap_left", "assistance_cap_left")}
    details = {name: np.zeros(n, np.int64) for name in DETAIL_FIELDS} if detail else None

    cut = np.searchsorted(first, np.arange(0, n, max(chunk, 1)), side="right") - 1
    bounds = sorted({*first[cut].tolist(), n}) if n else [0]
    for a, b in itertools.pairwise(bounds):
        sa, sb = int(seg[a]), int(seg[b - 1]) + 1
        _settle_chunk(claims, params, a, b, seg[a:b] - sa, first[sa:sb] - a,
                      None if fresh else before, after, sa, sb, out, details)
    if nseg and int(after.columns["medfee_sumamt"].max()) > MAX_FEN:
        raise InputError("claims", "一人一年累计医疗费过大，无法结算", "cumulative amount too large")
    return Settlement(**out, segment=seg, before=before, after=after, details=details)


def _check_before(before: Accumulators, person: I64, year: I64) -> None:
    if len(before) != len(person) or not (np.array_equal(before.person, person)
                                          and np.array_equal(before.year, year)):
        raise InputError("accumulators", "累计值须按本批结算的人员年度（person_years）逐行给出",
                         "accumulators must be given per person-year of the batch, in order")
    columns = [before.columns.get(k) for k in ACCUMULATOR_FIELDS]
    for k, col in zip(ACCUMULATOR_FIELDS, columns, strict=True):
        if col is None or len(col) != len(person):
            raise InputError(f"accumulators.{k}", "缺少该列", "column missing")
    if not len(person):
        return
    table = np.stack(cast(list[I64], columns))  # one range check for all columns (a batch of
    if int(table.min()) >= 0 and int(table.max()) <= MAX_FEN:  # the service has few rows)
        return
    bad = int(np.flatnonzero(((table < 0) | (table > MAX_FEN)).any(axis=1))[0])
    raise InputError(f"accumulators.{ACCUMULATOR_FIELDS[bad]}", "累计值超出范围",
                     "accumulator out of range")


def _grouped(x: I64, seg: I64, group: I64, ngroups: int, nseg: int, init: I64 | None
             ) -> tuple[I64, I64]:
    """Per (segment, group): the exclusive cumulative sum of ``x`` plus ``init[seg, group]``
    (``None``: zero) for each claim, and the sums (``nseg × ngroups``)."""
    m = len(x)
    order = np.argsort(group.astype(np.uint8), kind="stable")
    xs = x[order]
    key = (seg * ngroups + group)[order]
    c = np.cumsum(xs)
    excl = c - xs
    new = np.empty(m, np.bool_)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    first = np.flatnonzero(new)
    base = excl[first]
    res = excl - base[np.cumsum(new) - 1]
    if init is not None:
        res += init.ravel()[key]
    out = np.empty_like(x)
    out[order] = res
    sums = np.zeros(nseg * ngroups, np.int64)
    sums[key[first]] = c[_ends(first, m)] - base
    return out, sums.reshape(nseg, ngroups)


def _ends(first: Index, m: int) -> Index:
    """The last index of each run, given the first index of each run."""
    ends = np.empty(len(first), np.intp)
    ends[:-1] = first[1:] - 1
    ends[-1] = m - 1
    return ends


def _segmented(x: I64, seg: I64, starts: Index, init: I64 | None) -> tuple[I64, I64]:
    """Per segment: the exclusive cumulative sum of ``x`` plus ``init[seg]``, and the sums."""
    c = np.cumsum(x)
    excl = c - x
    base = excl[starts]
    out: I64 = excl - base[seg]
    if init is not None:
        out += init[seg]
    sums: I64 = c[_ends(starts, len(x))] - base
    return out, sums


_GROUP = np.zeros(256, np.int64)
_GROUP[14], _GROUP[21] = 1, 2


def _settle_chunk(claims: Claims, params: ClaimParameters, a: int, b: int, ls: I64,
                  starts: Index, before: Accumulators | None, after: Accumulators, sa: int,
                  sb: int, out: dict[str, I64], details: dict[str, I64] | None) -> None:
    tb = params.tables
    m = b - a
    nseg = sb - sa
    acol = after.columns
    ss = slice(sa, sb)

    def init(names: tuple[str, ...]) -> I64 | None:
        if before is None:
            return None
        return np.stack([before.columns[k][ss] for k in names], axis=1)

    def init1(name: str) -> I64 | None:
        return None if before is None else before.columns[name][ss]

    sl = slice(a, b)
    total = claims.medfee_sumamt[sl]
    inscp = (total - claims.fulamt_ownpay_amt[sl] - claims.preselfpay_amt[sl]
             - claims.overlmt_selfpay[sl])
    grp = _GROUP[claims.med_type[sl].view(np.uint8)]
    gl = grp * 4 + claims.hosp_lv[sl]

    # tier 1: basic insurance pooling fund
    brow = params.basic_row[sl]
    d1 = tb.basic_deductible[brow]
    cum_r, sums12 = _grouped(inscp, ls, gl, 12, nseg, init(BASIC_BASE))
    eligible1 = np.where(tb.basic_per_year[brow], deductible_block(inscp, cum_r, d1),
                         np.maximum(inscp - d1, 0))
    u1 = mul_scaled(eligible1, tb.basic_ratio[brow])
    cum_u1, sums3 = _grouped(u1, ls, grp, 3, nseg, init(BASIC_UNCAPPED))
    cap1 = tb.basic_cap[brow]
    hifp = cap_block(u1, cum_u1, cap1)
    s1 = inscp - hifp

    # tier 2: critical-illness insurance (residents' chronic and inpatient claims)
    crow = params.critical_row[sl]
    need2 = crow > 0
    x2 = s1 * need2
    cum_s1, sum_s1 = _segmented(x2, ls, starts, init1("critical_base"))
    hifmi = np.zeros(m, np.int64)
    room2 = np.full(m, -1, np.int64)
    i2 = np.flatnonzero(need2)
    b_before = b_after = None
    if i2.size:
        rows2 = crow[i2].astype(np.int64)
        y0 = cum_s1[i2]
        b_before = critical_benefit(tb, rows2, y0)
        b_after = critical_benefit(tb, rows2, y0 + x2[i2])
        hifmi[i2] = b_after - b_before
        room2[i2] = np.where(tb.critical_has_cap[rows2], tb.critical_cap[rows2] - b_after, -1)
    s2 = s1 - hifmi

    # tier 3: medical assistance (chronic and inpatient claims)
    x3 = s2 * (grp > 0)
    cum_s2, sum_s2 = _segmented(x3, ls, starts, init1("assistance_base"))
    arow = params.assistance_row[sl]
    i3 = np.flatnonzero(arow)
    u3 = np.zeros(m, np.int64)
    maf = np.zeros(m, np.int64)
    room3 = np.full(m, -1, np.int64)
    parts3 = None
    if i3.size:
        rows3 = arow[i3].astype(np.int64)
        inpatient = grp[i3] == 2
        ratio3 = np.where(inpatient, tb.assistance_inpatient_ratio[rows3],
                          tb.assistance_chronic_ratio[rows3])
        d3 = tb.assistance_deductible[rows3]
        e3, p3, u3[i3] = assistance_block(
            x3[i3], cum_s2[i3], inscp[i3], hifp[i3], hifmi[i3], inpatient,
            claims.in_province[sl][i3], d3, ratio3, tb.assistance_topup[rows3])
        parts3 = (d3, ratio3, e3, p3)
    cum_u3, sum_u3 = _segmented(u3, ls, starts, init1("assistance_uncapped"))
    cap3 = None
    if i3.size:
        cap3 = tb.assistance_cap[rows3]
        after3 = cum_u3[i3] + u3[i3]
        maf[i3] = np.minimum(after3, cap3) - np.minimum(cum_u3[i3], cap3)
        room3[i3] = np.where(tb.assistance_has_cap[rows3], cap3 - np.minimum(after3, cap3), -1)

    fund = hifp + hifmi + maf
    out["inscp_scp_amt"][sl] = inscp
    out["hifp_pay"][sl] = hifp
    out["hifmi_pay"][sl] = hifmi
    out["maf_pay"][sl] = maf
    out["fund_pay_sumamt"][sl] = fund
    out["psn_part_amt"][sl] = total - fund
    out["act_pay_dedc"][sl] = inscp - eligible1
    out["basic_cap_left"][sl] = np.where(tb.basic_has_cap[brow],
                                         cap1 - np.minimum(cum_u1 + u1, cap1), -1)
    out["critical_cap_left"][sl] = room2
    out["assistance_cap_left"][sl] = room3

    # accumulators after: before + this chunk's sums per person-year
    sums: dict[str, I64] = {name: sums12[:, j] for j, name in enumerate(BASIC_BASE)}
    sums.update({name: sums3[:, j] for j, name in enumerate(BASIC_UNCAPPED)})
    sums["critical_base"] = sum_s1
    sums["assistance_base"] = sum_s2
    sums["assistance_uncapped"] = sum_u3
    sums["inscp_scp_amt"] = sums12.sum(axis=1)
    for name, x in (("medfee_sumamt", total), ("hifp_pay", hifp), ("hifmi_pay", hifmi),
                    ("maf_pay", maf)):
        sums[name] = np.add.reduceat(x, starts)
    sums["psn_part_amt"] = (sums["medfee_sumamt"] - sums["hifp_pay"] - sums["hifmi_pay"]
                            - sums["maf_pay"])
    for name, value in sums.items():
        if before is None:
            acol[name][ss] = value
        else:
            acol[name][ss] = before.columns[name][ss] + value

    if details is not None:
        d = details
        d["basic_deductible"][sl] = d1
        d["basic_cum_before"][sl] = cum_r
        d["basic_eligible"][sl] = eligible1
        d["basic_uncapped"][sl] = u1
        d["basic_uncapped_before"][sl] = cum_u1
        d["basic_cap"][sl] = cap1
        d["critical_base"][sl] = x2
        d["critical_cum_before"][sl] = cum_s1
        if b_before is not None and b_after is not None:
            d["critical_benefit_before"][a + i2] = b_before
            d["critical_benefit_after"][a + i2] = b_after
        d["assistance_base"][sl] = x3
        d["assistance_cum_before"][sl] = cum_s2
        if parts3 is not None and cap3 is not None:
            d3, ratio3, e3, p3 = parts3
            d["assistance_deductible"][a + i3] = d3
            d["assistance_ratio"][a + i3] = ratio3
            d["assistance_eligible"][a + i3] = e3
            d["assistance_plain"][a + i3] = p3
            d["assistance_cap"][a + i3] = cap3
        d["assistance_uncapped"][sl] = u3
        d["assistance_uncapped_before"][sl] = cum_u3
