"""Settling claims through the service: one transaction, idempotent, reversible, printable.

Figures are not hard-coded: each reply is compared with the settlement kernel run on the
same claims (minsheng.rules.settlement), which the scenarios of SETTLEMENT.md check.
"""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from service_helpers import Roles, claim_body, fen, kernel_outputs, person_body, register, uid

from minsheng.core.money import parse_fen
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork


def test_a_sequence_of_claims_settled_one_by_one_gives_the_kernels_batch_result(
        client: TestClient, roles: Roles) -> None:
    psn_no = register(client, roles, categories=["minimum_allowance"])
    claims = [claim_body(uid("S"), psn_no, setl_time=f"2023-0{m}-10T09:00:00", total=total,
                         med_type=mt, hosp_lv=lv, preself="12.34")
              for m, total, mt, lv in ((3, "80000.00", "21", 3), (4, "500.00", "14", 2),
                                       (5, "120000.00", "21", 2), (6, "300.00", "11", 1),
                                       (7, "90000.00", "21", 3))]
    replies = []
    for c in claims:
        r = client.post("/api/v1/settlements", json=c, headers=roles.hospital)
        assert r.status_code == 200, r.text
        replies.append(r.json())
    expected = kernel_outputs(claims, "390", "140100", [("minimum_allowance",)] * len(claims))
    assert [fen(r) for r in replies] == expected
    assert all(r["warnings"] for r in replies)  # example parameters are named in warnings
    acc = client.get(f"/api/v1/persons/{psn_no}/accumulators", params={"year": 2023},
                     headers=roles.admin).json()
    for name in ("hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt"):
        assert parse_fen(acc[name]) == sum(e[name] for e in expected)
    assert acc["claims"] == len(claims)


def test_the_categories_held_on_the_claim_date_are_the_ones_used(client: TestClient,
                                                                 roles: Roles) -> None:
    psn_no = register(client, roles, categories=[
        {"category": "minimum_allowance", "valid_from": "2023-06-01", "valid_to": "2023-06-30"}])
    before, during = (claim_body(uid("S"), psn_no, setl_time=t)
                      for t in ("2023-05-15T10:00:00", "2023-06-15T10:00:00"))
    r1 = client.post("/api/v1/settlements", json=before, headers=roles.hospital).json()
    r2 = client.post("/api/v1/settlements", json=during, headers=roles.hospital).json()
    expected = kernel_outputs([before, during], "390", "140100", [(), ("minimum_allowance",)])
    assert [fen(r1), fen(r2)] == expected
    assert expected[0]["maf_pay"] == 0 and expected[1]["maf_pay"] > 0
    record = client.get(f"/api/v1/settlements/{during['setl_id']}", headers=roles.admin).json()
    assert record["categories"] == ["minimum_allowance"]


def test_retrying_a_setl_id_with_the_same_claim_returns_the_first_reply_verbatim(
        client: TestClient, roles: Roles, database: Database) -> None:
    psn_no = register(client, roles)
    claim = claim_body(uid("S"), psn_no)
    first = client.post("/api/v1/settlements", json=claim, headers=roles.hospital)
    same_in_other_words = {**claim, "medfee_sumamt": 20000, "preselfpay_amt": "1000"}
    again = client.post("/api/v1/settlements", json=same_in_other_words, headers=roles.hospital)
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replay"] == "true"
    with UnitOfWork(database) as uow:
        assert len(uow.settlements.for_person(psn_no)) == 1


def test_warnings_are_stored_once_and_every_reading_of_a_settlement_shows_them(
        client: TestClient, roles: Roles, database: Database) -> None:
    """The example-value warnings of a reply are stored apart (once for all settlements that
    have the same), and the reply, its replay, the settlement and the statement all carry them."""
    psn_no = register(client, roles)
    claims = [claim_body(uid("S"), psn_no, setl_time=f"2023-08-0{d}T10:00:00") for d in (1, 2)]
    first = [client.post("/api/v1/settlements", json=c, headers=roles.hospital) for c in claims]
    warnings = first[0].json()["warnings"]
    assert warnings and list(first[0].json())[-1] == "warnings"
    with UnitOfWork(database) as uow:
        rows = [uow.settlements.get(c["setl_id"]) for c in claims]
        assert all(r is not None and r.warnings_id == rows[0].warnings_id for r in rows)
        stored = rows[0]
        assert stored is not None and "warnings" not in json.loads(stored.reply)
        assert len(stored.reply.encode()) < len(first[0].content) - 1000  # bytes
        assert stored.full_reply.encode() == first[0].content
    again = client.post("/api/v1/settlements", json=claims[0], headers=roles.hospital)
    assert again.content == first[0].content
    read = client.get(f"/api/v1/settlements/{claims[0]['setl_id']}", headers=roles.hospital)
    assert read.json()["outputs"]["warnings"] == warnings
    page = client.get(f"/api/v1/settlements/{claims[0]['setl_id']}/statement",
                      headers=roles.hospital)
    assert warnings[0] in page.text


