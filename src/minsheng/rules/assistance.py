"""Assistance for people in hardship, one person at a time.

- POLICY.md §3.1 资助参保 ``enrollment_subsidy`` — Shanxi, 002_e6e604b5a3b60eed.txt;
- POLICY.md §3.4 先诊疗后付费 ``deposit_waiver`` — Shanxi, 002;
- POLICY.md §3.5 因病返贫致贫监测 ``watch_list`` (and :func:`watch_list_status`, used by the
  settlement kernel for its per person-year output) — Shanxi, 002;
- POLICY.md §4 多发性硬化慈善救助 ``ms_charity_aid`` — Jilin, 001_2744dedfd50d42c2.txt.

Who is eligible is always a cited ``list`` parameter of category keys, so the trace says
which clause made the decision and a what-if can widen or narrow it.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from minsheng.core.calculation import Context, Field, calculation
from minsheng.core.categories import CATEGORIES, category_key
from minsheng.core.errors import ParameterMissing
from minsheng.core.money import format_fen, format_ratio, mul_ratio

SHANXI_SOURCE = "002_e6e604b5a3b60eed.txt"
JILIN_SOURCE = "001_2744dedfd50d42c2.txt"

CONTRIBUTION_STANDARD = "medical.financing.resident.contribution.standard"
ENROLLMENT = "medical.enrollment_subsidy"
ORPHANS_AS_EXTREME_POVERTY = "assistance.orphans_count_as_extreme_poverty"
RELAPSE_CATEGORIES = "medical.monitoring.relapse_watch.categories"
RELAPSE_THRESHOLD = "medical.monitoring.relapse_watch.threshold"
IMPOVERISH_THRESHOLD = "medical.monitoring.impoverish_watch.threshold"
DEPOSIT_CATEGORIES = "medical.deposit_waiver.categories"
MS = "charity.multiple_sclerosis"

# The order in which a person's categories are considered; on equal treatment the first
# wins (SETTLEMENT.md's order of the medical assistance categories, then the others).
PRIORITY = ("extreme_poverty", "relapsed_poverty", "minimum_allowance", "monitored",
            "marginal_allowance", "illness_impoverished", "at_risk_poverty",
            "lifted_from_poverty", "orphan")

# 农村困难家庭: eligible for the MS charity aid, but not an assistance category of CONTRACT.md.
RURAL_HARDSHIP = "rural_hardship_household"
RURAL_HARDSHIP_LABEL = "农村困难家庭"

WATCH_LISTS = (("relapse_watch", "因病返贫监测范围"), ("impoverish_watch", "因病致贫监测范围"),
               ("none", "不纳入监测"))
CATEGORY_FIELD = Field("categories", "categories", "救助对象类别（可多选）", required=False)


def _label(key: str) -> str:
    return RURAL_HARDSHIP_LABEL if key == RURAL_HARDSHIP else CATEGORIES.get(key, key)


def _labels(keys: list[str] | tuple[str, ...]) -> str:
    return "、".join(_label(k) for k in keys) or "无"


def _ordered(categories: tuple[str, ...] | list[str]) -> list[str]:
    return sorted(categories, key=lambda c: PRIORITY.index(c) if c in PRIORITY else len(PRIORITY))


def _category_list(ctx: Context, name: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A ``list`` parameter of category keys (Chinese names accepted in what-if overrides)."""
    raw = ctx.param(name)
    if raw is None:
        return ()
    keys: list[str] = []
    for i, item in enumerate(raw):
        text = str(item).strip()
        if text in extra or (text == RURAL_HARDSHIP_LABEL and RURAL_HARDSHIP in extra):
            keys.append(RURAL_HARDSHIP if text == RURAL_HARDSHIP_LABEL else text)
        else:
            keys.append(category_key(text, f"parameters.{name}[{i}]"))
    return tuple(keys)


def _money_param(ctx: Context, name: str) -> int:
    """A money parameter that must have a value (``None`` is as unknown as no entry)."""
    value = ctx.param(name)
    if value is None:
        raise ParameterMissing(name, ctx.region_code, ctx.date.isoformat())
    assert isinstance(value, int)
    return value


