"""``/api/v1/casework/filings``: remote-care filings (异地就医备案) — file, change, end, read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query

from minsheng.api.deps import principal, uow_factory
from minsheng.api.responses import JSON
from minsheng.service.auth import Principal
from minsheng.service.casework import filings
from minsheng.service.unit_of_work import UnitOfWorkFactory

router = APIRouter(prefix="/api/v1/casework/filings", tags=["casework 异地就医备案"])

FILING_EXAMPLE = {"psn_no": "P220102001", "kind": "long_term_resident", "destination": "460000",
                  "channel": "counter"}


@router.post("", status_code=201, summary="办理异地就医备案（参保人线上、参保地经办机构窗口）")
def create(body: dict[str, Any] = Body(..., examples=[FILING_EXAMPLE]),
           who: Principal = Depends(principal),
           uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(filings.create_filing(uow(write=True), who, body), status_code=201)


@router.get("", summary="参保人的异地就医备案")
def list_for_person(psn_no: str = Query(..., description="个人编号"),
                    who: Principal = Depends(principal),
                    uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(filings.list_filings(uow(), who, psn_no))


@router.get("/{filing_id}", summary="异地就医备案详情")
def get(filing_id: str, who: Principal = Depends(principal),
        uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(filings.get_filing(uow(), who, filing_id))


@router.post("/{filing_id}/change", summary="变更备案（原备案终止，新备案生效）")
def change(filing_id: str, body: dict[str, Any] = Body(..., examples=[{"destination": "110000"}]),
           who: Principal = Depends(principal),
           uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(filings.change_filing(uow(write=True), who, filing_id, body))


@router.post("/{filing_id}/end", summary="终止备案（cancel=true：撤销误办的备案）")
def end(filing_id: str, body: dict[str, Any] = Body(..., examples=[{"reason": "已回参保地居住"}]),
        who: Principal = Depends(principal),
        uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(filings.end_filing(uow(write=True), who, filing_id, body))
