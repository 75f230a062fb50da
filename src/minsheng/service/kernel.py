"""The service's one door to the settlement kernel (:mod:`minsheng.rules.settlement`).

The service settles one claim at a time: :func:`parse_claim` checks a claim's JSON
(SETTLEMENT.md's fields, without ``parameters``), and :func:`settle_one` runs the kernel on
that claim alone with the person's stored accumulators for the claim's year and the
categories held on the claim date, and returns the per-claim outputs (as the reply), the
amounts in fen, the trace and the accumulators after.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from minsheng.core.dates import parse_datetime
from minsheng.core.errors import InputError
from minsheng.core.money import format_fen, parse_fen
from minsheng.core.parameters import ParameterView, default_store

CLAIM_FIELDS = ("setl_id", "psn_no", "setl_time", "med_type", "hosp_lv", "in_province",
                "medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "overlmt_selfpay")
AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "overlmt_selfpay")
OUTPUTS = ("inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt",
           "psn_part_amt", "act_pay_dedc")
MED_TYPES = ("11", "14", "21")


@dataclass(frozen=True)
class Claim:
    """One claim, parsed: money in fen, ``setl_time`` a naive China-time date-time."""

    setl_id: str
    psn_no: str
    setl_time: dt.datetime
    med_type: str
    hosp_lv: int
    in_province: bool
    medfee_sumamt: int
    fulamt_ownpay_amt: int
    preselfpay_amt: int
    overlmt_selfpay: int

    def canonical(self) -> dict[str, Any]:
        """The claim as plain JSON values (what idempotency compares)."""
        return {"setl_id": self.setl_id, "psn_no": self.psn_no,
                "setl_time": self.setl_time.isoformat(), "med_type": self.med_type,
                "hosp_lv": self.hosp_lv, "in_province": self.in_province,
                **{k: getattr(self, k) for k in AMOUNTS}}


@dataclass
class Result:
    reply: dict[str, Any]
    amounts: dict[str, int]
    accumulators: dict[str, int]
    trace: list[dict[str, Any]]
    warnings: list[str]


def _text(raw: Mapping[str, Any], name: str, limit: int) -> str:
    value = raw.get(name)
    if value is None:
        raise InputError(name, "缺少必填字段", "required")
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InputError(name, "应为文本", "expected text")
    text = str(value).strip()
    if not text or len(text) > limit:
        raise InputError(name, f"应为1至{limit}个字符", f"1 to {limit} characters")
    return text


def parse_claim(raw: Mapping[str, Any]) -> Claim:
    """One claim of SETTLEMENT.md; every bad value is an error naming its field."""
    if not isinstance(raw, Mapping):
        raise InputError("body", "请求体应为 JSON 对象", "the body must be a JSON object")
    for key in raw:
        if key not in CLAIM_FIELDS:
            hint = "（结算服务按已发布的参数结算，不接受参数假设值）" if key == "parameters" else ""
            raise InputError(key, f"未知字段{hint}（可用：{'、'.join(CLAIM_FIELDS)}）",
                             "unknown field")
    for key in CLAIM_FIELDS:
        if raw.get(key) is None:
            raise InputError(key, "缺少必填字段", "required")
    from minsheng.service.persons import parse_psn_no

    setl_id = _text(raw, "setl_id", 64)
    psn_no = parse_psn_no(raw["psn_no"])
    setl_time = parse_datetime(raw["setl_time"], "setl_time")
    med_type = str(raw["med_type"]).strip()
    if isinstance(raw["med_type"], bool) or med_type not in MED_TYPES:
        raise InputError("med_type", "医疗类别应为 11（普通门诊）、14（门诊慢特病）或 21（住院）",
                         "med_type must be 11, 14 or 21")
    lv = raw["hosp_lv"]
    if isinstance(lv, str) and lv.strip().isdigit():
        lv = int(lv.strip())
    if isinstance(lv, bool) or not isinstance(lv, int) or not 0 <= lv <= 3:
        raise InputError("hosp_lv", "医院等级应为 0（村卫生室）、1、2 或 3", "hosp_lv must be 0..3")
    inp = raw["in_province"]
    if isinstance(inp, str) and inp.strip().lower() in ("true", "false"):
        inp = inp.strip().lower() == "true"
    if not isinstance(inp, bool):
        raise InputError("in_province", "应为 true 或 false", "expected true or false")
    amounts = {k: parse_fen(raw[k], k) for k in AMOUNTS}
    if (amounts["fulamt_ownpay_amt"] + amounts["preselfpay_amt"] + amounts["overlmt_selfpay"]
            > amounts["medfee_sumamt"]):
        raise InputError("medfee_sumamt", "全自费、先行自付与超限价自付之和超过医疗费总额",
                         "fulamt_ownpay_amt + preselfpay_amt + overlmt_selfpay exceeds "
                         "medfee_sumamt")
    return Claim(setl_id, psn_no, setl_time, med_type, lv, inp, **amounts)


def accumulator_fields() -> tuple[str, ...]:
    from minsheng.rules.settlement import ACCUMULATOR_FIELDS

    return ACCUMULATOR_FIELDS


def reported_totals(values: Mapping[str, int]) -> dict[str, int]:
    """The year's totals reported to users, from the accumulator columns."""
    totals = {k: int(values.get(k, 0)) for k in
              ("medfee_sumamt", "hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt")}
    totals["fund_pay_sumamt"] = totals["hifp_pay"] + totals["hifmi_pay"] + totals["maf_pay"]
    return totals


