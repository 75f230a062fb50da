"""Insured persons (参保人): registration, change, lookup, and the categories held on a date.

A person has ``psn_no``, ``insutype`` (``390`` resident, ``310`` employee), ``region`` (a
known 6-digit code), optionally ``psn_name`` and ``certno`` (an 18-digit resident id whose
GB 11643 check character is verified), and assistance ``categories``: each a key or
Chinese name (held without date limits) or ``{"category", "valid_from", "valid_to"}``
(both dates optional and inclusive). A settlement uses the categories held on its claim date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minsheng.core.categories import CATEGORIES
from minsheng.core.errors import Conflict, InputError, NotFound
from minsheng.core.regions import get_region
from minsheng.core.resident_id import mask_certno, validate_certno
from minsheng.service.audit import canonical_json, now
from minsheng.service.auth import PERSON_READ, PERSON_WRITE, Principal
from minsheng.service.models import Person, PersonCategory
from minsheng.service.unit_of_work import UnitOfWork, commit_or_conflict
from minsheng.settle import parse as settle_parse
from minsheng.settle.parse import Holding

INSUTYPES = {"390": "城乡居民基本医疗保险", "310": "职工基本医疗保险"}
PERSON_FIELDS = ("psn_no", "insutype", "region", "categories", "psn_name", "certno")
_PSN_NO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""A control character (C0 or DEL): no name or key the service stores may hold one."""


def holding_json(h: Holding) -> dict[str, Any]:
    return {"category": h.category, "name": CATEGORIES[h.category],
            "valid_from": h.valid_from.isoformat() if h.valid_from else None,
            "valid_to": h.valid_to.isoformat() if h.valid_to else None}


@dataclass(frozen=True)
class PersonInput:
    psn_no: str
    insutype: str
    region: str
    categories: tuple[Holding, ...]
    psn_name: str | None = None
    certno: str | None = None


def parse_psn_no(raw: object, field: str = "psn_no") -> str:
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise InputError(field, "个人编号应为文本", "psn_no must be text")
    text = str(raw).strip()
    if not _PSN_NO.match(text):
        raise InputError(field, f"个人编号 {text!r} 应为1至32位字母、数字、下划线、点或连字符",
                         "psn_no: 1-32 letters, digits, '_', '.' or '-'")
    return text


def parse_insutype(raw: object, field: str = "insutype") -> str:
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    if text not in INSUTYPES:
        raise InputError(field, f"险种类型应为 390（城乡居民）或 310（职工），收到 {raw!r}",
                         "insutype must be 390 (resident) or 310 (employee)")
    return text


def parse_holdings(raw: object, field: str = "categories") -> tuple[Holding, ...]:
    """Keys or Chinese names, or ``{"category", "valid_from", "valid_to"}`` (a list)."""
    if not isinstance(raw, list):
        raise InputError(field, "应为救助对象类别列表", "expected a list of categories")
    return settle_parse.parse_holdings(raw, field)


def parse_person(raw: Mapping[str, Any], *, psn_no: str | None = None) -> PersonInput:
    """A person from JSON; every bad value is an error naming its field."""
    if not isinstance(raw, Mapping):
        raise InputError("body", "请求体应为 JSON 对象", "the body must be a JSON object")
    for key in raw:
        if key not in PERSON_FIELDS:
            raise InputError(key, f"未知字段（可用：{'、'.join(PERSON_FIELDS)}）", "unknown field")
    if psn_no is not None:
        if "psn_no" in raw and parse_psn_no(raw["psn_no"]) != psn_no:
            raise InputError("psn_no", "请求体中的个人编号与地址中的不一致",
                             "psn_no in the body differs from the path")
        number = psn_no
    else:
        if raw.get("psn_no") is None:
            raise InputError("psn_no", "缺少必填字段", "required")
        number = parse_psn_no(raw["psn_no"])
    for key in ("insutype", "region", "categories"):
        if raw.get(key) is None:
            raise InputError(key, "缺少必填字段", "required")
    name = raw.get("psn_name")
    if name is not None:
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 64:
            raise InputError("psn_name", "姓名应为1至64个字符的文本", "psn_name: 1-64 characters")
        if CONTROL.search(name):
            raise InputError("psn_name", "姓名不能包含控制字符", "no control characters")
        name = name.strip()
    certno = raw.get("certno")
    if certno is not None:
        certno = validate_certno(certno, "certno")
    return PersonInput(number, parse_insutype(raw["insutype"]),
                       get_region(raw["region"], "region").code,
                       parse_holdings(raw["categories"]), name, certno)


