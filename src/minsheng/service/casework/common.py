"""What every casework module shares: reading request bodies field by field, places of care
outside the known regions, the rules' context, steps and audit entries.

Every bad value is an :class:`~minsheng.core.errors.InputError` naming its field (Chinese
first). Dates of steps may be given (a step done at the counter and entered later) but never
lie in the future; by default they are today (China time).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from minsheng.core.calculation import Context
from minsheng.core.dates import parse_date, parse_datetime
from minsheng.core.errors import InputError, NotFound
from minsheng.core.money import format_fen, parse_fen
from minsheng.core.parameters import ParameterView, default_store
from minsheng.core.regions import all_regions, get_region, lineage
from minsheng.core.trace import NullTrace, Trace
from minsheng.service.audit import canonical_json, now
from minsheng.service.auth import Principal
from minsheng.service.models import Person
from minsheng.service.persons import parse_psn_no
from minsheng.service.unit_of_work import UnitOfWork

# GB/T 2260 province-level units (省、自治区、直辖市): a place of care or a transfer's other
# end may lie in any of them, although the region tree only holds Jilin and Shanxi.
PROVINCES: dict[str, str] = {
    "110000": "北京市", "120000": "天津市", "130000": "河北省", "140000": "山西省",
    "150000": "内蒙古自治区", "210000": "辽宁省", "220000": "吉林省", "230000": "黑龙江省",
    "310000": "上海市", "320000": "江苏省", "330000": "浙江省", "340000": "安徽省",
    "350000": "福建省", "360000": "江西省", "370000": "山东省", "410000": "河南省",
    "420000": "湖北省", "430000": "湖南省", "440000": "广东省", "450000": "广西壮族自治区",
    "460000": "海南省", "500000": "重庆市", "510000": "四川省", "520000": "贵州省",
    "530000": "云南省", "540000": "西藏自治区", "610000": "陕西省", "620000": "甘肃省",
    "630000": "青海省", "640000": "宁夏回族自治区", "650000": "新疆维吾尔自治区",
}


@dataclass(frozen=True)
class Place:
    """A 6-digit place: a known region, or any place in a province outside the tree."""

    code: str
    province: str
    name: str
    known: bool

    @property
    def city(self) -> str:
        """The prefecture-level unit (or the province itself) this place lies in."""
        if not self.known:
            return self.code if self.code.endswith("00") else self.code[:4] + "00"
        chain = lineage(self.code)
        return chain[-2] if len(chain) >= 2 else chain[-1]


def place(raw: object, field: str) -> Place:
    """A region of the tree, or a code in one of the 31 provinces (province derived from it)."""
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    if text in all_regions():
        region = get_region(text, field)
        province = lineage(region.code)[-1]
        return Place(region.code, province, region.name, True)
    if len(text) == 6 and text.isdigit() and text[:2] + "0000" in PROVINCES:
        province = text[:2] + "0000"
        name = PROVINCES[province] if text == province else f"{PROVINCES[province]}（{text}）"
        return Place(text, province, name, False)
    raise InputError(field, f"未知的地区代码 {raw!r}（GB/T 2260 六位代码，省外可填省级代码如 460000）",
                     f"unknown place code {raw!r}")


def insured_city(region: str) -> str:
    chain = lineage(region)
    return chain[-2] if len(chain) >= 2 else chain[-1]


def new_id(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(6).upper()}"


def today() -> dt.date:
    return now().date()


def context(day: dt.date, region: str, *, trace: bool = True) -> Context:
    """The rules' context for ``region`` on ``day`` with the shipped parameters."""
    return Context(day, get_region(region), ParameterView(default_store()),
                   Trace() if trace else NullTrace())


