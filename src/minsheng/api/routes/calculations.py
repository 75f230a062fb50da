"""``/api/v1/calculations``: list and run every registered calculation (open to all)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from minsheng.api.responses import JSON
from minsheng.core.calculation import get_calculation, registry, run

router = APIRouter(prefix="/api/v1/calculations", tags=["calculations 计算"])


class CalculationRequest(BaseModel):
    date: Any = Field(None, description="日期 YYYY-MM-DD", examples=["2021-06-01"])
    region: Any = Field(None, description="地区代码（GB/T 2260）", examples=["222400"])
    inputs: dict[str, Any] = Field(default_factory=dict, description="计算的输入")
    parameters: dict[str, Any] = Field(default_factory=dict, description="本次运行的参数假设值")


@router.get("", summary="列出全部计算及其输入输出")
async def list_calculations() -> JSON:
    return JSON({"calculations": [c.describe() for c in registry().values()]})


@router.get("/{name}", summary="一项计算的说明")
async def describe_calculation(name: str) -> JSON:
    return JSON(get_calculation(name).describe())


@router.post("/{name}", summary="运行一项计算（输出、警告与带出处的计算过程）")
async def run_calculation(name: str, body: CalculationRequest) -> JSON:
    result = run(name, date=body.date, region=body.region, inputs=body.inputs,
                 parameters=body.parameters)
    return JSON(result.to_json())
