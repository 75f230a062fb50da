"""Outpatient chronic/special-disease recognition (门诊慢特病认定) and dual-channel drug filing
(双通道药品备案), POLICY.md §5, 001 measures 10–16.

- Recognition at the treating designated institution (``channel: institution``) for persons
  treated in their own province (locally or in-province elsewhere): approved at once, valid
  from that day (measure 10). A person treated in another province applies online
  (``channel: online``); the insured place's agency reviews it (approve / reject).
- A dual-channel drug filing names the drug and its responsible physician, who must hold an
  intermediate title (主治医师) or above — refused otherwise, citing measure 13 — and who
  sets the assessment period (评估期限): the filing is valid until its end. Changing the drug
  revokes the filing and files a new one (measure 13).
- No "one hospital and one pharmacy" restriction (measure 12): a recognition names no
  institution the person is bound to.
- Settlement priority (measure 15) and best benefit (measure 16) apply when claims are
  settled (:mod:`.priority`, :mod:`.settlement_hooks`). An ordinary outpatient claim already
  settled on a day a recognition was valid can be refunded and re-settled as ``14``
  (:func:`resettle`, mode ``refund_resettle``, by the hospital or the agency), or the difference
  (轧差) reimbursed manually by the insured place's agency (mode ``difference``). Both reverse
  the original settlement and settle the visit again as ``14`` in ONE transaction, so the
  year's accumulators are right either way; the reply gives the difference per fund, which in
  mode ``difference`` is what the agency pays the person.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson

from minsheng.core.calculation import Context
from minsheng.core.errors import Conflict, InputError, NotFound
from minsheng.core.money import format_fen
from minsheng.core.regions import is_within, province_of
from minsheng.rules.remote_care import disease_key
from minsheng.service import kernel
from minsheng.service.audit import canonical_json, now
from minsheng.service.auth import (
    CASEWORK,
    CASEWORK_APPLY,
    CASEWORK_READ,
    RECOGNISE,
    REVERSE,
    SETTLE,
    Forbidden,
    Principal,
)
from minsheng.service.casework import priority
from minsheng.service.casework.common import (
    Body,
    add_step,
    audit,
    context,
    insured_city,
    iso,
    new_id,
    person_or_404,
    place,
    today,
)
from minsheng.service.casework.models import DiseaseRecognition
from minsheng.service.models import Person, Settlement
from minsheng.service.persons import categories_on
from minsheng.service.unit_of_work import UnitOfWork

KINDS = {"chronic_disease": "门诊慢特病认定", "dual_channel_drug": "双通道药品备案"}
CHANNELS = {"institution": "就医地定点医疗机构办理", "online": "线上申请（参保地经办机构审核）"}
TITLES = {"resident": "住院医师（初级）", "attending": "主治医师（中级）",
          "associate_chief": "副主任医师（副高级）", "chief": "主任医师（正高级）"}
TITLE_ALIASES = {"住院医师": "resident", "初级": "resident", "主治医师": "attending",
                 "中级": "attending", "副主任医师": "associate_chief", "副高级": "associate_chief",
                 "主任医师": "chief", "正高级": "chief"}
TITLE_RANK = {key: i for i, key in enumerate(TITLES)}
STATUS = {"submitted": "已提交待审核", "approved": "已认定", "rejected": "未通过",
          "revoked": "已撤销"}
SCOPES = {"local": "参保地就医", "in_province": "省内异地就医", "cross_province": "跨省异地就医"}
MODES = {"refund_resettle": "就医地定点医疗机构退费重新结算", "difference": "回参保地手工报销（轧差）"}
FIELDS = ("psn_no", "kind", "disease", "drug", "channel", "institution_region",
          "institution_name", "physician_name", "physician_title", "assessment_until",
          "valid_to", "on")


def recognition_json(r: DiseaseRecognition) -> dict[str, Any]:
    steps = json.loads(r.steps)
    return {
        "id": r.id, "psn_no": r.psn_no, "kind": r.kind, "kind_name": KINDS[r.kind],
        "disease": r.disease, "disease_name": priority.disease_name(r.disease), "drug": r.drug,
        "channel": r.channel, "channel_name": CHANNELS[r.channel], "scope": r.scope,
        "scope_name": SCOPES[r.scope], "institution_region": r.institution_region,
        "institution_name": r.institution_name, "physician_name": r.physician_name,
        "physician_title": r.physician_title,
        "physician_title_name": TITLES.get(r.physician_title or ""),
        "applied_on": iso(r.applied_on), "valid_from": iso(r.valid_from),
        "valid_to": iso(r.valid_to), "status": r.status, "status_name": STATUS[r.status],
        "reason": r.reason, "replaces": r.replaces, "replaced_by": r.replaced_by,
        "steps": steps,
    }


def _scope(person: Person, institution: str) -> str:
    where = place(institution, "institution_region")
    if where.known and where.city == insured_city(person.region):
        return "local"
    return "in_province" if where.province == province_of(person.region) else "cross_province"


def _check_institution(principal: Principal, institution: str) -> None:
    """A hospital token with a region acts only for institutions in it."""
    if principal.role == "hospital" and principal.region is not None:
        where = place(institution, "institution_region")
        if not (where.known and is_within(where.code, principal.region)):
            raise Forbidden(f"医疗机构所在地 {where.name} 不在本令牌的地区 {principal.region} 范围内",
                            "the institution is outside the token's region",
                            role=principal.role, action=RECOGNISE)


def _physician(body: Body, ctx: Context) -> tuple[str, str]:
    name = body.text("physician_name", max_len=64)
    raw = body.raw.get("physician_title")
    title = (TITLE_ALIASES[raw.strip()] if isinstance(raw, str) and raw.strip() in TITLE_ALIASES
             else body.choice("physician_title", TITLES))
    need = ctx.resolve("casework.dual_channel.physician_min_title")
    if TITLE_RANK[title] < TITLE_RANK[need.value]:
        ref = need.reference
        raise InputError("physician_title",
                         f"双通道药品责任医师须具有中级及以上职称（{TITLES[need.value]}及以上），"
                         f"{TITLES[title]}不能担任——依据 {ref.source}《{ref.document}》：“{ref.clause[:38]}”",
                         "the responsible physician needs an intermediate title or above "
                         "(001 measure 13)")
    assert name is not None
    return name, title


def _fields(body: Body, person: Person, principal: Principal, kind: str,
            day: dt.date) -> dict[str, Any]:
    """The validated fields of a new recognition or filing, with its channel and status."""
    disease_raw = body.text("disease", max_len=64)
    disease = disease_key(disease_raw) or ""
    institution = place(body.required("institution_region"), "institution_region").code
    scope = _scope(person, institution)
    ctx = context(day, person.region)
    channel = body.choice("channel", CHANNELS,
                          default="online" if principal.role == "citizen" else "institution")
    if channel == "institution":
        rule = ctx.resolve("casework.recognition.in_province_at_institution")
        if scope == "cross_province":
            raise InputError("channel", "跨省异地就医人员通过线上渠道申请门诊慢特病、双通道药品认定，"
                             "由参保地经办机构审核（001 第10条）",
                             "cross-province: apply online (001 measure 10)")
        if principal.role == "citizen":
            raise InputError("channel", "在定点医疗机构办理的认定由医疗机构录入", "entered by the institution")
        principal.require(RECOGNISE)
        _check_institution(principal, institution)
        status = "approved"
    else:
        rule = ctx.resolve("casework.recognition.cross_province_online_review")
        if scope != "cross_province":
            raise InputError("channel", "省内就医的参保人员在就医地定点医疗机构直接办理认定（001 第10条）",
                             "in the province: at the treating institution (001 measure 10)")
        status = "submitted"
    out: dict[str, Any] = {"disease": disease, "institution_region": institution,
                           "institution_name": body.text("institution_name", required=False),
                           "scope": scope, "channel": channel, "status": status,
                           "valid_to": body.date("valid_to", past=False), "rule": rule,
                           "drug": None, "physician_name": None, "physician_title": None}
    if kind == "dual_channel_drug":
        out["drug"] = body.text("drug", max_len=100)
        out["physician_name"], out["physician_title"] = _physician(body, ctx)
        until = body.date("assessment_until", past=False)
        if until is None:
            raise InputError("assessment_until", "双通道药品备案须由责任医师确认评估期限",
                             "the physician sets the assessment period (001 measure 13)")
        if until <= day:
            raise InputError("assessment_until", "评估期限应晚于办理日期", "must be after the filing")
        out["valid_to"] = until
    elif out["valid_to"] is not None and out["valid_to"] < day:
        raise InputError("valid_to", "有效期截止日早于办理日期", "valid_to before the day")
    return out


def _new(uow: UnitOfWork, principal: Principal, person: Person, kind: str, day: dt.date,
         data: dict[str, Any], *, replaces: str | None = None) -> DiseaseRecognition:
    approved = data["status"] == "approved"
    rec = DiseaseRecognition(
        id=new_id("R"), psn_no=person.psn_no, kind=kind, disease=data["disease"],
        drug=data["drug"], channel=data["channel"], scope=data["scope"],
        institution_region=data["institution_region"], institution_name=data["institution_name"],
        physician_name=data["physician_name"], physician_title=data["physician_title"],
        applied_on=day, valid_from=day if approved else None, valid_to=data["valid_to"],
        status=data["status"], replaces=replaces,
        steps=add_step("", "approved" if approved else "submitted", principal, day,
                       reference=data["rule"].reference.document),
        created_by=principal.actor, created_at=now())
    uow.casework.add(rec)
    return rec


def _same(a: DiseaseRecognition, kind: str, disease: str, drug: str | None) -> bool:
    return a.kind == kind and priority.same_disease(a.disease, disease) and (
        kind == "chronic_disease" or priority.same_drug(a.drug, drug))


def create_recognition(uow: UnitOfWork, principal: Principal, raw: Any) -> dict[str, Any]:
    """Recognise a disease or file a dual-channel drug (see the module docstring)."""
    body = Body(raw, FIELDS)
    kind = body.choice("kind", KINDS)
    day = body.date("on", default=today())
    assert day is not None
    with uow:
        person = person_or_404(uow, body.required("psn_no"))
        if principal.role in ("citizen", "agency"):
            principal.require_person(CASEWORK_APPLY, person.region, person.psn_no)
        else:
            principal.require(RECOGNISE)
        data = _fields(body, person, principal, kind, day)
        for other in uow.casework.recognitions(person.psn_no):
            live = other.status == "submitted" or (
                other.status == "approved" and (other.valid_to is None or other.valid_to >= day))
            if live and _same(other, kind, data["disease"], data["drug"]):
                raise Conflict(f"参保人已有{KINDS[kind]} {other.id}（{STATUS[other.status]}）；"
                               "更换双通道药品请用 change-drug", "already recognised",
                               recognition=other.id)
        rec = _new(uow, principal, person, kind, day, data)
        uow.flush()
        audit(uow, principal, f"recognition.{rec.status}", "disease_recognition", rec.id,
              {"psn_no": person.psn_no, "kind": kind, "disease": rec.disease, "drug": rec.drug,
               "channel": rec.channel, "scope": rec.scope,
               "physician_title": rec.physician_title, "valid_to": iso(rec.valid_to)})
        reply = recognition_json(rec)
        uow.commit()
    return reply


def _recognition(uow: UnitOfWork, principal: Principal, rec_id: str, action: str
                 ) -> tuple[DiseaseRecognition, Person]:
    principal.require(action)
    rec = uow.casework.recognition(rec_id)
    if rec is None:
        raise NotFound(f"未知认定 {rec_id}", f"unknown recognition {rec_id}")
    person = person_or_404(uow, rec.psn_no)
    if principal.role == "hospital":
        if rec.institution_region:
            _check_institution(principal, rec.institution_region)
    else:
        principal.require_person(action, person.region, person.psn_no)
    return rec, person


def review(uow: UnitOfWork, principal: Principal, rec_id: str, raw: Any) -> dict[str, Any]:
    """The insured place's agency approves or rejects an online (cross-province) application."""
    body = Body(raw, ("decision", "reason", "on"))
    decision = body.choice("decision", {"approve": "通过", "reject": "不通过"})
    reason = body.text("reason", required=decision == "reject", max_len=500)
    with uow:
        rec, person = _recognition(uow, principal, rec_id, CASEWORK)
        if rec.status != "submitted":
            raise Conflict(f"认定 {rec.id} 当前为“{STATUS[rec.status]}”，无需审核",
                           "not awaiting review", recognition=rec.id)
        day = body.date("on", default=today())
        assert day is not None
        if day < rec.applied_on:
            raise InputError("on", "审核日期早于申请日期", "before the application")
        if decision == "approve":
            rec.status, rec.valid_from = "approved", day
            if rec.valid_to is not None and rec.valid_to < day:
                raise InputError("on", "审核时评估期限已过", "the assessment period has passed")
        else:
            rec.status = "rejected"
        rec.reason = reason
        rec.steps = add_step(rec.steps, rec.status, principal, day, reason=reason)
        uow.flush()
        audit(uow, principal, f"recognition.{rec.status}", "disease_recognition", rec.id,
              {"psn_no": person.psn_no, "on": day.isoformat(), "reason": reason})
        reply = recognition_json(rec)
        uow.commit()
    return reply


