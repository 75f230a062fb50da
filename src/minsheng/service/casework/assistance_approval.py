"""Social-assistance approval at the township (社会救助审批), Changchun from 2020-11.

POLICY.md §6, 003_8545a6f139e71cec.txt. Recognition of 低保, 特困 and 低收入 persons is
decided by the township (乡镇/街道), not the district. The steps of one case:

1. ``apply`` — at one door of the township (一门式); village committee staff may enter it for
   the applicant (they help discover cases and collect material). Due ``due_days`` (15)
   calendar days after the application day ("15天左右"; Reading: calendar days).
2. ``accept`` (受理) or not (不予受理, with a reason) — township.
3. In parallel (经济核对、入户调查同时进行):
   - ``survey`` (入户调查) — township staff, any time after acceptance;
   - economic verification (经济核对): NOT done case by case. A run sends every accepted
     case not yet sent to the verification system (``verification_batch`` = the run's date);
     the township then records the result of that batch (``verification``: passed/failed
     and the report number). A result cannot be recorded before the case was sent.
4. ``appraisal`` (民主评议) — only when needed: the township marks the case
   (``appraisal_required`` at acceptance or by ``require_appraisal``); then the village
   committee or the township records the appraisal.
5. ``sign`` — the township decides (approve with the category, or deny with a reason) and
   signs; who signs is recorded (谁审批、谁签字、谁负责). Needs the survey, the verification
   result and the appraisal (when required); an approval needs both checks positive.
6. The approval run makes signed decisions effective: the case is ``approved`` (or
   ``denied``) on the run's date, and an approval writes the category into the person's
   categories with ``valid_from`` = that date (and ``valid_to`` if the township set one),
   so claims settled from that date get the category's assistance.

Runs (:func:`run_batch`, ``minsheng casework run [--date D]``): economic verification and
approval each run twice a month ("每个月可实现两次经济核对，两次审批"); Reading: one run in
each half of the month (days 1–15 and 16 to the end). A second run in the same half is
refused (409). Each run does both steps above, in that order, for every open case.

No publicity at the review stage (取消了审核阶段公示环节): there is no publicity step.

Roles: agency tokens registered as casework staff (:func:`set_staff`) with a level —
``village`` (村（居）委会: apply, appraisal, read its village's cases), ``township`` (乡镇
（街道）: every step of its township's cases) and ``county`` (县（市）区民政部门: supervises —
reads every case and the overdue list in its region, changes nothing). Administrators run
the batch and may do everything.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from minsheng.core.categories import CATEGORIES, category_key
from minsheng.core.errors import Conflict, InputError, NotFound
from minsheng.core.regions import get_region, is_within
from minsheng.service.audit import now
from minsheng.service.auth import ASSISTANCE, Forbidden, Principal
from minsheng.service.casework.common import Body, add_step, audit, context, iso, new_id, today
from minsheng.service.casework.models import AssistanceCase, AssistanceRun, CaseworkStaff
from minsheng.service.models import Person, PersonCategory
from minsheng.service.persons import parse_psn_no
from minsheng.service.unit_of_work import UnitOfWork

LEVELS = {"county": "县（市）区民政部门（监管）", "township": "乡镇（街道）（受理、审核、审批）",
          "village": "村（居）民委员会（协助）"}
LEVEL_STEPS = {
    "village": frozenset({"apply", "appraisal", "read"}),
    "township": frozenset({"apply", "accept", "survey", "verification", "require_appraisal",
                           "appraisal", "sign", "read"}),
    "county": frozenset({"read"}),
}
STATUS = {"applied": "已申请待受理", "accepted": "已受理（核对、调查中）", "signed": "乡镇已签批，待审批批次生效",
          "approved": "已审批认定", "denied": "审批不予认定", "not_accepted": "不予受理"}
OPEN = ("applied", "accepted", "signed")
STEP_NAMES = {"applied": "乡镇（街道）一门式申请", "accepted": "受理", "not_accepted": "不予受理",
              "survey": "入户调查", "verification_sent": "送经济核对（批次）",
              "verification": "经济核对结果", "appraisal_required": "需民主评议",
              "appraisal": "民主评议", "signed": "乡镇（街道）审批签字", "approved": "审批批次生效：认定",
              "denied": "审批批次生效：不予认定", "apply": "申请", "accept": "受理",
              "require_appraisal": "要求民主评议", "sign": "审批签字", "read": "查询"}
LOW_INCOME = ("低收入人员", "低收入")


@dataclass(frozen=True)
class Staff:
    level: str  # admin for administrators
    region: str | None
    township: str | None = None
    village: str | None = None


def set_staff(uow: UnitOfWork, principal: Principal, token_id: str, raw: Any) -> dict[str, Any]:
    """Register an agency token's holder as casework staff of a level (administrators)."""
    _admin_only(principal, "staff.set")
    body = Body(raw, ("level", "township", "village", "name"))
    level = body.choice("level", LEVELS)
    township = body.text("township", required=level != "county", max_len=64)
    village = body.text("village", required=level == "village", max_len=64)
    if level == "county" and township:
        raise InputError("township", "县级监管人员不限定乡镇", "county staff have no township")
    with uow:
        token = uow.tokens.get(token_id)
        if token is None or token.role != "agency":
            raise NotFound(f"未知的经办机构令牌 {token_id}", f"unknown agency token {token_id}")
        staff = uow.casework.staff(token_id)
        if staff is None:
            staff = CaseworkStaff(token_id=token_id, updated_at=now())
            uow.casework.add(staff)
        staff.level, staff.township, staff.village = level, township, village
        staff.name = body.text("name", required=False, max_len=64)
        staff.updated_at = now()
        uow.flush()
        audit(uow, principal, "staff.set", "token", token_id,
              {"level": level, "township": township, "village": village})
        reply = {"token_id": token_id, "region": token.region, "level": level,
                 "level_name": LEVELS[level], "township": township, "village": village,
                 "name": staff.name}
        uow.commit()
    return reply


