"""Transfer of the insurance relationship (转移接续), POLICY.md §5, 001 measures 1–3, 003.

Cross-province (跨省): applied for online, or at the agency of the old (转出地) or the new
(转入地) place, with the e-voucher or a valid ID only. It must be done by the 15th official
working day after the application day (that day not counted) — the deadline of the
``transfer_deadline`` calculation (:func:`minsheng.rules.remote_care.transfer_deadline_for`),
read with the parameters of the Jilin side of the transfer. Steps: ``applied`` → (optional)
``forwarded`` (the old place has sent the information) → ``completed`` or ``rejected``.
Completing an inbound transfer moves the person's insured place to the new region; the
person's remote-care filings end (the insurance status changed). Between Jilin and Hainan,
employee transfers from 2020-11-01 are transmitted digitally and the personal account moved
at once (003); such a transfer is marked ``digital_exchange``.

In-province (省内): no application. When the person registers (续保) in the new place, the
transfer is done the same day (deadline = that day, ``transfer_deadline`` with scope
``in_province``): the person's region changes, contribution years and personal account move
at once, the transfer is recorded as completed, and everything is audited.

Progress (办理进度) can be queried at any time, with the working days left; the overdue list
holds every open transfer whose deadline has passed.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from minsheng.core.dates import working_days_between
from minsheng.core.errors import Conflict, InputError, NotFound
from minsheng.core.regions import get_region, is_within, province_of
from minsheng.rules.remote_care import transfer_deadline_for
from minsheng.service.audit import now
from minsheng.service.auth import CASEWORK, CASEWORK_APPLY, CASEWORK_READ, Forbidden, Principal
from minsheng.service.casework.common import (
    Body,
    Place,
    add_step,
    audit,
    context,
    iso,
    money,
    new_id,
    person_or_404,
    place,
    today,
)
from minsheng.service.casework.filings import end_on_status_change
from minsheng.service.casework.models import InsuranceTransfer
from minsheng.service.models import Person
from minsheng.service.unit_of_work import UnitOfWork

SCOPES = {"cross_province": "跨省转移接续", "in_province": "省内转移接续"}
CHANNELS = {"online": "线上申请", "old_agency": "转出地经办机构窗口",
            "new_agency": "转入地经办机构窗口", "registration": "参保登记（续保）时同步办理"}
STATUS = {"applied": "已申请", "forwarded": "转出地已传送信息", "completed": "已办结",
          "rejected": "不予办理"}
STEP_NAMES = {"applied": "申请", "forwarded": "转出地传送参保信息", "completed": "办结",
              "rejected": "不予办理", "registered": "在转入地参保登记，同步办结"}


def _covers(principal: Principal, place_: Place) -> bool:
    return principal.role == "admin" or (
        principal.role == "agency" and principal.region is not None and place_.known
        and is_within(place_.code, principal.region))


def _deny(principal: Principal, zh: str, en: str, action: str) -> Forbidden:
    return Forbidden(zh, en, role=principal.role, action=action)


def progress(t: InsuranceTransfer, day: dt.date | None = None) -> dict[str, Any]:
    """Where the transfer stands on ``day``: working days used and left, overdue or not."""
    day = day or today()
    open_ = t.status in ("applied", "forwarded")
    end = day if open_ else (t.completed_on or day)
    used = working_days_between(t.application_date, end) if end >= t.application_date else 0
    d: dict[str, Any] = {"as_of": day.isoformat(), "working_days_used": used}
    if open_:
        left = (working_days_between(day, t.deadline) if t.deadline >= day
                else -working_days_between(t.deadline, day))
        d.update(working_days_left=left, overdue=day > t.deadline)
    else:
        d.update(on_time=(t.completed_on is not None and t.completed_on <= t.deadline)
                 if t.status == "completed" else None)
    return d


def transfer_json(t: InsuranceTransfer, day: dt.date | None = None) -> dict[str, Any]:
    steps = json.loads(t.steps)
    for s in steps:
        s["name"] = STEP_NAMES.get(s["step"], s["step"])
    return {
        "id": t.id, "psn_no": t.psn_no, "scope": t.scope, "scope_name": SCOPES[t.scope],
        "channel": t.channel, "channel_name": CHANNELS[t.channel], "insutype": t.insutype,
        "from_region": t.from_region, "from_region_name": place(t.from_region, "from_region").name,
        "to_region": t.to_region, "to_region_name": place(t.to_region, "to_region").name,
        "application_date": iso(t.application_date), "deadline": iso(t.deadline),
        "working_days": t.working_days, "digital_exchange": t.digital_exchange,
        "status": t.status, "status_name": STATUS[t.status], "completed_on": iso(t.completed_on),
        "contribution_months": t.contribution_months, "account_balance": money(t.account_balance),
        "reason": t.reason, "steps": steps, "progress": progress(t, day),
    }


def apply_cross_province(uow: UnitOfWork, principal: Principal, raw: Any) -> dict[str, Any]:
    """Apply for a cross-province transfer (online, or at the old or the new agency)."""
    body = Body(raw, ("psn_no", "from_region", "to_region", "channel", "application_date",
                      "contribution_months", "account_balance"))
    principal.require(CASEWORK_APPLY)
    with uow:
        person = person_or_404(uow, body.required("psn_no"))
        if principal.role == "citizen":
            principal.require_person(CASEWORK_APPLY, person.region, person.psn_no)
        src = place(body.text("from_region") or person.region, "from_region")
        dst = place(body.required("to_region"), "to_region")
        if src.province == dst.province:
            raise InputError("to_region", f"{src.name} 与 {dst.name} 同省，省内转移接续无需申请，"
                             "在转入地参保登记时同步办结（POST /api/v1/casework/transfers/in-province）",
                             "an in-province transfer needs no application")
        if person.region not in (src.code, dst.code) and not (
                src.known and is_within(person.region, src.code)):
            raise InputError("from_region", f"参保人现参保地为 {get_region(person.region).name}，"
                             "应为转出地或转入地之一", "the person's region is neither end")
        channel = body.choice("channel", CHANNELS,
                              default="online" if principal.role == "citizen" else "new_agency")
        if channel == "registration":
            raise InputError("channel", "跨省转移接续应线上或在经办机构窗口申请", "not a channel here")
        if principal.role == "citizen" and channel != "online":
            raise InputError("channel", "参保人本人在线上申请", "a citizen applies online")
        if principal.role != "citizen":
            agency_end = src if channel == "old_agency" else dst
            if channel == "online":
                covered = _covers(principal, src) or _covers(principal, dst)
            else:
                covered = _covers(principal, agency_end)
            if not covered:
                raise _deny(principal, f"{CHANNELS[channel]}申请应由{agency_end.name}的经办机构受理",
                            "the agency is not at that end of the transfer", CASEWORK_APPLY)
        day = body.date("application_date", default=today())
        assert day is not None
        jilin_side = dst if dst.known else src
        ctx = context(day, jilin_side.code)
        deadline, days = transfer_deadline_for(ctx, "cross_province", day)
        ctx.param("casework.transfer.channels")
        partners = ctx.param("casework.transfer.digital_exchange_provinces")
        other = src if jilin_side is dst else dst
        digital = person.insutype == "310" and other.province in partners
        stamp = now()
        t = InsuranceTransfer(
            id=new_id("T"), psn_no=person.psn_no, scope="cross_province", channel=channel,
            insutype=person.insutype, from_region=src.code, to_region=dst.code,
            handling_region=jilin_side.code, application_date=day, deadline=deadline,
            working_days=days, digital_exchange=digital, status="applied",
            contribution_months=body.integer("contribution_months"),
            account_balance=body.money("account_balance"),
            steps=add_step("", "applied", principal, day, channel=channel,
                           deadline=deadline.isoformat()),
            created_by=principal.actor, created_at=stamp, updated_at=stamp)
        uow.casework.add(t)
        uow.flush()
        audit(uow, principal, "transfer.applied", "insurance_transfer", t.id,
              {"psn_no": person.psn_no, "scope": t.scope, "channel": channel,
               "from_region": t.from_region, "to_region": t.to_region,
               "application_date": day.isoformat(), "deadline": deadline.isoformat(),
               "digital_exchange": digital})
        reply = transfer_json(t, day)
        reply["trace"] = ctx.trace.to_json()
        uow.commit()
    return reply


def register_in_province(uow: UnitOfWork, principal: Principal, raw: Any) -> dict[str, Any]:
    """The person registers (续保) in a new place of the same province: the transfer is done now."""
    body = Body(raw, ("psn_no", "to_region", "registered_on", "contribution_months",
                      "account_balance"))
    principal.require(CASEWORK)
    with uow:
        person = person_or_404(uow, body.required("psn_no"), lock=True)
        dst = get_region(body.required("to_region"), "to_region")
        if not _covers(principal, place(dst.code, "to_region")):
            raise _deny(principal, f"参保登记由转入地 {dst.name} 的经办机构办理",
                        "the new place's agency registers the person", CASEWORK)
        if province_of(dst.code) != province_of(person.region):
            raise InputError("to_region", f"{dst.name} 与参保地 {get_region(person.region).name} 不同省，"
                             "应申请跨省转移接续", "a cross-province transfer needs an application")
        if dst.code == person.region:
            raise InputError("to_region", "转入地与现参保地相同", "the person is already insured there")
        day = body.date("registered_on", default=today())
        assert day is not None
        ctx = context(day, dst.code)
        deadline, days = transfer_deadline_for(ctx, "in_province", day)
        stamp = now()
        old_region = person.region
        t = InsuranceTransfer(
            id=new_id("T"), psn_no=person.psn_no, scope="in_province", channel="registration",
            insutype=person.insutype, from_region=old_region, to_region=dst.code,
            handling_region=dst.code, application_date=day, deadline=deadline,
            working_days=days, digital_exchange=False, status="completed", completed_on=day,
            contribution_months=body.integer("contribution_months"),
            account_balance=body.money("account_balance"),
            steps=add_step("", "registered", principal, day), created_by=principal.actor,
            created_at=stamp, updated_at=stamp)
        uow.casework.add(t)
        ended = _move(uow, principal, person, dst.code, t)
        uow.flush()
        audit(uow, principal, "transfer.completed", "insurance_transfer", t.id,
              {"psn_no": person.psn_no, "scope": "in_province", "from_region": old_region,
               "to_region": dst.code, "completed_on": day.isoformat(), "filings_ended": ended})
        reply = transfer_json(t, day)
        reply["trace"] = ctx.trace.to_json()
        uow.commit()
    return reply


def _move(uow: UnitOfWork, principal: Principal, person: Person, region: str,
          t: InsuranceTransfer) -> list[str]:
    """Move the person's insured place to ``region`` (audited as a person change)."""
    if person.region == region:
        return []
    old = person.region
    ended = end_on_status_change(uow, principal, person, now(),
                                 f"转移接续 {t.id}：参保地由 {old} 变更为 {region}")
    person.region = region
    person.updated_at = now()
    audit(uow, principal, "person.changed", "person", person.psn_no,
          {"changes": {"region": [old, region]}, "transfer": t.id})
    return ended


