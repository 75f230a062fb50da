"""Straw-to-meat subsidy (秸秆变肉) — Yushu pilot, 2020: an eligibility check, no amounts.

POLICY.md §9; source 003_8545a6f139e71cec.txt. Who may apply, for which items, from which
day items count, and the closing date of applications are parameters in
``parameters/changchun/straw_feed.yaml`` (jurisdiction 榆树市 220182).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from minsheng.core.calculation import Context, Field, calculation
from minsheng.core.errors import InputError

SOURCE = "003_8545a6f139e71cec.txt"
PREFIX = "agriculture.straw_feed"

APPLICANT_TYPES = (
    ("herbivore_farm", "草食畜养殖场"),
    ("herbivore_household", "草食畜养殖户"),
    ("herbivore_cooperative", "草食畜养殖合作社"),
    ("feed_processor", "秸秆饲料加工企业（合作社）"),
)
ITEMS = (
    ("storage_pit", "贮窖"),
    ("fermented_feed", "秸秆发酵饲料"),
    ("feed_machinery", "秸秆饲料加工机械"),
)
PIT_STRUCTURES = (("masonry", "砖石混凝土结构"), ("other", "其他结构"))
ITEM_LABEL = dict(ITEMS)


def _item_conditions(ctx: Context, day: dt.date, item: str, item_date: dt.date,
                     pit_structure: str | None) -> tuple[list[str], list[str]]:
    """(conditions failed, conditions met) of the item itself, in Chinese."""
    failed: list[str] = []
    met: list[str] = []
    when = item_date.isoformat()
    if item == "storage_pit":
        start: dt.date = ctx.param(f"{PREFIX}.storage_pit.built_from", day)
        (met if item_date >= start else failed).append(
            f"贮窖建设日期{when}{'不早于' if item_date >= start else '早于'}{start.isoformat()}")
        if pit_structure == "other":
            failed.append("贮窖不是砖石混凝土结构")
        elif pit_structure == "masonry":
            met.append("贮窖为砖石混凝土结构")
        else:
            met.append("贮窖还须为砖石混凝土结构（未给出结构，请核实）")
    elif item == "feed_machinery":
        start = ctx.param(f"{PREFIX}.feed_machinery.bought_from", day)
        (met if item_date >= start else failed).append(
            f"机械购买日期{when}{'不早于' if item_date >= start else '早于'}{start.isoformat()}")
    else:
        year: int = ctx.param(f"{PREFIX}.fermented_feed.production_year", day)
        (met if item_date.year == year else failed).append(
            f"发酵饲料生产日期{when}{'在' if item_date.year == year else '不在'}{year}年内")
    return failed, met


@calculation(
    "straw_feed_subsidy_eligibility",
    title="榆树市“秸秆变肉”试点项目补助资格",
    description="草食畜养殖场户、养殖合作社、秸秆饲料加工企业（合作社）申报：2020年10月19日起建设的"
                "砖石混凝土结构贮窖、2020年加工生产的秸秆发酵饲料、2020年10月19日起购买的秸秆饲料"
                "加工机械；申报至2020年11月30日结束，逾期视为自动放弃。原文未印出补助金额。",
    inputs=[
        Field("applicant_type", "enum", "申报主体类型", choices=APPLICANT_TYPES),
        Field("item", "enum", "补助内容", choices=ITEMS),
        Field("item_date", "date", "建设、生产或购买日期"),
        Field("application_date", "date", "申报日期"),
        Field("pit_structure", "enum", "贮窖结构（贮窖项目）", required=False,
              choices=PIT_STRUCTURES),
    ],
    outputs=[
        Field("eligible", "bool", "是否符合补助条件"),
        Field("reason", "text", "说明"),
    ],
    default_region="220182",
    date_input="application_date",
    sources=(SOURCE,),
)
def straw_feed_subsidy_eligibility(ctx: Context, applicant_type: str, item: str,
                                   item_date: dt.date, application_date: dt.date,
                                   pit_structure: str | None) -> dict[str, Any]:
    if item_date > application_date:
        raise InputError("item_date", f"建设、生产或购买日期 {item_date.isoformat()} 晚于申报日期 "
                                      f"{application_date.isoformat()}",
                         "the item date is after the application date")
    if ctx.date != application_date:
        ctx.rule("date", f"以申报日期 {application_date.isoformat()} 为准")
    failed: list[str] = []
    met: list[str] = []
    applicants: tuple[str, ...] = ctx.param(f"{PREFIX}.applicant_types", application_date)
    label = dict(APPLICANT_TYPES)[applicant_type]
    (met if applicant_type in applicants else failed).append(
        f"{label}{'属' if applicant_type in applicants else '不属'}补助对象")
    items: tuple[str, ...] = ctx.param(f"{PREFIX}.items", application_date)
    if item in items:
        item_failed, item_met = _item_conditions(ctx, application_date, item, item_date,
                                                     pit_structure)
        failed += item_failed
        met += item_met
    else:
        failed.append(f"{ITEM_LABEL[item]}不属补助内容")
    deadline: dt.date = ctx.param(f"{PREFIX}.application_deadline", application_date)
    if application_date > deadline:
        failed.append(f"申报日期{application_date.isoformat()}晚于截止日{deadline.isoformat()}，"
                      f"逾期不申报的视为自动放弃")
    else:
        met.append(f"在截止日{deadline.isoformat()}（含）之前申报")
    eligible = not failed
    if eligible:
        reason = f"符合补助条件：{'；'.join(met)}（原文未印出补助金额）"
    else:
        reason = f"不符合补助条件：{'；'.join(failed)}"
    ctx.rule("eligible", reason)
    return {"eligible": eligible, "reason": reason}