def _admin_only(principal: Principal, action: str) -> None:
    if principal.role != "admin":
        raise Forbidden("仅系统管理员（或命令行）可以执行此操作", "administrators only",
                        role=principal.role, action=action)


def _staff(uow: UnitOfWork, principal: Principal) -> Staff:
    principal.require(ASSISTANCE)
    if principal.role == "admin":
        return Staff("admin", None)
    row = uow.casework.staff(principal.token_id)
    if row is None:
        raise Forbidden("本令牌未登记为社会救助经办人员（县、乡、村级别），请管理员用 "
                        "minsheng casework staff 登记", "the token is not registered as "
                        "social-assistance staff", role=principal.role, action=ASSISTANCE)
    return Staff(row.level, principal.region, row.township, row.village)


def _level_may(staff: Staff, principal: Principal, step: str) -> None:
    if staff.level != "admin" and step not in LEVEL_STEPS[staff.level]:
        raise Forbidden(f"{LEVELS[staff.level]}不能办理“{STEP_NAMES.get(step, step)}”",
                        f"{staff.level} staff may not {step}", role=principal.role, action=step)


def _require(staff: Staff, principal: Principal, step: str, case: AssistanceCase | None = None,
             *, region: str | None = None, township: str | None = None,
             village: str | None = None) -> None:
    """403 unless this staff level may take ``step`` for this case (or place)."""
    if staff.level == "admin":
        return
    _level_may(staff, principal, step)
    if case is not None:
        region, township, village = case.region, case.township, case.village
    assert region is not None
    inside = staff.region is not None and is_within(region, staff.region)
    if inside and staff.level in ("township", "village"):
        inside = township == staff.township
    if inside and staff.level == "village":
        inside = village == staff.village
    if not inside:
        where = "、".join(x for x in (region, township, village) if x)
        raise Forbidden(f"案件所在地（{where}）不在本人负责的范围内",
                        "the case is outside the staff's area", role=principal.role, action=step)


