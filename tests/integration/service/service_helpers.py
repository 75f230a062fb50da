"""Helpers of the service integration tests: databases, tokens, persons and claims.

PostgreSQL is ``MINSHENG_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test session works in a fresh
schema that is dropped afterwards. When it cannot be reached the PostgreSQL cases are
skipped with a message — except under ``CI=true``, where they fail.

Tests share one database per backend and keep apart by unique ids (:func:`uid`); a test
that tampers with the audit trail takes a fresh database of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from minsheng.api.app import create_app
from minsheng.api.deps import STATE_KEY
from minsheng.core.money import parse_fen
from minsheng.core.parameters import ParameterView, default_store
from minsheng.core.resident_id import make_certno
from minsheng.rules import settlement as k
from minsheng.rules.settlement_params import category_mask, day_number
from minsheng.service import settlements
from minsheng.service.auth import SYSTEM, Principal, create_token
from minsheng.service.db import Database
from minsheng.service.settlement_batch import SettleReply, settle_batch
from minsheng.service.unit_of_work import UnitOfWork

PG_URL = os.environ.get("MINSHENG_TEST_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgres")


def uid(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def _postgres_problem() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"),
                             connect_timeout=3):
            return None
    except Exception as exc:  # unreachable, refused, no driver
        return f"PostgreSQL unreachable at {PG_URL}: {exc}"


def _skip_or_fail(problem: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(problem + " (CI=true: PostgreSQL is required)")
    pytest.skip(problem)


class PostgresSchema:
    """A fresh schema, and a database URL whose search_path points at it."""

    def __init__(self) -> None:
        import psycopg

        self.name = uid("mstest_")
        self.admin_url = PG_URL.replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')
        sep = "&" if "?" in PG_URL else "?"
        self.url = f"{PG_URL}{sep}options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


def new_database_url(backend: str, folder: Path) -> tuple[str, Any]:
    """A URL of an empty database, and a callable that removes it."""
    if backend == "sqlite":
        return f"sqlite:///{folder / (uid('db_') + '.sqlite')}", lambda: None
    problem = _postgres_problem()
    if problem:
        _skip_or_fail(problem)
    schema = PostgresSchema()
    return schema.url, schema.drop


def client_for(db: Database) -> TestClient:
    app = create_app()
    setattr(app.state, STATE_KEY, db)
    return TestClient(app)


def token(db: Database, role: str, region: str | None = None, psn_no: str | None = None
          ) -> dict[str, str]:
    """Headers carrying a new token of ``role``."""
    with UnitOfWork(db, write=True) as uow:
        _, secret = create_token(uow, role, region=region, psn_no=psn_no, label="test")
        uow.commit()
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class Roles:
    admin: dict[str, str]
    agency_jilin: dict[str, str]
    agency_shanxi: dict[str, str]
    hospital: dict[str, str]
    hospital_shanxi: dict[str, str]
    analyst: dict[str, str]


def person_body(psn_no: str, region: str = "140100", categories: Any = (),
                insutype: str = "390", **extra: Any) -> dict[str, Any]:
    import datetime as dt

    body = {"psn_no": psn_no, "insutype": insutype, "region": region,
            "categories": list(categories),
            "certno": make_certno(region, dt.date(1970, 1, 1) + dt.timedelta(
                days=int(psn_no.encode().hex()[-6:], 16) % 18000), 7),
            "psn_name": "测试参保人"}
    body.update(extra)
    return body


def claim_body(setl_id: str, psn_no: str, *, setl_time: str = "2023-08-01T10:00:00",
               med_type: str = "21", hosp_lv: int = 3, in_province: bool = True,
               total: str = "20000.00", ownpay: str = "0.00", preself: str = "1000.00",
               overlimit: str = "0.00") -> dict[str, Any]:
    return {"setl_id": setl_id, "psn_no": psn_no, "setl_time": setl_time,
            "med_type": med_type, "hosp_lv": hosp_lv, "in_province": in_province,
            "medfee_sumamt": total, "fulamt_ownpay_amt": ownpay, "preselfpay_amt": preself,
            "overlmt_selfpay": overlimit}


# Settling, and what the kernel says each claim should get

MONEY = ("inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt",
         "psn_part_amt", "act_pay_dedc")
"""The money fields of a settlement reply."""

ACCUMULATED = ("hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt")
"""The amounts a person's yearly accumulators sum."""

Outcome = SettleReply | BaseException


def register(client: TestClient, roles: Roles, **kwargs: Any) -> str:
    psn_no = uid("P")
    r = client.post("/api/v1/persons", json=person_body(psn_no, **kwargs), headers=roles.admin)
    assert r.status_code == 201, r.text
    return psn_no


def kernel_outputs(claims: list[dict[str, Any]], insutype: str, region: str,
                   categories: list[tuple[str, ...]]) -> list[dict[str, int]]:
    """The kernel run on one person's claims at once, in order (the batch way): what the
    service must answer for each when they are settled one after the other."""
    days = [day_number(dt.datetime.fromisoformat(c["setl_time"]).date()) for c in claims]
    cols = {"person": [0] * len(claims), "day": days, "region": [int(region)] * len(claims),
            "resident": [insutype == "390"] * len(claims),
            "med_type": [int(c["med_type"]) for c in claims],
            "hosp_lv": [c["hosp_lv"] for c in claims],
            "in_province": [c["in_province"] for c in claims],
            "categories": [category_mask(cats) for cats in categories]}
    for name in ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "overlmt_selfpay"):
        cols[name] = [parse_fen(c[name]) for c in claims]
    batch = k.Claims.from_columns({n: np.asarray(v) for n, v in cols.items()})
    res = k.settle(batch, k.resolve(batch, ParameterView(default_store())))
    return [{m: int(getattr(res, m)[i]) for m in MONEY} for i in range(len(claims))]


def fen(reply: dict[str, Any]) -> dict[str, int]:
    return {m: parse_fen(reply[m]) for m in MONEY}


def settle_together(db: Database, bodies: Sequence[Any], principal: Principal = SYSTEM,
                    secret: str | None = None) -> list[Outcome]:
    """Settle ``bodies`` as ONE batch, committed as the settlement writer commits it."""
    return settle_requests(db, [settlements.parse_request(
        b, principal=None if secret else principal, secret_hash=secret, defer_errors=True)
        for b in bodies])


def settle_requests(db: Database, requests: Sequence[Any]) -> list[Outcome]:
    """Settle parsed requests as ONE batch, committed as the settlement writer commits it."""
    with UnitOfWork(db, write=True) as uow:
        outcomes = settle_batch(uow, requests)
        uow.commit()
    result: list[Outcome] = []
    for o in outcomes:
        assert isinstance(o, SettleReply | BaseException)
        result.append(o)
    return result


def reply(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, SettleReply), outcome
    parsed: dict[str, Any] = json.loads(outcome.body)
    return parsed
