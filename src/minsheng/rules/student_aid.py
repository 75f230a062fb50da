"""Student aid (圆梦助学) and student loans (生源地信用助学贷款) — Changchun, 2021.

POLICY.md §7; source 000_41bda435cb7595ae.txt (press conference of 2021-08-18). Every
amount, every eligible category and every region class is a parameter in
``parameters/changchun/student_aid.yaml`` and ``student_loan.yaml``; this module only
decides which parameter applies and explains why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from minsheng.core.calculation import Context, Field, calculation
from minsheng.core.categories import CATEGORIES
from minsheng.core.errors import InputError
from minsheng.core.money import format_fen, format_ratio, mul_ratio

SOURCE = "000_41bda435cb7595ae.txt"

PROGRAMS: tuple[tuple[str, str], ...] = (
    ("college_entrance", "高考助学"),
    ("high_school_entrance", "中考助学"),
    ("disabled_student", "扶残助学"),
    ("disabled_graduate", "残疾人学历教育毕业资助"),
    ("poverty_registered", "原建档立卡已脱贫家庭学生助学"),
    ("union_hardship", "工会困难职工子女助学"),
)
LEVELS: tuple[tuple[str, str], ...] = (
    ("preschool", "学前"),
    ("compulsory", "义务教育"),
    ("high_school", "高中"),
    ("secondary_vocational", "中职"),
    ("junior_college", "专科"),
    ("undergraduate", "本科"),
    ("postgraduate", "研究生"),
    ("university", "大学"),
)
HARDSHIP: tuple[tuple[str, str], ...] = (("deep", "深度困难"), ("relative", "相对困难"))
ENROLLMENT: tuple[tuple[str, str], ...] = (
    ("normal", "正常在读"), ("preparatory", "预科期间"), ("suspended", "保留学籍或休学"))
LOAN_LEVELS: tuple[tuple[str, str], ...] = (
    ("undergraduate", "本科生"),
    ("junior_college", "专科生（含高职）"),
    ("preparatory", "预科生"),
    ("second_degree", "第二学士学位"),
    ("postgraduate", "全日制研究生"),
)

LEVEL_LABEL = dict(LEVELS)
PROGRAM_LABEL = dict(PROGRAMS)
ENROLLMENT_LABEL = dict(ENROLLMENT)
DISTRICT_CLASS_LABEL = {"main": "主城区、开发区", "jiutai_shuangyang": "九台区、双阳区"}
# How the seed names the students of each eligible category.
STUDENT_OF = {"minimum_allowance": "低保家庭学生", "lifted_from_poverty": "原建档立卡已脱贫家庭学生",
              "orphan": "孤儿学生"}


@dataclass(frozen=True)
class Request:
    """One student's case, as parsed from the inputs."""

    program: str
    categories: tuple[str, ...]
    level: str | None
    hardship: str | None
    min_living_standard: int | None
    enrollment_status: str


def _paid(ctx: Context, amount: int, reason: str) -> dict[str, Any]:
    ctx.rule("covered", reason)
    return {"amount": amount, "covered": True, "reason": reason}


def _not_covered(ctx: Context, reason: str) -> dict[str, Any]:
    ctx.rule("covered", reason)
    return {"amount": 0, "covered": False, "reason": reason}


def _levels_text(levels: tuple[str, ...]) -> str:
    return "、".join(LEVEL_LABEL.get(k, k) for k in levels)


def _require(value: Any, field: str, program: str, what: str) -> Any:
    if value is None:
        raise InputError(field, f"{PROGRAM_LABEL[program]}须给出{what}",
                         f"{program} needs {field}")
    return value


def _entrance(ctx: Context, req: Request) -> dict[str, Any]:
    """高考助学 / 中考助学: the district class decides the standard, categories decide eligibility."""
    program = PROGRAM_LABEL[req.program]
    district_class: str = ctx.param("student_aid.entrance.district_class")
    region = f"{ctx.region.name}（{ctx.region_code}）"
    if district_class == "by_district":
        raise InputError(
            "region", f"{program}标准按区县区分（主城区、开发区与九台区、双阳区不同），"
                      f"请给出区县代码而不是 {region}",
            "the standard depends on the district: give a district code")
    if district_class == "not_covered":
        return _not_covered(ctx, f"{region}不在{program}标准范围内：原文只规定了主城区、开发区"
                                 f"及九台区、双阳区的标准")
    if district_class not in DISTRICT_CLASS_LABEL:
        raise InputError("student_aid.entrance.district_class",
                         f"未知的地区档次 {district_class!r}（可用：main、jiutai_shuangyang、"
                         f"not_covered、by_district）", "unknown district class")
    eligible: tuple[str, ...] = ctx.param("student_aid.entrance.eligible_categories")
    held = [c for c in req.categories if c in eligible]
    if not held:
        wanted = "、".join(STUDENT_OF.get(c, CATEGORIES.get(c, c)) for c in eligible)
        given = "、".join(CATEGORIES[c] for c in req.categories) or "无"
        return _not_covered(ctx, f"{program}只资助{wanted}（所给类别：{given}）")
    amount: int = ctx.param(f"student_aid.{req.program}.amount.{district_class}")
    who = STUDENT_OF.get(held[0], CATEGORIES[held[0]])
    return _paid(ctx, amount,
                 f"{region}执行{DISTRICT_CLASS_LABEL[district_class]}标准，"
                 f"{who}{program}{format_fen(amount)}元/人")