def holdings(person: Person) -> tuple[Holding, ...]:
    return tuple(Holding(c.category, c.valid_from, c.valid_to) for c in person.categories)


def categories_on(person: Person, day: dt.date) -> tuple[str, ...]:
    """The category keys the person holds on ``day``, in the order registered."""
    held: list[str] = []
    for h in holdings(person):
        if h.held_on(day) and h.category not in held:
            held.append(h.category)
    return tuple(held)


def person_json(person: Person, viewer: Principal) -> dict[str, Any]:
    region = get_region(person.region)
    return {
        "psn_no": person.psn_no, "insutype": person.insutype,
        "insutype_name": INSUTYPES[person.insutype],
        "region": person.region, "region_name": region.name,
        "psn_name": person.psn_name,
        "certno": person.certno if viewer.sees_certno else mask_certno(person.certno),
        "categories": [holding_json(h) for h in holdings(person)],
        "created_at": person.created_at.isoformat(timespec="seconds"),
        "updated_at": person.updated_at.isoformat(timespec="seconds"),
    }


def _audit_view(data: PersonInput) -> dict[str, Any]:
    return {"psn_no": data.psn_no, "insutype": data.insutype, "region": data.region,
            "psn_name": data.psn_name, "certno": mask_certno(data.certno),
            "categories": [holding_json(h) for h in data.categories]}


def _apply(person: Person, data: PersonInput) -> None:
    person.insutype = data.insutype
    person.region = data.region
    person.psn_name = data.psn_name
    person.certno = data.certno
    person.categories = [PersonCategory(category=h.category, valid_from=h.valid_from,
                                        valid_to=h.valid_to) for h in data.categories]


def create_person(uow: UnitOfWork, principal: Principal, raw: Mapping[str, Any]
                  ) -> dict[str, Any]:
    principal.require(PERSON_WRITE)
    data = parse_person(raw)
    principal.require_person(PERSON_WRITE, data.region, data.psn_no)
    with uow:
        if uow.persons.get(data.psn_no) is not None:
            raise Conflict(f"参保人 {data.psn_no} 已存在（变更请用 PUT /api/v1/persons/{data.psn_no}）",
                           f"person {data.psn_no} exists", psn_no=data.psn_no)
        stamp = now()
        person = Person(psn_no=data.psn_no, created_at=stamp, updated_at=stamp)
        _apply(person, data)
        uow.persons.add(person)
        uow.flush()
        uow.audit.append(principal.actor, "person.created", "person", data.psn_no,
                         canonical_json(_audit_view(data)))
        reply = person_json(person, principal)
        commit_or_conflict(uow, f"参保人 {data.psn_no} 已存在", f"person {data.psn_no} exists")
    return reply


def replace_person(uow: UnitOfWork, principal: Principal, psn_no: str,
                   raw: Mapping[str, Any]) -> dict[str, Any]:
    """Change a person (the whole record is given). The insurance type cannot change within
    a year that already has settlements of the other type (checked when settling)."""
    principal.require(PERSON_WRITE)
    data = parse_person(raw, psn_no=parse_psn_no(psn_no))
    with uow:
        person = uow.persons.get(data.psn_no, lock=True)
        if person is None:
            raise NotFound(f"未知参保人 {data.psn_no}", f"unknown person {data.psn_no}",
                           psn_no=data.psn_no)
        principal.require_person(PERSON_WRITE, person.region, person.psn_no)
        principal.require_person(PERSON_WRITE, data.region, data.psn_no)
        before = _audit_view(PersonInput(person.psn_no, person.insutype, person.region,
                                         holdings(person), person.psn_name, person.certno))
        after = _audit_view(data)
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if changes:
            _apply(person, data)
            person.updated_at = now()
            uow.flush()
            uow.audit.append(principal.actor, "person.changed", "person", data.psn_no,
                             canonical_json({"changes": changes}))
        reply = person_json(person, principal)
        uow.commit()
    return reply


def get_person(uow: UnitOfWork, principal: Principal, psn_no: str) -> dict[str, Any]:
    principal.require(PERSON_READ)
    if principal.role == "citizen":
        principal.require_person(PERSON_READ, "", psn_no)
    if not _PSN_NO.match(psn_no):  # no person has such a number (and a database may not hold it)
        raise NotFound(f"未知参保人 {psn_no!r}", f"unknown person {psn_no!r}", psn_no=psn_no)
    with uow:
        person = uow.persons.get(psn_no)
        if person is None:
            raise NotFound(f"未知参保人 {psn_no}", f"unknown person {psn_no}", psn_no=psn_no)
        principal.require_person(PERSON_READ, person.region, person.psn_no)
        return person_json(person, principal)
