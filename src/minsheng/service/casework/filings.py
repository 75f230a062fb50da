"""Remote-care filing (异地就医备案): file, change, end, read; and which filing covers a visit.

A filing names the person, the kind of insured person (POLICY.md §5, 003: 异地安置退休,
长期驻外工作, 异地长期居住, 转外就医) and the destination — a province, or a place in it; the
filing covers every designated institution of the destination's province
(``medical.remote_care.filing_scope``, 001 measure 8). It stays valid until it is changed
or ended, or until the person's insurance status changes (``medical.remote_care.
filing_validity``, 001 measure 4): the person's insurance type or insured place differs from
the one on record when the filing was made. A referred patient's filing may carry an end date.

Late filing (补办备案): a filing made after a stay outside was already discharged
(``late_for_discharge``) is recorded; it covers later visits, and the discharged stay is
reimbursed manually at the insured place (001 measure 6).

:func:`filing_status` tells the settlement hook, for a visit discharged at a given time,
whether it was filed before discharge, only after, or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from minsheng.core.errors import Conflict, InputError, NotFound
from minsheng.core.regions import get_region
from minsheng.service.audit import now
from minsheng.service.auth import CASEWORK, CASEWORK_APPLY, CASEWORK_READ, Principal
from minsheng.service.casework.common import (
    Body,
    audit,
    context,
    insured_city,
    iso,
    new_id,
    place,
)
from minsheng.service.casework.models import RemoteCareFiling
from minsheng.service.models import Person
from minsheng.service.persons import parse_psn_no
from minsheng.service.unit_of_work import UnitOfWork

KINDS = {
    "long_term_resident": "异地长期居住人员",
    "relocated_retiree": "异地安置退休人员",
    "posted_worker": "长期驻外工作人员",
    "referred_patient": "转外就医人员",
}
CHANNELS = {"online": "线上（网上经办大厅、微信公众号）", "counter": "经办机构窗口"}
STATUS = {"active": "有效", "changed": "已变更", "ended": "已终止", "cancelled": "已撤销"}
FIELDS = ("psn_no", "kind", "destination", "channel", "filed_at", "valid_to",
          "late_for_discharge")


def _person(uow: UnitOfWork, principal: Principal, action: str, psn_no: object) -> Person:
    number = parse_psn_no(psn_no)
    principal.require(action)
    if principal.role == "citizen":
        principal.require_person(action, "", number)
    person = uow.persons.get(number)
    if person is None:
        raise NotFound(f"未知参保人 {number}", f"unknown person {number}", psn_no=number)
    principal.require_person(action, person.region, person.psn_no)
    return person


def status_changed(filing: RemoteCareFiling, person: Person) -> bool:
    """Whether the person's insurance status (type or insured place) changed since filing."""
    return (filing.insutype_at_filing != person.insutype
            or filing.region_at_filing != person.region)


def in_force(filing: RemoteCareFiling, person: Person, at: dt.datetime) -> bool:
    """Whether ``filing`` was filed by ``at`` and had not ended then."""
    if filing.status == "cancelled" or filing.filed_at > at:
        return False
    if filing.ended_at is not None and filing.ended_at <= at:
        return False
    if filing.valid_to is not None and filing.valid_to < at.date():
        return False
    return not (filing.status == "active" and status_changed(filing, person))


@dataclass(frozen=True)
class FilingStatus:
    """For ``decide_route``: ``before_discharge``, ``after_discharge`` or ``none``."""

    filing: str
    filing_id: str | None = None


def filing_status(filings: Sequence[RemoteCareFiling], person: Person,
                  discharge: dt.datetime) -> FilingStatus:
    """The filing of these (for the destination's province) that covers a visit discharged at
    ``discharge``: one in force then → ``before_discharge``; else one made afterwards (and
    still valid for the person) → ``after_discharge``; else ``none``."""
    for f in filings:
        if in_force(f, person, discharge):
            return FilingStatus("before_discharge", f.id)
    for f in filings:
        if f.filed_at > discharge and f.status != "cancelled":
            return FilingStatus("after_discharge", f.id)
    return FilingStatus("none")


