"""Settlement parameters: read each tier's terms once, then lay them out as small tables.

The settlement kernel (:mod:`minsheng.rules.settlement`) never looks a parameter up
itself. Before it runs, :func:`resolve_parameters` reads the terms every claim needs and
returns a :class:`ClaimParameters`: three small tables (one row per distinct set of terms)
and, per claim, the row of each table that applies to it.

A lookup depends on the region, the date, the person's insurance type, the benefit group
and hospital level, and the assistance categories. Dates are first reduced to *periods*:
the stretches between the dates at which any settlement parameter starts or ends, inside
which every lookup gives the same answer. So each distinct (region, period, insutype,
benefit group, hospital level) is read once (likewise (region, period, tilt) for critical
illness and (region, period, category) for assistance): ten million claims cost a few
thousand lookups.

Ratios enter the kernel as integers over :data:`SCALE` (10⁶): a settlement ratio must lie
between 0 and 1 and have at most six decimals, so that ``amount × ratio`` stays exact
in int64. Amounts must stay below :data:`MAX_FEN` (10¹² fen, ten billion yuan).

Readings fixed here, where SETTLEMENT.md is silent:

- A tilt parameter whose value is none changes nothing (factor 1, bonus 0, cap kept).
- A tilted bracket ratio (ratio + bonus) never exceeds 1 (100 %): a fund never pays more
  than the cost it covers (SETTLEMENT.md's invariant hifp + hifmi + maf ≤ R).
- An assistance category whose ``deductible_share`` is none has no deductible, and the
  income statistic is then not read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from minsheng.core.calculation import Context
from minsheng.core.categories import CATEGORIES
from minsheng.core.errors import InputError
from minsheng.core.money import format_fen, format_ratio, mul_ratio
from minsheng.core.parameters import Bracket, ParameterView, Resolved
from minsheng.core.regions import all_regions, get_region
from minsheng.core.trace import NullTrace

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
Bools = npt.NDArray[np.bool_]

SCALE = 1_000_000
"""Ratios are integers over this scale inside the kernel (at most six decimals)."""
MAX_FEN = 10**12
"""The largest amount (and cumulative amount per person-year) the kernel accepts, in fen."""
NO_CAP = 4 * MAX_FEN
"""The cap used where a fund has none: larger than any cumulative payment can get."""
MAX_BRACKETS = 8

GROUPS = ("outpatient", "chronic", "inpatient")
GROUP_LABELS = {"outpatient": "普通门诊", "chronic": "门诊慢特病", "inpatient": "住院"}
MED_TYPES = {"11": "outpatient", "14": "chronic", "21": "inpatient"}
MED_TYPE_LABELS = {"11": "普通门诊", "14": "门诊慢特病", "21": "住院"}
INSUTYPES = {"390": "resident", "310": "employee"}
INSUTYPE_LABELS = {"390": "城乡居民", "310": "职工"}
HOSP_LEVELS = (0, 1, 2, 3)

PRIORITY = ("extreme_poverty", "relapsed_poverty", "minimum_allowance", "monitored",
            "marginal_allowance", "illness_impoverished")
"""Assistance categories in the order of SETTLEMENT.md: a person holding several uses the first."""
TILT_CATEGORIES = ("extreme_poverty", "minimum_allowance", "relapsed_poverty")
"""Persons in these categories get the critical-illness tilt (倾斜保障)."""
CATEGORY_BITS: dict[str, int] = {key: 1 << i for i, key in enumerate(CATEGORIES)}
"""Each category of CONTRACT.md as one bit of the per-claim ``categories`` mask."""

SETTLEMENT_PREFIXES = ("medical.basic.", "medical.critical.", "medical.assistance.",
                       "statistics.per_capita_disposable_income")
EPOCH = dt.date(1970, 1, 1)


def category_mask(keys: Sequence[str]) -> int:
    """The bit mask of a tuple of category keys (``("minimum_allowance",) → 2``)."""
    mask = 0
    for key in keys:
        mask |= CATEGORY_BITS[key]
    return mask


def mask_categories(mask: int) -> tuple[str, ...]:
    return tuple(key for key, bit in CATEGORY_BITS.items() if mask & bit)


def assistance_category(keys: Sequence[str]) -> str | None:
    """The category whose assistance terms apply: the first of :data:`PRIORITY` held."""
    for key in PRIORITY:
        if key in keys:
            return key
    return None


def _build_category_tables() -> tuple[npt.NDArray[np.int8], Bools]:
    size = 1 << len(CATEGORY_BITS)
    chosen = np.zeros(size, np.int8)
    tilt = np.zeros(size, np.bool_)
    for mask in range(size):
        keys = mask_categories(mask)
        cat = assistance_category(keys)
        chosen[mask] = 0 if cat is None else PRIORITY.index(cat) + 1
        tilt[mask] = any(k in keys for k in TILT_CATEGORIES)
    return chosen, tilt


CATEGORY_CHOICE, CATEGORY_TILT = _build_category_tables()
"""Lookup tables by mask: the chosen assistance category (0 none, else 1 + PRIORITY index)
and whether the critical-illness tilt applies."""


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01 (the kernel's date representation)."""
    return (day - EPOCH).days


