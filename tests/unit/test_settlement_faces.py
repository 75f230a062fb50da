"""``minsheng settle`` and ``POST /api/v1/settlements/preview`` give the same settlement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from minsheng.api.app import create_app
from minsheng.cli import app

EXAMPLE = Path(__file__).parents[3] / "shared" / "examples" / "settle-input.json"
runner = CliRunner()


def example() -> dict[str, Any]:
    if EXAMPLE.exists():
        data: dict[str, Any] = json.loads(EXAMPLE.read_text("utf-8"))
        return data
    pytest.skip("shared/examples/settle-input.json is not beside the project")


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


def test_the_command_settles_the_example_input_and_prints_json(tmp_path: Path) -> None:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(example()), "utf-8")
    result = runner.invoke(app, ["settle", str(path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"claims", "persons", "warnings"}
    assert [c["setl_id"] for c in out["claims"]] == [c["setl_id"] for c in example()["claims"]]
    first = out["claims"][0]
    # R 33564.16; tier 1 (900 per claim, 60%) 19598.50; tier 2 with the 低保/返贫致贫 tilt
    # (deductible 7500, 65%) 4202.68; tier 3 返贫致贫 out of province 70% of 9762.98 = 6834.09
    assert (first["inscp_scp_amt"], first["hifp_pay"], first["hifmi_pay"], first["maf_pay"],
            first["psn_part_amt"]) == ("33564.16", "19598.50", "4202.68", "6834.09", "6658.24")
    assert first["setldetail"][0] == {"fund_pay_type": "390100", "fund_payamt": "19598.50",
                                      "crt_payb_lmt_amt": "130401.50"}
    years = {(p["psn_no"], p["year"]): p for p in out["persons"]}
    assert years["P00001", 2023]["watch_list"] == "relapse_watch"
    assert years["P00000", 2024]["watch_list"] == "impoverish_watch"
    assert "trace" not in first


def test_the_command_reads_standard_input_and_adds_traces_on_request() -> None:
    result = runner.invoke(app, ["settle", "-", "--trace"], input=json.dumps(example()))
    assert result.exit_code == 0, result.output
    trace = json.loads(result.stdout)["claims"][0]["trace"]
    assert any(step["name"] == "hifp_pay" for step in trace)


def test_a_bad_claim_exits_2_naming_the_claim_and_field() -> None:
    doc = example()
    doc["claims"][3]["fulamt_ownpay_amt"] = "-1.00"
    result = runner.invoke(app, ["settle", "-"], input=json.dumps(doc))
    assert result.exit_code == 2
    assert "claims[3].fulamt_ownpay_amt" in result.stderr
    assert result.stdout == ""


def test_no_claims_settle_to_empty_lists() -> None:
    result = runner.invoke(app, ["settle", "-"], input='{"persons": [], "claims": []}')
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"claims": [], "persons": [], "warnings": []}


def test_a_file_that_is_not_json_exits_2() -> None:
    result = runner.invoke(app, ["settle", "-"], input="{persons")
    assert result.exit_code == 2
    assert "JSON" in result.stderr


def test_the_table_view_shows_each_claim() -> None:
    result = runner.invoke(app, ["settle", "-", "--table"], input=json.dumps(example()))
    assert result.exit_code == 0, result.output
    assert "C00001-000" in result.stdout and "6834.09" in result.stdout


def test_the_preview_endpoint_gives_the_same_json_as_the_command(client: TestClient) -> None:
    cli = runner.invoke(app, ["settle", "-"], input=json.dumps(example()))
    reply = client.post("/api/v1/settlements/preview", json=example())
    assert reply.status_code == 200
    assert reply.json() == json.loads(cli.stdout)


def test_the_preview_endpoint_needs_no_token_and_adds_traces_on_request(
        client: TestClient) -> None:
    reply = client.post("/api/v1/settlements/preview?trace=true", json=example())
    assert reply.status_code == 200
    assert all("trace" in c for c in reply.json()["claims"])


def test_bad_input_to_the_preview_endpoint_is_422_naming_the_field(client: TestClient) -> None:
    doc = example()
    doc["claims"][1]["hosp_lv"] = 7
    reply = client.post("/api/v1/settlements/preview", json=doc)
    assert reply.status_code == 422
    assert reply.json()["field"] == "claims[1].hosp_lv"
    reply = client.post("/api/v1/settlements/preview", json={**example(), "extra": 1})
    assert reply.status_code == 422
    assert reply.json()["field"] == "extra"


def test_null_in_parameters_sets_none(client: TestClient) -> None:
    doc = example()
    doc["parameters"]["medical.basic.resident.inpatient.ratio.lv3"] = None
    reply = client.post("/api/v1/settlements/preview", json=doc)
    assert reply.status_code == 200
    assert reply.json()["claims"][0]["hifp_pay"] == "0.00"
