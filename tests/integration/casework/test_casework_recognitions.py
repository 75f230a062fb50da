"""Outpatient chronic/special-disease recognition and dual-channel drug filing, settlement
priority, best benefit, refund and re-settlement or the difference (轧差)
(POLICY.md §5; 001_2744dedfd50d42c2.txt measures 10–16). Amounts are compared with a twin
person whose claim is sent directly under the expected medical type, never hard-coded."""

from __future__ import annotations

from typing import Any

from casework_helpers import CHANGCHUN, YANJI, Casework, fen, uid

from minsheng.core.money import parse_fen

MONEY = ("hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt", "psn_part_amt")
VISIT = {"med_type": "11", "hosp_lv": 2, "total": "3000.00", "preself": "0.00"}


def recognise(cw: Casework, psn_no: str, headers: dict[str, str] | None = None,
              **body: Any) -> Any:
    data = {"psn_no": psn_no, "kind": "chronic_disease", "disease": "糖尿病",
            "institution_region": CHANGCHUN, "on": "2023-09-01", **body}
    return cw.post("/api/v1/casework/recognitions", data, headers or cw.hospital_changchun)


def dual(cw: Casework, psn_no: str, **body: Any) -> Any:
    return recognise(cw, psn_no, **{"kind": "dual_channel_drug", "drug": "司美格鲁肽注射液",
                                    "physician_name": "王医生", "physician_title": "attending",
                                    "assessment_until": "2024-03-31", **body})


def amounts(reply: dict[str, Any]) -> dict[str, int]:
    return {m: fen(reply, m) for m in MONEY}


def twin(cw: Casework, med_type: str, setl_time: str) -> dict[str, int]:
    r = cw.settle(cw.person(), setl_time=setl_time, **{**VISIT, "med_type": med_type})
    assert r.status_code == 200, r.text
    return amounts(r.json())


def test_an_outpatient_claim_of_a_person_with_a_recognised_disease_settles_as_14(
        cw: Casework) -> None:
    psn_no = cw.person()
    rec = recognise(cw, psn_no)
    assert rec.status_code == 201, rec.text
    assert (rec.json()["status"], rec.json()["valid_from"]) == ("approved", "2023-09-01")
    before = cw.settle(psn_no, setl_time="2023-08-31T10:00:00", **VISIT)
    assert "route" not in before.json()
    r = cw.settle(psn_no, setl_time="2023-09-10T10:00:00", **VISIT)
    assert r.status_code == 200, r.text
    route = r.json()["route"]
    assert (route["med_type"], route["priority_rule"], route["recognition_id"]) == (
        "14", "chronic_priority", rec.json()["id"])
    assert cw.get(f"/api/v1/settlements/{r.json()['setl_id']}").json()["med_type"] == "14"
    assert amounts(r.json()) == twin(cw, "14", "2023-09-10T10:00:00")
    other = cw.settle(psn_no, setl_time="2023-09-11T10:00:00", disease="高血压", **VISIT)
    assert other.json()["route"]["med_type"] == "11"
    assert "没有高血压的有效门诊慢特病认定" in other.json()["route"]["reasons"][0]


def test_a_dual_channel_physician_needs_an_intermediate_title_citing_measure_13(
        cw: Casework) -> None:
    psn_no = cw.person()
    junior = dual(cw, psn_no, physician_title="住院医师")
    assert junior.status_code == 422 and junior.json()["field"] == "physician_title"
    message = junior.json()["message"]
    assert "中级及以上职称" in message and "001_2744dedfd50d42c2.txt" in message and "第13条" in message
    no_period = recognise(cw, psn_no, kind="dual_channel_drug", drug="司美格鲁肽注射液",
                          physician_name="王医生", physician_title="chief")
    assert no_period.status_code == 422 and no_period.json()["field"] == "assessment_until"
    ok = dual(cw, psn_no, physician_title="副主任医师")
    assert ok.status_code == 201 and ok.json()["valid_to"] == "2024-03-31"
    assert dual(cw, psn_no).status_code == 409  # already filed