def case_json(c: AssistanceCase, day: dt.date | None = None) -> dict[str, Any]:
    day = day or today()
    steps = json.loads(c.steps)
    for s in steps:
        s["name"] = STEP_NAMES.get(s["step"], s["step"])
    if c.verification_result is not None:
        verification = c.verification_result
    elif c.verification_batch is not None:
        verification = "sent"
    else:
        verification = "waiting_for_run" if c.status in OPEN and c.accepted_on else "not_started"
    open_ = c.status in OPEN
    return {
        "id": c.id, "psn_no": c.psn_no, "region": c.region,
        "region_name": get_region(c.region).name, "township": c.township, "village": c.village,
        "category": c.category, "category_name": CATEGORIES[c.category],
        "applied_on": iso(c.applied_on), "due_on": iso(c.due_on), "status": c.status,
        "status_name": STATUS[c.status], "accepted_on": iso(c.accepted_on),
        "checks": {
            "survey": c.survey_result or "pending", "survey_on": iso(c.survey_on),
            "economic_verification": verification,
            "verification_batch": iso(c.verification_batch),
            "verification_report": c.verification_report,
            "appraisal": (c.appraisal_result or "pending") if c.appraisal_required
            else "not_required",
            "appraisal_on": iso(c.appraisal_on),
            "publicity": "审核阶段不公示（已取消审核阶段公示环节）",
        },
        "decision": c.decision, "granted_category": c.granted_category,
        "granted_to": iso(c.granted_to), "signed_by": c.signed_by, "signed_on": iso(c.signed_on),
        "decided_on": iso(c.decided_on), "reason": c.reason,
        "overdue": open_ and day > c.due_on,
        "days_left": (c.due_on - day).days if open_ else None,
        "steps": steps,
    }


def _case(uow: UnitOfWork, principal: Principal, case_id: str, step: str,
          *, lock: bool = True) -> tuple[AssistanceCase, Staff]:
    staff = _staff(uow, principal)
    c = uow.casework.case(case_id, lock=lock)
    if c is None:
        raise NotFound(f"未知救助申请 {case_id}", f"unknown case {case_id}")
    _require(staff, principal, step, c)
    return c, staff


def _day(body: Body, c: AssistanceCase, after: dt.date | None = None) -> dt.date:
    day = body.date("on", default=today())
    assert day is not None
    floor = after or c.applied_on
    if day < floor:
        raise InputError("on", f"日期 {day.isoformat()} 早于上一步（{floor.isoformat()}）",
                         "before the previous step")
    return day


def _state(c: AssistanceCase, *allowed: str) -> None:
    if c.status not in allowed:
        raise Conflict(f"救助申请 {c.id} 当前为“{STATUS[c.status]}”，不能办理此步骤",
                       f"case {c.id} is {c.status}", case=c.id)


def _category(raw: Any, field: str, allowed: tuple[str, ...]) -> str:
    text = str(raw).strip()
    key = "marginal_allowance" if text in LOW_INCOME else category_key(text, field)
    if key not in allowed:
        names = "、".join(CATEGORIES[k] for k in allowed)
        raise InputError(field, f"乡镇（街道）审批认定的类别为：{names}", "not a category approved here")
    return key


def apply(uow: UnitOfWork, principal: Principal, raw: Any) -> dict[str, Any]:
    """An application at the township's one door (or entered by the village committee)."""
    body = Body(raw, ("psn_no", "category", "township", "village", "on"))
    with uow:
        staff = _staff(uow, principal)
        _level_may(staff, principal, "apply")
        number = parse_psn_no(body.required("psn_no"))
        person = uow.persons.get(number)
        if person is None:
            raise NotFound(f"未知参保人 {number}（请先登记）", f"unknown person {number}")
        day = body.date("on", default=today())
        assert day is not None
        ctx = context(day, person.region)
        ctx.param("social_assistance.approval.level")  # township approval in force here
        allowed = tuple(ctx.param("social_assistance.approval.categories"))
        category = _category(body.required("category"), "category", allowed)
        township = body.text("township", required=staff.township is None, max_len=64) \
            or staff.township
        village = body.text("village", required=False, max_len=64) or staff.village
        _require(staff, principal, "apply", region=person.region, township=township,
                 village=village)
        for other in uow.casework.cases(psn_no=number, statuses=OPEN):
            if other.category == category:
                raise Conflict(f"参保人 {number} 已有办理中的{CATEGORIES[category]}申请 {other.id}",
                               "an open application exists", case=other.id)
        due = day + dt.timedelta(days=int(ctx.param("social_assistance.approval.due_days")))
        assert township is not None
        c = AssistanceCase(
            id=new_id("A"), psn_no=number, region=person.region, township=township,
            village=village, category=category, applied_on=day, due_on=due, status="applied",
            appraisal_required=False, steps=add_step("", "applied", principal, day),
            created_by=principal.actor, created_at=now())
        uow.casework.add(c)
        uow.flush()
        audit(uow, principal, "assistance.applied", "assistance_case", c.id,
              {"psn_no": number, "category": category, "region": c.region,
               "township": township, "village": village, "applied_on": day.isoformat(),
               "due_on": due.isoformat()})
        reply = case_json(c, day)
        uow.commit()
    return reply


