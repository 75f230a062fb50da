"""Settlements (一站式结算) as a service: settle one claim, replay, reverse, read, print.

:func:`settle` runs the settlement kernel on the claim with the person's stored
accumulators for the claim's year, and writes the settlement (with its reply, its trace
and its contribution to every accumulator column), the new accumulators and an audit
entry in ONE transaction, with the person's row locked (PostgreSQL ``SELECT … FOR
UPDATE``; SQLite ``BEGIN IMMEDIATE``), so that concurrent claims of one person are
settled one after the other and never overrun a cap. Claims that arrive together share
that transaction and one kernel call (group commit: :mod:`minsheng.service.writer`,
:mod:`minsheng.service.settlement_batch`); each still gets its own reply or error.

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
import re
from collections.abc import Mapping
from typing import Any

from minsheng.core.errors import Conflict, InputError, MinshengError, NotFound
from minsheng.core.money import format_fen
from minsheng.core.regions import get_region
from minsheng.service import kernel, trace_store
from minsheng.service.audit import canonical_json, now
from minsheng.service.auth import (
    ACCUMULATORS_READ,
    REVERSE,
    SETTLE,
    SETTLEMENT_READ,
    Principal,
)
from minsheng.service.batch_repository import canonical_json as fast_canonical_json
from minsheng.service.casework import settlement_hooks
from minsheng.service.models import Settlement
from minsheng.service.persons import CONTROL, parse_psn_no
from minsheng.service.settlement_batch import SettleReply, SettleRequest
from minsheng.service.unit_of_work import UnitOfWork, UnitOfWorkFactory
from minsheng.service.writer import writer_for

REPORTED_TOTALS = ("medfee_sumamt", "hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt",
                   "psn_part_amt")
"""The accumulator columns reported by ``GET …/accumulators`` (CONTRACT.md names the
``hifp_pay``, ``hifmi_pay``, ``maf_pay`` and ``psn_part_amt`` totals)."""
STATUS_LABELS = {"settled": "已结算", "reversed": "已撤销"}


def request_hash(claim: kernel.Claim) -> str:
    """The idempotency hash: sha256 of the claim's canonical JSON (as :func:`canonical_json`)."""
    return hashlib.sha256(fast_canonical_json(kernel.canonical(claim)).encode()).hexdigest()


_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab and line breaks allowed
SETL_ID_MAX = 64  # the settlement table's key


def check_setl_id(setl_id: str, field: str = "setl_id") -> str:
    """A ``setl_id`` the service can store: 1 to 64 characters, none of them a control
    character (a database cannot hold every such character)."""
    if not setl_id or len(setl_id) > SETL_ID_MAX or CONTROL.search(setl_id):
        raise InputError(field, f"结算流水号应为1至{SETL_ID_MAX}个字符，不含控制字符：{setl_id!r}",
                         f"1-{SETL_ID_MAX} characters, no control characters")
    return setl_id


def parse_request(raw: Any, *, principal: Principal | None = None,
                  secret_hash: str | None = None, defer_errors: bool = False
                  ) -> SettleRequest:
    """A claim as sent (with its casework fields) → a request for the settlement writer.
    A bad body raises its error — or, with ``defer_errors``, travels with the request to be
    answered once the token and the role have been checked."""
    try:
        care = settlement_hooks.take(raw)  # casework (issue 5): place of care, visit, disease
        claim = kernel.parse_claim(care.claim)
        check_setl_id(claim.setl_id)
        parse_psn_no(claim.psn_no)  # a number no person can have is refused here, alone
        digest = care.digest(request_hash(claim))
    except MinshengError as exc:
        if not defer_errors:
            raise
        return SettleRequest(None, None, "", principal, secret_hash, error=exc)
    return SettleRequest(claim, care, digest, principal, secret_hash)


def settle(uow_factory: UnitOfWorkFactory, principal: Principal,
           raw: Mapping[str, Any]) -> SettleReply:
    """Settle one claim (or replay its first reply); see the module docstring.

    The claim joins the process's settlement writer (:mod:`minsheng.service.writer`), which
    settles the claims that arrive together in one transaction; the reply comes after its
    commit."""
    principal.require(SETTLE)
    request = parse_request(raw, principal=principal)
    return writer_for(uow_factory().database).settle(request)


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
    if _CONTROL_IN_TEXT.search(reason):
        raise InputError("reason", "撤销原因不能包含控制字符", "no control characters")
    return reason.strip()


def reverse(uow: UnitOfWork, principal: Principal, setl_id: str,
            raw: Mapping[str, Any]) -> dict[str, Any]:
    """Reverse a settlement once: restore the accumulators, keep the record."""
    principal.require(REVERSE)
    check_setl_id(setl_id)
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


def settlement_json(s: Settlement, *, with_trace: bool = False,
                    uow: UnitOfWork | None = None) -> dict[str, Any]:
    """A settlement as JSON; ``with_trace`` adds its trace (a compact one is read through
    ``uow``: see :mod:`minsheng.service.trace_store`)."""
    d: dict[str, Any] = {
        "setl_id": s.setl_id, "psn_no": s.psn_no, "status": s.status,
        "setl_time": s.setl_time.isoformat(), "year": s.year, "insutype": s.insutype,
        "region": s.region, "categories": [c for c in s.categories.split(",") if c],
        "med_type": s.med_type, "hosp_lv": s.hosp_lv, "in_province": s.in_province,
        "medfee_sumamt": format_fen(s.medfee_sumamt),
        "fulamt_ownpay_amt": format_fen(s.fulamt_ownpay_amt),
        "preselfpay_amt": format_fen(s.preselfpay_amt),
        "overlmt_selfpay": format_fen(s.overlmt_selfpay),
        "outputs": json.loads(s.full_reply),
        "settled_at": s.settled_at.isoformat(timespec="seconds"), "settled_by": s.settled_by,
        "reversal": None,
    }
    if s.status == "reversed" and s.reversed_at is not None:
        d["reversal"] = {"reversed_at": s.reversed_at.isoformat(timespec="seconds"),
                         "reversed_by": s.reversed_by, "reason": s.reversal_reason}
    if with_trace:
        d["trace"] = json.loads(s.trace) if uow is None else trace_store.load(uow, s)
    return d


def _readable(uow: UnitOfWork, principal: Principal, setl_id: str) -> Settlement:
    principal.require(SETTLEMENT_READ)
    s = uow.settlements.get(check_setl_id(setl_id))
    if s is None:
        raise NotFound(f"未知结算 {setl_id}", f"unknown settlement {setl_id}", setl_id=setl_id)
    principal.require_person(SETTLEMENT_READ, s.region, s.psn_no)
    return s


def get_settlement(uow: UnitOfWork, principal: Principal, setl_id: str) -> dict[str, Any]:
    with uow:
        return settlement_json(_readable(uow, principal, setl_id), with_trace=True, uow=uow)


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
