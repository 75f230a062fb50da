"""Citizen self-service (参保人自助服务, ``/me``): one's own insurance at a glance, in plain words.

For the logged-in citizen token's own ``psn_no`` (the service functions check it, as the API
does): the registration (resident id masked), this year's contribution and fiscal subsidy
for the person's region — computed by the registered calculations, and saying plainly when
the policy texts print no figure for that year — the settlements with their printable
statements (结算单), the year's totals (基本医保、大病保险、医疗救助、个人负担), and every
filing and application with where it stands. Large type, short sentences (适老化, 000).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from minsheng.api.deps import database
from minsheng.core.calculation import run
from minsheng.core.categories import CATEGORIES
from minsheng.core.errors import InputError, ParameterMissing
from minsheng.core.parameters import Reference
from minsheng.core.regions import get_region
from minsheng.service import listings, persons, settlements
from minsheng.service.casework import filings, recognitions, transfers
from minsheng.service.casework.common import today
from minsheng.service.unit_of_work import factory
from minsheng.web.routes import result_view
from minsheng.web.session import PageRoute, page_principal, private, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

FIRST_YEAR = 2020
"""The earliest year offered (the oldest policy text, 004, is of 2020)."""

TOTALS = (("hifp_pay", "基本医保统筹基金支付"), ("hifmi_pay", "大病保险支付"),
          ("maf_pay", "医疗救助支付"), ("psn_part_amt", "个人负担（自己付的钱）"))
MED_TYPES = {"11": "普通门诊", "14": "门诊慢特病", "21": "住院"}


@dataclass(frozen=True)
class Figure:
    """One figure of the contributions section: computed, or why it cannot be."""

    title: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    sources: list[Reference] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing: str = ""  # in plain words, when the figure cannot be given
    detail: str = ""  # which parameter, region and date are missing (for the counter staff)
    note: str = ""


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _figure(title: str, name: str, day: dt.date, region: str, inputs: dict[str, Any],
            year: int, note: str = "") -> Figure:
    try:
        result = run(name, date=day, region=region, inputs=inputs)
    except ParameterMissing as exc:
        where = get_region(region).name
        return Figure(title, missing=(f"政策原文没有公布 {year} 年{where}的这项标准，本站不做推算。"
                                      "如需了解，请向当地医保经办机构咨询。"),
                      detail=f"缺少参数 {exc.name}（地区 {region}，日期 {day.isoformat()}）", note=note)
    view = result_view(result)
    return Figure(title, view.outputs, view.sources, view.warnings, note=note)


def contribution_figures(person: dict[str, Any], year: int, born: dt.date | None,
                         now: dt.date) -> list[Figure]:
    """The contribution, the fiscal subsidy and any enrollment subsidy for ``year``.

    Residents: the amounts of the whole year, read on 1 January (age on that day).
    Employees: the contribution base limits in force at the end of the year (or today)."""
    region = person["region"]
    if person["insutype"] == "310":
        day = min(now, dt.date(year, 12, 31))
        return [_figure("职工医保缴费基数", "employee_contribution_base", day, region, {}, year,
                        note=f"按 {day.isoformat()} 有效的规定。缴费基数为本人月工资，"
                             "低于下限按下限、高于上限按上限。")]
    day = dt.date(year, 1, 1)
    figures = [_figure("城乡居民医保人均财政补助", "resident_fiscal_subsidy", day, region, {}, year,
                       note="这是各级财政为每位参保居民每年补助的钱，不需要个人缴纳。")]
    if born is None:
        figures.insert(0, Figure("个人缴费", missing="登记信息中没有身份证号码，无法按年龄确定缴费标准。"
                                                     "请到经办机构窗口核对登记信息。"))
    else:
        age = age_on(born, day)
        figures.insert(0, _figure("个人缴费", "resident_contribution", day, region,
                                  {"age": age, "is_student": False}, year,
                                  note=f"按 {year} 年1月1日的年龄（{age} 周岁）计算。"
                                       "在校学生另有标准，以经办机构核定为准。"))
    held = categories_held(person, day, dt.date(year, 12, 31))
    if held:
        figures.append(_figure("困难群众资助参保", "enrollment_subsidy", day, region,
                               {"categories": held}, year,
                               note="按您持有的救助对象类别："
                                    + "、".join(CATEGORIES[c] for c in held) + "。"))
    return figures


def categories_held(person: dict[str, Any], start: dt.date, end: dt.date) -> list[str]:
    """The category keys held at some time between ``start`` and ``end``."""
    held: list[str] = []
    for c in person["categories"]:
        frm = dt.date.fromisoformat(c["valid_from"]) if c["valid_from"] else None
        to = dt.date.fromisoformat(c["valid_to"]) if c["valid_to"] else None
        if (frm is None or frm <= end) and (to is None or to >= start) and c["category"] not in held:
            held.append(c["category"])
    return held


def parse_page_year(raw: str | None, now: dt.date) -> int:
    if raw in (None, ""):
        return now.year
    try:
        year = int(str(raw).strip())
    except ValueError:
        raise InputError("year", f"年度应为四位数字，收到 {raw!r}", "expected a year") from None
    if not FIRST_YEAR <= year <= now.year:
        raise InputError("year", f"年度应在 {FIRST_YEAR} 至 {now.year} 年之间", "year out of range")
    return year


@router.get("/me", response_class=HTMLResponse)
def me(request: Request, year: str | None = None) -> Response:
    who = page_principal(request, "/me")
    assert who.psn_no is not None
    uow = factory(database(request))
    now = today()
    error = ""
    try:
        chosen = parse_page_year(year, now)
    except InputError as exc:
        chosen, error = now.year, exc.message
    person = persons.get_person(uow(), who, who.psn_no)
    born = listings.birth_date(uow(), who, who.psn_no)
    held_now = [c for c in person["categories"] if _holds(c, now)]
    context = {
        "who": who, "person": person, "year": chosen, "years": list(range(now.year, FIRST_YEAR - 1, -1)),
        "today": now.isoformat(), "year_error": error, "held_now": held_now,
        "figures": contribution_figures(person, chosen, born, now),
        "settlements": settlements.list_for_person(uow(), who, who.psn_no, chosen)["settlements"],
        "totals": settlements.accumulators(uow(), who, who.psn_no, chosen),
        "total_labels": TOTALS, "med_types": MED_TYPES, "category_names": CATEGORIES,
        "filings": filings.list_filings(uow(), who, who.psn_no)["filings"],
        "transfers": transfers.list_transfers(uow(), who, who.psn_no)["transfers"],
        "recognitions": recognitions.list_recognitions(uow(), who, who.psn_no)["recognitions"],
        "cases": listings.own_assistance_cases(uow(), who, who.psn_no, now)["cases"],
    }
    return render(request, "me.html", 422 if error else 200, nav="me", **context)


def _holds(c: dict[str, Any], day: dt.date) -> bool:
    return ((c["valid_from"] is None or dt.date.fromisoformat(c["valid_from"]) <= day)
            and (c["valid_to"] is None or dt.date.fromisoformat(c["valid_to"]) >= day))


@router.get("/me/statements/{setl_id}", response_class=HTMLResponse)
def my_statement(request: Request, setl_id: str) -> Response:
    """The printable statement (结算单) of one's own settlement (another's: 403)."""
    who = page_principal(request, "/me")
    return private(HTMLResponse(settlements.statement_html(factory(database(request))(), who, setl_id)))