def _union_hardship(ctx: Context, req: Request) -> dict[str, Any]:
    """Union-registered hardship workers: months × the local minimum living standard."""
    hardship = _require(req.hardship, "hardship", req.program, "困难程度（深度困难或相对困难）")
    standard = _require(req.min_living_standard, "min_living_standard", req.program,
                        "当地最低生活保障标准（元/月）")
    level = _require(req.level, "level", req.program, "子女就读学段")
    covered: tuple[str, ...] = ctx.param("student_aid.union_hardship.covered_levels")
    if level not in covered:
        return _not_covered(ctx, f"工会困难职工子女助学只资助子女就读高中及以上大中专院校的家庭"
                                 f"（{_levels_text(covered)}），所给学段为{LEVEL_LABEL[level]}")
    months: int = ctx.param(f"student_aid.union_hardship.months.{hardship}")
    amount = ctx.compute("amount", "助学救助金额", "money", mul_ratio(standard, Fraction(months)),
                         f"{months} 个月 × 当地最低生活保障标准 {format_fen(standard)}，四舍五入到分")
    label = dict(HARDSHIP)[hardship]
    return _paid(ctx, amount, f"{label}职工家庭救助{months}个月当地最低生活保障标准总和"
                              f"：{format_fen(amount)}元")


def _disabled_student(ctx: Context, req: Request) -> dict[str, Any]:
    """扶残助学: per year by level; none during preparatory study or suspended enrollment."""
    level = _require(req.level, "level", req.program, "学段")
    if level == "university":
        raise InputError("level", "扶残助学金按本科及以上6000元、专科3000元分档，“大学”不能确定档次，"
                                  "请选择 undergraduate（本科）、postgraduate（研究生）或 "
                                  "junior_college（专科）",
                         "ambiguous level: choose undergraduate, postgraduate or junior_college")
    excluded: tuple[str, ...] = ctx.param(
        "student_aid.disabled_student.excluded_enrollment_statuses")
    if req.enrollment_status in excluded:
        return _not_covered(ctx, f"{ENROLLMENT_LABEL[req.enrollment_status]}不享受扶残助学金"
                                 f"（预科生考试合格进入学校后方可享受；保留学籍或休学的不再享受）")
    covered: tuple[str, ...] = ctx.param("student_aid.disabled_student.covered_levels")
    if level not in covered:
        return _not_covered(ctx, f"扶残助学金资助{_levels_text(covered)}在校生，"
                                 f"所给学段为{LEVEL_LABEL[level]}")
    amount: int = ctx.param(f"student_aid.disabled_student.amount.{level}")
    return _paid(ctx, amount, f"{LEVEL_LABEL[level]}残疾学生或贫困残疾人子女扶残助学金"
                              f"每人每年{format_fen(amount)}元")


def _disabled_graduate(ctx: Context, req: Request) -> dict[str, Any]:
    amount: int = ctx.param("student_aid.disabled_graduate.amount")
    return _paid(ctx, amount, f"残疾人参加成人高考或高等教育自学考试取得大专以上毕业证书，"
                              f"当年一次性学费资助{format_fen(amount)}元")


def _poverty_registered(ctx: Context, req: Request) -> dict[str, Any]:
    """原建档立卡已脱贫家庭学生: per student by level (大学 covers 本科 and 专科)."""
    level = _require(req.level, "level", req.program, "学段")
    covered: tuple[str, ...] = ctx.param("student_aid.poverty_registered.covered_levels")
    if level not in covered:
        return _not_covered(ctx, f"原建档立卡已脱贫家庭学生助学补助按学前、义务教育、高中、大学、中职发放，"
                                 f"原文未列{LEVEL_LABEL[level]}学段")
    amount: int = ctx.param(f"student_aid.poverty_registered.amount.{level}")
    reason = f"原建档立卡已脱贫家庭{LEVEL_LABEL[level]}学生助学补助{format_fen(amount)}元/生"
    exempt: tuple[str, ...] = ctx.param("student_aid.poverty_registered.fee_exemption_levels")
    if level in exempt:
        reason += "；就读长春市属（含民办）中职学校的，另免除学习相关费用"
    return _paid(ctx, amount, reason)


