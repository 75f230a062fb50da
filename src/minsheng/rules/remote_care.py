"""Remote medical care (异地就医) routing and the transfer (转移接续) deadline.

POLICY.md §5; 001_2744dedfd50d42c2.txt (《吉林省优化五类医保服务20条便民举措》) and
003_8545a6f139e71cec.txt (Changchun, 2020). The service applies :func:`decide_route` when it
settles a claim for care outside the insured place; the calculation ``remote_care_route``
shows the same decision with its reasons.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from minsheng.core.calculation import Context, Field, calculation
from minsheng.core.dates import add_working_days

SCOPES = (("in_province", "省内异地"), ("cross_province", "跨省异地"))
VISITS = (
    ("ordinary_outpatient", "普通门诊"),
    ("chronic_outpatient", "门诊慢特病"),
    ("inpatient", "住院"),
    ("emergency", "急诊"),
    ("emergency_observation", "急诊留观、急诊抢救"),
)
FILINGS = (
    ("none", "未备案"),
    ("before_discharge", "已备案（就诊前或出院结算前）"),
    ("after_discharge", "出院（就诊）后补办备案"),
)
DISEASES = {
    "hypertension": "高血压",
    "diabetes": "糖尿病",
    "cancer_radio_chemo": "恶性肿瘤门诊放化疗",
    "uremia_dialysis": "尿毒症透析",
    "transplant_anti_rejection": "器官移植术后抗排异治疗",
}
SETTLE_AS = (("outpatient", "普通门诊待遇"), ("chronic", "门诊慢特病待遇"),
             ("inpatient", "住院待遇"))


@dataclass(frozen=True)
class Route:
    """How a claim for care outside the insured place is settled."""

    direct_settlement: bool
    settle_as: str  # outpatient | chronic | inpatient
    manual_reimbursement: bool
    reason: str


def disease_key(value: str | None) -> str | None:
    """The key of one of the five diseases, by key or Chinese name; any other text stays as is."""
    if value is None:
        return None
    text = value.strip()
    for key, zh in DISEASES.items():
        if text in (key, zh):
            return key
    return text or None


def decide_route(ctx: Context, scope: str, visit: str, filing: str,
                 disease: str | None = None) -> Route:
    """The route of one visit outside the insured place, each decision cited in the trace."""
    if visit in ("emergency", "emergency_observation"):
        counts = ctx.resolve("medical.remote_care.emergency_counts_as_filed")
        filed = filing != "none" or bool(counts.value)
        if not filed:  # pragma: no cover - only when a what-if switches the rule off
            return _refuse(ctx, "inpatient" if visit == "emergency_observation" else "outpatient",
                           "急诊未备案，且本次假设取消了“视同已备案”")
        as_inpatient = ctx.resolve("medical.remote_care.emergency_observation_settles_as_inpatient")
        settle_as = "inpatient" if visit == "emergency_observation" and as_inpatient.value else "outpatient"
        reason = ("急诊救治未办理异地就医备案的视同已备案，直接结算" if filing == "none"
                  else "急诊救治，直接结算")
        if visit == "emergency_observation":
            reason += "；门诊发生的急诊留观、急诊抢救费用参照住院待遇结算"
        ctx.rule("route", reason, counts.reference)
        return Route(True, settle_as, False, reason)

    if visit == "ordinary_outpatient":
        if scope == "in_province":
            needs = ctx.resolve("medical.remote_care.in_province.ordinary_outpatient_needs_filing")
            if not needs.value:
                reason = "省内普通门诊异地就医无需备案，直接结算"
                ctx.rule("route", reason, needs.reference)
                return Route(True, "outpatient", False, reason)
        if filing == "before_discharge":
            return _direct(ctx, "outpatient", "已办理异地就医备案，在备案地就诊直接结算")
        return _refuse(ctx, "outpatient", "跨省普通门诊就医未在就诊前办理异地就医备案，不能直接结算")

    if visit == "inpatient":
        deadline = ctx.resolve("medical.remote_care.inpatient_filing_deadline")
        if filing == "before_discharge":
            reason = "出院结算前已完成异地就医备案，异地定点医疗机构直接结算"
            ctx.rule("route", reason, deadline.reference)
            return Route(True, "inpatient", False, reason)
        why = ("出院后才补办备案" if filing == "after_discharge" else "出院结算前未办理异地就医备案")
        reason = f"{why}，不能直接结算，按参保地规定申请医保手工报销"
        ctx.rule("route", reason, deadline.reference)
        return Route(False, "inpatient", True, reason)

    # chronic_outpatient
    key = disease_key(disease)
    if scope == "cross_province":
        five = ctx.resolve("medical.remote_care.cross_province_chronic_diseases")
        if key is None or key not in five.value:
            name = DISEASES.get(key or "", key or "未说明病种")
            reason = (f"{name}不在可跨省直接结算的5种门诊慢特病之列，不能直接结算，"
                      "回参保地申请手工报销")
            ctx.rule("route", reason, five.reference)
            return Route(False, "chronic", True, reason)
        if filing != "before_discharge":
            reason = f"{DISEASES[key]}须办理异地就医备案后方可跨省直接结算；未备案，回参保地申请手工报销"
            ctx.rule("route", reason, five.reference)
            return Route(False, "chronic", True, reason)
        reason = f"{DISEASES[key]}属可跨省直接结算的5种门诊慢特病，已备案，直接结算"
        ctx.rule("route", reason, five.reference)
        return Route(True, "chronic", False, reason)
    if filing == "before_discharge":
        return _direct(ctx, "chronic", "省内异地就医已备案，在备案地门诊慢特病定点机构按门诊慢特病待遇直接结算")
    needs = ctx.resolve("medical.remote_care.in_province.ordinary_outpatient_needs_filing")
    reason = ("未办理异地就医备案，省内门诊按普通门诊直接结算；门诊慢特病待遇的差额"
              "可回参保地申请手工报销（轧差）")
    ctx.rule("route", reason, needs.reference)
    return Route(True, "outpatient", True, reason)


def _direct(ctx: Context, settle_as: str, reason: str) -> Route:
    ctx.rule("route", reason, ctx.resolve("medical.remote_care.filing_scope").reference)
    return Route(True, settle_as, False, reason)


def _refuse(ctx: Context, settle_as: str, reason: str) -> Route:
    reason = f"{reason}，按参保地规定申请医保手工报销"
    ctx.rule("route", reason, ctx.resolve("medical.remote_care.filing_validity").reference)
    return Route(False, settle_as, True, reason)


@calculation(
    "remote_care_route",
    title="异地就医结算路径",
    description="按就医范围（省内/跨省）、就诊类型、备案情况与病种，判断能否直接结算、按何种待遇结算，"
                "不能直接结算时回参保地手工报销，并说明理由。",
    inputs=[
        Field("scope", "enum", "就医范围", choices=SCOPES),
        Field("visit", "enum", "就诊类型", choices=VISITS),
        Field("filing", "enum", "异地就医备案", choices=FILINGS, required=False, default="none"),
        Field("disease", "text", "门诊慢特病病种（门诊慢特病时填写）", required=False,
              help="高血压、糖尿病、恶性肿瘤门诊放化疗、尿毒症透析、器官移植术后抗排异治疗，或其他病种"),
    ],
    outputs=[
        Field("direct_settlement", "bool", "直接结算"),
        Field("settle_as", "enum", "结算待遇", choices=SETTLE_AS),
        Field("manual_reimbursement", "bool", "回参保地手工报销"),
        Field("reason", "text", "理由"),
    ],
    default_region="220000",
    sources=("001_2744dedfd50d42c2.txt",),
)
def remote_care_route(ctx: Context, scope: str, visit: str, filing: str,
                      disease: str | None) -> dict[str, Any]:
    route = decide_route(ctx, scope, visit, filing, disease)
    return {"direct_settlement": route.direct_settlement, "settle_as": route.settle_as,
            "manual_reimbursement": route.manual_reimbursement, "reason": route.reason}


def transfer_deadline_for(ctx: Context, scope: str, application_date: dt.date) -> tuple[dt.date, int]:
    """The day a transfer must be done by, and the working days allowed."""
    days: int = ctx.param(f"medical.transfer.{scope}.working_days")
    if days == 0:
        ctx.rule("deadline", "省内转移接续无需单独申请，参保登记（续保）时同步办结，当日办结")
        return application_date, 0
    deadline = add_working_days(application_date, days)
    ctx.compute("deadline", "办结时限", "date", deadline,
                f"申请日 {application_date.isoformat()} 之后第 {days} 个工作日"
                "（申请当日不计；按国务院办公厅公布的节假日与调休安排）")
    return deadline, days


@calculation(
    "transfer_deadline",
    title="医保关系转移接续办结时限",
    description="跨省转移接续自申请之日起15个工作日内办结（申请当日不计，按官方节假日与调休）；"
                "省内转移接续在参保登记时同步办结。",
    inputs=[
        Field("scope", "enum", "转移范围", choices=SCOPES),
        Field("application_date", "date", "申请日期"),
    ],
    outputs=[
        Field("deadline", "date", "办结期限"),
        Field("working_days", "integer", "时限（工作日）"),
    ],
    default_region="220000",
    date_input="application_date",
    sources=("001_2744dedfd50d42c2.txt",),
)
def transfer_deadline(ctx: Context, scope: str, application_date: dt.date) -> dict[str, Any]:
    deadline, days = transfer_deadline_for(ctx, scope, application_date)
    return {"deadline": deadline, "working_days": days}