def _with_orphans(ctx: Context, categories: tuple[str, ...],
                  eligible: tuple[str, ...]) -> tuple[str, ...]:
    """An orphan counts as 特困人员 where the text says 特困人员(含孤儿和事实无人抚养儿童)."""
    if ("orphan" in categories and "extreme_poverty" not in categories
            and "extreme_poverty" in eligible):
        if ctx.param(ORPHANS_AS_EXTREME_POVERTY):
            ctx.rule("orphan", "孤儿属特困人员范围（特困人员含孤儿和事实无人抚养儿童），按特困人员对待")
            return (*categories, "extreme_poverty")
        ctx.rule("orphan", "孤儿在此地区、此日期不按特困人员对待")
    return categories


# ---------------------------------------------------------------------------------------
# §3.1 资助参保


@calculation(
    "enrollment_subsidy",
    title="困难群众资助参保（城乡居民医保个人缴费）",
    description="对个人缴费确有困难的群众分类资助：特困人员全额资助；低保对象按个人缴费标准80%定额资助；"
                "2022年至2025年易返贫致贫人口每人每年280元定额资助；返贫致贫人口按90%定额资助。"
                "同时属于多类的，按资助额最高的一类（就高）；资助额不超过个人缴费标准。"
                "个人缴费标准可作为输入给出，否则取参数（山西省的标准原文未印出）。",
    inputs=[
        CATEGORY_FIELD,
        Field("contribution_standard", "money", "城乡居民医保个人缴费标准（元/人·年，可选）",
              required=False),
    ],
    outputs=[
        Field("subsidy", "money", "资助金额（元/人·年）"),
        Field("personal_payment", "money", "个人实际缴费（元/人·年）"),
        Field("subsidy_category", "enum", "资助所依据的类别",
              choices=(*CATEGORIES.items(), ("none", "无"))),
    ],
    sources=(SHANXI_SOURCE,),
)
def enrollment_subsidy(ctx: Context, categories: tuple[str, ...],
                       contribution_standard: int | None) -> dict[str, Any]:
    if contribution_standard is None:
        standard = _money_param(ctx, CONTRIBUTION_STANDARD)
    else:
        standard = ctx.compute("contribution_standard", "个人缴费标准（输入）", "money",
                               contribution_standard)
    eligible = _category_list(ctx, f"{ENROLLMENT}.categories")
    held = _with_orphans(ctx, categories, eligible)
    candidates: list[tuple[str, int]] = []
    for cat in _ordered(held):
        if cat not in eligible:
            ctx.rule(f"not_subsidised.{cat}", f"{_label(cat)}不属资助参保的类别，不据此资助")
            continue
        candidates.append((cat, _category_subsidy(ctx, cat, standard)))
    if not candidates:
        ctx.rule("subsidy_category", f"不属资助参保对象（类别：{_labels(categories)}），个人全额缴费")
        best, subsidy = "none", 0
    else:
        best, subsidy = max(candidates, key=lambda c: c[1])  # first of the largest
        if len(candidates) > 1:
            listed = "；".join(f"{_label(c)} {format_fen(s)}" for c, s in candidates)
            ctx.rule("subsidy_category",
                     f"同时属于多类资助对象（{listed}），按就高原则取{_label(best)}的资助 "
                     f"{format_fen(subsidy)}")
        else:
            ctx.rule("subsidy_category", f"按{_label(best)}资助 {format_fen(subsidy)}")
    ctx.compute("subsidy", "资助金额", "money", subsidy)
    personal = ctx.compute("personal_payment", "个人实际缴费", "money", standard - subsidy,
                           f"{format_fen(standard)} − {format_fen(subsidy)}")
    return {"subsidy": subsidy, "personal_payment": personal, "subsidy_category": best}


def _category_subsidy(ctx: Context, cat: str, standard: int) -> int:
    """One category's subsidy: a fixed amount or a ratio of the standard, at most the standard."""
    amount_name = f"{ENROLLMENT}.{cat}.amount"
    ratio_name = f"{ENROLLMENT}.{cat}.ratio"
    declared = ctx.params.store.declarations
    if amount_name in declared:
        value = _money_param(ctx, amount_name)
        formula = f"定额 {format_fen(value)}"
    elif ratio_name in declared:
        ratio = ctx.param(ratio_name)
        if ratio is None:
            value, formula = 0, "资助比例为无"
        else:
            assert isinstance(ratio, Fraction)
            value = mul_ratio(standard, ratio)
            formula = f"{format_fen(standard)} × {format_ratio(ratio)}，四舍五入到分"
    else:
        raise ParameterMissing(ratio_name, ctx.region_code, ctx.date.isoformat())
    if value > standard:
        formula += (f"；{format_fen(value)} 高于个人缴费标准 {format_fen(standard)}，"
                    f"以个人缴费标准为限（个人缴费不为负）")
        value = standard
    ctx.compute(f"subsidy.{cat}", f"{_label(cat)}资助", "money", value, formula)
    return value


