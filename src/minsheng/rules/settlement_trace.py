"""Why one settled claim was split as it was: the per-claim trace (on request only).

Built from a :class:`~minsheng.rules.settlement.Settlement` computed with ``detail=True``:
each tier's base, the deductible used, the ratio, the cap room before and after, and the
parameters read with their references.
"""

from __future__ import annotations

from fractions import Fraction

from minsheng.core.categories import CATEGORIES
from minsheng.core.money import format_fen, format_ratio
from minsheng.core.parameters import Resolved
from minsheng.core.trace import Trace
from minsheng.rules.settlement import Claims, Settlement
from minsheng.rules.settlement_params import (
    GROUP_LABELS,
    GROUPS,
    SCALE,
    ClaimParameters,
)

MED_GROUP = {11: "outpatient", 14: "chronic", 21: "inpatient"}


def _ratio(scaled: int) -> Fraction:
    return Fraction(int(scaled), SCALE)


def _params(trace: Trace, reads: tuple[Resolved, ...]) -> None:
    for r in reads:
        trace.parameter(r)


def _room(trace: Trace, name: str, label: str, cap: int | None, before: int, after: int,
          ) -> None:
    if cap is None:
        trace.rule(f"{name}_cap", f"{label}不设年度限额")
        return
    trace.compute(f"{name}_cap_left_before", f"{label}年度限额剩余（本次前）", "money",
                  max(cap - min(before, cap), 0),
                  f"{format_fen(cap)} − 本年此前累计 {format_fen(min(before, cap))}")
    trace.compute(f"{name}_cap_left", f"{label}年度限额剩余（本次后）", "money",
                  max(cap - min(after, cap), 0),
                  f"{format_fen(cap)} − 本年累计 {format_fen(min(after, cap))}")


