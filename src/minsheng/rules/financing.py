"""Financing of medical insurance: fiscal subsidy, contributions and contribution bases.

POLICY.md §1 (Jilin resident insurance, 004_2cc05c92617d4cf3.txt and 000_41bda435cb7595ae.txt)
and §2 (Changchun employee contribution base, 001_2744dedfd50d42c2.txt).
"""

from __future__ import annotations

from typing import Any

from minsheng.core.calculation import Context, Field, calculation
from minsheng.core.money import div_half_up, format_fen, format_ratio, mul_ratio, split

SUBSIDY = "medical.financing.resident.fiscal_subsidy"
LEVELS = (("central", "中央财政补助"), ("provincial", "省级财政补助"), ("local", "市县财政补助"))


@calculation(
    "resident_fiscal_subsidy",
    title="城乡居民医保人均财政补助及各级分担",
    description="人均财政补助标准按地区类别（一般地区、延边州、伊通/长白/前郭三个自治县）的分担比例"
                "拆分为中央、省级、市县三级；给出参保人数时同时计算各级财政应负担的总额。",
    inputs=[Field("insured_persons", "integer", "参保人数（可选，用于计算各级财政负担总额）",
                  required=False, minimum=0)],
    outputs=[
        Field("total", "money", "人均财政补助（元/人·年）"),
        Field("central", "money", "中央财政补助（元/人·年）"),
        Field("provincial", "money", "省级财政补助（元/人·年）"),
        Field("local", "money", "市县财政补助（元/人·年）"),
        Field("liability_total", "money", "财政补助总额", required=False),
        Field("liability_central", "money", "中央财政负担总额", required=False),
        Field("liability_provincial", "money", "省级财政负担总额", required=False),
        Field("liability_local", "money", "市县财政负担总额", required=False),
    ],
    sources=("004_2cc05c92617d4cf3.txt", "000_41bda435cb7595ae.txt"),
)
def resident_fiscal_subsidy(ctx: Context, insured_persons: int | None) -> dict[str, Any]:
    total: int = ctx.param(f"{SUBSIDY}.total")
    shares = [ctx.param(f"{SUBSIDY}.share.{key}") for key, _ in LEVELS]
    parts = split(total, shares)
    out: dict[str, Any] = {"total": total}
    for (key, label), share, part in zip(LEVELS, shares, parts, strict=True):
        out[key] = ctx.compute(key, label, "money", part,
                               f"{format_fen(total)} × {format_ratio(share)}")
    if insured_persons is not None:
        out["liability_total"] = ctx.compute(
            "liability_total", "财政补助总额", "money", total * insured_persons,
            f"{format_fen(total)} × {insured_persons} 人")
        for (key, label), part in zip(LEVELS, parts, strict=True):
            out[f"liability_{key}"] = ctx.compute(
                f"liability_{key}", f"{label}负担总额", "money", part * insured_persons,
                f"{format_fen(part)} × {insured_persons} 人")
    return out


@calculation(
    "resident_contribution",
    title="城乡居民医保个人缴费标准",
    description="成年人与大中小学生、未满18周岁人员的个人缴费标准（元/人·年）。",
    inputs=[
        Field("age", "integer", "年龄（周岁）", minimum=0, maximum=150),
        Field("is_student", "bool", "是否在校学生（大中小学生）", required=False, default=False),
    ],
    outputs=[Field("amount", "money", "个人缴费（元/年）"),
             Field("group", "enum", "缴费人群",
                   choices=(("adult", "成年人"), ("student_or_minor", "学生或未成年人")))],
    sources=("004_2cc05c92617d4cf3.txt",),
)
def resident_contribution(ctx: Context, age: int, is_student: bool) -> dict[str, Any]:
    limit: int = ctx.param("medical.financing.resident.contribution.minor_age_limit")
    if is_student or age < limit:
        reason = "在校学生" if is_student else f"未满{limit}周岁"
        ctx.rule("group", f"{reason}，按大中小学生及未成年人标准缴费")
        group = "student_or_minor"
    else:
        ctx.rule("group", f"年满{limit}周岁且非在校学生，按成年人标准缴费")
        group = "adult"
    amount: int = ctx.param(f"medical.financing.resident.contribution.{group}")
    return {"amount": amount, "group": group}


