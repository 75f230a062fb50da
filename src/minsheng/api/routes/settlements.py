"""``/api/v1/settlements``: settle one claim, read it, print its statement, reverse it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import HTMLResponse, Response

from minsheng.api.deps import principal, uow_factory
from minsheng.api.responses import JSON
from minsheng.service import settlements
from minsheng.service.auth import Principal
from minsheng.service.unit_of_work import UnitOfWorkFactory

router = APIRouter(prefix="/api/v1/settlements", tags=["settlements 结算"])

CLAIM_EXAMPLE = {
    "setl_id": "H001-20230801-0001", "psn_no": "P220102001",
    "setl_time": "2023-08-01T13:00:00", "med_type": "21", "hosp_lv": 3, "in_province": True,
    "medfee_sumamt": "37293.51", "fulamt_ownpay_amt": "0.00", "preselfpay_amt": "3729.35",
    "overlmt_selfpay": "0.00",
}


@router.post("", summary="结算一笔费用（按 setl_id 幂等）")
def settle(body: dict[str, Any] = Body(..., examples=[CLAIM_EXAMPLE]),
           who: Principal = Depends(principal),
           uow: UnitOfWorkFactory = Depends(uow_factory)) -> Response:
    reply = settlements.settle(uow, who, body)
    headers = {"Idempotent-Replay": "true"} if reply.replayed else {}
    return Response(reply.body, media_type="application/json", headers=headers)


@router.get("/{setl_id}", summary="结算记录（含撤销信息）")
def get_settlement(setl_id: str, who: Principal = Depends(principal),
                   uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(settlements.get_settlement(uow(), who, setl_id))


@router.get("/{setl_id}/statement", response_class=HTMLResponse, summary="结算单（可打印）")
def statement(setl_id: str, who: Principal = Depends(principal),
              uow: UnitOfWorkFactory = Depends(uow_factory)) -> HTMLResponse:
    return HTMLResponse(settlements.statement_html(uow(), who, setl_id))


@router.post("/{setl_id}/reversal", summary="撤销结算（恢复年度累计，保留原记录）")
def reverse(setl_id: str,
            body: dict[str, Any] = Body(..., examples=[{"reason": "患者要求重新结算"}]),
            who: Principal = Depends(principal),
            uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(settlements.reverse(uow(write=True), who, setl_id, body))