def test_dual_channel_drugs_of_a_special_disease_settle_as_special_disease(cw: Casework) -> None:
    both = cw.person()
    recognise(cw, both)
    dual(cw, both)
    r = cw.settle(both, setl_time="2023-09-10T10:00:00", dual_channel_drug="司美格鲁肽注射液", **VISIT)
    assert r.json()["route"]["priority_rule"] == "best_benefit"
    assert r.json()["route"]["med_type"] == "14"
    only_drug = cw.person()
    dual(cw, only_drug)
    r = cw.settle(only_drug, setl_time="2023-09-10T10:00:00",
                  dual_channel_drug="司美格鲁肽注射液", **VISIT)
    assert r.json()["route"]["med_type"] == "11"
    assert "没有相同病种的门诊特病认定" in r.json()["route"]["reasons"][0]


def test_changing_the_drug_revokes_the_filing_and_files_again(cw: Casework) -> None:
    psn_no = cw.person()
    recognise(cw, psn_no)
    old = dual(cw, psn_no).json()
    r = cw.post(f"/api/v1/casework/recognitions/{old['id']}/change-drug",
                {"drug": "度拉糖肽注射液", "physician_name": "李医生", "physician_title": "chief",
                 "assessment_until": "2024-06-30", "on": "2023-10-01"}, cw.hospital_changchun)
    assert r.status_code == 200, r.text
    was, now = r.json()["old"], r.json()["new"]
    assert (was["status"], was["valid_to"], was["replaced_by"]) == ("revoked", "2023-09-30", now["id"])
    assert (now["status"], now["valid_from"], now["replaces"]) == ("approved", "2023-10-01", old["id"])
    old_drug = cw.settle(psn_no, setl_time="2023-10-05T10:00:00",
                         dual_channel_drug="司美格鲁肽注射液", **VISIT)
    assert old_drug.json()["route"]["med_type"] == "11"
    new_drug = cw.settle(psn_no, setl_time="2023-10-05T11:00:00",
                         dual_channel_drug="度拉糖肽注射液", **VISIT)
    assert new_drug.json()["route"]["med_type"] == "14"
    assert cw.audit_actions(old["id"]) == ["recognition.approved", "recognition.drug_changed"]


def test_a_cross_province_person_applies_online_and_the_insured_place_reviews(cw: Casework) -> None:
    psn_no = cw.person()
    at_hospital = recognise(cw, psn_no, cw.hospital, institution_region="460100")
    assert at_hospital.status_code == 422 and at_hospital.json()["field"] == "channel"
    assert "线上渠道" in at_hospital.json()["message"]
    own = cw.citizen(psn_no)
    inside = recognise(cw, psn_no, own, institution_region=YANJI)
    assert inside.status_code == 422 and "就医地定点医疗机构直接办理" in inside.json()["message"]
    applied = recognise(cw, psn_no, own, institution_region="460100", on="2023-09-01")
    assert applied.status_code == 201, applied.text
    rec = applied.json()
    assert (rec["status"], rec["scope"], rec["valid_from"]) == ("submitted", "cross_province", None)
    pending = cw.settle(psn_no, setl_time="2023-09-05T10:00:00", **VISIT)
    assert "route" not in pending.json()
    path = f"/api/v1/casework/recognitions/{rec['id']}/review"
    assert cw.post(path, {"decision": "approve"}, cw.agency_yanbian).status_code == 403
    assert cw.post(path, {"decision": "reject"}, cw.agency_changchun).status_code == 422
    ok = cw.post(path, {"decision": "approve", "on": "2023-09-08"}, cw.agency_changchun)
    assert ok.json()["status"] == "approved" and ok.json()["valid_from"] == "2023-09-08"
    assert cw.post(path, {"decision": "approve"}, cw.agency_changchun).status_code == 409
    r = cw.settle(psn_no, setl_time="2023-09-10T10:00:00", **VISIT)
    assert r.json()["route"]["med_type"] == "14"