def filing_json(f: RemoteCareFiling, person: Person | None = None) -> dict[str, Any]:
    dest = place(f.destination, "destination")
    status = f.status
    if person is not None and status == "active" and status_changed(f, person):
        status = "ended"
    d: dict[str, Any] = {
        "id": f.id, "psn_no": f.psn_no, "kind": f.kind, "kind_name": KINDS[f.kind],
        "destination": f.destination, "destination_name": dest.name,
        "destination_province": f.destination_province, "channel": f.channel,
        "filed_at": iso(f.filed_at), "valid_from": iso(f.filed_at.date()),
        "valid_to": iso(f.valid_to), "late_for_discharge": iso(f.late_for_discharge),
        "status": status, "status_name": STATUS[status],
        "ended_at": iso(f.ended_at), "end_reason": f.end_reason, "replaced_by": f.replaced_by,
        "created_by": f.created_by,
    }
    if status != f.status:
        d["end_reason"] = "参保状态已变更（险种或参保地与备案时不同），备案不再有效"
    if f.late_for_discharge is not None:
        d["late_note"] = ("出院后补办备案：该次住院不能直接结算，按参保地规定申请医保手工报销；"
                          "补办后的就医可直接结算")
    return d


def _parse(body: Body, person: Person, principal: Principal) -> dict[str, Any]:
    kind = body.choice("kind", KINDS)
    dest = place(body.required("destination"), "destination")
    if dest.known and insured_city(person.region) == dest.city:
        raise InputError("destination", f"就医地 {dest.name} 在参保地 {get_region(person.region).name}"
                         "同一统筹地区内，不属于异地就医，无需备案",
                         "the destination lies in the insured city")
    default_channel = "online" if principal.role == "citizen" else "counter"
    channel = body.choice("channel", CHANNELS, default=default_channel)
    if principal.role == "citizen" and channel != "online":
        raise InputError("channel", "参保人本人只能在线上申请备案", "a citizen files online")
    filed_at = body.datetime("filed_at", default=now())
    assert filed_at is not None
    valid_to = body.date("valid_to", past=False)
    if valid_to is not None and valid_to < filed_at.date():
        raise InputError("valid_to", "有效期截止日早于备案日", "valid_to before the filing")
    late = body.datetime("late_for_discharge")
    if late is not None and late >= filed_at:
        raise InputError("late_for_discharge", "补办备案针对的出院时间应早于备案时间",
                         "the discharge must precede the late filing")
    ctx = context(filed_at.date(), person.region)
    kinds = ctx.param("casework.remote_care.filing_kinds")
    if kind not in kinds:  # pragma: no cover - every kind is listed since 2020-11-05
        raise InputError("kind", f"{KINDS[kind]}不在可备案类别之内", "kind not fileable")
    ctx.param("medical.remote_care.filing_validity")  # the rule must be in force
    return {"kind": kind, "dest": dest, "channel": channel, "filed_at": filed_at,
            "valid_to": valid_to, "late": late}


def create_filing(uow: UnitOfWork, principal: Principal, raw: Any) -> dict[str, Any]:
    """File (or late-file) a remote-care filing: citizen online, or the insured place's agency."""
    body = Body(raw, FIELDS)
    with uow:
        person = _person(uow, principal, CASEWORK_APPLY, body.required("psn_no"))
        data = _parse(body, person, principal)
        active = [f for f in uow.casework.filings(person.psn_no)
                  if f.status == "active" and not status_changed(f, person)
                  and (f.valid_to is None or f.valid_to >= data["filed_at"].date())]
        if active:
            raise Conflict(f"参保人 {person.psn_no} 已有有效的异地就医备案 {active[0].id}"
                           f"（{place(active[0].destination, 'destination').name}）；"
                           f"变更请用 POST /api/v1/casework/filings/{active[0].id}/change",
                           "the person already has an active filing", filing=active[0].id)
        filing = _new(uow, principal, person, data)
        uow.flush()
        audit(uow, principal, "filing.created", "remote_care_filing", filing.id,
              {"psn_no": person.psn_no, "kind": filing.kind, "destination": filing.destination,
               "filed_at": iso(filing.filed_at), "late_for_discharge": iso(filing.late_for_discharge)})
        reply = filing_json(filing, person)
        uow.commit()
    return reply