def _write(uow: UnitOfWork, principal: Principal, c: AssistanceCase, step: str, day: dt.date,
           **details: Any) -> dict[str, Any]:
    c.steps = add_step(c.steps, step, principal, day, **details)
    uow.flush()
    audit(uow, principal, f"assistance.{step}", "assistance_case", c.id,
          {"psn_no": c.psn_no, "on": day.isoformat(), **details})
    reply = case_json(c, day)
    uow.commit()
    return reply


def accept(uow: UnitOfWork, principal: Principal, case_id: str, raw: Any) -> dict[str, Any]:
    """受理 (``decision: accept``, optionally ``appraisal_required``) or 不予受理 with a reason."""
    body = Body(raw, ("decision", "reason", "appraisal_required", "on"))
    decision = body.choice("decision", {"accept": "受理", "not_accept": "不予受理"}, default="accept")
    reason = body.text("reason", required=decision == "not_accept", max_len=500)
    with uow:
        c, _ = _case(uow, principal, case_id, "accept")
        _state(c, "applied")
        day = _day(body, c)
        if decision == "accept":
            c.status, c.accepted_on = "accepted", day
            c.appraisal_required = body.flag("appraisal_required")
            return _write(uow, principal, c, "accepted", day,
                          appraisal_required=c.appraisal_required or None)
        c.status, c.reason, c.decided_on = "not_accepted", reason, day
        return _write(uow, principal, c, "not_accepted", day, reason=reason)


def survey(uow: UnitOfWork, principal: Principal, case_id: str, raw: Any) -> dict[str, Any]:
    """入户调查 result (in parallel with the economic verification)."""
    body = Body(raw, ("result", "findings", "on"))
    result = body.choice("result", {"eligible": "符合条件", "ineligible": "不符合条件"})
    findings = body.text("findings", required=False, max_len=1000)
    with uow:
        c, _ = _case(uow, principal, case_id, "survey")
        _state(c, "accepted")
        day = _day(body, c, c.accepted_on)
        c.survey_result, c.survey_on = result, day
        return _write(uow, principal, c, "survey", day, result=result, findings=findings)


def verification(uow: UnitOfWork, principal: Principal, case_id: str, raw: Any
                 ) -> dict[str, Any]:
    """The result of the economic verification batch the case was sent in."""
    body = Body(raw, ("result", "report_no", "on"))
    result = body.choice("result", {"passed": "核对通过", "failed": "核对未通过"})
    report = body.text("report_no", required=False, max_len=64)
    with uow:
        c, _ = _case(uow, principal, case_id, "verification")
        _state(c, "accepted")
        if c.verification_batch is None:
            raise Conflict(f"救助申请 {c.id} 尚未送经济核对：经济核对每月两次，在下一批次（minsheng casework "
                           "run）中送核对", "not yet sent to economic verification", case=c.id)
        if c.verification_result is not None:
            raise Conflict(f"救助申请 {c.id} 已有经济核对结果", "result already recorded", case=c.id)
        day = _day(body, c, c.verification_batch)
        c.verification_result, c.verification_report = result, report
        return _write(uow, principal, c, "verification", day, result=result, report_no=report,
                      batch=c.verification_batch.isoformat())