HANDLERS: dict[str, Callable[[Context, Request], dict[str, Any]]] = {
    "college_entrance": _entrance,
    "high_school_entrance": _entrance,
    "union_hardship": _union_hardship,
    "disabled_student": _disabled_student,
    "disabled_graduate": _disabled_graduate,
    "poverty_registered": _poverty_registered,
}


@calculation(
    "student_aid",
    title="长春市圆梦助学",
    description="高考、中考助学（按区县档次和救助对象类别）、工会困难职工子女助学（月数 × 当地低保标准）、"
                "扶残助学（按学段，每年）、残疾人学历教育毕业一次性资助、原建档立卡已脱贫家庭学生"
                "助学补助（按学段）。农安县、榆树市、德惠市、公主岭市不在高考、中考助学标准范围内。",
    inputs=[
        Field("program", "enum", "助学项目", choices=PROGRAMS),
        Field("categories", "categories", "家庭类别（高考、中考助学：低保对象、脱贫人口、孤儿）",
              required=False),
        Field("level", "enum", "就读学段", required=False, choices=LEVELS),
        Field("hardship", "enum", "困难职工家庭困难程度（工会助学）", required=False,
              choices=HARDSHIP),
        Field("min_living_standard", "money", "当地最低生活保障标准（元/月，工会助学）",
              required=False),
        Field("enrollment_status", "enum", "在学状态", required=False, default="normal",
              choices=ENROLLMENT),
    ],
    outputs=[
        Field("amount", "money", "助学金额（元）"),
        Field("covered", "bool", "是否属资助范围"),
        Field("reason", "text", "说明"),
    ],
    sources=(SOURCE,),
)
def student_aid(ctx: Context, program: str, categories: tuple[str, ...], level: str | None,
                hardship: str | None, min_living_standard: int | None,
                enrollment_status: str) -> dict[str, Any]:
    request = Request(program, categories, level, hardship, min_living_standard,
                      enrollment_status)
    return HANDLERS[program](ctx, request)


@calculation(
    "student_loan",
    title="生源地信用助学贷款",
    description="每人每年贷款最高额度（本专科生、预科生、第二学士学位8000元，全日制研究生12000元）；"
                "在校期间利息由财政承担，毕业后利率为同期同档次LPR减30个基点；毕业5年后开始还本。",
    inputs=[
        Field("level", "enum", "学生类别", choices=LOAN_LEVELS),
        Field("lpr", "ratio", "同期同档次贷款市场报价利率（LPR，如 0.0385；可选）", required=False),
    ],
    outputs=[
        Field("max_per_year", "money", "每人每年最高贷款额（元）"),
        Field("rate", "ratio", "毕业后自付利息的年利率", required=False),
        Field("repayment_starts_years_after_graduation", "integer", "毕业后第几年开始偿还本金"),
        Field("state_pays_interest_while_studying", "bool", "在校期间利息由财政承担"),
    ],
    default_region="220100",
    sources=(SOURCE,),
)
def student_loan(ctx: Context, level: str, lpr: Fraction | None) -> dict[str, Any]:
    max_per_year: int = ctx.param(f"student_loan.max_per_year.{level}")
    state_pays: bool = ctx.param("student_loan.state_pays_interest_while_studying")
    if state_pays:
        ctx.rule("interest", "学生在校期间利息全部由财政承担，毕业后自付利息")
    years: int = ctx.param("student_loan.repayment_starts_years_after_graduation")
    out: dict[str, Any] = {"max_per_year": max_per_year, "rate": None,
                           "repayment_starts_years_after_graduation": years,
                           "state_pays_interest_while_studying": state_pays}
    if lpr is None:
        ctx.rule("rate", "未给出LPR，不计算毕业后利率（利率 = 同期同档次LPR − 30个基点）")
        return out
    margin: Fraction = ctx.param("student_loan.rate_margin_below_lpr")
    rate = lpr - margin
    if rate < 0:
        raise InputError("lpr", f"LPR {format_ratio(lpr)} 低于减点幅度 {format_ratio(margin)}，"
                                "利率不能为负", "LPR is below the margin")
    out["rate"] = ctx.compute("rate", "毕业后贷款利率", "ratio", rate,
                              f"LPR {format_ratio(lpr)} − {format_ratio(margin)}（30个基点）")
    return out