def _new(uow: UnitOfWork, principal: Principal, person: Person, data: dict[str, Any]
         ) -> RemoteCareFiling:
    filing = RemoteCareFiling(
        id=new_id("F"), psn_no=person.psn_no, kind=data["kind"], destination=data["dest"].code,
        destination_province=data["dest"].province, channel=data["channel"],
        filed_at=data["filed_at"], valid_to=data["valid_to"], late_for_discharge=data["late"],
        insutype_at_filing=person.insutype, region_at_filing=person.region, status="active",
        created_by=principal.actor, created_at=now())
    uow.casework.add(filing)
    return filing


def _own_filing(uow: UnitOfWork, principal: Principal, action: str, filing_id: str
                ) -> tuple[RemoteCareFiling, Person]:
    filing = uow.casework.filing(filing_id)
    if filing is None:
        raise NotFound(f"未知异地就医备案 {filing_id}", f"unknown filing {filing_id}")
    person = _person(uow, principal, action, filing.psn_no)
    return filing, person


def change_filing(uow: UnitOfWork, principal: Principal, filing_id: str, raw: Any
                  ) -> dict[str, Any]:
    """变更备案: the old filing ends when the new one is made (same person; new kind/destination)."""
    body = Body(raw, tuple(f for f in FIELDS if f != "psn_no"))
    with uow:
        old, person = _own_filing(uow, principal, CASEWORK_APPLY, filing_id)
        if old.status != "active" or status_changed(old, person):
            raise Conflict(f"备案 {filing_id} 已不再有效，不能变更（请重新备案）",
                           "the filing is no longer active", filing=filing_id)
        data = _parse(body, person, principal)
        if data["filed_at"] < old.filed_at:
            raise InputError("filed_at", "变更时间早于原备案时间", "change before the filing")
        new = _new(uow, principal, person, data)
        old.status = "changed"
        old.ended_at = data["filed_at"]
        old.end_reason = "申请变更备案"
        old.replaced_by = new.id
        uow.flush()
        audit(uow, principal, "filing.changed", "remote_care_filing", old.id,
              {"psn_no": person.psn_no, "replaced_by": new.id, "kind": new.kind,
               "destination": new.destination, "filed_at": iso(new.filed_at)})
        reply = {"old": filing_json(old, person), "new": filing_json(new, person)}
        uow.commit()
    return reply


def end_filing(uow: UnitOfWork, principal: Principal, filing_id: str, raw: Any
               ) -> dict[str, Any]:
    """End (终止) a filing from now on, or cancel (撤销, ``cancel: true``) one made in error."""
    body = Body(raw, ("reason", "cancel"))
    reason = body.text("reason", max_len=500)
    cancel = body.flag("cancel")
    with uow:
        filing, person = _own_filing(uow, principal, CASEWORK_APPLY, filing_id)
        if cancel:
            principal.require_person(CASEWORK, person.region, person.psn_no)
        if filing.status != "active":
            raise Conflict(f"备案 {filing_id} 已{STATUS[filing.status]}", "the filing is not active",
                           filing=filing_id)
        filing.status = "cancelled" if cancel else "ended"
        filing.ended_at = now()
        filing.end_reason = reason
        uow.flush()
        audit(uow, principal, "filing.cancelled" if cancel else "filing.ended",
              "remote_care_filing", filing.id, {"psn_no": person.psn_no, "reason": reason})
        reply = filing_json(filing, person)
        uow.commit()
    return reply


def end_on_status_change(uow: UnitOfWork, principal: Principal, person: Person,
                         at: dt.datetime, why: str) -> list[str]:
    """End the person's active filings because the insurance status changes (e.g. a transfer)."""
    ended = []
    for f in uow.casework.filings(person.psn_no):
        if f.status == "active" and (f.ended_at is None or f.ended_at > at):
            f.status = "ended"
            f.ended_at = at
            f.end_reason = why
            ended.append(f.id)
    if ended:
        audit(uow, principal, "filing.ended", "person", person.psn_no,
              {"filings": ended, "reason": why})
    return ended


def get_filing(uow: UnitOfWork, principal: Principal, filing_id: str) -> dict[str, Any]:
    with uow:
        filing, person = _own_filing(uow, principal, CASEWORK_READ, filing_id)
        return filing_json(filing, person)


def list_filings(uow: UnitOfWork, principal: Principal, psn_no: str) -> dict[str, Any]:
    with uow:
        person = _person(uow, principal, CASEWORK_READ, psn_no)
        return {"psn_no": person.psn_no,
                "filings": [filing_json(f, person) for f in uow.casework.filings(person.psn_no)]}
