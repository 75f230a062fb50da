"""``/api/v1/settlements``: settle one claim, read it, print its statement, reverse it."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Body, Depends, Header, Request
from fastapi.responses import HTMLResponse, Response

from minsheng.api.deps import database, principal, uow_factory
from minsheng.api.responses import JSON, error_headers
from minsheng.api.writer_client import remote_writer
from minsheng.core.json_body import load_json
from minsheng.service import settlements
from minsheng.service.auth import Principal, bearer_secret, hash_secret
from minsheng.service.unit_of_work import UnitOfWorkFactory
from minsheng.service.writer import writer_for

router = APIRouter(prefix="/api/v1/settlements", tags=["settlements 结算"])

CLAIM_EXAMPLE = {
    "setl_id": "H001-20230801-0001", "psn_no": "P220102001",
    "setl_time": "2023-08-01T13:00:00", "med_type": "21", "hosp_lv": 3, "in_province": True,
    "medfee_sumamt": "37293.51", "fulamt_ownpay_amt": "0.00", "preselfpay_amt": "3729.35",
    "overlmt_selfpay": "0.00",
}


_AMOUNT = {"anyOf": [{"type": "string", "pattern": r"^\d{1,10}(\.\d{1,2})?$"},
                     {"type": "number", "minimum": 0, "multipleOf": 0.01}],
           "description": "金额（元，至多两位小数）"}
CLAIM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["setl_id", "psn_no", "setl_time", "med_type", "hosp_lv", "in_province",
                 "medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "overlmt_selfpay"],
    "properties": {
        "setl_id": {"type": "string", "minLength": 1, "maxLength": settlements.SETL_ID_MAX,
                    "description": "结算流水号（幂等：同号同内容返回首次结果，同号不同内容 409）"},
        "psn_no": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$",
                   "description": "个人编号（须已登记）"},
        "setl_time": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$",
                      "description": "结算时间（中国时间，不带时区）；其年度为累计年度"},
        "med_type": {"type": "string", "enum": ["11", "14", "21"],
                     "description": "医疗类别：11 普通门诊、14 门诊慢特病、21 住院"},
        "hosp_lv": {"type": "integer", "minimum": 0, "maximum": 3,
                    "description": "医院等级：0 村卫生室，1、2、3 级"},
        "in_province": {"type": "boolean", "description": "是否省内就医"},
        "medfee_sumamt": {**_AMOUNT, "description": "医疗费总额 T"},
        "fulamt_ownpay_amt": {**_AMOUNT, "description": "全自费金额 F"},
        "preselfpay_amt": {**_AMOUNT, "description": "乙类先行自付 P"},
        "overlmt_selfpay": {**_AMOUNT, "description": "超限价自付 O（F + P + O ≤ T）"},
        "care_region": {"type": "string", "description": "就医地（6位地区代码；异地就医时填写）"},
        "visit": {"type": "string", "enum": ["emergency", "emergency_observation"],
                  "description": "急诊或急诊留观、急诊抢救（与 care_region 同填）"},
        "discharge_time": {"type": "string", "description": "出院时间（默认为结算时间）"},
        "disease": {"type": "string", "maxLength": 100, "description": "门诊慢特病病种"},
        "dual_channel_drug": {"type": "string", "maxLength": 100, "description": "双通道药品"},
    },
    "additionalProperties": False,
    "example": CLAIM_EXAMPLE,
}


@router.post("", summary="结算一笔费用（按 setl_id 幂等）", response_class=Response,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": CLAIM_SCHEMA}}}})
async def settle(request: Request, authorization: str | None = Header(
        None, description="Bearer 访问令牌（minsheng token create 生成）")) -> Response:
    """Documents the endpoint; requests are served by :func:`fast_settle`."""
    return await fast_settle(request)


def _reply(body: bytes, replayed: bool, status: int = 200) -> Response:
    """A settlement's reply as sent: a replay says so; an error carries its headers."""
    headers = {"Idempotent-Replay": "true"} if replayed else error_headers(status)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def fast_settle(request: Request) -> Response:
    """The settlement hot path, answered before the app's middleware and router
    (:mod:`minsheng.api.hot_paths`): no thread per request and no token query of its own. The
    claim is parsed here and joins the settlement writer's next batch, where the token is
    resolved together with the batch's others (401 and 403 before any error of the body);
    the reply comes once the batch has committed. Under ``minsheng serve`` the writer runs in
    a process of its own (:mod:`minsheng.api.writer_client`): the body goes there as sent."""
    body = await request.body()
    raw = load_json(body)
    secret = bearer_secret(request.headers.get("authorization"))  # 401 without a bearer token
    remote = remote_writer(raw.get("psn_no") if isinstance(raw, dict) else None)
    if remote is not None:  # minsheng serve: the writer of this person, in its own process
        status, replayed, reply = await remote.settle(hash_secret(secret), body)
        return _reply(reply, replayed, status)
    job = settlements.parse_request(raw, secret_hash=hash_secret(secret), defer_errors=True)
    job.waiter = asyncio.get_running_loop().create_future()
    writer_for(database(request)).submit(job)
    settled = await job.waiter
    return _reply(settled.body, settled.replayed)


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

