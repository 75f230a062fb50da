"""The agency console (经办机构工作台, ``/agency``): agency staff and administrators.

An agency token sees its own region and the regions below it, exactly as through the API:
every list and every action calls the service functions, which check the role and the
region (and, for social assistance, the staff level: village, township or county) and write
the audit trail. The console shows:

- 参保人: search by ``psn_no``, name or resident id; a person's registration and categories,
  the year's settlements (each reversible with a reason) and totals, and every case;
- 转移接续: open transfers by deadline, the overdue ones highlighted, with their steps;
- 异地就医备案 and 门诊慢特病认定 (online applications reviewed here);
- 社会救助审批: the applications of the staff member's area with their step and due date,
  and only the actions the staff level allows (accept, survey, verification, appraisal, sign);
  administrators also start the twice-monthly run;
- 监测名单: the watch lists on a date, exported as CSV or XLSX (each export audited).

Actions are plain HTML forms (POST with the session's CSRF token), answered by a redirect
to the page with a one-time message; a refused or wrong action shows the page again with
the error (its status: 403, 409 or 422).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from minsheng.api.deps import database
from minsheng.core.categories import CATEGORIES
from minsheng.core.errors import InputError, MinshengError, NotFound, ParameterMissing
from minsheng.core.regions import all_regions, get_region
from minsheng.service import listings, persons, settlements
from minsheng.service.auth import ROLES, Principal
from minsheng.service.casework import assistance_approval as sa
from minsheng.service.casework import filings, recognitions, transfers, watch_lists
from minsheng.service.casework.common import today
from minsheng.service.unit_of_work import UnitOfWorkFactory, factory
from minsheng.web.citizen import MED_TYPES, TOTALS
from minsheng.web.forms import message_of
from minsheng.web.session import (
    PageRoute,
    checked_form,
    first,
    page_principal,
    private,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False, route_class=PageRoute)

AREA = "/agency"
SECTIONS = (("", "概览"), ("/persons", "参保人"), ("/transfers", "转移接续"),
            ("/filings", "异地就医备案"), ("/recognitions", "慢特病认定"),
            ("/assistance", "社会救助审批"), ("/watch-lists", "监测名单"))

# Social-assistance steps: the service function, the fields of its form, the button.
ASSISTANCE_STEPS: dict[str, tuple[Callable[..., dict[str, Any]], tuple[str, ...], str]] = {
    "accept": (sa.accept, ("decision", "appraisal_required", "reason", "on"), "受理"),
    "survey": (sa.survey, ("result", "findings", "on"), "入户调查"),
    "verification": (sa.verification, ("result", "report_no", "on"), "经济核对结果"),
    "require-appraisal": (sa.require_appraisal, ("reason", "on"), "需民主评议"),
    "appraisal": (sa.appraisal, ("result", "notes", "on"), "民主评议"),
    "sign": (sa.sign, ("decision", "category", "valid_to", "reason", "on"), "审批签字"),
}
TRANSFER_STEPS = {"forwarded": "转出地已传送信息", "completed": "办结", "rejected": "不予办理"}


def _uow(request: Request) -> UnitOfWorkFactory:
    return factory(database(request))


def _body(values: Mapping[str, Sequence[str]], names: Sequence[str]) -> dict[str, Any]:
    """The non-empty posted fields among ``names`` (a form's blank field means "not given")."""
    return {n: first(values, n) for n in names if first(values, n)}


def _area_name(who: Principal) -> str:
    if who.region is None:
        return "全部地区"
    region = get_region(who.region)
    return f"{region.name}（{region.code}）及下辖地区"


def _page(request: Request, who: Principal, template: str, section: str, status: int = 200,
          **context: Any) -> Response:
    return render(request, template, status, nav="agency", who=who, role_name=ROLES[who.role],
                  area_name=_area_name(who), sections=SECTIONS, section=section,
                  error=context.pop("error", ""), category_names=CATEGORIES, **context)


FIELD_LABELS = {"reason": "原因", "on": "办理日期", "result": "结果", "decision": "决定",
                "psn_no": "个人编号", "category": "类别", "township": "乡镇（街道）",
                "village": "村（社区）", "valid_to": "认定有效期至", "report_no": "核对报告编号",
                "findings": "调查情况", "notes": "评议情况", "date": "日期", "region": "地区",
                "format": "导出格式", "q": "查询内容", "year": "年度", "body": "表单"}


def _error_text(exc: MinshengError) -> str:
    """The error in words for the page: a field by its Chinese label."""
    if isinstance(exc, InputError):
        return f"{FIELD_LABELS.get(exc.field, exc.field)}：{message_of(exc)}"
    return exc.message


# --- overview and persons -------------------------------------------------------------------

@router.get("/agency", response_class=HTMLResponse)
def overview(request: Request) -> Response:
    who = page_principal(request, AREA)
    uow = _uow(request)
    now = today()
    open_transfers = listings.open_transfers(uow(), who, now)["transfers"]
    recs = listings.recognitions_in_region(uow(), who)["recognitions"]
    staff = listings.staff_level(uow(), who)
    cases = _cases(uow, who)
    return _page(request, who, "agency/overview.html", "", staff=staff, today=now.isoformat(),
                 transfers_open=len(open_transfers),
                 transfers_overdue=sum(1 for t in open_transfers if t["progress"].get("overdue")),
                 recognitions_waiting=sum(1 for r in recs if r["status"] == "submitted"),
                 cases_open=sum(1 for c in cases if c["status"] in sa.OPEN),
                 cases_overdue=sum(1 for c in cases if c["overdue"]),
                 recent=listings.recent_settlements(uow(), who, 10)["settlements"],
                 med_types=MED_TYPES)


def _cases(uow: UnitOfWorkFactory, who: Principal) -> list[dict[str, Any]]:
    """The assistance cases the token may read (none if it is not registered as staff)."""
    if listings.staff_level(uow(), who)["level"] is None:
        return []
    cases: list[dict[str, Any]] = sa.list_cases(uow(), who)["cases"]
    return cases


@router.get("/agency/persons", response_class=HTMLResponse)
def person_search(request: Request, q: str = "") -> Response:
    who = page_principal(request, AREA)
    try:
        found = listings.search_persons(_uow(request)(), who, q)
    except InputError as exc:
        return _page(request, who, "agency/persons.html", "/persons", exc.status, q=q,
                     found={"persons": [], "truncated": False, "query": q}, error=_error_text(exc))
    return _page(request, who, "agency/persons.html", "/persons", q=q, found=found)


@router.get("/agency/persons/{psn_no}", response_class=HTMLResponse)
def person_page(request: Request, psn_no: str, year: str | None = None) -> Response:
    who = page_principal(request, AREA)
    return _person_page(request, who, psn_no, year)


def _person_page(request: Request, who: Principal, psn_no: str, year: str | None,
                 error: str = "", status: int = 200) -> Response:
    uow = _uow(request)
    now = today()
    person = persons.get_person(uow(), who, psn_no)
    try:
        chosen = settlements.parse_year(year) if year not in (None, "") else now.year
    except InputError as exc:
        chosen, error, status = now.year, _error_text(exc), exc.status
    cases: list[dict[str, Any]] = listings.own_assistance_cases(uow(), who, person["psn_no"], now)["cases"]
    return _page(
        request, who, "agency/person.html", "/persons", status, error=error, person=person,
        year=chosen, years=list(range(now.year, 2019, -1)),
        settlements=settlements.list_for_person(uow(), who, person["psn_no"], chosen)["settlements"],
        totals=settlements.accumulators(uow(), who, person["psn_no"], chosen), total_labels=TOTALS,
        med_types=MED_TYPES, filings=filings.list_filings(uow(), who, person["psn_no"])["filings"],
        transfers=transfers.list_transfers(uow(), who, person["psn_no"])["transfers"],
        recognitions=recognitions.list_recognitions(uow(), who, person["psn_no"])["recognitions"],
        cases=cases)


@router.post("/agency/settlements/{setl_id}/reversal", response_class=HTMLResponse)
async def reverse(request: Request, setl_id: str) -> Response:
    """撤销结算 with a reason; the person's totals are restored (service, audited)."""
    who = page_principal(request, AREA)
    values = await checked_form(request)
    psn_no, year = first(values, "psn_no"), first(values, "year")
    try:
        settlements.reverse(_uow(request)(write=True), who, setl_id, _body(values, ("reason",)))
    except MinshengError as exc:
        if isinstance(exc, NotFound) or not psn_no:
            raise
        return _person_page(request, who, psn_no, year, _error_text(exc), exc.status)
    back = f"/agency/persons/{quote(psn_no, safe='')}?year={quote(year)}#settlements"
    return redirect(request, back, ("ok", f"结算 {setl_id} 已撤销，年度累计已恢复。"))


@router.get("/agency/statements/{setl_id}", response_class=HTMLResponse)
def statement(request: Request, setl_id: str) -> Response:
    who = page_principal(request, AREA)
    return private(HTMLResponse(settlements.statement_html(_uow(request)(), who, setl_id)))


# --- transfers, filings, recognitions ---------------------------------------------------------

@router.get("/agency/transfers", response_class=HTMLResponse)
def transfer_list(request: Request) -> Response:
    who = page_principal(request, AREA)
    return _transfers_page(request, who)


def _transfers_page(request: Request, who: Principal, error: str = "", status: int = 200) -> Response:
    now = today()
    data = listings.open_transfers(_uow(request)(), who, now)
    return _page(request, who, "agency/transfers.html", "/transfers", status, error=error,
                 today=now.isoformat(), data=data, steps=TRANSFER_STEPS)


@router.post("/agency/transfers/{transfer_id}/{step}", response_class=HTMLResponse)
async def transfer_step(request: Request, transfer_id: str, step: str) -> Response:
    who = page_principal(request, AREA)
    values = await checked_form(request)
    if step not in TRANSFER_STEPS:
        raise NotFound(f"未知步骤 {step}", f"unknown step {step}")
    try:
        transfers.advance(_uow(request)(write=True), who, transfer_id, step,
                          _body(values, ("on", "reason", "contribution_months", "account_balance")))
    except NotFound:
        raise
    except MinshengError as exc:
        return _transfers_page(request, who, _error_text(exc), exc.status)
    return redirect(request, "/agency/transfers",
                    ("ok", f"转移接续 {transfer_id}：{TRANSFER_STEPS[step]}，已记录。"))


@router.get("/agency/filings", response_class=HTMLResponse)
def filing_list(request: Request) -> Response:
    who = page_principal(request, AREA)
    data = listings.filings_in_region(_uow(request)(), who)
    return _page(request, who, "agency/filings.html", "/filings", data=data)


@router.get("/agency/recognitions", response_class=HTMLResponse)
def recognition_list(request: Request) -> Response:
    who = page_principal(request, AREA)
    return _recognitions_page(request, who)


def _recognitions_page(request: Request, who: Principal, error: str = "",
                       status: int = 200) -> Response:
    data = listings.recognitions_in_region(_uow(request)(), who)
    return _page(request, who, "agency/recognitions.html", "/recognitions", status, error=error,
                 data=data)


@router.post("/agency/recognitions/{rec_id}/review", response_class=HTMLResponse)
async def recognition_review(request: Request, rec_id: str) -> Response:
    who = page_principal(request, AREA)
    values = await checked_form(request)
    try:
        done = recognitions.review(_uow(request)(write=True), who, rec_id,
                                   _body(values, ("decision", "reason", "on")))
    except NotFound:
        raise
    except MinshengError as exc:
        return _recognitions_page(request, who, _error_text(exc), exc.status)
    return redirect(request, "/agency/recognitions",
                    ("ok", f"认定 {rec_id} 审核完成：{done['status_name']}。"))


# --- social assistance ------------------------------------------------------------------------

def case_actions(case: dict[str, Any], allowed: Sequence[str]) -> list[str]:
    """The steps that can be taken on ``case`` now, among those the staff level ``allowed``."""
    checks = case["checks"]
    status = case["status"]
    actions: list[str] = []
    if status == "applied":
        actions.append("accept")
    elif status == "accepted":
        if checks["survey"] == "pending":
            actions.append("survey")
        if checks["economic_verification"] == "sent":
            actions.append("verification")
        if checks["appraisal"] == "not_required":
            actions.append("require-appraisal")
        elif checks["appraisal"] == "pending":
            actions.append("appraisal")
        if checks["survey"] != "pending" and checks["economic_verification"] in ("passed", "failed") \
                and checks["appraisal"] != "pending":
            actions.append("sign")
    return [a for a in actions if a.replace("-", "_") in allowed]


@router.get("/agency/assistance", response_class=HTMLResponse)
def assistance(request: Request) -> Response:
    who = page_principal(request, AREA)
    return _assistance_page(request, who)


def _assistance_page(request: Request, who: Principal, error: str = "", status: int = 200,
                     form: Mapping[str, str] | None = None) -> Response:
    uow = _uow(request)
    now = today()
    staff = listings.staff_level(uow(), who)
    cases = _cases(uow, who)
    for c in cases:
        c["actions"] = case_actions(c, staff["steps"])
    runs = listings.assistance_runs(uow(), who) if who.role == "admin" else []
    return _page(request, who, "agency/assistance.html", "/assistance", status, error=error,
                 staff=staff, cases=cases, today=now.isoformat(), runs=runs,
                 form=dict(form or {}), allowed_categories=_approval_categories(now),
                 step_names={k: v[2] for k, v in ASSISTANCE_STEPS.items()})


def _approval_categories(day: dt.date) -> list[tuple[str, str]]:
    """The categories the township approves in Changchun (``social_assistance.approval.categories``)."""
    from minsheng.service.casework.common import context

    try:
        keys = context(day, "220100", trace=False).param("social_assistance.approval.categories")
    except ParameterMissing:
        return []
    return [(k, "低收入人员（低保边缘家庭成员）" if k == "marginal_allowance" else CATEGORIES[k])
            for k in keys]


@router.post("/agency/assistance", response_class=HTMLResponse)
async def assistance_apply(request: Request) -> Response:
    """An application entered at the township's one door (or by the village committee)."""
    who = page_principal(request, AREA)
    values = await checked_form(request)
    body = _body(values, ("psn_no", "category", "township", "village", "on"))
    try:
        case = sa.apply(_uow(request)(write=True), who, body)
    except MinshengError as exc:
        return _assistance_page(request, who, _error_text(exc), exc.status, body)
    return redirect(request, f"/agency/assistance#case-{case['id']}",
                    ("ok", f"已登记申请 {case['id']}（{case['category_name']}），"
                           f"预计办结日期 {case['due_on']}。"))


@router.post("/agency/assistance/runs", response_class=HTMLResponse)
async def assistance_run(request: Request) -> Response:
    """The twice-monthly run (administrators): verification sent, signed decisions effective."""
    who = page_principal(request, AREA)
    values = await checked_form(request)
    try:
        day = dt.date.fromisoformat(first(values, "date")) if first(values, "date") else None
    except ValueError:
        return _assistance_page(request, who, "批次日期：日期格式应为 2023-09-15", 422)
    try:
        done = sa.run_batch(_uow(request)(write=True), who, day)
    except MinshengError as exc:
        return _assistance_page(request, who, _error_text(exc), exc.status)
    return redirect(request, "/agency/assistance", (
        "ok", f"{done['date']} 批次已运行：送经济核对 {len(done['verifications_sent'])} 件，"
              f"审批生效 {len(done['approved'])} 件，不予认定 {len(done['denied'])} 件。"))


@router.post("/agency/assistance/{case_id}/{step}", response_class=HTMLResponse)
async def assistance_step(request: Request, case_id: str, step: str) -> Response:
    who = page_principal(request, AREA)
    values = await checked_form(request)
    known = ASSISTANCE_STEPS.get(step)
    if known is None:
        raise NotFound(f"未知步骤 {step}（可用：{'、'.join(ASSISTANCE_STEPS)}）", f"unknown step {step}")
    handler, names, label = known
    body = _body(values, names)
    if "appraisal_required" in names:
        body["appraisal_required"] = first(values, "appraisal_required") == "true"
    try:
        case = handler(_uow(request)(write=True), who, case_id, body)
    except NotFound:
        raise
    except MinshengError as exc:
        return _assistance_page(request, who, f"{case_id}（{label}）：{_error_text(exc)}", exc.status)
    return redirect(request, f"/agency/assistance#case-{case_id}",
                    ("ok", f"{case_id}：{label}已记录，当前状态：{case['status_name']}。"))


# --- watch lists ------------------------------------------------------------------------------

@router.get("/agency/watch-lists", response_class=HTMLResponse)
def watch_list(request: Request, date: str | None = None, region: str | None = None) -> Response:
    who = page_principal(request, AREA)
    scope = listings.region_scope(who)
    chosen_region = region or who.region or ""
    data: dict[str, Any] | None = None
    error, status = "", 200
    if chosen_region:
        try:
            data = watch_lists.compute(_uow(request)(), who, date or None, chosen_region)
        except ParameterMissing as exc:
            where = all_regions().get(str(exc.details.get("region", "")))
            error = (f"{where.name if where else exc.details.get('region')}的因病返贫致贫监测线没有在政策原文中公布"
                     f"（缺少参数 {exc.name}，日期 {exc.details.get('date')}），无法生成名单；"
                     "目前只有山西省（140000）公布了监测线。")
            status = exc.status
        except MinshengError as exc:
            error, status = _error_text(exc), exc.status
    return _page(request, who, "agency/watch_lists.html", "/watch-lists", status, error=error,
                 data=data, date=date or today().isoformat(), region=chosen_region,
                 regions=[(r.code, r.name) for r in all_regions().values()
                          if scope is None or r.code in scope])


@router.get("/agency/watch-lists/export")
def watch_list_export(request: Request, format: str = "csv", date: str | None = None,
                      region: str | None = None) -> Response:
    """The list as CSV or XLSX for the civil affairs, health and rural revitalisation departments
    (the export is audited)."""
    who = page_principal(request, AREA)
    uow = _uow(request)
    content, media, name = watch_lists.export(uow(), uow(write=True), who, date or None,
                                              region or None, format)
    return private(Response(content, media_type=media, headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"}))
