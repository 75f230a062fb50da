"""``/api/v1/casework/recognitions``: outpatient chronic/special-disease recognition and
dual-channel drug filing; refund and re-settle, or the difference (轧差)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query

from minsheng.api.deps import principal, uow_factory
from minsheng.api.responses import JSON
from minsheng.service.auth import Principal
from minsheng.service.casework import recognitions
from minsheng.service.unit_of_work import UnitOfWorkFactory

router = APIRouter(prefix="/api/v1/casework/recognitions", tags=["casework 门诊慢特病与双通道药品"])


@router.post("", status_code=201, summary="门诊慢特病认定或双通道药品备案")
def create(body: dict[str, Any] = Body(..., examples=[{
        "psn_no": "P220102001", "kind": "dual_channel_drug", "disease": "糖尿病",
        "drug": "司美格鲁肽注射液", "channel": "institution", "institution_region": "220102",
        "physician_name": "王医生", "physician_title": "attending",
        "assessment_until": "2024-03-31"}]),
           who: Principal = Depends(principal),
           uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(recognitions.create_recognition(uow(write=True), who, body), status_code=201)


@router.post("/resettle", summary="已按普通门诊结算的：退费重新结算，或回参保地轧差报销")
def resettle(body: dict[str, Any] = Body(..., examples=[{"setl_id": "H001-0001",
                                                        "mode": "refund_resettle"}]),
             who: Principal = Depends(principal),
             uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(recognitions.resettle(uow(write=True), who, body))


@router.get("", summary="参保人的认定与备案")
def list_for_person(psn_no: str = Query(..., description="个人编号"),
                    who: Principal = Depends(principal),
                    uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(recognitions.list_recognitions(uow(), who, psn_no))


@router.get("/{rec_id}", summary="认定详情")
def get(rec_id: str, who: Principal = Depends(principal),
        uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(recognitions.get_recognition(uow(), who, rec_id))


@router.post("/{rec_id}/review", summary="参保地经办机构审核线上申请（approve / reject）")
def review(rec_id: str, body: dict[str, Any] = Body(..., examples=[{"decision": "approve"}]),
           who: Principal = Depends(principal),
           uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(recognitions.review(uow(write=True), who, rec_id, body))


@router.post("/{rec_id}/revoke", summary="撤销认定或备案")
def revoke(rec_id: str, body: dict[str, Any] = Body(..., examples=[{"reason": "病情变化"}]),
           who: Principal = Depends(principal),
           uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(recognitions.revoke(uow(write=True), who, rec_id, body))


@router.post("/{rec_id}/change-drug", summary="更换双通道药品：撤销原备案重新办理")
def change_drug(rec_id: str, body: dict[str, Any] = Body(..., examples=[{
        "drug": "度拉糖肽注射液", "physician_name": "王医生", "physician_title": "attending",
        "assessment_until": "2024-06-30"}]),
                who: Principal = Depends(principal),
                uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(recognitions.change_drug(uow(write=True), who, rec_id, body))