def require_appraisal(uow: UnitOfWork, principal: Principal, case_id: str, raw: Any
                      ) -> dict[str, Any]:
    """视情开展民主评议: the township decides the case needs a democratic appraisal."""
    body = Body(raw, ("reason", "on"))
    reason = body.text("reason", max_len=500)
    with uow:
        c, _ = _case(uow, principal, case_id, "require_appraisal")
        _state(c, "accepted")
        day = _day(body, c, c.accepted_on)
        c.appraisal_required = True
        return _write(uow, principal, c, "appraisal_required", day, reason=reason)


def appraisal(uow: UnitOfWork, principal: Principal, case_id: str, raw: Any) -> dict[str, Any]:
    """民主评议 result (village committee or township), only where it was required."""
    body = Body(raw, ("result", "notes", "on"))
    result = body.choice("result", {"agreed": "评议同意", "disagreed": "评议不同意"})
    notes = body.text("notes", required=False, max_len=1000)
    with uow:
        c, _ = _case(uow, principal, case_id, "appraisal")
        _state(c, "accepted")
        if not c.appraisal_required:
            raise Conflict(f"救助申请 {c.id} 无需民主评议（视情开展，乡镇未要求）",
                           "no appraisal required", case=c.id)
        day = _day(body, c, c.accepted_on)
        c.appraisal_result, c.appraisal_on = result, day
        return _write(uow, principal, c, "appraisal", day, result=result, notes=notes)


def sign(uow: UnitOfWork, principal: Principal, case_id: str, raw: Any) -> dict[str, Any]:
    """The township's decision, signed; effective on the next approval run."""
    body = Body(raw, ("decision", "category", "valid_to", "reason", "on"))
    decision = body.choice("decision", {"approve": "批准", "deny": "不予批准"})
    reason = body.text("reason", required=decision == "deny", max_len=500)
    with uow:
        c, _ = _case(uow, principal, case_id, "sign")
        _state(c, "accepted")
        missing = [name for name, done in (
            ("入户调查", c.survey_result is not None),
            ("经济核对结果", c.verification_result is not None),
            ("民主评议", not c.appraisal_required or c.appraisal_result is not None)) if not done]
        if missing:
            raise Conflict(f"救助申请 {c.id} 尚缺：{'、'.join(missing)}，不能审批",
                           "checks incomplete", case=c.id)
        day = _day(body, c, max(d for d in (c.accepted_on, c.survey_on, c.appraisal_on,
                                            c.verification_batch) if d is not None))
        category = c.category
        if decision == "approve":
            failed = [n for n, bad in (("入户调查不符合条件", c.survey_result == "ineligible"),
                                       ("经济核对未通过", c.verification_result == "failed"),
                                       ("民主评议不同意", c.appraisal_result == "disagreed")) if bad]
            if failed:
                raise Conflict(f"{'、'.join(failed)}，不能批准", "a check was negative", case=c.id)
            if body.has("category"):
                allowed = tuple(context(day, c.region).param("social_assistance.approval.categories"))
                category = _category(body.raw["category"], "category", allowed)
            valid_to = body.date("valid_to", past=False)
            if valid_to is not None and valid_to <= day:
                raise InputError("valid_to", "认定有效期截止日应晚于审批日", "valid_to too early")
            c.granted_category, c.granted_to = category, valid_to
        c.decision, c.reason = decision, reason
        c.signed_by, c.signed_on, c.status = principal.actor, day, "signed"
        return _write(uow, principal, c, "signed", day, decision=decision,
                      category=category if decision == "approve" else None, reason=reason)


def period_of(day: dt.date) -> str:
    """The half-month of a run: ``2023-09-1`` (days 1–15) or ``2023-09-2`` (16 to the end)."""
    return f"{day:%Y-%m}-{1 if day.day <= 15 else 2}"