def settle_one(claim: Claim, insutype: str, region: str, categories: Sequence[str],
               before: Mapping[str, int]) -> Result:
    """Run the kernel on this claim alone, after the person-year's accumulators ``before``."""
    from minsheng.rules import settlement as k
    from minsheng.rules.settlement_params import category_mask, day_number

    day = claim.setl_time.date()
    claims = k.Claims.from_columns({
        "person": [0], "day": [day_number(day)], "region": [int(region)],
        "resident": [insutype == "390"], "med_type": [int(claim.med_type)],
        "hosp_lv": [claim.hosp_lv], "in_province": [claim.in_province],
        "categories": [category_mask(tuple(categories))],
        **{a: [getattr(claim, a)] for a in AMOUNTS}})
    params = k.resolve(claims, ParameterView(default_store()))
    acc = k.Accumulators.from_rows(np.zeros(1, np.int64), np.array([day.year], np.int64),
                                   [dict(before)])
    res = k.settle(claims, params, acc, detail=True)
    amounts = {name: int(getattr(res, name)[0]) for name in OUTPUTS}
    warnings = list(params.tables.warnings)
    trace = _trace(claims, params, res)
    reply: dict[str, Any] = {"setl_id": claim.setl_id,
                             **{name: format_fen(v) for name, v in amounts.items()},
                             "setldetail": _setldetail(insutype, res, amounts),
                             "warnings": warnings}
    return Result(reply, amounts, res.after.row(0), trace, warnings)


def _setldetail(insutype: str, res: Any, amounts: Mapping[str, int]) -> list[dict[str, Any]]:
    funds = (("390100" if insutype == "390" else "310100", "hifp_pay", "basic_cap_left"),
             ("390200", "hifmi_pay", "critical_cap_left"),
             ("610100", "maf_pay", "assistance_cap_left"))
    detail: list[dict[str, Any]] = []
    for code, name, room_name in funds:
        if amounts[name] > 0:
            entry: dict[str, Any] = {"fund_pay_type": code, "fund_payamt": format_fen(amounts[name])}
            room = int(getattr(res, room_name)[0])
            if room >= 0:
                entry["crt_payb_lmt_amt"] = format_fen(room)
            detail.append(entry)
    return detail


def _trace(claims: Any, params: Any, res: Any) -> list[dict[str, Any]]:
    try:
        from minsheng.rules.settlement_trace import claim_trace
    except ImportError:  # the kernel's trace module has not landed: parameters read only
        claim_trace = None
    if claim_trace is not None:
        trace = claim_trace(claims, params, res, 0)
        to_json = getattr(trace, "to_json", None)
        return list(to_json() if to_json else trace)
    from minsheng.core.trace import Trace

    t = Trace()
    tb = params.tables
    rows = ((tb.basic, params.basic_row), (tb.critical, params.critical_row),
            (tb.assistance, params.assistance_row))
    for table, row in rows:
        for r in table[int(row[0])].reads:
            t.parameter(r)
    return t.to_json()