# ---------------------------------------------------------------------------------------
# §3.5 因病返贫致贫监测


def watch_list_status(ctx: Context, categories: tuple[str, ...], burden: int) -> tuple[str, int]:
    """The watch list a person-year's cumulative personal burden puts the person on.

    Returns ``(list key, threshold in fen)``: ``relapse_watch`` (因病返贫) for vulnerable
    groups and people lifted out of poverty whose burden exceeds (strictly) the relapse
    threshold, ``impoverish_watch`` (因病致贫) for anyone else above the impoverishment
    threshold, else ``none`` with the threshold that was applied. The thresholds and the
    categories are read through ``ctx.param``, so the trace cites them.
    """
    listed = _category_list(ctx, RELAPSE_CATEGORIES)
    held = [c for c in _ordered(categories) if c in listed]
    if held:
        key, name = "relapse_watch", RELAPSE_THRESHOLD
        who = f"属困难群体或脱贫人口（{_labels(held)}）"
    else:
        key, name = "impoverish_watch", IMPOVERISH_THRESHOLD
        who = f"不属困难群体或脱贫人口（类别：{_labels(categories)}），按其他参保人员"
    threshold = _money_param(ctx, name)
    label = dict(WATCH_LISTS)[key]
    if burden > threshold:
        ctx.rule("list", f"{who}；个人年度累计负担 {format_fen(burden)} 超过 "
                         f"{format_fen(threshold)}：纳入{label}")
        return key, threshold
    ctx.rule("list", f"{who}；个人年度累计负担 {format_fen(burden)} 未超过 "
                     f"{format_fen(threshold)}：不纳入{label}")
    return "none", threshold


@calculation(
    "watch_list",
    title="因病返贫致贫监测",
    description="困难群体和脱贫人口个人年度累计负担医疗费用超过6000元的，纳入因病返贫监测范围；"
                "其他参保人员超过2万元的，纳入因病致贫监测范围（“超过”为严格大于）。"
                "个人负担 = 医疗总费用 − 基本医保 − 大病保险 − 医疗救助支付，含目录外费用。",
    inputs=[
        CATEGORY_FIELD,
        Field("annual_personal_burden", "money", "个人年度累计负担医疗费用（元）"),
    ],
    outputs=[
        Field("list", "enum", "监测结果", choices=WATCH_LISTS),
        Field("threshold", "money", "适用的监测线（元）"),
    ],
    sources=(SHANXI_SOURCE,),
)
def watch_list(ctx: Context, categories: tuple[str, ...],
               annual_personal_burden: int) -> dict[str, Any]:
    key, threshold = watch_list_status(ctx, categories, annual_personal_burden)
    return {"list": key, "threshold": threshold}


# ---------------------------------------------------------------------------------------
# §3.4 先诊疗后付费


@calculation(
    "deposit_waiver",
    title="先诊疗后付费（免除住院押金）",
    description="经基层首诊转诊的低保对象、特困人员、返贫致贫人口、监测对象在市域内定点医疗机构住院，"
                "“先诊疗后付费”，免除住院押金。三项条件须同时满足。",
    inputs=[
        CATEGORY_FIELD,
        Field("referred_from_primary_care", "bool", "是否经基层首诊转诊"),
        Field("admitted_in_home_city", "bool", "是否在本市域内定点医疗机构住院"),
    ],
    outputs=[
        Field("waived", "bool", "是否免除住院押金"),
        Field("reason", "text", "理由"),
    ],
    sources=(SHANXI_SOURCE,),
)
def deposit_waiver(ctx: Context, categories: tuple[str, ...], referred_from_primary_care: bool,
                   admitted_in_home_city: bool) -> dict[str, Any]:
    eligible = _category_list(ctx, DEPOSIT_CATEGORIES)
    held = [c for c in _ordered(_with_orphans(ctx, categories, eligible)) if c in eligible]
    failed: list[str] = []
    if held:
        ctx.rule("categories", f"属于{_labels(held)}：类别符合")
    else:
        failed.append(f"不属{_labels(eligible)}（类别：{_labels(categories)}）")
    if referred_from_primary_care:
        ctx.rule("referred_from_primary_care", "经基层首诊转诊：符合")
    else:
        failed.append("未经基层首诊转诊")
    if admitted_in_home_city:
        ctx.rule("admitted_in_home_city", "在本市域内定点医疗机构住院：符合")
    else:
        failed.append("未在本市域内定点医疗机构住院")
    if failed:
        reason = "须交住院押金：" + "；".join(failed)
    else:
        reason = f"{_labels(held)}经基层首诊转诊、在市域内定点医疗机构住院：先诊疗后付费，免除住院押金"
    ctx.rule("waived", reason)
    return {"waived": not failed, "reason": reason}