def test_a_revoked_recognition_no_longer_changes_the_settlement(cw: Casework) -> None:
    psn_no = cw.person()
    rec = recognise(cw, psn_no).json()
    revoked = cw.post(f"/api/v1/casework/recognitions/{rec['id']}/revoke",
                      {"reason": "复查不符合认定标准", "on": "2023-10-01"}, cw.agency_changchun)
    assert revoked.json()["valid_to"] == "2023-09-30"
    assert cw.settle(psn_no, setl_time="2023-09-30T10:00:00", **VISIT).json()["route"]["med_type"] == "14"
    assert "route" not in cw.settle(psn_no, setl_time="2023-10-01T10:00:00", **VISIT).json()


def test_a_claim_settled_as_ordinary_outpatient_is_refunded_and_resettled_as_14(
        cw: Casework) -> None:
    psn_no = cw.person()
    setl_id = uid("S")
    first = cw.settle(psn_no, setl_id=setl_id, setl_time="2023-09-10T10:00:00", **VISIT)
    assert "route" not in first.json()
    refused = cw.post("/api/v1/casework/recognitions/resettle",
                      {"setl_id": setl_id, "mode": "refund_resettle"}, cw.hospital)
    assert refused.status_code == 409  # no recognition valid on the claim date yet
    recognise(cw, psn_no, on="2023-09-01")  # recognised later, effective before the visit
    r = cw.post("/api/v1/casework/recognitions/resettle",
                {"setl_id": setl_id, "mode": "refund_resettle"}, cw.hospital)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["original"]["status"] == "reversed" and body["new"]["setl_id"] == f"{setl_id}-MT"
    expected = twin(cw, "14", "2023-09-10T10:00:00")
    assert amounts(body["new"]) == expected
    assert {m: parse_fen(body["difference"][m], m, allow_negative=True) for m in MONEY} == {
        m: expected[m] - fen(first.json(), m) for m in MONEY}
    assert body["manual_reimbursement"] is None
    acc = cw.get(f"/api/v1/persons/{psn_no}/accumulators", year=2023).json()
    assert (acc["claims"], fen(acc, "hifp_pay")) == (1, expected["hifp_pay"])
    again = cw.post("/api/v1/casework/recognitions/resettle",
                    {"setl_id": setl_id, "mode": "refund_resettle"}, cw.hospital)
    assert again.status_code == 409
    assert cw.audit_actions(setl_id)[-2:] == ["settlement.reversed", "recognition.resettled"]


def test_the_insured_place_reimburses_the_difference_manually(cw: Casework) -> None:
    psn_no = cw.person()
    setl_id = uid("S")
    first = cw.settle(psn_no, setl_id=setl_id, setl_time="2023-09-10T10:00:00", **VISIT).json()
    recognise(cw, psn_no, on="2023-09-01")
    body = {"setl_id": setl_id, "mode": "difference"}
    assert cw.post("/api/v1/casework/recognitions/resettle", body, cw.hospital).status_code == 403
    assert cw.post("/api/v1/casework/recognitions/resettle", body,
                   cw.agency_yanbian).status_code == 403
    r = cw.post("/api/v1/casework/recognitions/resettle", body, cw.agency_changchun)
    assert r.status_code == 200, r.text
    expected = twin(cw, "14", "2023-09-10T10:00:00")
    assert fen(r.json(), "manual_reimbursement") == (expected["fund_pay_sumamt"]
                                                     - fen(first, "fund_pay_sumamt"))
    assert fen(r.json(), "manual_reimbursement") > 0


def test_recognition_reads_and_refusals(cw: Casework) -> None:
    psn_no = cw.person()
    rec = recognise(cw, psn_no).json()
    assert cw.get(f"/api/v1/casework/recognitions/{rec['id']}", cw.citizen(psn_no)).status_code == 200
    assert cw.get(f"/api/v1/casework/recognitions/{rec['id']}",
                  cw.citizen(cw.person())).status_code == 403
    assert cw.get("/api/v1/casework/recognitions", cw.agency_changchun,
                  psn_no=psn_no).json()["recognitions"][0]["id"] == rec["id"]
    assert recognise(cw, psn_no, cw.analyst).status_code == 403
    elsewhere = recognise(cw, cw.person(), cw.hospital_changchun, institution_region=YANJI)
    assert elsewhere.status_code == 403  # a Changchun hospital does not act for a Yanji one