def _revoke(rec: DiseaseRecognition, principal: Principal, day: dt.date, reason: str) -> None:
    if rec.status not in ("approved", "submitted"):
        raise Conflict(f"认定 {rec.id} 当前为“{STATUS[rec.status]}”，不能撤销", "not revocable",
                       recognition=rec.id)
    if rec.status == "approved":
        assert rec.valid_from is not None
        end = day - dt.timedelta(days=1)
        rec.valid_to = end if rec.valid_to is None or end < rec.valid_to else rec.valid_to
    rec.status = "revoked"
    rec.reason = reason
    rec.steps = add_step(rec.steps, "revoked", principal, day, reason=reason)


def revoke(uow: UnitOfWork, principal: Principal, rec_id: str, raw: Any) -> dict[str, Any]:
    """Revoke from ``on`` (default today): valid until the day before."""
    body = Body(raw, ("reason", "on"))
    reason = body.text("reason", max_len=500)
    assert reason is not None
    with uow:
        rec, person = _recognition(uow, principal, rec_id, RECOGNISE)
        day = body.date("on", default=today())
        assert day is not None
        _revoke(rec, principal, day, reason)
        uow.flush()
        audit(uow, principal, "recognition.revoked", "disease_recognition", rec.id,
              {"psn_no": person.psn_no, "on": day.isoformat(), "reason": reason})
        reply = recognition_json(rec)
        uow.commit()
    return reply