def _transfer(uow: UnitOfWork, principal: Principal, transfer_id: str, action: str,
              *, lock: bool = False) -> InsuranceTransfer:
    principal.require(action)
    t = uow.casework.transfer(transfer_id, lock=lock)
    if t is None:
        raise NotFound(f"未知转移接续 {transfer_id}", f"unknown transfer {transfer_id}")
    if principal.role == "citizen":
        principal.require_person(action, "", t.psn_no)
    elif principal.role != "admin":
        ends = [place(t.from_region, "from_region"), place(t.to_region, "to_region")]
        if principal.role == "hospital" or not any(_covers(principal, p) for p in ends):
            raise _deny(principal, f"转移接续 {t.id} 的转出地、转入地都不在本令牌的地区范围内",
                        "neither end of the transfer is in the token's region", action)
    return t


def get_transfer(uow: UnitOfWork, principal: Principal, transfer_id: str,
                 day: Any = None) -> dict[str, Any]:
    """The progress of a transfer (citizens: their own; agencies: either end)."""
    with uow:
        t = _transfer(uow, principal, transfer_id, CASEWORK_READ)
        return transfer_json(t, Body({"date": day}, ("date",)).date("date", past=False))


def advance(uow: UnitOfWork, principal: Principal, transfer_id: str, step: str,
            raw: Any) -> dict[str, Any]:
    """``forwarded`` (by the old place), ``completed`` (by the new place; the old place for an
    outbound one) or ``rejected`` (with a reason)."""
    if step not in ("forwarded", "completed", "rejected"):
        raise InputError("step", f"未知步骤 {step!r}（forwarded、completed、rejected）", "unknown step")
    body = Body(raw, ("on", "reason", "contribution_months", "account_balance"))
    with uow:
        t = _transfer(uow, principal, transfer_id, CASEWORK, lock=True)
        if t.status not in ("applied", "forwarded") or (step == "forwarded"
                                                         and t.status == "forwarded"):
            raise Conflict(f"转移接续 {t.id} 当前状态为“{STATUS[t.status]}”，不能{STEP_NAMES[step]}",
                           f"transfer {t.id} is {t.status}", transfer=t.id)
        src, dst = place(t.from_region, "from_region"), place(t.to_region, "to_region")
        actor_end = src if step == "forwarded" or not dst.known else dst
        if not _covers(principal, actor_end):
            raise _deny(principal, f"此步骤由{actor_end.name}的经办机构办理",
                        "this step belongs to the other end", CASEWORK)
        day = body.date("on", default=today())
        assert day is not None
        if day < t.application_date:
            raise InputError("on", "办理日期早于申请日期", "before the application")
        reason = body.text("reason", required=step == "rejected", max_len=500)
        t.steps = add_step(t.steps, step, principal, day, reason=reason)
        t.status = step
        t.updated_at = now()
        for name in ("contribution_months", "account_balance"):
            if body.has(name):
                setattr(t, name, body.integer(name) if name == "contribution_months"
                        else body.money(name))
        ended: list[str] = []
        if step == "completed":
            t.completed_on = day
            if dst.known:
                person = person_or_404(uow, t.psn_no, lock=True)
                ended = _move(uow, principal, person, dst.code, t)
        if step == "rejected":
            t.reason = reason
        uow.flush()
        audit(uow, principal, f"transfer.{step}", "insurance_transfer", t.id,
              {"psn_no": t.psn_no, "on": day.isoformat(), "reason": reason,
               "filings_ended": ended or None})
        reply = transfer_json(t, day)
        uow.commit()
    return reply


