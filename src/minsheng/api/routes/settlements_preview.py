"""``POST /api/v1/settlements/preview``: settle persons and claims in memory (试算; open to all).

Nothing is stored; the reply is that of ``minsheng settle``:
``{"claims": [...], "persons": [...], "warnings": [...]}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from minsheng.api.responses import JSON
from minsheng.settle.preview import preview

router = APIRouter(prefix="/api/v1/settlements", tags=["settlements 结算"])

EXAMPLE: Any = {
    "persons": [{"psn_no": "P1", "insutype": "390", "region": "140100",
                 "categories": ["relapsed_poverty"]}],
    "claims": [{"setl_id": "C1", "psn_no": "P1", "setl_time": "2023-08-01T13:00:00",
                "med_type": "21", "hosp_lv": 3, "in_province": True,
                "medfee_sumamt": "37293.51", "fulamt_ownpay_amt": "0.00",
                "preselfpay_amt": "3729.35", "overlmt_selfpay": "0.00"}],
    "parameters": {"medical.assistance.relapsed_poverty.annual_cap": None},
}


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})

    persons: list[Any] = Field(default_factory=list, description="参保人员（SETTLEMENT.md 的字段）")
    claims: list[Any] = Field(default_factory=list, description="待结算的费用（SETTLEMENT.md 的字段）")
    parameters: dict[str, Any] = Field(default_factory=dict,
                                       description="本次试算的参数假设值（null 表示“无”）")


@router.post("/preview", summary="结算试算：一站式结算，不保存（每笔费用的分担与人员年度累计）")
def preview_settlements(body: PreviewRequest, trace: bool = False) -> JSON:
    return JSON(preview({"persons": body.persons, "claims": body.claims,
                         "parameters": body.parameters}, trace=trace))