def change_drug(uow: UnitOfWork, principal: Principal, rec_id: str, raw: Any) -> dict[str, Any]:
    """更换双通道药品：revoke the filing (valid until the day before) and file the new drug."""
    body = Body(raw, ("drug", "physician_name", "physician_title", "assessment_until", "on",
                      "institution_name"))
    with uow:
        old, person = _recognition(uow, principal, rec_id, RECOGNISE)
        if old.kind != "dual_channel_drug":
            raise InputError("kind", "只有双通道药品备案可以更换药品", "only a dual-channel filing")
        day = body.date("on", default=today())
        assert day is not None
        ctx = context(day, person.region)
        refiles = ctx.resolve("casework.dual_channel.drug_change_refiles")
        if not refiles.value:  # pragma: no cover - in force since 2023-08-01
            raise Conflict("现行规定不允许更换药品重新备案", "no re-filing")
        new_drug = body.text("drug", max_len=100)
        if priority.same_drug(new_drug, old.drug):
            raise InputError("drug", "新药品与原备案药品相同", "the same drug")
        merged = {"psn_no": person.psn_no, "kind": old.kind, "disease": old.disease,
                  "channel": old.channel, "institution_region": old.institution_region,
                  "institution_name": body.raw.get("institution_name") or old.institution_name,
                  **{k: body.raw.get(k) for k in ("drug", "physician_name", "physician_title",
                                                  "assessment_until")},
                  "on": day.isoformat()}
        data = _fields(Body(merged, FIELDS), person, principal, old.kind, day)
        _revoke(old, principal, day,
                f"更换双通道药品为“{new_drug}”，撤销原备案重新办理（{refiles.reference.document}）")
        new = _new(uow, principal, person, old.kind, day, data, replaces=old.id)
        old.replaced_by = new.id
        uow.flush()
        audit(uow, principal, "recognition.drug_changed", "disease_recognition", old.id,
              {"psn_no": person.psn_no, "on": day.isoformat(), "old_drug": old.drug,
               "new_drug": new.drug, "new": new.id, "new_status": new.status})
        reply = {"old": recognition_json(old), "new": recognition_json(new)}
        uow.commit()
    return reply


