"""``/api/v1/audit``: the hash-chained audit trail (administrators only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from minsheng.api.deps import principal, uow_factory
from minsheng.api.responses import JSON
from minsheng.service import audit_trail
from minsheng.service.auth import Principal
from minsheng.service.unit_of_work import UnitOfWorkFactory

router = APIRouter(prefix="/api/v1/audit", tags=["audit 审计"])


@router.get("", summary="审计记录（按序号）")
def entries(after: int = Query(0, ge=0, le=2**63 - 1, description="从此序号之后"),
            limit: int = Query(100, ge=1, le=1000, description="条数"),
            who: Principal = Depends(principal),
            uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(audit_trail.entries(uow(), who, after=after, limit=limit))


@router.get("/verify", summary="校验审计链（被改动、删除或调换的第一条）")
def verify(who: Principal = Depends(principal),
           uow: UnitOfWorkFactory = Depends(uow_factory)) -> JSON:
    return JSON(audit_trail.verify_chain(uow(), who).to_dict())
