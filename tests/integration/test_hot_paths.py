"""The hot paths answer exactly as the application's router would, and refuse huge bodies."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from minsheng.api.app import MinshengAPI, create_app

REQUESTS = [
    ("/api/v1/calculations/resident_fiscal_subsidy", {"date": "2021-06-01", "region": "222400"}),
    ("/api/v1/calculations/resident_fiscal_subsidy", {"date": "2021-06-01", "region": "999999"}),
    ("/api/v1/calculations/no_such_calculation", {"date": "2021-06-01", "region": "222400"}),
    ("/api/v1/calculations/employee_contribution_base",
     {"date": "2023-09-01", "region": "220102", "inputs": {"monthly_wage": "-1"}}),
    ("/api/v1/calculations/resident_fiscal_subsidy", {"date": "2021-06-01", "colour": "red"}),
    ("/api/v1/settlements", {"setl_id": "X1"}),  # no token: 401 first
]


class ThroughTheRouter:
    """The same application, every request taken through FastAPI's middleware and router."""

    def __init__(self, app: MinshengAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await FastAPI.__call__(self.app, scope, receive, send)


@pytest.fixture(scope="module")
def app() -> MinshengAPI:
    made = create_app()
    assert isinstance(made, MinshengAPI)
    return made


@pytest.mark.parametrize(("path", "body"), REQUESTS)
def test_a_hot_path_answers_as_the_router_does(app: MinshengAPI, path: str,
                                               body: dict[str, Any]) -> None:
    with TestClient(app) as hot, TestClient(ThroughTheRouter(app)) as routed:
        fast, slow = hot.post(path, json=body), routed.post(path, json=body)
    assert fast.status_code == slow.status_code
    assert fast.json() == slow.json()
    assert fast.headers.get("www-authenticate") == slow.headers.get("www-authenticate")


def test_a_body_over_one_mebibyte_is_refused_unread(app: MinshengAPI) -> None:
    with TestClient(app) as client:
        reply = client.post("/api/v1/calculations/resident_fiscal_subsidy",
                            content=b"{" + b" " * (1 << 20) + b"}",
                            headers={"content-type": "application/json"})
    assert reply.status_code == 413
    assert reply.json()["field"] == "body"


def test_other_methods_and_paths_go_through_the_router(app: MinshengAPI) -> None:
    with TestClient(app) as client:
        assert client.get("/api/v1/calculations/resident_fiscal_subsidy").status_code == 200
        assert client.post("/api/v1/calculations/a/b", json={}).status_code in (404, 405)