def get_recognition(uow: UnitOfWork, principal: Principal, rec_id: str) -> dict[str, Any]:
    with uow:
        rec, _ = _recognition(uow, principal, rec_id, CASEWORK_READ)
        return recognition_json(rec)


def list_recognitions(uow: UnitOfWork, principal: Principal, psn_no: str) -> dict[str, Any]:
    principal.require(CASEWORK_READ)
    with uow:
        person = person_or_404(uow, psn_no)
        principal.require_person(CASEWORK_READ, person.region, person.psn_no)
        return {"psn_no": person.psn_no,
                "recognitions": [recognition_json(r)
                                 for r in uow.casework.recognitions(person.psn_no)]}


# --- refund and re-settle, or the difference (轧差) -------------------------------------------

AMOUNTS = ("hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt", "psn_part_amt")


def _claim_of(s: Settlement, setl_id: str) -> kernel.Claim:
    return kernel.Claim(setl_id, s.psn_no, s.setl_time, "14", s.hosp_lv, s.in_province,
                        s.medfee_sumamt, s.fulamt_ownpay_amt, s.preselfpay_amt, s.overlmt_selfpay)


def resettle(uow: UnitOfWork, principal: Principal, raw: Any) -> dict[str, Any]:
    """Re-settle an ordinary outpatient claim as ``14`` (see the module docstring)."""
    from minsheng.service.settlements import request_hash, settlement_json

    body = Body(raw, ("setl_id", "mode", "new_setl_id", "reason"))
    setl_id = body.text("setl_id", max_len=64)
    assert setl_id is not None
    mode = body.choice("mode", MODES)
    new_id_ = body.text("new_setl_id", required=False, max_len=64) or f"{setl_id}-MT"
    with uow:
        found = uow.settlements.get(setl_id)
        if found is None:
            raise NotFound(f"未知结算 {setl_id}", f"unknown settlement {setl_id}", setl_id=setl_id)
        if mode == "difference":
            principal.require_person(CASEWORK, found.region, found.psn_no)
        else:
            principal.require_person(REVERSE, found.region, found.psn_no)
            principal.require_person(SETTLE, found.region, found.psn_no)
        person = uow.persons.get(found.psn_no, lock=True)
        old = uow.settlements.get(setl_id, lock=True)
        assert person is not None and old is not None
        if old.status != "settled":
            raise Conflict(f"结算 {setl_id} 已撤销，不能重新结算", "already reversed", setl_id=setl_id)
        if old.med_type != "11":
            raise Conflict(f"结算 {setl_id} 的医疗类别为 {old.med_type}，不是普通门诊（11）",
                           "not an ordinary outpatient claim", setl_id=setl_id)
        day = old.setl_time.date()
        choice = priority.choose(uow.casework.recognitions(person.psn_no), day)
        if not choice.as_chronic:
            raise Conflict(f"参保人 {person.psn_no} 在 {day.isoformat()} 没有有效的门诊慢特病认定，"
                           "该次门诊按普通门诊结算无误", "no recognition valid on the claim date",
                           setl_id=setl_id)
        if uow.settlements.get(new_id_) is not None:
            raise Conflict(f"结算流水号 {new_id_} 已被使用", "new_setl_id taken", setl_id=new_id_)
        ctx = context(day, person.region)
        ctx.rule("priority", choice.reason,
                 ctx.resolve("casework.settlement.chronic_priority").reference)
        reason = body.text("reason", required=False, max_len=300) or (
            f"按门诊慢特病待遇{MODES[mode]}（{choice.recognition_id}）")
        # 1. reverse the original: its contribution leaves every accumulator column
        contributions: dict[str, int] = json.loads(old.contributions)
        before = uow.accumulators.get(person.psn_no, old.year)
        uow.accumulators.add(person.psn_no, old.year, {f: -v for f, v in contributions.items()},
                             before)
        after_reversal = {f: before.get(f, 0) - contributions.get(f, 0)
                          for f in set(before) | set(contributions)}
        stamp = now()
        old.status, old.reversed_at, old.reversed_by = "reversed", stamp, principal.actor
        old.reversal_reason = reason
        # 2. settle the same visit again as 14
        claim = _claim_of(old, new_id_)
        result = kernel.settle_one(claim, person.insutype, person.region,
                                   categories_on(person, day), after_reversal)
        result.reply["resettles"] = setl_id
        result.trace.extend(ctx.trace.to_json())
        new = _row(claim, person, result, after_reversal, request_hash(claim), principal, stamp)
        uow.settlements.add(new)
        uow.flush()
        uow.accumulators.add(person.psn_no, old.year, json.loads(new.contributions),
                             after_reversal)
        uow.flush()
        diff = {k: getattr(new, k) - getattr(old, k) for k in AMOUNTS}
        audit(uow, principal, "settlement.reversed", "settlement", setl_id,
              {"psn_no": person.psn_no, "reason": reason})
        audit(uow, principal, "settlement.created", "settlement", new_id_,
              {"psn_no": person.psn_no, "setl_time": claim.setl_time.isoformat(),
               "request_hash": new.request_hash, "resettles": setl_id,
               **{k: format_fen(result.amounts[k]) for k in result.amounts}})
        audit(uow, principal, "recognition.resettled", "settlement", setl_id,
              {"psn_no": person.psn_no, "mode": mode, "new_setl_id": new_id_,
               "recognition": choice.recognition_id,
               "difference": {k: format_fen(v) for k, v in diff.items()}})
        reply = {
            "mode": mode, "mode_name": MODES[mode], "recognition_id": choice.recognition_id,
            "reason": choice.reason, "original": settlement_json(old),
            "new": json.loads(new.full_reply),
            "difference": {k: format_fen(v) for k, v in diff.items()},
            "manual_reimbursement": format_fen(diff["fund_pay_sumamt"])
            if mode == "difference" else None,
        }
        uow.commit()
    return reply