def number_day(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


# -- the terms of each tier ---------------------------------------------------------------

@dataclass(frozen=True)
class BasicTerms:
    """Tier 1 for one insurance type, benefit group and hospital level."""

    deductible: int
    per_year: bool
    ratio: Fraction | None
    cap: int | None
    reads: tuple[Resolved, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class CriticalTerms:
    """Tier 2 (residents): deductible and brackets with the tilt already applied."""

    deductible: int
    brackets: tuple[Bracket, ...]
    cap: int | None
    tilted: bool
    reads: tuple[Resolved, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class AssistanceTerms:
    """Tier 3 for one category (``category`` None: no assistance)."""

    category: str | None
    deductible: int
    inpatient_ratio: Fraction | None
    chronic_ratio: Fraction | None
    topup_target: Fraction | None
    cap: int | None
    reads: tuple[Resolved, ...] = field(default=(), compare=False)


NO_CRITICAL = CriticalTerms(0, (), None, False)
NO_ASSISTANCE = AssistanceTerms(None, 0, None, None, None, None)


class _Reader:
    """Reads parameters through a Context (example values become warnings) and checks them."""

    def __init__(self, ctx: Context, day: dt.date) -> None:
        self.ctx = ctx
        self.day = day
        self.reads: list[Resolved] = []

    def get(self, name: str) -> Any:
        resolved = self.ctx.resolve(name, self.day)
        self.reads.append(resolved)
        return resolved.value

    def money(self, name: str) -> int | None:
        value = self.get(name)
        if value is not None and value > MAX_FEN:
            raise InputError(name, f"金额过大（不超过 {format_fen(MAX_FEN)} 元）：{format_fen(value)}",
                             "amount too large for settlement")
        return None if value is None else int(value)

    def ratio(self, name: str) -> Fraction | None:
        value = self.get(name)
        if value is None:
            return None
        return check_ratio(name, value)


def check_ratio(name: str, value: Fraction) -> Fraction:
    """A settlement ratio: between 0 and 1 with at most six decimals (else an error naming it)."""
    if not 0 <= value <= 1:
        raise InputError(name, f"结算比例应在 0 到 1 之间：{format_ratio(value)}",
                         "a settlement ratio lies between 0 and 1")
    if (value * SCALE).denominator != 1:
        raise InputError(name, f"结算比例最多六位小数：{format_ratio(value)}",
                         "a settlement ratio has at most six decimals")
    return value


def read_basic(ctx: Context, day: dt.date, insutype: str, group: str, level: int
               ) -> BasicTerms:
    """Tier 1 terms: ``medical.basic.{resident|employee}.{group}.*`` for one hospital level."""
    r = _Reader(ctx, day)
    prefix = f"medical.basic.{INSUTYPES[insutype]}.{group}"
    deductible = r.money(f"{prefix}.deductible.lv{level}") or 0
    basis = r.get(f"{prefix}.deductible_basis")
    if basis not in ("per_claim", "per_year"):
        raise InputError(f"{prefix}.deductible_basis",
                         f"起付标准计算方式应为 per_claim（按次）或 per_year（按年）：{basis!r}",
                         "expected per_claim or per_year")
    ratio = r.ratio(f"{prefix}.ratio.lv{level}")
    cap = r.money(f"{prefix}.annual_cap")
    return BasicTerms(deductible, basis == "per_year", ratio, cap, tuple(r.reads))


def read_critical(ctx: Context, day: dt.date, tilt: bool) -> CriticalTerms:
    """Tier 2 terms (``medical.critical.resident.*``), with the tilt when ``tilt``."""
    r = _Reader(ctx, day)
    prefix = "medical.critical.resident"
    deductible = r.money(f"{prefix}.deductible") or 0
    raw: tuple[Bracket, ...] | None = r.get(f"{prefix}.brackets")
    brackets = raw or ()
    if len(brackets) > MAX_BRACKETS:
        raise InputError(f"{prefix}.brackets", f"分段最多 {MAX_BRACKETS} 段",
                         f"at most {MAX_BRACKETS} brackets")
    for b in brackets:
        check_ratio(f"{prefix}.brackets", b.ratio)
        if b.lower > MAX_FEN:
            raise InputError(f"{prefix}.brackets", "分段起点过大", "bracket bound too large")
    cap = r.money(f"{prefix}.annual_cap")
    if tilt:
        factor = r.get(f"{prefix}.tilt.deductible_factor")
        if factor is not None:
            deductible = mul_ratio(deductible, factor)
        bonus = r.get(f"{prefix}.tilt.ratio_bonus")
        if bonus is not None:
            brackets = tuple(Bracket(b.lower, min(Fraction(1), b.ratio + bonus))
                             for b in brackets)
            for b in brackets:
                check_ratio(f"{prefix}.tilt.ratio_bonus", b.ratio)
        if r.get(f"{prefix}.tilt.remove_cap"):
            cap = None
    return CriticalTerms(deductible, brackets, cap, tilt, tuple(r.reads))


def read_assistance(ctx: Context, day: dt.date, category: str | None,
                    income: int | None = None) -> AssistanceTerms:
    """Tier 3 terms of ``category`` (``medical.assistance.{category}.*``).

    The deductible is ``deductible_share`` × the province's previous-year per-capita
    disposable income (``income`` if given, else the parameter), rounded half-up to the fen.
    """
    if category is None:
        return NO_ASSISTANCE
    r = _Reader(ctx, day)
    prefix = f"medical.assistance.{category}"
    share = r.get(f"{prefix}.deductible_share")
    deductible = 0
    if share is not None:
        if income is None:
            income = r.money("statistics.per_capita_disposable_income")
            if income is None:
                raise InputError("statistics.per_capita_disposable_income",
                                 "人均可支配收入为“无”，无法计算医疗救助起付标准",
                                 "the income statistic is none: no assistance deductible")
        deductible = mul_ratio(income, share)
    inpatient = r.ratio(f"{prefix}.inpatient_ratio")
    chronic = r.ratio(f"{prefix}.outpatient_chronic_ratio")
    cap = r.money(f"{prefix}.annual_cap")
    topup = r.ratio(f"{prefix}.topup_target")
    return AssistanceTerms(category, deductible, inpatient, chronic, topup, cap, tuple(r.reads))


# -- tables -------------------------------------------------------------------------------

def _scaled(ratio: Fraction | None) -> int:
    return 0 if ratio is None else int(ratio * SCALE)


@dataclass
class ParameterTables:
    """Each tier's distinct terms as numpy columns (row 0 of tiers 2 and 3: none)."""

    basic: list[BasicTerms]
    critical: list[CriticalTerms]
    assistance: list[AssistanceTerms]
    warnings: list[str]

    def __post_init__(self) -> None:
        b = self.basic
        self.basic_deductible: I64 = np.array([t.deductible for t in b], np.int64)
        self.basic_per_year: Bools = np.array([t.per_year for t in b], np.bool_)
        self.basic_ratio: I64 = np.array([_scaled(t.ratio) for t in b], np.int64)
        self.basic_has_cap: Bools = np.array([t.cap is not None for t in b], np.bool_)
        self.basic_cap: I64 = np.array([NO_CAP if t.cap is None else t.cap for t in b], np.int64)
        c = self.critical
        nb = max([len(t.brackets) for t in c] + [1])
        self.critical_brackets = nb
        lower = np.full((len(c), nb + 1), NO_CAP, np.int64)
        ratio = np.zeros((len(c), nb), np.int64)
        base = np.zeros((len(c), nb), np.int64)  # benefit (scaled) owed at each lower bound
        for i, t in enumerate(c):
            acc = 0
            for j, br in enumerate(t.brackets):
                lower[i, j] = br.lower
                ratio[i, j] = _scaled(br.ratio)
                base[i, j] = acc
                upper = t.brackets[j + 1].lower if j + 1 < len(t.brackets) else None
                if upper is not None:
                    acc += (upper - br.lower) * _scaled(br.ratio)
        self.critical_lower: I64 = lower
        self.critical_ratio: I64 = ratio
        self.critical_base: I64 = base
        self.critical_deductible: I64 = np.array([t.deductible for t in c], np.int64)
        self.critical_has_cap: Bools = np.array([t.cap is not None for t in c], np.bool_)
        self.critical_cap: I64 = np.array([NO_CAP if t.cap is None else t.cap for t in c],
                                          np.int64)
        a = self.assistance
        self.assistance_deductible: I64 = np.array([t.deductible for t in a], np.int64)
        self.assistance_inpatient_ratio: I64 = np.array([_scaled(t.inpatient_ratio) for t in a],
                                                        np.int64)
        self.assistance_chronic_ratio: I64 = np.array([_scaled(t.chronic_ratio) for t in a],
                                                      np.int64)
        self.assistance_topup: I64 = np.array(
            [-1 if t.topup_target is None else _scaled(t.topup_target) for t in a], np.int64)
        self.assistance_has_cap: Bools = np.array([t.cap is not None for t in a], np.bool_)
        self.assistance_cap: I64 = np.array([NO_CAP if t.cap is None else t.cap for t in a],
                                            np.int64)

    def example_parameters(self) -> list[str]:
        """The names of every example parameter read (each also has a warning)."""
        names: list[str] = []
        for rows in (self.basic, self.critical, self.assistance):
            for t in rows:
                for r in t.reads:
                    if r.example and r.name not in names:
                        names.append(r.name)
        return names


@dataclass
class ClaimParameters:
    """Per claim: the row of each table that applies (0 in tiers 2/3: that tier pays nothing)."""

    tables: ParameterTables
    basic_row: I32
    critical_row: I32
    assistance_row: I32

    def __len__(self) -> int:
        return len(self.basic_row)

    def take(self, index: npt.NDArray[np.intp] | slice) -> ClaimParameters:
        return ClaimParameters(self.tables, self.basic_row[index], self.critical_row[index],
                               self.assistance_row[index])


@cache
def _region_tables() -> tuple[npt.NDArray[np.int16], tuple[str, ...]]:
    codes = tuple(sorted(all_regions()))
    lut = np.full(1_000_000, -1, np.int16)
    for i, code in enumerate(codes):
        lut[int(code)] = i
    return lut, codes


def region_index(region: I64, offset: int = 0) -> npt.NDArray[np.int64]:
    """Dense indices of 6-digit region codes; an unknown code is an error naming it."""
    lut, _ = _region_tables()
    inside = (region >= 0) & (region < 1_000_000)
    idx = lut[np.where(inside, region, 0)].astype(np.int64)
    idx[~inside] = -1
    bad = np.flatnonzero(idx < 0)
    if bad.size:
        i = int(bad[0])
        raise InputError(f"claims[{offset + i}].region", f"未知的地区代码 {int(region[i]):06d}",
                         f"unknown region code {int(region[i]):06d}")
    return idx


def period_breaks(view: ParameterView, prefixes: str | tuple[str, ...] = SETTLEMENT_PREFIXES
                  ) -> I64:
    """Day numbers at which some parameter named with one of ``prefixes`` (by default the
    settlement's) starts or stops being in force."""
    days: set[int] = set()
    for name, by_region in view.store.entries.items():
        if not name.startswith(prefixes):
            continue
        for entries in by_region.values():
            for e in entries:
                days.add(day_number(e.start))
                if e.end is not None:
                    days.add(day_number(e.end) + 1)
    return np.array(sorted(days), np.int64)


class _Resolver:
    """Reads terms on demand, remembering the row of each (region, period, …) key."""

    def __init__(self, view: ParameterView) -> None:
        self.view = view
        self.contexts: dict[str, Context] = {}
        _, self.codes = _region_tables()
        self.breaks = period_breaks(view)
        self.periods = len(self.breaks) + 1
        size = len(self.codes) * self.periods
        self.basic: list[BasicTerms] = []
        self.critical: list[CriticalTerms] = [NO_CRITICAL]
        self.assistance: list[AssistanceTerms] = [NO_ASSISTANCE]
        self.basic_of = np.full(size * 24, -1, np.int32)
        self.critical_of = np.full(size * 2, -1, np.int32)
        self.assistance_of = np.full(size * (len(PRIORITY) + 1), -1, np.int32)
        self._tables: ParameterTables | None = None

    def tables(self) -> ParameterTables:
        """The tables of every term read so far (built again only after new reads)."""
        t = self._tables
        if t is None or (len(t.basic), len(t.critical), len(t.assistance)) != (
                len(self.basic), len(self.critical), len(self.assistance)):
            t = ParameterTables(list(self.basic), list(self.critical), list(self.assistance),
                                self.warnings())
            self._tables = t
        return t

    def ctx(self, rp: int) -> Context:
        code = self.codes[rp // self.periods]
        ctx = self.contexts.get(code)
        if ctx is None:
            ctx = Context(EPOCH, get_region(code), self.view, NullTrace())
            self.contexts[code] = ctx
        return ctx

    def warnings(self) -> list[str]:
        seen: list[str] = []
        for ctx in self.contexts.values():
            for w in ctx.warnings:
                if w not in seen:
                    seen.append(w)
        return seen

    def rows(self, table: npt.NDArray[np.int32], key: I64, day: I64, read: Any
             ) -> npt.NDArray[np.int32]:
        """Rows of ``key``; unseen keys are read (``read(key, day)`` appends a row)."""
        rows = table[key]
        missing = rows < 0
        if missing.any():
            keys, first = np.unique(key[missing], return_index=True)
            days = day[missing][first]
            for k, d in zip(keys.tolist(), days.tolist(), strict=True):
                table[k] = read(k, number_day(d))
            rows = table[key]
        return rows

    def read_basic(self, k: int, day: dt.date) -> int:
        rest, level = divmod(k, 4)
        rest, g = divmod(rest, 3)
        rp, res = divmod(rest, 2)
        self.basic.append(read_basic(self.ctx(rp), day, "390" if res else "310", GROUPS[g],
                                     level))
        return len(self.basic) - 1

    def read_critical(self, k: int, day: dt.date) -> int:
        rp, tilt = divmod(k, 2)
        self.critical.append(read_critical(self.ctx(rp), day, bool(tilt)))
        return len(self.critical) - 1

    def read_assistance(self, k: int, day: dt.date) -> int:
        rp, c = divmod(k, len(PRIORITY) + 1)
        self.assistance.append(read_assistance(self.ctx(rp), day, PRIORITY[c - 1]))
        return len(self.assistance) - 1

    def chunk(self, offset: int, region: I64, day: I64, resident: Bools,
              med_type: npt.NDArray[np.int8], hosp_lv: npt.NDArray[np.int8],
              categories: npt.NDArray[np.uint16]
              ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        rp = region_index(region, offset) * self.periods + np.searchsorted(
            self.breaks, day, side="right")
        group = _group_of(med_type, offset)
        basic = self.rows(self.basic_of, ((rp * 2 + resident) * 3 + group) * 4 + hosp_lv, day,
                          self.read_basic)
        # tier 2: residents' chronic and inpatient claims, by (region, period, tilt)
        need = resident & (group > 0)
        critical = np.zeros(len(day), np.int32)
        where = np.flatnonzero(need)
        if where.size:
            key = rp[where] * 2 + CATEGORY_TILT[categories[where]]
            critical[where] = self.rows(self.critical_of, key, day[where], self.read_critical)
        # tier 3: chronic and inpatient claims of persons with a category
        chosen = CATEGORY_CHOICE[categories]
        assistance = np.zeros(len(day), np.int32)
        where = np.flatnonzero((group > 0) & (chosen > 0))
        if where.size:
            key = rp[where] * (len(PRIORITY) + 1) + chosen[where]
            assistance[where] = self.rows(self.assistance_of, key, day[where],
                                          self.read_assistance)
        return basic, critical, assistance


ParameterResolver = _Resolver
"""Terms read so far for one parameter view (see ``resolver`` of :func:`resolve_parameters`)."""


def parameter_resolver(view: ParameterView) -> ParameterResolver:
    """A resolver to pass to :func:`resolve_parameters` call after call on ``view``."""
    return _Resolver(view)


def resolve_parameters(view: ParameterView, *, region: I64, day: I64, resident: Bools,
                       med_type: npt.NDArray[np.int8], hosp_lv: npt.NDArray[np.int8],
                       categories: npt.NDArray[np.uint16], chunk: int = 1 << 16,
                       resolver: ParameterResolver | None = None) -> ClaimParameters:
    """Read every tier's terms the claims need (each distinct combination once).

    Arrays, one row per claim: ``region`` 6-digit codes, ``day`` the claim date as days
    since 1970-01-01, ``resident`` (insutype 390), ``med_type`` 11/14/21, ``hosp_lv`` 0–3,
    ``categories`` the bit mask of the categories held on the claim date
    (:data:`CATEGORY_BITS`). A parameter with no value in force raises ParameterMissing
    naming parameter, region and a claim date.

    ``resolver`` (from :func:`parameter_resolver` on the same ``view``) carries the terms
    already read from one call to the next, so that a job settling many batches reads each
    combination once in all; the tables then hold every row read so far, and the warnings
    name every example parameter read so far. None: a fresh one for this call.
    """
    n = len(day)
    if resolver is None:
        resolver = _Resolver(view)
    elif resolver.view is not view:
        raise ValueError("the resolver was made for another parameter view")
    rows = [np.zeros(n, np.int32) for _ in range(3)]
    for a in range(0, n, chunk):
        sl = slice(a, a + chunk)
        got = resolver.chunk(a, np.asarray(region[sl], np.int64), np.asarray(day[sl], np.int64),
                             resident[sl], med_type[sl], hosp_lv[sl], categories[sl])
        for target, part in zip(rows, got, strict=True):
            target[sl] = part
    return ClaimParameters(resolver.tables(), *rows)


_GROUP_LUT = np.full(256, -1, np.int64)
_GROUP_LUT[11], _GROUP_LUT[14], _GROUP_LUT[21] = 0, 1, 2


def _group_of(med_type: npt.NDArray[np.int8], offset: int = 0) -> I64:
    group = _GROUP_LUT[np.asarray(med_type).astype(np.uint8)]
    bad = np.flatnonzero(group < 0)
    if bad.size:
        i = int(bad[0])
        raise InputError(f"claims[{offset + i}].med_type",
                         f"未知的医疗类别 {int(med_type[i])}（11 普通门诊、14 门诊慢特病、21 住院）",
                         "med_type must be 11, 14 or 21")
    return group