def test_a_setl_id_reused_for_a_different_claim_is_a_conflict(client: TestClient,
                                                              roles: Roles) -> None:
    psn_no = register(client, roles)
    claim = claim_body(uid("S"), psn_no)
    assert client.post("/api/v1/settlements", json=claim, headers=roles.hospital).is_success
    r = client.post("/api/v1/settlements", json={**claim, "medfee_sumamt": "20000.01"},
                    headers=roles.hospital)
    assert r.status_code == 409
    assert r.json()["setl_id"] == claim["setl_id"]


def test_a_reversal_restores_every_accumulator_and_keeps_the_settlement_on_record(
        client: TestClient, roles: Roles, database: Database) -> None:
    psn_no = register(client, roles, categories=["relapsed_poverty"])
    first, second = (claim_body(uid("S"), psn_no, setl_time=t, total="60000.00")
                     for t in ("2023-03-01T08:00:00", "2023-04-01T08:00:00"))
    client.post("/api/v1/settlements", json=first, headers=roles.hospital)
    with UnitOfWork(database) as uow:
        after_first = uow.accumulators.get(psn_no, 2023)
    client.post("/api/v1/settlements", json=second, headers=roles.hospital)
    r = client.post(f"/api/v1/settlements/{second['setl_id']}/reversal",
                    json={"reason": "患者出院结算信息有误，需重新结算"}, headers=roles.hospital)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reversed"
    assert r.json()["reversal"]["reason"] == "患者出院结算信息有误，需重新结算"
    with UnitOfWork(database) as uow:
        assert uow.accumulators.get(psn_no, 2023) == after_first
    record = client.get(f"/api/v1/settlements/{second['setl_id']}", headers=roles.admin).json()
    assert record["status"] == "reversed" and record["outputs"]["setl_id"] == second["setl_id"]
    assert record["reversal"]["reversed_by"].startswith("hospital:")


def test_reversing_twice_is_a_conflict_and_changes_nothing(client: TestClient, roles: Roles,
                                                           database: Database) -> None:
    psn_no = register(client, roles)
    claim = claim_body(uid("S"), psn_no)
    client.post("/api/v1/settlements", json=claim, headers=roles.hospital)
    url = f"/api/v1/settlements/{claim['setl_id']}/reversal"
    assert client.post(url, json={"reason": "重复结算"}, headers=roles.admin).status_code == 200
    with UnitOfWork(database) as uow:
        once = uow.accumulators.get(psn_no, 2023)
    assert client.post(url, json={"reason": "再撤一次"}, headers=roles.admin).status_code == 409
    with UnitOfWork(database) as uow:
        assert uow.accumulators.get(psn_no, 2023) == once
        assert all(v == 0 for v in once.values())


def test_a_reversal_needs_a_reason(client: TestClient, roles: Roles) -> None:
    psn_no = register(client, roles)
    claim = claim_body(uid("S"), psn_no)
    client.post("/api/v1/settlements", json=claim, headers=roles.hospital)
    r = client.post(f"/api/v1/settlements/{claim['setl_id']}/reversal", json={},
                    headers=roles.admin)
    assert r.status_code == 422 and r.json()["field"] == "reason"


def test_reversing_an_unknown_settlement_is_not_found(client: TestClient, roles: Roles) -> None:
    r = client.post(f"/api/v1/settlements/{uid('S')}/reversal", json={"reason": "x"},
                    headers=roles.admin)
    assert r.status_code == 404


def test_a_bad_claim_is_rejected_naming_the_field_and_nothing_is_written(
        client: TestClient, roles: Roles, database: Database) -> None:
    psn_no = register(client, roles)
    with UnitOfWork(database) as uow:
        audit_before = uow.audit.head().seq
    good = claim_body(uid("S"), psn_no)
    cases = {
        "fulamt_ownpay_amt": {**good, "fulamt_ownpay_amt": "-1.00"},
        "medfee_sumamt": {**good, "medfee_sumamt": "10.001"},
        "med_type": {**good, "med_type": "99"},
        "hosp_lv": {**good, "hosp_lv": 4},
        "setl_time": {**good, "setl_time": "2023-13-01T00:00:00"},
        "in_province": {**good, "in_province": "maybe"},
        "parameters": {**good, "parameters": {}},
        "setl_id": {k: v for k, v in good.items() if k != "setl_id"},
    }
    for field, body in cases.items():
        r = client.post("/api/v1/settlements", json=body, headers=roles.hospital)
        assert r.status_code == 422, (field, r.text)
        assert r.json()["field"] == field, r.json()
    over = {**good, "preselfpay_amt": "20000.00", "overlmt_selfpay": "0.01"}
    r = client.post("/api/v1/settlements", json=over, headers=roles.hospital)
    assert r.status_code == 422
    unknown = {**good, "psn_no": uid("P")}
    r = client.post("/api/v1/settlements", json=unknown, headers=roles.hospital)
    assert r.status_code == 422 and r.json()["field"] == "psn_no"
    with UnitOfWork(database) as uow:
        assert uow.settlements.for_person(psn_no) == []
        assert uow.accumulators.get(psn_no, 2023) == {}
        assert uow.audit.head().seq == audit_before