def overdue(uow: UnitOfWork, principal: Principal, day: Any = None, region: Any = None
            ) -> dict[str, Any]:
    """Open transfers past their deadline on ``day`` (default today), within the token's region."""
    principal.require(CASEWORK)
    body = Body({"date": day, "region": region}, ("date", "region"))
    on = body.date("date", default=today(), past=False)
    assert on is not None
    scope = get_region(region, "region").code if body.has("region") else principal.region
    if principal.role == "agency" and scope is not None and principal.region is not None \
            and not is_within(scope, principal.region):
        raise _deny(principal, f"地区 {scope} 不在本令牌的地区 {principal.region} 范围内",
                    "region outside the token's region", CASEWORK)
    with uow:
        rows = []
        for t in uow.casework.overdue_transfers(on):
            ends = [place(t.from_region, "f"), place(t.to_region, "t")]
            if scope is None or any(p.known and is_within(p.code, scope) for p in ends):
                rows.append(transfer_json(t, on))
    return {"date": on.isoformat(), "region": scope, "count": len(rows), "transfers": rows}


def list_transfers(uow: UnitOfWork, principal: Principal, psn_no: str) -> dict[str, Any]:
    principal.require(CASEWORK_READ)
    with uow:
        person = person_or_404(uow, psn_no)
        principal.require_person(CASEWORK_READ, person.region, person.psn_no)
        return {"psn_no": person.psn_no,
                "transfers": [transfer_json(t) for t in uow.casework.transfers(person.psn_no)]}
