"""``/api/v1/settlements``: settle one claim, read it, print its statement, reverse it."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.routing import Route

from minsheng.api.deps import database, principal, uow_factory
from minsheng.api.responses import JSON
from minsheng.core.errors import InputError
from minsheng.service import settlements
from minsheng.service.auth import Principal, bearer_secret, hash_secret
from minsheng.service.settlement_batch import SettleReply
from minsheng.service.unit_of_work import UnitOfWorkFactory
from minsheng.service.writer import writer_for

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
    """Documents the endpoint; requests are served by :func:`fast_settle`."""
    return _reply(settlements.settle(uow, who, body))


def _reply(reply: SettleReply) -> Response:
    headers = {"Idempotent-Replay": "true"} if reply.replayed else {}
    return Response(reply.body, media_type="application/json", headers=headers)


async def fast_settle(request: Request) -> Response:
    """The settlement hot path, mounted as a plain Starlette route ahead of the FastAPI
    routes (:data:`FAST_ROUTES`): no thread per request and no token query of its own. The
    claim is parsed here and joins the settlement writer's next batch, where the token is
    resolved together with the batch's others (401 and 403 before any error of the body);
    the reply comes once the batch has committed."""
    try:
        raw = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise InputError("body", "请求体不是有效的 JSON", "body is not valid JSON") from None
    secret = bearer_secret(request.headers.get("authorization"))  # 401 without a bearer token
    job = settlements.parse_request(raw, secret_hash=hash_secret(secret), defer_errors=True)
    writer_for(database(request)).submit(job)
    return _reply(await asyncio.wrap_future(job.future))


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


FAST_ROUTES = [Route("/api/v1/settlements", fast_settle, methods=["POST"])]
"""Routes to put first in the app (see :func:`fast_settle`)."""