def test_a_claim_dated_where_no_rule_is_encoded_names_the_missing_parameter(
        client: TestClient, roles: Roles, database: Database) -> None:
    psn_no = register(client, roles)
    claim = claim_body(uid("S"), psn_no, setl_time="1999-01-01T10:00:00")
    r = client.post("/api/v1/settlements", json=claim, headers=roles.hospital)
    assert r.status_code == 422
    assert r.json()["error"] == "parameter_missing" and r.json()["region"] == "140100"
    with UnitOfWork(database) as uow:
        assert uow.settlements.get(claim["setl_id"]) is None


def test_the_insurance_type_stays_one_for_the_year(client: TestClient, roles: Roles) -> None:
    psn_no = register(client, roles)
    client.post("/api/v1/settlements", json=claim_body(uid("S"), psn_no), headers=roles.admin)
    changed = person_body(psn_no, insutype="310")
    assert client.put(f"/api/v1/persons/{psn_no}", json=changed,
                      headers=roles.admin).status_code == 200
    r = client.post("/api/v1/settlements", json=claim_body(uid("S"), psn_no),
                    headers=roles.admin)
    assert r.status_code == 409
    next_year = claim_body(uid("S"), psn_no, setl_time="2024-02-01T10:00:00")
    assert client.post("/api/v1/settlements", json=next_year,
                       headers=roles.admin).status_code == 200


def test_the_statement_is_a_printable_chinese_page_with_the_amounts(
        client: TestClient, roles: Roles) -> None:
    psn_no = register(client, roles, categories=["minimum_allowance"])
    claim = claim_body(uid("S"), psn_no)
    reply = client.post("/api/v1/settlements", json=claim, headers=roles.hospital).json()
    r = client.get(f"/api/v1/settlements/{claim['setl_id']}/statement", headers=roles.hospital)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<html lang="zh-CN">' in page and "医疗费用结算单" in page
    assert "低保对象" in page and "太原市" in page
    for name in ("hifp_pay", "maf_pay", "psn_part_amt"):
        assert f"{parse_fen(reply[name]) / 100:,.2f}" in page
    assert "**********" in page  # the hospital sees the resident id masked
    client.post(f"/api/v1/settlements/{claim['setl_id']}/reversal", json={"reason": "作废"},
                headers=roles.hospital)
    page = client.get(f"/api/v1/settlements/{claim['setl_id']}/statement",
                      headers=roles.hospital).text
    assert "本结算已撤销" in page and "作废" in page


def test_every_change_is_in_the_audit_trail_and_the_chain_verifies(
        client: TestClient, roles: Roles) -> None:
    psn_no = register(client, roles)
    claim = claim_body(uid("S"), psn_no)
    client.post("/api/v1/settlements", json=claim, headers=roles.hospital)
    client.post(f"/api/v1/settlements/{claim['setl_id']}/reversal", json={"reason": "测试"},
                headers=roles.hospital)
    entries = client.get("/api/v1/audit", params={"after": 0, "limit": 1000},
                         headers=roles.admin).json()["entries"]
    mine = [(e["action"], e["entity_id"]) for e in entries
            if e["entity_id"] in (psn_no, claim["setl_id"])]
    assert mine == [("person.created", psn_no), ("settlement.created", claim["setl_id"]),
                    ("settlement.reversed", claim["setl_id"])]
    created = next(e for e in entries if e["entity_id"] == psn_no)
    assert "**********" in created["payload"]["certno"]
    assert client.get("/api/v1/audit/verify", headers=roles.admin).json()["ok"] is True


def test_an_audit_position_beyond_any_sequence_number_is_refused_naming_it(
        client: TestClient, roles: Roles) -> None:
    reply = client.get("/api/v1/audit", params={"after": 2**63}, headers=roles.admin)
    assert reply.status_code == 422
    assert reply.json()["field"] == "query.after"
