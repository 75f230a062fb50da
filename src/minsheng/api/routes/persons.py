"""``/api/v1/persons``: register, change and read insured persons, and their year's totals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query

from minsheng.api.deps import principal, uow_factory
from minsheng.api.responses import JSON
from minsheng.service import persons, settlements
from minsheng.service.auth import Principal
from minsheng.service.unit_of_work import UnitOfWorkFactory

router = APIRouter(prefix="/api/v1/persons", tags=["persons 参保人"])

PERSON_EXAMPLE = {
    "psn_no": "P220102001", "insutype": "390", "region": "220102", "psn_name": "张三",
    "certno": "220102198005061239",
    "categories": ["低保对象", {"category": "monitored", "valid_from": "2023-01-01",
                               "valid_to": "2023-12-31"}],
}


@router.post("", status_code=201, summary="登记参保人（经办机构、管理员）")
def create_person(body: dict[str, Any] = Body(..., examples=[PERSON_EXAMPLE]),
                  who: Principal = Depends(principal),
                  uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(persons.create_person(uow(write=True), who, body), status_code=201)


@router.get("/{psn_no}", summary="查询参保人（身份证号按角色脱敏）")
def get_person(psn_no: str, who: Principal = Depends(principal),
               uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(persons.get_person(uow(), who, psn_no))


@router.put("/{psn_no}", summary="变更参保人（整条记录）")
def replace_person(psn_no: str, body: dict[str, Any] = Body(..., examples=[PERSON_EXAMPLE]),
                   who: Principal = Depends(principal),
                   uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(persons.replace_person(uow(write=True), who, psn_no, body))


@router.get("/{psn_no}/accumulators", summary="参保人年度累计（未撤销的结算）")
def get_accumulators(psn_no: str,
                     year: Any = Query(..., description="年度，如 2023"),
                     who: Principal = Depends(principal),
                     uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(settlements.accumulators(uow(), who, psn_no, year))


@router.get("/{psn_no}/settlements", summary="参保人的结算记录")
def list_settlements(psn_no: str,
                     year: Any = Query(None, description="年度（可选）"),
                     who: Principal = Depends(principal),
                     uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(settlements.list_for_person(uow(), who, psn_no, year))
