"""Medical assistance (医疗救助) for one claim: the third tier of one-stop settlement.

POLICY.md §3.2–3.3 (Shanxi, 002_e6e604b5a3b60eed.txt) and SETTLEMENT.md tier 3, with the
year so far given as inputs (``ytd_base``: this year's earlier assistance base S2;
``ytd_paid``: this year's earlier ``maf_pay``). It runs the settlement kernel's own tier-3
blocks (:func:`~minsheng.rules.settlement.assistance_block` and
:func:`~minsheng.rules.settlement.cap_block`) on arrays of one claim, so it cannot
disagree with a settlement.

``ytd_paid`` stands in for the year's uncapped assistance so far: while the cap has not
been reached the two are equal, and once it has, both leave no room, so the cap block
gives the same payment.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from minsheng.core.calculation import Context, Field, calculation
from minsheng.core.categories import CATEGORIES
from minsheng.core.errors import InputError
from minsheng.core.money import format_fen, format_ratio
from minsheng.rules.settlement import assistance_block, cap_block
from minsheng.rules.settlement_params import (
    MED_TYPE_LABELS,
    NO_CAP,
    SCALE,
    assistance_category,
    read_assistance,
)


def _one(value: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.array([value], np.int64)


def _scaled(ratio: Fraction | None) -> int:
    return 0 if ratio is None else int(ratio * SCALE)


@calculation(
    "medical_assistance",
    title="医疗救助（三重制度第三重）",
    description="基本医保、大病保险支付后，政策范围内个人负担 S2 按救助对象类别给予医疗救助："
                "按年起付（全省上年居民人均可支配收入的一定比例）、按比例救助、"
                "返贫致贫人口省内住院综合支付比例托底到90%、门诊和住院共用年度救助限额。"
                "多重身份按 特困、返贫致贫、低保、监测对象、低保边缘、因病致贫重病患者 的顺序取第一。",
    inputs=[
        Field("categories", "categories", "救助对象类别（可多选）", required=False),
        Field("med_type", "enum", "医疗类别",
              choices=tuple(MED_TYPE_LABELS.items())),
        Field("in_province", "bool", "是否省内就医（省内住院才适用综合支付比例托底）"),
        Field("inscp_scp_amt", "money", "政策范围内费用 R（元）"),
        Field("hifp_pay", "money", "基本医保统筹基金支付（元）"),
        Field("hifmi_pay", "money", "大病保险支付（元）", required=False, default=0),
        Field("ytd_base", "money", "本年此前的医疗救助基数 S2 累计（元）", required=False,
              default=0),
        Field("ytd_paid", "money", "本年此前已获医疗救助（元）", required=False, default=0),
        Field("income_statistic", "money", "全省上年居民人均可支配收入（元，可选；默认取参数）",
              required=False),
    ],
    outputs=[
        Field("deductible", "money", "医疗救助起付标准（元）"),
        Field("eligible", "money", "进入救助的部分（元）"),
        Field("ratio", "ratio", "救助比例"),
        Field("maf_pay", "money", "医疗救助支付（元）"),
        Field("topup", "money", "其中综合支付比例托底增加的救助（元）"),
    ],
    sources=("002_e6e604b5a3b60eed.txt",),
)
def medical_assistance(ctx: Context, categories: tuple[str, ...], med_type: str,
                       in_province: bool, inscp_scp_amt: int, hifp_pay: int, hifmi_pay: int,
                       ytd_base: int, ytd_paid: int, income_statistic: int | None
                       ) -> dict[str, Any]:
    inscp = inscp_scp_amt
    if hifp_pay > inscp:
        raise InputError("hifp_pay", "基本医保支付不能超过政策范围内费用",
                         "hifp_pay exceeds inscp_scp_amt")
    if hifp_pay + hifmi_pay > inscp:
        raise InputError("hifmi_pay", "基本医保与大病保险支付之和不能超过政策范围内费用",
                         "hifp_pay + hifmi_pay exceeds inscp_scp_amt")
    s2 = ctx.compute("assistance_base", "医疗救助基数 S2（基本医保、大病保险后政策范围内个人负担）",
                     "money", inscp - hifp_pay - hifmi_pay,
                     f"{format_fen(inscp)} − {format_fen(hifp_pay)} − {format_fen(hifmi_pay)}")
    none: dict[str, Any] = {"deductible": 0, "eligible": 0, "ratio": None, "maf_pay": 0,
                            "topup": 0}
    if med_type == "11":
        ctx.rule("med_type", "普通门诊不给予医疗救助（只对门诊慢特病和住院救助）")
        return none
    category = assistance_category(categories)
    if category is None:
        held = "、".join(CATEGORIES[k] for k in categories) or "无"
        ctx.rule("category", f"所持类别（{held}）不是医疗救助对象：不给予医疗救助")
        return none
    ctx.rule("category", f"按 {CATEGORIES[category]}（{category}）的标准救助"
                         "（多重身份按 SETTLEMENT.md 的顺序取第一）")
    if income_statistic is not None:
        ctx.compute("income_statistic", "全省上年居民人均可支配收入（输入）", "money",
                    income_statistic)
    terms = read_assistance(ctx, ctx.date, category, income_statistic)
    inpatient = med_type == "21"
    ratio = terms.inpatient_ratio if inpatient else terms.chronic_ratio
    if ratio is None:
        ctx.rule("ratio", f"{CATEGORIES[category]}没有{MED_TYPE_LABELS[med_type]}救助比例："
                          "不给予救助，费用仍计入年度起付累计")
    eligible, plain, u = assistance_block(
        _one(s2), _one(ytd_base), _one(inscp), _one(hifp_pay), _one(hifmi_pay),
        np.array([inpatient]), np.array([in_province]), _one(terms.deductible),
        _one(_scaled(ratio)),
        _one(-1 if terms.topup_target is None else _scaled(terms.topup_target)))
    cap = NO_CAP if terms.cap is None else terms.cap
    paid = int(cap_block(u, _one(ytd_paid), _one(cap))[0])
    deductible = ctx.compute("deductible", "医疗救助起付标准", "money", terms.deductible)
    e = ctx.compute("eligible", "进入救助的部分（按年起付）", "money", int(eligible[0]),
                    f"max(0, {format_fen(ytd_base)} + {format_fen(s2)} − {format_fen(deductible)})"
                    f" − max(0, {format_fen(ytd_base)} − {format_fen(deductible)})")
    ctx.compute("ratio_pay", "按救助比例应救助", "money", int(plain[0]),
                f"{format_fen(e)} × {format_ratio(ratio or Fraction(0))}，四舍五入到分")
    topup = int(u[0]) - int(plain[0])
    if terms.topup_target is not None and inpatient:
        if in_province:
            target = terms.topup_target
            ctx.compute("topup", "综合支付比例托底增加的救助", "money", topup,
                        f"max(0, min(S2, {format_ratio(target)} × {format_fen(inscp)} − "
                        f"{format_fen(hifp_pay)} − {format_fen(hifmi_pay)}) − 按比例救助)")
        else:
            ctx.rule("topup", "省外住院不适用综合支付比例托底")
    if terms.cap is None:
        ctx.rule("cap", "不设年度救助限额")
    else:
        ctx.compute("cap_left", "年度救助限额剩余（本次后）", "money",
                    max(terms.cap - min(ytd_paid + int(u[0]), terms.cap), 0),
                    f"{format_fen(terms.cap)} − 本年累计")
    ctx.compute("maf_pay", "医疗救助支付", "money", paid,
                "min(本年此前 + 本次应救助, 限额) − min(本年此前, 限额)")
    return {"deductible": deductible, "eligible": e, "ratio": ratio, "maf_pay": paid,
            "topup": topup}