def claim_trace(claims: Claims, params: ClaimParameters, result: Settlement, k: int) -> Trace:
    """The trace of the k-th claim of a batch settled with ``detail=True``."""
    d = result.details
    if d is None:
        raise ValueError("settle(..., detail=True) keeps what a trace needs")
    tb = params.tables
    trace = Trace()
    mt = int(claims.med_type[k])
    group = MED_GROUP[mt]
    resident = bool(claims.resident[k])
    total = int(claims.medfee_sumamt[k])
    inscp = int(result.inscp_scp_amt[k])
    trace.rule("claim", f"{'城乡居民' if resident else '职工'}医保，{GROUP_LABELS[group]}"
                        f"（{mt}），医院等级 {int(claims.hosp_lv[k])}，"
                        f"{'省内' if claims.in_province[k] else '省外'}就医")
    trace.compute("inscp_scp_amt", "政策范围内费用 R", "money", inscp,
                  f"{format_fen(total)} − 全自费 {format_fen(int(claims.fulamt_ownpay_amt[k]))}"
                  f" − 先行自付 {format_fen(int(claims.preselfpay_amt[k]))}"
                  f" − 超限价 {format_fen(int(claims.overlmt_selfpay[k]))}")

    # tier 1
    basic = tb.basic[int(params.basic_row[k])]
    _params(trace, basic.reads)
    ded = int(d["basic_deductible"][k])
    eligible = int(d["basic_eligible"][k])
    if basic.per_year:
        before = int(d["basic_cum_before"][k])
        trace.compute("basic_eligible", "基本医保进入统筹部分（按年起付）", "money", eligible,
                      f"max(0, 本年此前 {format_fen(before)} + {format_fen(inscp)} − 起付 "
                      f"{format_fen(ded)}) − max(0, {format_fen(before)} − {format_fen(ded)})")
    else:
        trace.compute("basic_eligible", "基本医保进入统筹部分（按次起付）", "money", eligible,
                      f"max(0, {format_fen(inscp)} − 起付 {format_fen(ded)})")
    trace.compute("act_pay_dedc", "本次负担的基本医保起付标准", "money",
                  int(result.act_pay_dedc[k]), f"{format_fen(inscp)} − {format_fen(eligible)}")
    u1 = int(d["basic_uncapped"][k])
    if basic.ratio is None:
        trace.rule("basic_ratio", "基本医保支付比例为“无”：统筹基金不支付")
    trace.compute("basic_uncapped", "基本医保按比例应付（限额前）", "money", u1,
                  f"{format_fen(eligible)} × {format_ratio(basic.ratio or Fraction(0))}，四舍五入到分")
    u1_before = int(d["basic_uncapped_before"][k])
    _room(trace, "basic", f"基本医保{GROUP_LABELS[group]}统筹", basic.cap, u1_before,
          u1_before + u1)
    hifp = int(result.hifp_pay[k])
    trace.compute("hifp_pay", "基本医保统筹基金支付", "money", hifp,
                  "min(本年累计应付, 限额) − min(此前累计应付, 限额)")

    # tier 2
    crow = int(params.critical_row[k])
    s1 = inscp - hifp
    if crow == 0:
        why = "职工医保不参加城乡居民大病保险" if not resident else "普通门诊不进入大病保险"
        trace.rule("critical", why)
    else:
        critical = tb.critical[crow]
        _params(trace, critical.reads)
        if critical.tilted:
            trace.rule("critical_tilt", "特困人员、低保对象、返贫致贫人口适用大病保险倾斜保障：起付标准"
                                        "乘以系数、各段比例提高、按参数取消封顶（比例最高100%）")
        c_before = int(d["critical_cum_before"][k])
        trace.compute("critical_base", "大病保险基数 S1（基本医保后政策范围内个人负担）", "money",
                      s1, f"{format_fen(inscp)} − {format_fen(hifp)}")
        trace.compute("critical_deductible", "大病保险起付标准（本次适用）", "money",
                      critical.deductible)
        brackets = "；".join(f"{format_fen(b.lower)} 以上 {format_ratio(b.ratio)}"
                             for b in critical.brackets) or "无"
        trace.compute("critical_benefit_after", "B(本年累计 S1)：按分段比例应付累计", "money",
                      int(d["critical_benefit_after"][k]),
                      f"累计 S1 {format_fen(c_before + s1)}，分段 {brackets}")
        trace.compute("critical_benefit_before", "B(此前累计 S1)", "money",
                      int(d["critical_benefit_before"][k]), f"此前累计 S1 {format_fen(c_before)}")
        if critical.cap is None:
            trace.rule("critical_cap", "大病保险不设年度限额")
        else:
            left = int(result.critical_cap_left[k])
            trace.compute("critical_cap_left", "大病保险年度限额剩余（本次后）", "money", left,
                          f"{format_fen(critical.cap)} − B(本年累计)")
        trace.compute("hifmi_pay", "大病保险支付", "money", int(result.hifmi_pay[k]),
                      "round(B(本年累计 S1)) − round(B(此前累计 S1))")

    # tier 3
    s2 = s1 - int(result.hifmi_pay[k])
    arow = int(params.assistance_row[k])
    if group == "outpatient":
        trace.rule("assistance", "普通门诊不给予医疗救助，也不计入救助起付累计")
    elif arow == 0:
        trace.rule("assistance", "无医疗救助对象身份（或所持类别无救助参数）：医疗救助不支付")
        trace.compute("assistance_base", "医疗救助基数 S2（计入本年累计）", "money", s2)
    else:
        terms = tb.assistance[arow]
        assert terms.category is not None
        trace.rule("assistance_category", f"按救助对象类别 {CATEGORIES[terms.category]}"
                                          f"（{terms.category}）救助（多重身份按 SETTLEMENT.md 顺序取第一）")
        _params(trace, terms.reads)
        a_before = int(d["assistance_cum_before"][k])
        a_ded = int(d["assistance_deductible"][k])
        trace.compute("assistance_base", "医疗救助基数 S2（基本医保、大病保险后政策范围内个人负担）",
                      "money", s2, f"{format_fen(s1)} − {format_fen(int(result.hifmi_pay[k]))}")
        trace.compute("assistance_deductible", "医疗救助起付标准", "money", a_ded)
        e3 = int(d["assistance_eligible"][k])
        trace.compute("assistance_eligible", "医疗救助进入救助部分（按年起付）", "money", e3,
                      f"max(0, 本年此前 {format_fen(a_before)} + {format_fen(s2)} − "
                      f"{format_fen(a_ded)}) − max(0, {format_fen(a_before)} − {format_fen(a_ded)})")
        ratio = _ratio(int(d["assistance_ratio"][k]))
        plain = int(d["assistance_plain"][k])
        trace.compute("assistance_ratio_pay", "按救助比例应救助", "money", plain,
                      f"{format_fen(e3)} × {format_ratio(ratio)}，四舍五入到分")
        u3 = int(d["assistance_uncapped"][k])
        if terms.topup_target is not None and group == "inpatient":
            if claims.in_province[k]:
                trace.compute("topup", "综合支付比例托底后应救助", "money", u3,
                              f"max({format_fen(plain)}, min(S2 {format_fen(s2)}, "
                              f"{format_ratio(terms.topup_target)} × {format_fen(inscp)} − "
                              f"{format_fen(hifp)} − {format_fen(int(result.hifmi_pay[k]))}))")
            else:
                trace.rule("topup", "省外住院不适用综合支付比例托底")
        u3_before = int(d["assistance_uncapped_before"][k])
        _room(trace, "assistance", "医疗救助（门诊和住院共用）", terms.cap, u3_before,
              u3_before + u3)
    trace.compute("maf_pay", "医疗救助基金支付", "money", int(result.maf_pay[k]))
    trace.compute("fund_pay_sumamt", "基金支付合计", "money", int(result.fund_pay_sumamt[k]),
                  "hifp_pay + hifmi_pay + maf_pay")
    trace.compute("psn_part_amt", "个人负担（含全自费、先行自付、超限价）", "money",
                  int(result.psn_part_amt[k]), f"{format_fen(total)} − 基金支付合计")
    return trace


__all__ = ["GROUPS", "claim_trace"]