class Body:
    """A request body read field by field; unknown fields are refused, naming them."""

    def __init__(self, raw: Any, allowed: Iterable[str]) -> None:
        if not isinstance(raw, Mapping):
            raise InputError("body", "请求体应为 JSON 对象", "the body must be a JSON object")
        names = tuple(allowed)
        for key in raw:
            if key not in names:
                raise InputError(str(key), f"未知字段（可用：{'、'.join(names)}）", "unknown field")
        self.raw = raw

    def has(self, name: str) -> bool:
        value = self.raw.get(name)
        return value is not None and not (isinstance(value, str) and value.strip() == "")

    def required(self, name: str) -> Any:
        if not self.has(name):
            raise InputError(name, "缺少必填字段", "required")
        return self.raw[name]

    def text(self, name: str, *, required: bool = True, max_len: int = 100) -> str | None:
        if not self.has(name):
            if required:
                raise InputError(name, "缺少必填字段", "required")
            return None
        value = self.raw[name]
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise InputError(name, "应为文本", "expected text")
        text = str(value).strip()
        if len(text) > max_len:
            raise InputError(name, f"不超过{max_len}个字符", f"at most {max_len} characters")
        return text

    def choice(self, name: str, choices: Mapping[str, str], *, default: str | None = None) -> str:
        """A key of ``choices`` given by key or by its Chinese name."""
        if not self.has(name):
            if default is not None:
                return default
            raise InputError(name, "缺少必填字段", "required")
        text = str(self.raw[name]).strip()
        for key, zh in choices.items():
            if text in (key, zh):
                return key
        options = "、".join(f"{k}（{zh}）" for k, zh in choices.items())
        raise InputError(name, f"取值 {text!r} 不在可选范围内：{options}",
                         f"{text!r} is not one of {', '.join(choices)}")

    def flag(self, name: str, *, default: bool = False) -> bool:
        if not self.has(name):
            return default
        value = self.raw[name]
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "是", "否"):
            return value.strip().lower() in ("true", "是")
        if not isinstance(value, bool):
            raise InputError(name, "应为 true 或 false", "expected true or false")
        return value

    def date(self, name: str, *, default: dt.date | None = None, past: bool = True
             ) -> dt.date | None:
        """A date; ``past``: not after today."""
        if not self.has(name):
            return default
        day = parse_date(self.raw[name], name)
        if past and day > today():
            raise InputError(name, f"日期 {day.isoformat()} 晚于今天", "date in the future")
        return day

    def datetime(self, name: str, *, default: dt.datetime | None = None) -> dt.datetime | None:
        if not self.has(name):
            return default
        value = parse_datetime(self.raw[name], name)
        if value > now():
            raise InputError(name, f"时间 {value.isoformat()} 晚于现在", "time in the future")
        return value

    def money(self, name: str) -> int | None:
        if not self.has(name):
            return None
        return parse_fen(self.raw[name], name)

    def integer(self, name: str, *, minimum: int = 0) -> int | None:
        if not self.has(name):
            return None
        value = self.raw[name]
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InputError(name, f"应为不小于 {minimum} 的整数", f"expected an integer ≥ {minimum}")
        return value


def iso(value: dt.date | dt.datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


def money(value: int | None) -> str | None:
    return None if value is None else format_fen(value)


def add_step(steps_json: str, step: str, by: Principal, on: dt.date, **details: Any) -> str:
    """The ``steps`` list with one more entry (who, when, what)."""
    steps: list[dict[str, Any]] = json.loads(steps_json) if steps_json else []
    entry: dict[str, Any] = {"step": step, "on": on.isoformat(), "by": by.actor,
                             "at": now().isoformat(timespec="seconds")}
    entry.update({k: v for k, v in details.items() if v is not None})
    steps.append(entry)
    return canonical_json(steps)


def audit(uow: UnitOfWork, by: Principal, action: str, entity_type: str, entity_id: str,
          payload: Mapping[str, Any]) -> None:
    uow.audit.append(by.actor, action, entity_type, entity_id, canonical_json(dict(payload)))


def person_or_404(uow: UnitOfWork, psn_no: object, *, lock: bool = False) -> Person:
    """The person of ``psn_no`` (a number no person can have is 422), or 404."""
    number = parse_psn_no(psn_no)
    person = uow.persons.get(number, lock=lock)
    if person is None:
        raise NotFound(f"未知参保人 {number}", f"unknown person {number}", psn_no=number)
    return person