def run_batch(uow: UnitOfWork, principal: Principal, day: dt.date | None = None
              ) -> dict[str, Any]:
    """The twice-monthly run: send accepted cases to economic verification, then make the
    signed decisions effective (approvals write the person's category from ``day``)."""
    _admin_only(principal, "assistance.run")
    day = day or today()
    if day > today():
        raise InputError("date", f"日期 {day.isoformat()} 晚于今天", "date in the future")
    period = period_of(day)
    runs = context(day, "220100").param("social_assistance.approval.runs_per_month")
    if runs != 2:  # pragma: no cover - the half-month reading depends on two runs
        raise InputError("date", f"每月批次数为 {runs}，与半月批次不符", "runs per month changed")
    with uow:
        done = uow.casework.run(period)
        if done is not None:
            raise Conflict(f"{period[:7]} {'上' if period.endswith('1') else '下'}半月的批次已于 "
                           f"{done.run_date.isoformat()} 运行（每月两次）", "this half-month has run",
                           period=period)
        sent: list[str] = []
        approved: list[str] = []
        denied: list[str] = []
        for c in uow.casework.open_cases():
            if c.status == "accepted" and c.verification_batch is None \
                    and c.accepted_on is not None and c.accepted_on <= day:
                c.verification_batch = day
                c.steps = add_step(c.steps, "verification_sent", principal, day, batch=period)
                sent.append(c.id)
            elif c.status == "signed" and c.signed_on is not None and c.signed_on <= day:
                c.decided_on = day
                if c.decision == "approve":
                    c.status = "approved"
                    _grant(uow, principal, c, day)
                    approved.append(c.id)
                else:
                    c.status = "denied"
                    denied.append(c.id)
                c.steps = add_step(c.steps, c.status, principal, day, batch=period)
        uow.casework.add(AssistanceRun(period=period, run_date=day, verifications_sent=len(sent),
                                       approved=len(approved), denied=len(denied),
                                       run_by=principal.actor, run_at=now()))
        uow.flush()
        for case_id in approved + denied:
            audit(uow, principal, "assistance.decided", "assistance_case", case_id,
                  {"run": period, "on": day.isoformat(),
                   "status": "approved" if case_id in approved else "denied"})
        audit(uow, principal, "assistance.run", "assistance_run", period,
              {"date": day.isoformat(), "verifications_sent": sent, "approved": approved,
               "denied": denied})
        uow.commit()
    return {"period": period, "date": day.isoformat(), "verifications_sent": sent,
            "approved": approved, "denied": denied}


def _grant(uow: UnitOfWork, principal: Principal, c: AssistanceCase, day: dt.date) -> None:
    person: Person | None = uow.persons.get(c.psn_no, lock=True)
    assert person is not None and c.granted_category is not None
    person.categories.append(PersonCategory(category=c.granted_category, valid_from=day,
                                            valid_to=c.granted_to))
    person.updated_at = now()
    audit(uow, principal, "person.changed", "person", person.psn_no,
          {"categories_added": [{"category": c.granted_category, "valid_from": day.isoformat(),
                                 "valid_to": iso(c.granted_to)}], "assistance_case": c.id})


def get_case(uow: UnitOfWork, principal: Principal, case_id: str, day: Any = None
             ) -> dict[str, Any]:
    on = Body({"date": day}, ("date",)).date("date", past=False)
    with uow:
        c, _ = _case(uow, principal, case_id, "read", lock=False)
        return case_json(c, on)


def overdue(uow: UnitOfWork, principal: Principal, day: Any = None) -> dict[str, Any]:
    """Open cases past their due day (every level reads those of its own area)."""
    on = Body({"date": day}, ("date",)).date("date", default=today(), past=False)
    assert on is not None
    with uow:
        staff = _staff(uow, principal)
        rows = []
        for c in uow.casework.cases(statuses=OPEN):
            if c.due_on >= on:
                continue
            try:
                _require(staff, principal, "read", c)
            except Forbidden:
                continue
            rows.append(case_json(c, on))
    return {"date": on.isoformat(), "count": len(rows), "cases": rows}


def list_cases(uow: UnitOfWork, principal: Principal, psn_no: str | None = None
               ) -> dict[str, Any]:
    with uow:
        staff = _staff(uow, principal)
        rows = []
        for c in uow.casework.cases(psn_no=parse_psn_no(psn_no) if psn_no else None):
            try:
                _require(staff, principal, "read", c)
            except Forbidden:
                continue
            rows.append(case_json(c))
    return {"count": len(rows), "cases": rows}
