"""``/api/v1/casework/assistance``: social-assistance approval at the township (社会救助审批),
its twice-monthly runs, and the levels of casework staff."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query

from minsheng.api.deps import principal, uow_factory
from minsheng.api.responses import JSON
from minsheng.core.dates import parse_date
from minsheng.core.errors import NotFound
from minsheng.service.auth import Principal
from minsheng.service.casework import assistance_approval as sa
from minsheng.service.unit_of_work import UnitOfWorkFactory

router = APIRouter(prefix="/api/v1/casework", tags=["casework 社会救助审批"])

STEPS = {"accept": sa.accept, "survey": sa.survey, "verification": sa.verification,
         "require-appraisal": sa.require_appraisal, "appraisal": sa.appraisal, "sign": sa.sign}


@router.post("/assistance", status_code=201, summary="向乡镇（街道）一门式申请低保、特困、低收入认定")
def apply(body: dict[str, Any] = Body(..., examples=[{
        "psn_no": "P220102001", "category": "低保对象", "township": "南岭街道",
        "village": "自由大路社区"}]),
          who: Principal = Depends(principal),
          uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(sa.apply(uow(write=True), who, body), status_code=201)


@router.get("/assistance", summary="救助申请（本人负责范围内；可按个人编号）")
def list_cases(psn_no: str | None = Query(None, description="个人编号"),
               who: Principal = Depends(principal),
               uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(sa.list_cases(uow(), who, psn_no))


@router.get("/assistance/overdue", summary="超过办结时限（15天）仍未审批的申请")
def overdue(date: str | None = Query(None, description="日期（默认今天）"),
            who: Principal = Depends(principal),
            uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(sa.overdue(uow(), who, date))


@router.get("/assistance/{case_id}", summary="救助申请的办理进度")
def get(case_id: str, date: str | None = Query(None, description="查询日（默认今天）"),
        who: Principal = Depends(principal),
        uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(sa.get_case(uow(), who, case_id, date))


@router.post("/assistance/{case_id}/{step}",
             summary="办理步骤：accept、survey、verification、require-appraisal、appraisal、sign")
def step(case_id: str, step: str, body: dict[str, Any] = Body(..., examples=[{"decision": "accept"}]),
         who: Principal = Depends(principal),
         uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    handler = STEPS.get(step)
    if handler is None:
        raise NotFound(f"未知步骤 {step}（可用：{'、'.join(STEPS)}）", f"unknown step {step}")
    return JSON(handler(uow(write=True), who, case_id, body))


@router.post("/runs", summary="经济核对与审批批次（每月两次；管理员）")
def run(body: dict[str, Any] = Body(..., examples=[{"date": "2023-09-15"}]),
        who: Principal = Depends(principal),
        uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    day = parse_date(body["date"], "date") if body.get("date") else None
    return JSON(sa.run_batch(uow(write=True), who, day))


@router.put("/staff/{token_id}", summary="登记经办人员的级别（县、乡、村；管理员）")
def set_staff(token_id: str, body: dict[str, Any] = Body(..., examples=[{
        "level": "township", "township": "南岭街道"}]),
              who: Principal = Depends(principal),
              uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(sa.set_staff(uow(write=True), who, token_id, body))
