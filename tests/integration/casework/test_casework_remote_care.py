"""Remote-care filings (异地就医备案) and the settlement of claims for care outside the insured
place, with and without filings (POLICY.md §5; 001_2744dedfd50d42c2.txt measures 4–9).

Amounts are never hard-coded: a routed claim is compared with the same claim settled, under
the route's medical type, for a twin person with no casework fields at all.
"""

from __future__ import annotations

from typing import Any

from casework_helpers import HAINAN, YANJI, Casework, fen, uid

MONEY = ("hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt", "psn_part_amt")


def filing(cw: Casework, psn_no: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
    return cw.post("/api/v1/casework/filings", {"psn_no": psn_no, "kind": "long_term_resident",
                                                 **body}, headers or cw.agency_changchun)


def twin_settles_the_same(cw: Casework, reply: dict[str, Any], med_type: str, **claim: Any) -> None:
    twin = cw.person()
    plain = cw.settle(twin, med_type=med_type, **claim)
    assert plain.status_code == 200, plain.text
    assert {m: fen(reply, m) for m in MONEY} == {m: fen(plain.json(), m) for m in MONEY}


def test_an_in_province_inpatient_claim_filed_after_discharge_is_not_settled_directly_and_says_why(
        cw: Casework) -> None:
    psn_no = cw.person()
    late = filing(cw, psn_no, destination=YANJI, filed_at="2023-09-12T09:00:00",
                  late_for_discharge="2023-09-10T10:00:00")
    assert late.status_code == 201, late.text
    assert "手工报销" in late.json()["late_note"]
    setl_id = uid("S")
    r = cw.settle(psn_no, setl_id=setl_id, setl_time="2023-09-10T10:00:00", care_region=YANJI)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["error"] == "direct_settlement_refused"
    assert body["manual_reimbursement"] is True
    assert body["filing"] == "after_discharge" and body["filing_id"] == late.json()["id"]
    assert "出院后才补办备案" in body["reason"] and "手工报销" in body["reason"]
    assert any(s.get("reference", {}).get("source") == "001_2744dedfd50d42c2.txt"
               for s in body["trace"])
    assert cw.get(f"/api/v1/settlements/{setl_id}").status_code == 404  # nothing settled
    acc = cw.get(f"/api/v1/persons/{psn_no}/accumulators", year=2023).json()
    assert acc["claims"] == 0


def test_an_in_province_inpatient_claim_filed_before_discharge_settles_directly(cw: Casework) -> None:
    psn_no = cw.person()
    assert filing(cw, psn_no, destination=YANJI, filed_at="2023-09-01T09:00:00").status_code == 201
    r = cw.settle(psn_no, setl_time="2023-09-10T10:00:00", care_region=YANJI)
    assert r.status_code == 200, r.text
    route = r.json()["route"]
    assert (route["scope"], route["filing"], route["med_type"]) == ("in_province",
                                                                    "before_discharge", "21")
    twin_settles_the_same(cw, r.json(), "21", setl_time="2023-09-10T10:00:00")


def test_a_filing_made_after_admission_but_before_discharge_counts_as_before_discharge(
        cw: Casework) -> None:
    psn_no = cw.person()
    assert filing(cw, psn_no, destination=YANJI, filed_at="2023-09-08T09:00:00").status_code == 201
    r = cw.settle(psn_no, setl_time="2023-09-12T10:00:00", discharge_time="2023-09-10T10:00:00",
                  care_region=YANJI)
    assert r.status_code == 200, r.text
    assert r.json()["route"]["filing"] == "before_discharge"


def test_an_unfiled_cross_province_emergency_observation_settles_directly_as_inpatient(
        cw: Casework) -> None:
    psn_no = cw.person()
    r = cw.settle(psn_no, setl_time="2023-10-03T22:00:00", med_type="11", in_province=False,
                  care_region="460100", visit="emergency_observation")
    assert r.status_code == 200, r.text
    route = r.json()["route"]
    assert route["requested_med_type"] == "11" and route["med_type"] == "21"
    assert route["filing"] == "none" and route["direct_settlement"] is True
    assert "视同已备案" in route["reasons"][0] and "参照住院待遇" in route["reasons"][0]
    stored = cw.get(f"/api/v1/settlements/{r.json()['setl_id']}").json()
    assert stored["med_type"] == "21"
    twin_settles_the_same(cw, r.json(), "21", setl_time="2023-10-03T22:00:00", in_province=False)


def test_an_unfiled_emergency_keeps_its_medical_type(cw: Casework) -> None:
    psn_no = cw.person()
    r = cw.settle(psn_no, setl_time="2023-10-03T22:00:00", med_type="21", in_province=False,
                  care_region=HAINAN, visit="急诊")
    assert r.status_code == 200, r.text
    assert r.json()["route"]["med_type"] == "21"


def test_a_cross_province_inpatient_claim_settles_directly_only_with_a_filing_for_that_province(
        cw: Casework) -> None:
    psn_no = cw.person()
    refused = cw.settle(psn_no, setl_time="2023-09-10T10:00:00", in_province=False,
                        care_region="460200")
    assert refused.status_code == 409
    assert "出院结算前未办理异地就医备案" in refused.json()["reason"]
    # a filing to Haikou (460100) covers every designated institution of Hainan (measure 8)
    assert filing(cw, psn_no, destination="460100", filed_at="2023-09-01T08:00:00").status_code == 201
    r = cw.settle(psn_no, setl_time="2023-09-10T10:00:00", in_province=False, care_region="460200")
    assert r.status_code == 200, r.text
    assert r.json()["route"]["care_province"] == HAINAN
    other = cw.settle(psn_no, setl_time="2023-09-11T10:00:00", in_province=False,
                      care_region="110000")
    assert other.status_code == 409  # Beijing is not covered by a Hainan filing


def test_in_province_ordinary_outpatient_care_needs_no_filing(cw: Casework) -> None:
    psn_no = cw.person()
    r = cw.settle(psn_no, setl_time="2023-09-10T10:00:00", med_type="11", hosp_lv=2,
                  total="300.00", preself="0.00", care_region=YANJI)
    assert r.status_code == 200, r.text
    assert "无需备案" in r.json()["route"]["reasons"][0]


def test_cross_province_ordinary_outpatient_care_without_filing_is_refused(cw: Casework) -> None:
    psn_no = cw.person()
    r = cw.settle(psn_no, setl_time="2023-09-10T10:00:00", med_type="11", hosp_lv=2,
                  total="300.00", preself="0.00", in_province=False, care_region=HAINAN)
    assert r.status_code == 409
    assert r.json()["settle_as"] == "outpatient"


def test_care_in_the_insured_city_is_settled_as_before(cw: Casework) -> None:
    psn_no = cw.person()
    r = cw.settle(psn_no, setl_time="2023-09-10T10:00:00", care_region="220104")
    assert r.status_code == 200, r.text
    assert r.json()["route"]["scope"] == "local"
    twin_settles_the_same(cw, r.json(), "21", setl_time="2023-09-10T10:00:00")


def test_a_claim_without_casework_fields_has_no_route(cw: Casework) -> None:
    psn_no = cw.person()
    r = cw.settle(psn_no, setl_time="2023-09-10T10:00:00")
    assert r.status_code == 200 and "route" not in r.json()


def test_bad_places_of_care_are_refused_naming_the_field(cw: Casework) -> None:
    psn_no = cw.person()
    for body, field in (({"care_region": "999999"}, "care_region"),
                        ({"care_region": HAINAN, "in_province": True}, "in_province"),
                        ({"care_region": YANJI, "in_province": False}, "in_province"),
                        ({"care_region": HAINAN, "in_province": False, "visit": "walk-in"}, "visit"),
                        ({"visit": "emergency"}, "visit"),
                        ({"care_region": YANJI, "discharge_time": "2023-09-11T10:00:00"},
                         "discharge_time")):
        r = cw.settle(psn_no, setl_time="2023-09-10T10:00:00", **body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"] == field


def test_remote_care_before_the_rules_took_effect_is_an_error_naming_the_parameter(
        cw: Casework) -> None:
    psn_no = cw.person()
    r = cw.settle(psn_no, setl_time="2023-07-10T10:00:00", care_region=YANJI)
    assert r.status_code == 422
    assert r.json()["error"] == "parameter_missing" and r.json()["date"] == "2023-07-10"


def test_a_retry_replays_and_a_different_place_of_care_is_a_conflict(cw: Casework) -> None:
    psn_no = cw.person()
    setl_id = uid("S")
    first = cw.settle(psn_no, setl_id=setl_id, setl_time="2023-09-10T10:00:00",
                      care_region="220104")
    again = cw.settle(psn_no, setl_id=setl_id, setl_time="2023-09-10T10:00:00",
                      care_region="220104")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers.get("Idempotent-Replay") == "true"
    other = cw.settle(psn_no, setl_id=setl_id, setl_time="2023-09-10T10:00:00",
                      care_region="220105")
    assert other.status_code == 409


def test_a_filing_is_changed_ended_and_refused_inside_the_insured_city(cw: Casework) -> None:
    psn_no = cw.person()
    first = filing(cw, psn_no, destination=HAINAN, filed_at="2023-08-10T09:00:00").json()
    assert first["status"] == "active" and first["destination_name"] == "海南省"
    dup = filing(cw, psn_no, destination="110000", filed_at="2023-08-11T09:00:00")
    assert dup.status_code == 409
    changed = cw.post(f"/api/v1/casework/filings/{first['id']}/change",
                      {"kind": "posted_worker", "destination": "110000",
                       "filed_at": "2023-09-01T09:00:00"}, cw.agency_changchun)
    assert changed.status_code == 200, changed.text
    old, new = changed.json()["old"], changed.json()["new"]
    assert (old["status"], old["replaced_by"], new["kind_name"]) == ("changed", new["id"],
                                                                     "长期驻外工作人员")
    # the old filing still covers a stay discharged before the change, not after
    before = cw.settle(psn_no, setl_time="2023-08-20T10:00:00", in_province=False,
                       care_region=HAINAN)
    after = cw.settle(psn_no, setl_time="2023-09-05T10:00:00", in_province=False,
                      care_region=HAINAN)
    assert (before.status_code, after.status_code) == (200, 409)
    ended = cw.post(f"/api/v1/casework/filings/{new['id']}/end", {"reason": "回参保地居住"},
                    cw.agency_changchun)
    assert ended.json()["status"] == "ended"
    assert cw.post(f"/api/v1/casework/filings/{new['id']}/end", {"reason": "again"},
                   cw.agency_changchun).status_code == 409
    local = filing(cw, psn_no, destination="220104")
    assert local.status_code == 422 and local.json()["field"] == "destination"
    listed = cw.get("/api/v1/casework/filings", cw.agency_changchun, psn_no=psn_no).json()
    assert [f["status"] for f in listed["filings"]] == ["changed", "ended"]
    assert cw.audit_actions(first["id"]) == ["filing.created", "filing.changed"]


def test_a_filing_ends_when_the_insurance_status_changes(cw: Casework) -> None:
    psn_no = cw.person()
    f = filing(cw, psn_no, destination=HAINAN, filed_at="2023-08-10T09:00:00").json()
    person = cw.get_person(psn_no)
    body = {k: person[k] for k in ("insutype", "region", "psn_name", "certno")}
    body["insutype"] = "310"
    body["categories"] = []
    assert cw.client.put(f"/api/v1/persons/{psn_no}", json=body,
                         headers=cw.admin).status_code == 200
    shown = cw.get(f"/api/v1/casework/filings/{f['id']}").json()
    assert shown["status"] == "ended" and "参保状态已变更" in shown["end_reason"]
    r = cw.settle(psn_no, setl_time="2023-09-05T10:00:00", in_province=False, care_region=HAINAN)
    assert r.status_code == 409


def test_who_may_file(cw: Casework) -> None:
    psn_no = cw.person()
    own = cw.citizen(psn_no)
    assert filing(cw, psn_no, own, destination=HAINAN, channel="counter").status_code == 422
    assert filing(cw, psn_no, own, destination=HAINAN).json()["channel"] == "online"
    other = cw.person()
    assert filing(cw, other, own, destination=HAINAN).status_code == 403
    assert filing(cw, other, cw.agency_yanbian, destination=HAINAN).status_code == 403
    assert filing(cw, other, cw.hospital, destination=HAINAN).status_code == 403
    assert filing(cw, other, cw.analyst, destination=HAINAN).status_code == 403
    assert cw.client.post("/api/v1/casework/filings", json={}).status_code == 401
    assert cw.get("/api/v1/casework/filings", cw.hospital_changchun, psn_no=psn_no).status_code == 200