@calculation(
    "employee_contribution_base",
    title="职工医保个人缴费基数",
    description="全省全口径城镇单位就业人员平均工资折算月平均工资（四舍五入到分），"
                "再按比例得出缴费基数上下限（先取整月平均工资，再乘比例并四舍五入）；"
                "给出月工资时，缴费基数为月工资限定在上下限之间。",
    inputs=[Field("monthly_wage", "money", "本人月工资（可选）", required=False)],
    outputs=[
        Field("monthly_average_wage", "money", "月平均工资（元/月）"),
        Field("base_lower", "money", "缴费基数下限（元/月）"),
        Field("base_upper", "money", "缴费基数上限（元/月）"),
        Field("base", "money", "本人缴费基数（元/月）", required=False),
    ],
    sources=("001_2744dedfd50d42c2.txt",),
)
def employee_contribution_base(ctx: Context, monthly_wage: int | None) -> dict[str, Any]:
    monthly = _monthly_average_wage(ctx)
    upper_share = ctx.param("medical.employee.contribution_base.upper_share")
    lower_share = ctx.param("medical.employee.contribution_base.lower_share")
    upper = ctx.compute("base_upper", "缴费基数上限", "money", mul_ratio(monthly, upper_share),
                        f"{format_fen(monthly)} × {format_ratio(upper_share)}，四舍五入到分")
    lower = ctx.compute("base_lower", "缴费基数下限", "money", mul_ratio(monthly, lower_share),
                        f"{format_fen(monthly)} × {format_ratio(lower_share)}，四舍五入到分")
    out: dict[str, Any] = {"monthly_average_wage": monthly, "base_lower": lower,
                           "base_upper": upper}
    if monthly_wage is not None:
        base = min(max(monthly_wage, lower), upper)
        out["base"] = ctx.compute(
            "base", "本人缴费基数", "money", base,
            f"月工资 {format_fen(monthly_wage)} 限定在 [{format_fen(lower)}, {format_fen(upper)}]")
    return out


def _monthly_average_wage(ctx: Context) -> int:
    annual: int = ctx.param("employment.average_wage.annual")
    monthly: int = ctx.compute("monthly_average_wage", "月平均工资", "money", div_half_up(annual, 12),
                       f"{format_fen(annual)} ÷ 12，四舍五入到分")
    return monthly


@calculation(
    "flexible_employment_contribution",
    title="灵活就业人员医保月缴费标准",
    description="单建模式或统账结合模式的月缴费标准 = 月平均工资 × 费率（四舍五入到分），"
                "不含另行缴纳的大额保险费。",
    inputs=[Field("mode", "enum", "参保模式",
                  choices=(("single", "单建模式"), ("combined", "统账结合模式")))],
    outputs=[
        Field("monthly_contribution", "money", "月缴费标准（元/月）"),
        Field("large_amount_premium", "money", "大额保险费（另行缴纳）"),
    ],
    sources=("001_2744dedfd50d42c2.txt",),
)
def flexible_employment_contribution(ctx: Context, mode: str) -> dict[str, Any]:
    monthly = _monthly_average_wage(ctx)
    rate = ctx.param(f"medical.flexible_employment.contribution_rate.{mode}")
    contribution = ctx.compute(
        "monthly_contribution", "月缴费标准", "money", mul_ratio(monthly, rate),
        f"{format_fen(monthly)} × {format_ratio(rate)}，四舍五入到分")
    premium: int = ctx.param("medical.flexible_employment.large_amount_premium")
    return {"monthly_contribution": contribution, "large_amount_premium": premium}


@calculation(
    "pku_benefit",
    title="苯丙酮尿症（PKU）医保待遇",
    description="参加吉林省基本医保的苯丙酮尿症患者，2021年1月1日起发生的费用按规定支付待遇。",
    inputs=[Field("service_date", "date", "费用发生日期")],
    outputs=[Field("covered", "bool", "是否享受待遇")],
    sources=("000_41bda435cb7595ae.txt",),
)
def pku_benefit(ctx: Context, service_date: Any) -> dict[str, Any]:
    start = ctx.param("medical.pku.benefit_start")
    covered = service_date >= start
    ctx.rule("covered", f"费用发生日期 {service_date.isoformat()} "
                        f"{'不早于' if covered else '早于'}待遇开始日 {start.isoformat()}："
                        f"{'支付待遇' if covered else '不属本项待遇'}")
    return {"covered": covered}
