"""``/api/v1/watch-lists``: the 因病返贫致贫 watch lists on a date, as JSON, CSV or XLSX."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from minsheng.api.deps import principal, uow_factory
from minsheng.api.responses import JSON
from minsheng.service.auth import Principal
from minsheng.service.casework import watch_lists
from minsheng.service.unit_of_work import UnitOfWorkFactory

router = APIRouter(prefix="/api/v1/watch-lists", tags=["casework 因病返贫致贫监测"])


@router.get("", summary="因病返贫致贫监测名单（format=json|csv|xlsx；导出记入审计）", response_model=None)
def watch_list(date: str | None = Query(None, description="截至日期（默认今天）"),
               region: str | None = Query(None, description="地区代码（默认令牌的地区）"),
               format: str = Query("json", description="json、csv 或 xlsx"),
               who: Principal = Depends(principal),
               uow: UnitOfWorkFactory = Depends(uow_factory)) -> Response:
    if format == "json":
        return JSON(watch_lists.compute(uow(), who, date, region))
    content, media, name = watch_lists.export(uow(), uow(write=True), who, date, region, format)
    return Response(content, media_type=media, headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"})
