"""The calculation API gives the same JSON as the command line."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from minsheng.api.app import create_app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def test_posting_a_calculation_returns_outputs_warnings_and_trace(client: TestClient) -> None:
    reply = client.post("/api/v1/calculations/resident_fiscal_subsidy",
                        json={"date": "2021-06-01", "region": "222400"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["outputs"]["central"] == "464.00"
    assert body["name"] == "resident_fiscal_subsidy" and body["region"] == "222400"


def test_the_api_and_the_library_agree(client: TestClient) -> None:
    from minsheng.core.calculation import run

    reply = client.post("/api/v1/calculations/flexible_employment_contribution",
                        json={"date": "2023-08-01", "region": "220102",
                              "inputs": {"mode": "combined"}})
    expected = run("flexible_employment_contribution", date="2023-08-01", region="220102",
                   inputs={"mode": "combined"}).to_json()
    assert reply.json() == expected


def test_the_list_of_calculations_describes_each_input(client: TestClient) -> None:
    body = client.get("/api/v1/calculations").json()
    by_name = {c["name"]: c for c in body["calculations"]}
    mode = by_name["flexible_employment_contribution"]["inputs"][0]
    assert mode["type"] == "enum" and {"key": "single", "label": "单建模式"} in mode["choices"]


def test_an_unknown_calculation_is_404(client: TestClient) -> None:
    assert client.post("/api/v1/calculations/nope", json={"date": "2021-06-01"}
                       ).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"date": "2021-06-01", "region": "229999"}, "region"),
    ({"date": "June", "region": "220102"}, "date"),
    ({"region": "220102"}, "date"),
    ({"date": "2021-06-01", "region": "220102", "inputs": {"insured_persons": -1}},
     "insured_persons"),
    ({"date": "2021-06-01", "region": "220102", "inputs": "x"}, "inputs"),
])
def test_bad_input_is_422_naming_the_field(client: TestClient, body: dict[str, object],
                                           field: str) -> None:
    reply = client.post("/api/v1/calculations/resident_fiscal_subsidy", json=body)
    assert reply.status_code == 422
    assert reply.json()["field"] == field


def test_a_date_with_no_rule_is_422_naming_parameter_region_and_date(client: TestClient) -> None:
    reply = client.post("/api/v1/calculations/resident_fiscal_subsidy",
                        json={"date": "2024-01-01", "region": "220102"})
    assert reply.status_code == 422
    body = reply.json()
    assert body["parameter"] == "medical.financing.resident.fiscal_subsidy.total"
    assert (body["region"], body["date"]) == ("220102", "2024-01-01")