# ---------------------------------------------------------------------------------------
# §4 多发性硬化慈善救助


@calculation(
    "ms_charity_aid",
    title="多发性硬化患者慈善救助",
    description="全省城乡低保家庭、特困供养家庭、脱贫家庭以及农村困难家庭中确诊为多发性硬化的患者，"
                "医保报销后的个人自付部分由慈善基金资助50%（四舍五入到分），每人每年最高1万元。",
    inputs=[
        CATEGORY_FIELD,
        Field("self_pay", "money", "医保报销后的个人自付金额（元）"),
        Field("ytd_aid", "money", "本年度此前已获本项救助（元）", required=False, default=0),
        Field(RURAL_HARDSHIP, "bool", "是否农村困难家庭", required=False, default=False),
    ],
    outputs=[
        Field("aid", "money", "慈善救助金额（元）"),
        Field("eligible", "bool", "是否属救助对象"),
        Field("cap_remaining", "money", "本次救助后本年度剩余额度（元）", required=False),
        Field("reason", "text", "理由"),
    ],
    sources=(JILIN_SOURCE,),
)
def ms_charity_aid(ctx: Context, categories: tuple[str, ...], self_pay: int, ytd_aid: int,
                   rural_hardship_household: bool) -> dict[str, Any]:
    eligible = _category_list(ctx, f"{MS}.eligible", extra=(RURAL_HARDSHIP,))
    held = [c for c in _ordered(categories) if c in eligible]
    if rural_hardship_household and RURAL_HARDSHIP in eligible:
        held.append(RURAL_HARDSHIP)
    if not held:
        who = _labels(categories) + ("、农村困难家庭" if rural_hardship_household else "")
        reason = f"不属救助对象（{_labels(eligible)}）；所持类别：{who.lstrip('、')}"
        ctx.rule("eligible", reason)
        return {"aid": 0, "eligible": False, "reason": reason}
    ctx.rule("eligible", f"属于{_labels(held)}：为救助对象")
    ratio = ctx.param(f"{MS}.ratio")
    ratio_text = "无" if ratio is None else format_ratio(ratio)
    uncapped = ctx.compute("aid_before_cap", "按比例资助", "money",
                           0 if ratio is None else mul_ratio(self_pay, ratio),
                           f"{format_fen(self_pay)} × {ratio_text}，四舍五入到分")
    cap = ctx.param(f"{MS}.annual_cap")
    if cap is None:
        aid = uncapped
        reason = f"个人自付 {format_fen(self_pay)} 的 {ratio_text}，无年度上限"
        ctx.rule("aid", reason)
        return {"aid": aid, "eligible": True, "reason": reason}
    room = ctx.compute("cap_room", "本年度剩余额度", "money", max(0, cap - ytd_aid),
                       f"max(0, {format_fen(cap)} − 已获 {format_fen(ytd_aid)})")
    aid = ctx.compute("aid", "慈善救助金额", "money", min(uncapped, room),
                      f"min({format_fen(uncapped)}, {format_fen(room)})")
    if room == 0:
        reason = f"本年度已获救助 {format_fen(ytd_aid)}，已达最高 {format_fen(cap)}，本次不再救助"
    elif aid < uncapped:
        reason = f"按比例应助 {format_fen(uncapped)}，以本年度剩余额度 {format_fen(room)} 为限"
    else:
        reason = f"个人自付 {format_fen(self_pay)} × {ratio_text}，未超过年度剩余额度"
    ctx.rule("aid", reason)
    return {"aid": aid, "eligible": True, "cap_remaining": room - aid, "reason": reason}
