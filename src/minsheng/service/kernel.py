"""The service's one door to the settlement kernel (:mod:`minsheng.rules.settlement`).

The service settles one claim at a time, through the same code as ``minsheng settle`` and
the batch: :func:`parse_claim` is :func:`minsheng.settle.parse.parse_claim` (errors name
the field as sent, e.g. ``fulamt_ownpay_amt``), the arrays are built by
:func:`minsheng.settle.parse.build_batch`, the kernel runs on that one claim with the
person's stored accumulators for the claim's year and the categories held on the claim
date, and the reply is :func:`minsheng.settle.output.claim_json` plus the warnings (the
example parameters used). So the service's fen are the batch's fen by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from minsheng.core.errors import InputError
from minsheng.core.parameters import ParameterView, default_store
from minsheng.rules import settlement as k
from minsheng.rules.settlement_params import ClaimParameters
from minsheng.rules.settlement_trace import claim_trace
from minsheng.settle import parse
from minsheng.settle.output import claim_json

Claim = parse.Claim
OUTPUTS = k.Settlement.OUTPUTS
_WHERE = "claim"


@dataclass
class Result:
    reply: dict[str, Any]
    amounts: dict[str, int]
    accumulators: dict[str, int]
    trace: list[dict[str, Any]]
    warnings: list[str]


def parse_claim(raw: Any) -> Claim:
    """One claim of SETTLEMENT.md (without ``parameters``); errors name the field as sent."""
    if not isinstance(raw, Mapping):
        raise InputError("body", "请求体应为 JSON 对象（一笔结算）", "the body must be a JSON object")
    try:
        return parse.parse_claim(raw, _WHERE)
    except InputError as exc:
        if not exc.field.startswith(_WHERE + "."):
            raise
        field = exc.field[len(_WHERE) + 1:]
        zh = exc.message.split("：", 1)[-1]
        en = exc.message_en.split(": ", 1)[-1] if exc.message_en else ""
        if field == "parameters":
            zh += "（结算服务按已发布的参数结算，不接受参数假设值；试算请用 /api/v1/settlements/preview）"
        raise InputError(field, zh, en) from None


def canonical(claim: Claim) -> dict[str, Any]:
    """The claim as plain JSON values: what idempotency compares."""
    return claim.to_json()


def accumulator_fields() -> tuple[str, ...]:
    return k.ACCUMULATOR_FIELDS


def reported_totals(values: Mapping[str, int]) -> dict[str, int]:
    """The year's totals reported to users, from the accumulator columns."""
    totals = {name: int(values.get(name, 0)) for name in
              ("medfee_sumamt", "hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt")}
    totals["fund_pay_sumamt"] = totals["hifp_pay"] + totals["hifmi_pay"] + totals["maf_pay"]
    return totals


@lru_cache(maxsize=4096)
def _parameters(region: int, day: int, resident: bool, med_type: int, hosp_lv: int,
                categories: int) -> ClaimParameters:
    """The parameters of a one-claim batch, read once per distinct key (the shipped
    parameters do not change while the process runs)."""
    one = k.Claims.from_columns({
        "person": [0], "day": [day], "region": [region], "resident": [resident],
        "med_type": [med_type], "hosp_lv": [hosp_lv], "in_province": [True],
        "categories": [categories], "medfee_sumamt": [0], "fulamt_ownpay_amt": [0],
        "preselfpay_amt": [0], "overlmt_selfpay": [0]})
    return k.resolve(one, ParameterView(default_store()))


def settle_one(claim: Claim, insutype: str, region: str, categories: Sequence[str],
               before: Mapping[str, int]) -> Result:
    """Run the kernel on this claim alone, after the person-year's accumulators ``before``."""
    person = parse.Person(claim.psn_no, insutype, region)
    batch = parse.build_batch({claim.psn_no: person}, [claim], [tuple(categories)])
    a = batch.arrays
    params = _parameters(int(a.region[0]), int(a.day[0]), bool(a.resident[0]),
                         int(a.med_type[0]), int(a.hosp_lv[0]), int(a.categories[0]))
    acc = k.Accumulators.from_rows(np.zeros(1, np.int64),
                                   np.array([claim.setl_time.year], np.int64), [dict(before)])
    res = k.settle(batch.arrays, params, acc, detail=True)
    warnings = list(params.tables.warnings)
    reply = claim_json(res, 0, claim.setl_id, claim.psn_no, insutype)
    reply["warnings"] = warnings
    amounts = {name: int(getattr(res, name)[0]) for name in OUTPUTS}
    trace = claim_trace(batch.arrays, params, res, 0).to_json()
    return Result(reply, amounts, res.after.row(0), trace, warnings)
