"""Transfer of the insurance relationship (转移接续): cross-province deadlines in official
working days across National Day and the Spring Festival (with their adjusted working
weekends), in-province transfers done at registration, progress, overdue lists and refusals
(POLICY.md §5; 001_2744dedfd50d42c2.txt measures 1–3; 003 for Jilin–Hainan)."""

from __future__ import annotations

from typing import Any

from casework_helpers import CHANGCHUN, HAINAN, YANJI, Casework

from minsheng.core.calculation import run


def apply(cw: Casework, psn_no: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
    return cw.post("/api/v1/casework/transfers", {"psn_no": psn_no, **body},
                   headers or cw.agency_changchun)


def test_a_cross_province_application_on_2023_09_25_is_due_on_2023_10_20(cw: Casework) -> None:
    psn_no = cw.person(CHANGCHUN)
    r = apply(cw, psn_no, from_region=HAINAN, to_region=CHANGCHUN, application_date="2023-09-25")
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["deadline"], t["working_days"], t["status"]) == ("2023-10-20", 15, "applied")
    calc = run("transfer_deadline", date=None, region=CHANGCHUN,
               inputs={"scope": "cross_province", "application_date": "2023-09-25"})
    assert t["deadline"] == calc.outputs["deadline"].isoformat()
    assert any(s.get("reference", {}).get("source") == "001_2744dedfd50d42c2.txt"
               for s in t["trace"])
    assert cw.audit_actions(t["id"]) == ["transfer.applied"]


def test_the_deadline_counts_adjusted_working_weekends_and_skips_the_spring_festival(
        cw: Casework) -> None:
    psn_no = cw.person(CHANGCHUN)
    t = apply(cw, psn_no, from_region=CHANGCHUN, to_region="110000", channel="old_agency",
              application_date="2024-02-05").json()
    # 2024-02-10..17 are holidays; Sundays 2024-02-04 and 02-18 are working days
    assert t["deadline"] == "2024-03-01"
    mid = cw.get(f"/api/v1/casework/transfers/{t['id']}", date="2024-02-18").json()["progress"]
    assert (mid["working_days_used"], mid["working_days_left"]) == (5, 10)


def test_progress_and_the_overdue_list_follow_the_official_calendar(cw: Casework) -> None:
    psn_no = cw.person(CHANGCHUN)
    t = apply(cw, psn_no, from_region=HAINAN, to_region=CHANGCHUN, application_date="2023-09-25",
              channel="online", headers=cw.citizen(psn_no)).json()
    own = cw.citizen(psn_no)
    p = cw.get(f"/api/v1/casework/transfers/{t['id']}", own, date="2023-10-09").json()["progress"]
    # 9-26, 9-27, 9-28, Saturday 10-07 and Sunday 10-08 (adjusted), 10-09
    assert (p["working_days_used"], p["working_days_left"], p["overdue"]) == (6, 9, False)
    due = cw.get("/api/v1/casework/transfers/overdue", cw.agency_changchun, date="2023-10-20")
    assert t["id"] not in [x["id"] for x in due.json()["transfers"]]
    late = cw.get("/api/v1/casework/transfers/overdue", cw.agency_changchun, date="2023-10-23")
    assert t["id"] in [x["id"] for x in late.json()["transfers"]]
    elsewhere = cw.get("/api/v1/casework/transfers/overdue", cw.agency_yanbian, date="2023-10-23")
    assert t["id"] not in [x["id"] for x in elsewhere.json()["transfers"]]
    done = cw.post(f"/api/v1/casework/transfers/{t['id']}/completed", {"on": "2023-10-24"},
                   cw.agency_changchun).json()
    assert done["status"] == "completed" and done["progress"]["on_time"] is False
    after = cw.get("/api/v1/casework/transfers/overdue", cw.agency_changchun, date="2023-10-25")
    assert t["id"] not in [x["id"] for x in after.json()["transfers"]]


