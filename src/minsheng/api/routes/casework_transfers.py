"""``/api/v1/casework/transfers``: transfer of the insurance relationship (转移接续)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query

from minsheng.api.deps import principal, uow_factory
from minsheng.api.responses import JSON
from minsheng.service.auth import Principal
from minsheng.service.casework import transfers
from minsheng.service.unit_of_work import UnitOfWorkFactory

router = APIRouter(prefix="/api/v1/casework/transfers", tags=["casework 转移接续"])


@router.post("", status_code=201, summary="申请跨省转移接续（线上、转出地或转入地经办机构）")
def apply(body: dict[str, Any] = Body(..., examples=[{
        "psn_no": "P220102001", "from_region": "460000", "to_region": "220102",
        "channel": "new_agency", "application_date": "2023-09-25"}]),
          who: Principal = Depends(principal),
          uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(transfers.apply_cross_province(uow(write=True), who, body), status_code=201)


@router.post("/in-province", status_code=201, summary="省内转移接续：在转入地参保登记（续保），当日办结")
def register(body: dict[str, Any] = Body(..., examples=[{
        "psn_no": "P220102001", "to_region": "222401", "registered_on": "2023-09-25"}]),
             who: Principal = Depends(principal),
             uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(transfers.register_in_province(uow(write=True), who, body), status_code=201)


@router.get("/overdue", summary="超过办结时限仍未办结的转移接续")
def overdue(date: str | None = Query(None, description="日期（默认今天）"),
            region: str | None = Query(None, description="地区代码（默认令牌的地区）"),
            who: Principal = Depends(principal),
            uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(transfers.overdue(uow(), who, date, region))


@router.get("", summary="参保人的转移接续")
def list_for_person(psn_no: str = Query(..., description="个人编号"),
                    who: Principal = Depends(principal),
                    uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(transfers.list_transfers(uow(), who, psn_no))


@router.get("/{transfer_id}", summary="办理进度（已用、剩余工作日）")
def get(transfer_id: str, date: str | None = Query(None, description="查询日（默认今天）"),
        who: Principal = Depends(principal),
        uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(transfers.get_transfer(uow(), who, transfer_id, date))


@router.post("/{transfer_id}/{step}", summary="办理步骤：forwarded、completed、rejected")
def advance(transfer_id: str, step: str,
            body: dict[str, Any] = Body(..., examples=[{"on": "2023-10-16"}]),
            who: Principal = Depends(principal),
            uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(transfers.advance(uow(write=True), who, transfer_id, step, body))
