"""Settlements (一站式结算) as a service: settle one claim, replay, reverse, read, print.

:func:`settle` runs the settlement kernel on one claim with the person's stored
accumulators for the claim's year, and writes the settlement (with its reply, its trace
and its contribution to every accumulator column), the new accumulators and an audit
entry in ONE transaction, with the person's row locked (PostgreSQL ``SELECT … FOR
UPDATE``; SQLite ``BEGIN IMMEDIATE``), so that concurrent claims of one person are
settled one after the other and never overrun a cap.

Idempotency: a claim is identified by ``setl_id``. The same ``setl_id`` with the same
claim (compared after parsing, so ``"580"`` and ``"580.00"`` are the same) returns the
first reply byte for byte and settles nothing; with a different claim it is 409.

Reversal (结算撤销) subtracts the settlement's recorded contribution from every
accumulator column, so the totals are exactly as if it had never been settled; the
settlement stays on record with status ``reversed``, who, why and when. Reversing twice
is 409. Claims settled after it keep their results (SETTLEMENT.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from minsheng.core.errors import Conflict, InputError, NotFound
from minsheng.core.money import format_fen
from minsheng.core.regions import get_region
from minsheng.service import kernel
from minsheng.service.audit import canonical_json, now
from minsheng.service.auth import (
    ACCUMULATORS_READ,
    REVERSE,
    SETTLE,
    SETTLEMENT_READ,
    Principal,
)
from minsheng.service.casework import settlement_hooks
from minsheng.service.models import Settlement
from minsheng.service.persons import categories_on, parse_psn_no
from minsheng.service.unit_of_work import DuplicateKey, UnitOfWork, UnitOfWorkFactory

REPORTED_TOTALS = ("medfee_sumamt", "hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt",
                   "psn_part_amt")
"""The accumulator columns reported by ``GET …/accumulators`` (CONTRACT.md names the
``hifp_pay``, ``hifmi_pay``, ``maf_pay`` and ``psn_part_amt`` totals)."""
STATUS_LABELS = {"settled": "已结算", "reversed": "已撤销"}


@dataclass(frozen=True)
class SettleReply:
    body: bytes
    replayed: bool
    setl_id: str


def request_hash(claim: kernel.Claim) -> str:
    return hashlib.sha256(canonical_json(kernel.canonical(claim)).encode()).hexdigest()


def _replay(existing: Settlement, digest: str, principal: Principal) -> SettleReply:
    principal.require_person(SETTLE, existing.region, existing.psn_no)
    if existing.request_hash != digest:
        raise Conflict(f"结算流水号 {existing.setl_id} 已用于另一笔不同的结算",
                       f"setl_id {existing.setl_id} was already used for a different claim",
                       setl_id=existing.setl_id)
    return SettleReply(existing.reply.encode("utf-8"), True, existing.setl_id)


def settle(uow_factory: UnitOfWorkFactory, principal: Principal,
           raw: Mapping[str, Any]) -> SettleReply:
    """Settle one claim (or replay its first reply); see the module docstring."""
    principal.require(SETTLE)
    care = settlement_hooks.take(raw)  # casework (issue 5): place of care, visit, disease
    claim = kernel.parse_claim(care.claim)
    digest = care.digest(request_hash(claim))
    with uow_factory(write=True) as uow:
        person = uow.persons.get(claim.psn_no, lock=True)
        if person is None:
            raise InputError("psn_no", f"未知参保人 {claim.psn_no}（请先登记）",
                             f"unknown person {claim.psn_no}")
        principal.require_person(SETTLE, person.region, person.psn_no)
        existing = uow.settlements.get(claim.setl_id)
        if existing is not None:
            return _replay(existing, digest, principal)
        year = claim.setl_time.year
        used = uow.settlements.insutype_used(person.psn_no, year)
        if used is not None and used != person.insutype:
            raise Conflict(f"参保人 {person.psn_no} 在 {year} 年已按险种 {used} 结算，"
                           f"一年内险种不变（现登记为 {person.insutype}）",
                           f"person {person.psn_no} was settled as {used} in {year}",
                           psn_no=person.psn_no)
        before = uow.accumulators.get(person.psn_no, year)
        categories = categories_on(person, claim.setl_time.date())
        claim = care.route(uow, person, claim)  # refuses, or settles as 14 / 21
        result = kernel.settle_one(claim, person.insutype, person.region, categories, before)
        care.annotate(result)
        body = orjson.dumps(result.reply)
        contributions = {f: v - before.get(f, 0) for f, v in result.accumulators.items()
                         if v != before.get(f, 0)}
        amounts = result.amounts
        stamp = now()
        settlement = Settlement(
            setl_id=claim.setl_id, psn_no=person.psn_no, setl_time=claim.setl_time,
            year=year, insutype=person.insutype, region=person.region,
            categories=",".join(categories), med_type=claim.med_type, hosp_lv=claim.hosp_lv,
            in_province=claim.in_province, medfee_sumamt=claim.medfee_sumamt,
            fulamt_ownpay_amt=claim.fulamt_ownpay_amt, preselfpay_amt=claim.preselfpay_amt,
            overlmt_selfpay=claim.overlmt_selfpay, inscp_scp_amt=amounts["inscp_scp_amt"],
            hifp_pay=amounts["hifp_pay"], hifmi_pay=amounts["hifmi_pay"],
            maf_pay=amounts["maf_pay"], fund_pay_sumamt=amounts["fund_pay_sumamt"],
            psn_part_amt=amounts["psn_part_amt"], act_pay_dedc=amounts["act_pay_dedc"],
            request_hash=digest, reply=body.decode("utf-8"),
            trace=orjson.dumps(result.trace).decode("utf-8"),
            contributions=canonical_json(contributions), status="settled",
            settled_at=stamp, settled_by=principal.actor)
        try:
            uow.settlements.add(settlement)
            uow.flush()  # a setl_id taken meanwhile (for another person) fails here
        except DuplicateKey:
            pass
        else:
            uow.accumulators.add(person.psn_no, year, contributions, before)
            uow.flush()  # everything but the audit entry is written before the head is locked
            uow.audit.append(principal.actor, "settlement.created", "settlement", claim.setl_id,
                             canonical_json({"psn_no": person.psn_no,
                                             "setl_time": claim.setl_time.isoformat(),
                                             "request_hash": digest,
                                             **{k: format_fen(v) for k, v in amounts.items()}}))
            uow.commit()
            return SettleReply(body, False, claim.setl_id)
    with uow_factory() as uow:
        existing = uow.settlements.get(claim.setl_id)
        if existing is None:  # pragma: no cover - the conflict was not the setl_id
            raise Conflict("结算冲突，请重试", "conflicting settlement, retry")
        return _replay(existing, digest, principal)


def parse_reason(raw: Mapping[str, Any]) -> str:
    if not isinstance(raw, Mapping):
        raise InputError("body", "请求体应为 JSON 对象", "the body must be a JSON object")
    for key in raw:
        if key != "reason":
            raise InputError(key, "未知字段（可用：reason）", "unknown field")
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise InputError("reason", "缺少撤销原因", "a reason is required")
    if len(reason) > 500:
        raise InputError("reason", "撤销原因不超过500字", "at most 500 characters")
    return reason.strip()


def reverse(uow: UnitOfWork, principal: Principal, setl_id: str,
            raw: Mapping[str, Any]) -> dict[str, Any]:
    """Reverse a settlement once: restore the accumulators, keep the record."""
    principal.require(REVERSE)
    reason = parse_reason(raw)
    with uow:
        found = uow.settlements.get(setl_id)
        if found is None:
            raise NotFound(f"未知结算 {setl_id}", f"unknown settlement {setl_id}",
                           setl_id=setl_id)
        principal.require_person(REVERSE, found.region, found.psn_no)
        uow.persons.get(found.psn_no, lock=True)
        settlement = uow.settlements.get(setl_id, lock=True)
        assert settlement is not None
        if settlement.status == "reversed":
            raise Conflict(f"结算 {setl_id} 已于 {settlement.reversed_at} 撤销，不能重复撤销",
                           f"settlement {setl_id} is already reversed", setl_id=setl_id)
        contributions: dict[str, int] = json.loads(settlement.contributions)
        before = uow.accumulators.get(settlement.psn_no, settlement.year)
        uow.accumulators.add(settlement.psn_no, settlement.year,
                             {f: -v for f, v in contributions.items()}, before)
        settlement.status = "reversed"
        settlement.reversed_at = now()
        settlement.reversed_by = principal.actor
        settlement.reversal_reason = reason
        uow.flush()
        uow.audit.append(principal.actor, "settlement.reversed", "settlement", setl_id,
                         canonical_json({"psn_no": settlement.psn_no, "reason": reason}))
        reply = settlement_json(settlement)
        uow.commit()
    return reply


def settlement_json(s: Settlement, *, with_trace: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {
        "setl_id": s.setl_id, "psn_no": s.psn_no, "status": s.status,
        "setl_time": s.setl_time.isoformat(), "year": s.year, "insutype": s.insutype,
        "region": s.region, "categories": [c for c in s.categories.split(",") if c],
        "med_type": s.med_type, "hosp_lv": s.hosp_lv, "in_province": s.in_province,
        "medfee_sumamt": format_fen(s.medfee_sumamt),
        "fulamt_ownpay_amt": format_fen(s.fulamt_ownpay_amt),
        "preselfpay_amt": format_fen(s.preselfpay_amt),
        "overlmt_selfpay": format_fen(s.overlmt_selfpay),
        "outputs": json.loads(s.reply),
        "settled_at": s.settled_at.isoformat(timespec="seconds"), "settled_by": s.settled_by,
        "reversal": None,
    }
    if s.status == "reversed" and s.reversed_at is not None:
        d["reversal"] = {"reversed_at": s.reversed_at.isoformat(timespec="seconds"),
                         "reversed_by": s.reversed_by, "reason": s.reversal_reason}
    if with_trace:
        d["trace"] = json.loads(s.trace)
    return d


def _readable(uow: UnitOfWork, principal: Principal, setl_id: str) -> Settlement:
    principal.require(SETTLEMENT_READ)
    s = uow.settlements.get(setl_id)
    if s is None:
        raise NotFound(f"未知结算 {setl_id}", f"unknown settlement {setl_id}", setl_id=setl_id)
    principal.require_person(SETTLEMENT_READ, s.region, s.psn_no)
    return s


def get_settlement(uow: UnitOfWork, principal: Principal, setl_id: str) -> dict[str, Any]:
    with uow:
        return settlement_json(_readable(uow, principal, setl_id), with_trace=True)


def parse_year(raw: object, field: str = "year") -> int:
    try:
        year = int(str(raw).strip())
    except ValueError:
        raise InputError(field, f"年度应为四位数字，收到 {raw!r}", "expected a year") from None
    if not 1900 <= year <= 2999:
        raise InputError(field, f"年度超出范围：{year}", "year out of range")
    return year


def _person_for_reading(uow: UnitOfWork, principal: Principal, action: str,
                        psn_no: str) -> str:
    principal.require(action)
    if principal.role == "citizen":
        principal.require_person(action, "", psn_no)
    person = uow.persons.get(psn_no)
    if person is None:
        raise NotFound(f"未知参保人 {psn_no}", f"unknown person {psn_no}", psn_no=psn_no)
    principal.require_person(action, person.region, person.psn_no)
    return person.psn_no


def accumulators(uow: UnitOfWork, principal: Principal, psn_no: str, year: object
                 ) -> dict[str, Any]:
    """The year's totals over settled, unreversed claims (money as text)."""
    number = parse_psn_no(psn_no)
    y = parse_year(year)
    with uow:
        _person_for_reading(uow, principal, ACCUMULATORS_READ, number)
        values = uow.accumulators.get(number, y)
        claims = sum(1 for s in uow.settlements.for_person(number, y) if s.status == "settled")
    totals = kernel.reported_totals(values)
    return {"psn_no": number, "year": y, "claims": claims,
            **{k: format_fen(totals[k]) for k in REPORTED_TOTALS},
            "accumulators": {k: values.get(k, 0) for k in kernel.accumulator_fields()}}


def list_for_person(uow: UnitOfWork, principal: Principal, psn_no: str,
                    year: object | None) -> dict[str, Any]:
    number = parse_psn_no(psn_no)
    y = parse_year(year) if year not in (None, "") else None
    with uow:
        _person_for_reading(uow, principal, SETTLEMENT_READ, number)
        rows = uow.settlements.for_person(number, y)
        return {"psn_no": number, "year": y,
                "settlements": [settlement_json(s) for s in rows]}


def statement_html(uow: UnitOfWork, principal: Principal, setl_id: str) -> str:
    """The printable settlement statement (结算单) in Chinese."""
    from minsheng.service.statement import render_statement

    with uow:
        s = _readable(uow, principal, setl_id)
        person = uow.persons.get(s.psn_no)
        assert person is not None
        return render_statement(s, person, get_region(s.region).name, principal.sees_certno)