def _row(claim: kernel.Claim, person: Person, result: kernel.Result, before: dict[str, int],
         digest: str, principal: Principal, stamp: dt.datetime) -> Settlement:
    """The settlement row of a re-settled visit (the columns of :mod:`..settlements`)."""
    amounts = result.amounts
    contributions = {f: v - before.get(f, 0) for f, v in result.accumulators.items()
                     if v != before.get(f, 0)}
    return Settlement(
        setl_id=claim.setl_id, psn_no=person.psn_no, setl_time=claim.setl_time,
        year=claim.setl_time.year, insutype=person.insutype, region=person.region,
        categories=",".join(categories_on(person, claim.setl_time.date())),
        med_type=claim.med_type, hosp_lv=claim.hosp_lv, in_province=claim.in_province,
        medfee_sumamt=claim.medfee_sumamt, fulamt_ownpay_amt=claim.fulamt_ownpay_amt,
        preselfpay_amt=claim.preselfpay_amt, overlmt_selfpay=claim.overlmt_selfpay,
        **{k: amounts[k] for k in ("inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay",
                                   "fund_pay_sumamt", "psn_part_amt", "act_pay_dedc")},
        request_hash=digest, reply=orjson.dumps(result.reply).decode("utf-8"),
        trace=orjson.dumps(result.trace).decode("utf-8"),
        contributions=canonical_json(contributions), status="settled", settled_at=stamp,
        settled_by=principal.actor)

