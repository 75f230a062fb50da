"""Persons and claims of SETTLEMENT.md from JSON-like values, checked field by field.

Every bad value raises an :class:`~minsheng.core.errors.InputError` naming it the way a
user wrote it (``claims[3].fulamt_ownpay_amt``, ``persons[0].categories[1]``); nothing is
settled when anything is wrong. Pure: no files, no HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from minsheng.core.categories import category_key
from minsheng.core.dates import parse_date, parse_datetime
from minsheng.core.errors import InputError
from minsheng.core.money import format_fen, parse_fen
from minsheng.core.regions import get_region
from minsheng.rules.settlement import Claims, settlement_order
from minsheng.rules.settlement_params import (
    INSUTYPES,
    MAX_FEN,
    MED_TYPES,
    category_mask,
    day_number,
)

PERSON_FIELDS = ("psn_no", "insutype", "region", "categories")
PERSON_OPTIONAL = ("psn_name", "certno")
CLAIM_FIELDS = ("setl_id", "psn_no", "setl_time", "med_type", "hosp_lv", "in_province",
                "medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "overlmt_selfpay")
AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "overlmt_selfpay")


@dataclass(frozen=True)
class Holding:
    """An assistance category held from ``valid_from`` to ``valid_to`` (inclusive; None: open)."""

    category: str
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None

    def held_on(self, day: dt.date) -> bool:
        return ((self.valid_from is None or self.valid_from <= day)
                and (self.valid_to is None or day <= self.valid_to))


@dataclass(frozen=True)
class Person:
    psn_no: str
    insutype: str
    region: str
    holdings: tuple[Holding, ...] = ()

    def categories_on(self, day: dt.date) -> tuple[str, ...]:
        """The category keys held on ``day`` (each once, in the order given)."""
        keys: list[str] = []
        for h in self.holdings:
            if h.held_on(day) and h.category not in keys:
                keys.append(h.category)
        return tuple(keys)


@dataclass(frozen=True)
class Claim:
    setl_id: str
    psn_no: str
    setl_time: dt.datetime
    med_type: str
    hosp_lv: int
    in_province: bool
    medfee_sumamt: int
    fulamt_ownpay_amt: int
    preselfpay_amt: int
    overlmt_selfpay: int

    @property
    def inscp_scp_amt(self) -> int:
        return (self.medfee_sumamt - self.fulamt_ownpay_amt - self.preselfpay_amt
                - self.overlmt_selfpay)

    def to_json(self) -> dict[str, Any]:
        return {"setl_id": self.setl_id, "psn_no": self.psn_no,
                "setl_time": self.setl_time.isoformat(), "med_type": self.med_type,
                "hosp_lv": self.hosp_lv, "in_province": self.in_province,
                **{k: format_fen(getattr(self, k)) for k in AMOUNTS}}


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InputError(where, "应为对象（JSON object）", "expected an object")
    return raw


def _check_keys(raw: Mapping[str, Any], where: str, required: Sequence[str],
                optional: Sequence[str] = ()) -> None:
    for key in raw:
        if key not in required and key not in optional:
            raise InputError(f"{where}.{key}", f"未知的字段（可用：{'、'.join(required)}）",
                             "unknown field")
    for key in required:
        if key not in raw or raw[key] is None:
            raise InputError(f"{where}.{key}", "缺少必填字段", "required field missing")


def _text(raw: Any, where: str) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise InputError(where, f"应为文本：{raw!r}", "expected text")
    text = str(raw).strip()
    if not text:
        raise InputError(where, "不能为空", "must not be empty")
    return text


def parse_insutype(raw: Any, where: str) -> str:
    text = _text(raw, where)
    if text not in INSUTYPES:
        raise InputError(where, f"险种应为 390（城乡居民）或 310（职工）：{text!r}",
                         "insutype must be 390 or 310")
    return text


def parse_holdings(raw: Any, where: str) -> tuple[Holding, ...]:
    """Categories: keys or Chinese names, or ``{"category", "valid_from", "valid_to"}``."""
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise InputError(where, "应为类别列表", "expected a list of categories")
    holdings: list[Holding] = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            holdings.append(Holding(category_key(item, at)))
            continue
        m = _mapping(item, at)
        _check_keys(m, at, ("category",), ("valid_from", "valid_to"))
        if not isinstance(m["category"], str):
            raise InputError(f"{at}.category", "类别应为文本", "category must be text")
        start = parse_date(m["valid_from"], f"{at}.valid_from") if m.get("valid_from") else None
        end = parse_date(m["valid_to"], f"{at}.valid_to") if m.get("valid_to") else None
        if start and end and end < start:
            raise InputError(f"{at}.valid_to", "结束日期早于开始日期", "valid_to before valid_from")
        holdings.append(Holding(category_key(m["category"], f"{at}.category"), start, end))
    return tuple(holdings)


def parse_person(raw: Any, where: str = "person") -> Person:
    m = _mapping(raw, where)
    _check_keys(m, where, ("psn_no", "insutype", "region"), ("categories", *PERSON_OPTIONAL))
    region = get_region(m["region"], f"{where}.region").code
    return Person(_text(m["psn_no"], f"{where}.psn_no"),
                  parse_insutype(m["insutype"], f"{where}.insutype"), region,
                  parse_holdings(m.get("categories"), f"{where}.categories"))


def parse_claim(raw: Any, where: str = "claim") -> Claim:
    """One claim of SETTLEMENT.md; every amount ≥ 0 with at most two decimals, F + P + O ≤ T."""
    m = _mapping(raw, where)
    _check_keys(m, where, CLAIM_FIELDS)
    med_type = _text(m["med_type"], f"{where}.med_type")
    if med_type not in MED_TYPES:
        raise InputError(f"{where}.med_type",
                         f"未知的医疗类别 {med_type!r}（11 普通门诊、14 门诊慢特病、21 住院）",
                         "med_type must be 11, 14 or 21")
    lv = m["hosp_lv"]
    if isinstance(lv, str) and lv.strip().isdigit():
        lv = int(lv.strip())
    if isinstance(lv, bool) or not isinstance(lv, int) or not 0 <= lv <= 3:
        raise InputError(f"{where}.hosp_lv", f"医院等级应为 0、1、2 或 3：{m['hosp_lv']!r}",
                         "hosp_lv must be 0, 1, 2 or 3")
    flag = m["in_province"]
    if isinstance(flag, str) and flag.strip().lower() in ("true", "false"):
        flag = flag.strip().lower() == "true"
    if not isinstance(flag, bool):
        raise InputError(f"{where}.in_province", f"应为 true 或 false：{flag!r}",
                         "expected true or false")
    amounts = {}
    for key in AMOUNTS:
        fen = parse_fen(m[key], f"{where}.{key}")
        if fen > MAX_FEN:
            raise InputError(f"{where}.{key}", "金额过大", "amount too large")
        amounts[key] = fen
    if (amounts["fulamt_ownpay_amt"] + amounts["preselfpay_amt"] + amounts["overlmt_selfpay"]
            > amounts["medfee_sumamt"]):
        raise InputError(f"{where}.medfee_sumamt",
                         "全自费、先行自付与超限价自付之和超过医疗费总额",
                         "fulamt_ownpay_amt + preselfpay_amt + overlmt_selfpay exceeds "
                         "medfee_sumamt")
    return Claim(_text(m["setl_id"], f"{where}.setl_id"), _text(m["psn_no"], f"{where}.psn_no"),
                 parse_datetime(m["setl_time"], f"{where}.setl_time"), med_type, lv, flag,
                 **amounts)


@dataclass
class Batch:
    """Parsed persons and claims, with the claims as kernel arrays in settlement order.

    ``order[k]`` is the index (in ``claims``) of the k-th claim settled; ``people`` lists
    the persons by kernel person id.
    """

    persons: dict[str, Person]
    claims: list[Claim]
    people: list[str]
    order: np.ndarray[Any, np.dtype[np.intp]]
    arrays: Claims

    def person_of(self, k: int) -> Person:
        """The person of the k-th claim settled."""
        return self.persons[self.claims[int(self.order[k])].psn_no]


def parse_batch(persons_raw: Any, claims_raw: Any) -> Batch:
    """Persons and claims (JSON lists) → a :class:`Batch`; the first bad value is named."""
    if not isinstance(persons_raw, list):
        raise InputError("persons", "应为人员列表", "expected a list of persons")
    if not isinstance(claims_raw, list):
        raise InputError("claims", "应为结算单列表", "expected a list of claims")
    persons: dict[str, Person] = {}
    for i, raw in enumerate(persons_raw):
        p = parse_person(raw, f"persons[{i}]")
        if p.psn_no in persons:
            raise InputError(f"persons[{i}].psn_no", f"人员编号重复：{p.psn_no}",
                             "duplicate psn_no")
        persons[p.psn_no] = p
    claims: list[Claim] = []
    seen: set[str] = set()
    for i, raw in enumerate(claims_raw):
        c = parse_claim(raw, f"claims[{i}]")
        if c.setl_id in seen:
            raise InputError(f"claims[{i}].setl_id", f"结算编号重复：{c.setl_id}",
                             "duplicate setl_id")
        if c.psn_no not in persons:
            raise InputError(f"claims[{i}].psn_no", f"未知的人员编号：{c.psn_no}",
                             "unknown person")
        seen.add(c.setl_id)
        claims.append(c)
    return build_batch(persons, claims)


def build_batch(persons: Mapping[str, Person], claims: Sequence[Claim],
                categories: Sequence[Sequence[str]] | None = None) -> Batch:
    """Kernel arrays for parsed claims, sorted for settlement.

    ``categories`` (optional, one per claim) gives the categories held on each claim's
    date; by default they come from the persons' holdings.
    """
    people = sorted({c.psn_no for c in claims})
    pid = {p: i for i, p in enumerate(people)}
    n = len(claims)
    cols: dict[str, Any] = {
        "person": [pid[c.psn_no] for c in claims],
        "day": [day_number(c.setl_time.date()) for c in claims],
        "region": [int(persons[c.psn_no].region) for c in claims],
        "resident": [persons[c.psn_no].insutype == "390" for c in claims],
        "med_type": [int(c.med_type) for c in claims],
        "hosp_lv": [c.hosp_lv for c in claims],
        "in_province": [c.in_province for c in claims],
        "categories": [category_mask(
            persons[c.psn_no].categories_on(c.setl_time.date()) if categories is None
            else categories[j]) for j, c in enumerate(claims)],
        **{k: [getattr(c, k) for c in claims] for k in AMOUNTS},
    }
    unsorted = Claims.from_columns({k: np.asarray(v) if n else np.zeros(0)
                                    for k, v in cols.items()})
    times = np.array([np.datetime64(c.setl_time, "s") for c in claims], "datetime64[s]")
    order = settlement_order(unsorted.person, times, [c.setl_id for c in claims])
    return Batch(dict(persons), list(claims), people, order, unsorted.take(order))