def test_an_in_province_transfer_is_done_the_day_the_person_registers_in_the_new_place(
        cw: Casework) -> None:
    psn_no = cw.person(CHANGCHUN)
    filed = cw.post("/api/v1/casework/filings", {"psn_no": psn_no, "kind": "long_term_resident",
                                                  "destination": HAINAN,
                                                  "filed_at": "2023-08-10T09:00:00"},
                    cw.agency_changchun).json()
    r = cw.post("/api/v1/casework/transfers/in-province",
                {"psn_no": psn_no, "to_region": YANJI, "registered_on": "2023-09-25",
                 "contribution_months": 86, "account_balance": "1234.56"}, cw.agency_yanbian)
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["scope"], t["status"], t["deadline"], t["completed_on"]) == (
        "in_province", "completed", "2023-09-25", "2023-09-25")
    assert t["progress"]["on_time"] is True and t["account_balance"] == "1234.56"
    assert cw.get_person(psn_no)["region"] == YANJI
    assert cw.get(f"/api/v1/casework/filings/{filed['id']}").json()["status"] == "ended"
    assert cw.audit_actions(t["id"]) == ["transfer.completed"]
    assert "person.changed" in cw.audit_actions(psn_no)


def test_jilin_and_hainan_exchange_employee_transfers_digitally(cw: Casework) -> None:
    employee = cw.person(CHANGCHUN, insutype="310")
    resident = cw.person(CHANGCHUN)
    e = apply(cw, employee, from_region=HAINAN, to_region=CHANGCHUN,
              application_date="2023-09-25").json()
    r = apply(cw, resident, from_region=HAINAN, to_region=CHANGCHUN,
              application_date="2023-09-25").json()
    assert (e["digital_exchange"], r["digital_exchange"]) == (True, False)


def test_an_outbound_transfer_is_forwarded_then_completed_by_the_old_place(cw: Casework) -> None:
    psn_no = cw.person(CHANGCHUN)
    t = apply(cw, psn_no, from_region=CHANGCHUN, to_region=HAINAN, channel="old_agency",
              application_date="2023-09-25").json()
    path = f"/api/v1/casework/transfers/{t['id']}"
    fwd = cw.post(f"{path}/forwarded", {"on": "2023-09-26"}, cw.agency_changchun)
    assert fwd.json()["status"] == "forwarded"
    assert cw.post(f"{path}/forwarded", {"on": "2023-09-27"}, cw.agency_changchun).status_code == 409
    assert cw.post(f"{path}/completed", {"on": "2023-10-10"}, cw.agency_yanbian).status_code == 403
    done = cw.post(f"{path}/completed", {"on": "2023-10-10"}, cw.agency_changchun).json()
    assert done["progress"]["on_time"] is True
    assert [s["step"] for s in done["steps"]] == ["applied", "forwarded", "completed"]
    assert cw.post(f"{path}/rejected", {"reason": "x"}, cw.agency_changchun).status_code == 409
    assert cw.get_person(psn_no)["region"] == CHANGCHUN  # Hainan is outside this system


def test_transfer_refusals_name_the_field_or_the_role(cw: Casework) -> None:
    psn_no = cw.person(CHANGCHUN)
    same = apply(cw, psn_no, from_region=CHANGCHUN, to_region=YANJI)
    assert same.status_code == 422 and same.json()["field"] == "to_region"
    assert apply(cw, psn_no, from_region=HAINAN, to_region=CHANGCHUN,
                 channel="new_agency", headers=cw.agency_yanbian).status_code == 403
    own = cw.citizen(psn_no)
    counter = apply(cw, psn_no, own, from_region=HAINAN, to_region=CHANGCHUN, channel="new_agency")
    assert counter.status_code == 422 and counter.json()["field"] == "channel"
    assert apply(cw, psn_no, cw.hospital, from_region=HAINAN, to_region=CHANGCHUN).status_code == 403
    t = apply(cw, psn_no, from_region=HAINAN, to_region=CHANGCHUN,
              application_date="2023-09-25").json()
    no_reason = cw.post(f"/api/v1/casework/transfers/{t['id']}/rejected", {}, cw.agency_changchun)
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    assert cw.get(f"/api/v1/casework/transfers/{t['id']}", cw.hospital).status_code == 403
    assert cw.get(f"/api/v1/casework/transfers/{t['id']}",
                  cw.citizen(cw.person())).status_code == 403
    early = apply(cw, psn_no, from_region=HAINAN, to_region=CHANGCHUN, application_date="2023-07-01")
    assert early.status_code == 422 and early.json()["error"] == "parameter_missing"
    moved = cw.post("/api/v1/casework/transfers/in-province",
                    {"psn_no": psn_no, "to_region": "140105"}, cw.admin)
    assert moved.status_code == 422 and moved.json()["field"] == "to_region"
    rejected = cw.post(f"/api/v1/casework/transfers/{t['id']}/rejected",
                       {"reason": "未缴足转出地最低缴费年限", "on": "2023-09-28"}, cw.agency_changchun)
    assert rejected.json()["status"] == "rejected"
