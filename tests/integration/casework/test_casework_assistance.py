"""Social-assistance approval at the township (社会救助审批, 003_8545a6f139e71cec.txt, Changchun
from 2020-11): every step and refusal, the twice-monthly runs, the roles of village, township
and county, and the category used by settlements from the approval date.

Runs process every open case of the database, so each test here works on a fresh one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from casework_helpers import CHANGCHUN, YANJI, Casework, fen
from fastapi.testclient import TestClient
from service_helpers import client_for, new_database_url

from minsheng.service.db import Database

TOWNSHIP = "南岭街道"
VILLAGE = "自由大路社区"


@pytest.fixture
def sa(backend: str, tmp_path: Path) -> Iterator[Casework]:
    url, remove = new_database_url(backend, tmp_path)
    db = Database(url, pool_size=3)
    db.migrate()
    client: TestClient
    with client_for(db) as client:
        yield Casework(client, db)
    db.dispose()
    remove()


class Staff:
    def __init__(self, cw: Casework) -> None:
        self.village = cw.staff("village", CHANGCHUN, TOWNSHIP, VILLAGE)
        self.township = cw.staff("township", CHANGCHUN, TOWNSHIP)
        self.other_township = cw.staff("township", CHANGCHUN, "桃源街道")
        self.county = cw.staff("county", CHANGCHUN)


def step(cw: Casework, case_id: str, name: str, headers: dict[str, str], **body: Any) -> Any:
    return cw.post(f"/api/v1/casework/assistance/{case_id}/{name}", body, headers)


def run(cw: Casework, day: str, headers: dict[str, str] | None = None) -> Any:
    return cw.post("/api/v1/casework/runs", {"date": day}, headers or cw.admin)


def apply(cw: Casework, psn_no: str, staff: Staff, **body: Any) -> Any:
    return cw.post("/api/v1/casework/assistance",
                   {"psn_no": psn_no, "category": "低保", "on": "2023-09-01", **body},
                   staff.village)


def test_a_person_approved_as_minimum_allowance_by_the_township_gets_assistance_from_that_day(
        sa: Casework) -> None:
    staff = Staff(sa)
    psn_no = sa.person(CHANGCHUN)
    before = sa.settle(psn_no, setl_time="2023-09-05T10:00:00")
    assert before.status_code == 200 and fen(before.json(), "maf_pay") == 0
    case = apply(sa, psn_no, staff)
    assert case.status_code == 201, case.text
    c = case.json()
    assert (c["status"], c["due_on"], c["township"], c["village"]) == (
        "applied", "2023-09-16", TOWNSHIP, VILLAGE)
    assert c["checks"]["publicity"].startswith("审核阶段不公示")
    cid = c["id"]
    assert step(sa, cid, "accept", staff.village).status_code == 403  # the township accepts
    assert step(sa, cid, "accept", staff.township, on="2023-09-04").json()["status"] == "accepted"
    early = step(sa, cid, "verification", staff.township, result="passed")
    assert early.status_code == 409 and "每月两次" in early.json()["message"]
    survey = step(sa, cid, "survey", staff.township, result="eligible", on="2023-09-06",
                  findings="家庭人均收入低于当地低保标准")
    assert survey.json()["checks"]["survey"] == "eligible"
    first = run(sa, "2023-09-08")
    assert first.status_code == 200 and first.json()["verifications_sent"] == [cid]
    again = run(sa, "2023-09-12")
    assert again.status_code == 409 and again.json()["period"] == "2023-09-1"
    checked = step(sa, cid, "verification", staff.township, result="passed",
                   report_no="JH-2023-0912", on="2023-09-11")
    assert checked.json()["checks"]["economic_verification"] == "passed"
    signed = step(sa, cid, "sign", staff.township, decision="approve", on="2023-09-13")
    assert signed.json()["status"] == "signed" and signed.json()["signed_by"].startswith("agency:")
    still = sa.settle(psn_no, setl_time="2023-09-15T10:00:00")
    assert fen(still.json(), "maf_pay") == 0  # signed, not yet approved by a run
    second = run(sa, "2023-09-16")
    assert second.json()["approved"] == [cid]
    shown = sa.get(f"/api/v1/casework/assistance/{cid}", staff.county, date="2023-09-16").json()
    assert (shown["status"], shown["decided_on"], shown["overdue"]) == ("approved", "2023-09-16",
                                                                        False)
    held = [h for h in sa.get_person(psn_no)["categories"] if h["category"] == "minimum_allowance"]
    assert held == [{"category": "minimum_allowance", "name": "低保对象",
                     "valid_from": "2023-09-16", "valid_to": None}]
    after = sa.settle(psn_no, setl_time="2023-09-20T10:00:00")
    assert after.status_code == 200 and fen(after.json(), "maf_pay") > 0
    assert sa.audit_actions(cid) == ["assistance.applied", "assistance.accepted",
                                     "assistance.survey", "assistance.verification",
                                     "assistance.signed", "assistance.decided"]


def test_a_denied_case_with_an_appraisal_changes_no_category(sa: Casework) -> None:
    staff = Staff(sa)
    psn_no = sa.person(CHANGCHUN)
    cid = apply(sa, psn_no, staff, category="低收入人员").json()["id"]
    accepted = step(sa, cid, "accept", staff.township, on="2023-09-02", appraisal_required=True)
    assert accepted.json()["checks"]["appraisal"] == "pending"
    step(sa, cid, "survey", staff.township, result="ineligible", on="2023-09-05")
    run(sa, "2023-09-06")
    step(sa, cid, "verification", staff.township, result="failed", on="2023-09-07")
    missing = step(sa, cid, "sign", staff.township, decision="approve", on="2023-09-08")
    assert missing.status_code == 409 and "民主评议" in missing.json()["message"]
    assert step(sa, cid, "appraisal", staff.village, result="disagreed",
                on="2023-09-08").status_code == 200
    negative = step(sa, cid, "sign", staff.township, decision="approve", on="2023-09-09")
    assert negative.status_code == 409 and "经济核对未通过" in negative.json()["message"]
    no_reason = step(sa, cid, "sign", staff.township, decision="deny", on="2023-09-09")
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    assert step(sa, cid, "sign", staff.township, decision="deny", on="2023-09-09",
                reason="家庭收入超过低收入标准").status_code == 200
    assert run(sa, "2023-09-18").json()["denied"] == [cid]
    assert sa.get_person(psn_no)["categories"] == []
    assert step(sa, cid, "sign", staff.township, decision="deny", reason="x").status_code == 409


def test_not_accepting_and_appraisal_only_when_required(sa: Casework) -> None:
    staff = Staff(sa)
    cid = apply(sa, sa.person(CHANGCHUN), staff).json()["id"]
    step(sa, cid, "accept", staff.township, on="2023-09-02")
    needless = step(sa, cid, "appraisal", staff.township, result="agreed")
    assert needless.status_code == 409 and "无需民主评议" in needless.json()["message"]
    marked = step(sa, cid, "require-appraisal", staff.township, reason="邻里反映有隐性收入",
                  on="2023-09-03")
    assert marked.json()["checks"]["appraisal"] == "pending"
    other = apply(sa, sa.person(CHANGCHUN), staff).json()["id"]
    refused = step(sa, other, "accept", staff.township, decision="not_accept",
                   reason="申请人户籍不在本街道", on="2023-09-02")
    assert refused.json()["status"] == "not_accepted"
    assert step(sa, other, "survey", staff.township, result="eligible").status_code == 409


def test_roles_village_township_and_county(sa: Casework) -> None:
    staff = Staff(sa)
    psn_no = sa.person(CHANGCHUN)
    cid = apply(sa, psn_no, staff).json()["id"]
    assert step(sa, cid, "accept", staff.other_township).status_code == 403
    assert step(sa, cid, "accept", staff.county).status_code == 403  # supervises, reads only
    assert sa.get(f"/api/v1/casework/assistance/{cid}", staff.county).status_code == 200
    assert sa.get(f"/api/v1/casework/assistance/{cid}", staff.other_township).status_code == 403
    assert sa.get(f"/api/v1/casework/assistance/{cid}", sa.agency_changchun).status_code == 403
    assert sa.get(f"/api/v1/casework/assistance/{cid}", sa.hospital).status_code == 403
    assert run(sa, "2023-09-08", staff.township).status_code == 403
    county_list = sa.get("/api/v1/casework/assistance", staff.county).json()
    assert [c["id"] for c in county_list["cases"]] == [cid]
    assert sa.get("/api/v1/casework/assistance", staff.other_township).json()["cases"] == []
    assert sa.post("/api/v1/casework/assistance", {"psn_no": psn_no, "category": "低保"},
                   staff.county).status_code == 403
    set_by_agency = sa.client.put("/api/v1/casework/staff/tok_x", json={"level": "county"},
                                  headers=sa.agency_changchun)
    assert set_by_agency.status_code == 403


def test_the_overdue_list_holds_cases_past_fifteen_days(sa: Casework) -> None:
    staff = Staff(sa)
    cid = apply(sa, sa.person(CHANGCHUN), staff).json()["id"]
    on_time = sa.get("/api/v1/casework/assistance/overdue", staff.county, date="2023-09-16").json()
    assert on_time["count"] == 0
    late = sa.get("/api/v1/casework/assistance/overdue", staff.county, date="2023-09-17").json()
    assert [c["id"] for c in late["cases"]] == [cid] and late["cases"][0]["days_left"] == -1
    assert sa.get("/api/v1/casework/assistance/overdue", staff.other_township,
                  date="2023-09-17").json()["count"] == 0


def test_applications_outside_changchun_or_before_the_reform_name_the_missing_rule(
        sa: Casework) -> None:
    staff = Staff(sa)
    outside = sa.post("/api/v1/casework/assistance",
                      {"psn_no": sa.person(YANJI), "category": "低保", "township": "x"}, sa.admin)
    assert outside.status_code == 422 and outside.json()["error"] == "parameter_missing"
    assert outside.json()["parameter"] == "social_assistance.approval.level"
    early = apply(sa, sa.person(CHANGCHUN), staff, on="2020-10-20")
    assert early.status_code == 422 and early.json()["date"] == "2020-10-20"
    wrong = apply(sa, sa.person(CHANGCHUN), staff, category="孤儿")
    assert wrong.status_code == 422 and wrong.json()["field"] == "category"
    psn_no = sa.person(CHANGCHUN)
    apply(sa, psn_no, staff)
    assert apply(sa, psn_no, staff).status_code == 409  # one open application per category
    assert run(sa, "2099-01-01").status_code == 422
