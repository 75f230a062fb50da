"""The agency console (``/agency``): persons, settlements and reversals, transfers, recognitions,
social-assistance approval and watch lists — only within the staff member's region.

Issue 8 item 5. Every action goes through the service functions (so it is checked and audited
exactly as through the API); refusals are pages in Chinese with status 403.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pages_helpers import (
    attr_values,
    claim,
    client,
    login,
    person,
    post,
    rows,
    settle,
    sqlite_database,
    text,
    token,
)

from minsheng.core.money import format_fen, parse_fen
from minsheng.service.auth import SYSTEM
from minsheng.service.casework import assistance_approval, recognitions, transfers, watch_lists
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork, factory

JL, JL2, SX, SX_BIG = "AG-JL-01", "AG-JL-02", "AG-SX-01", "AG-SX-02"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with sqlite_database(tmp_path_factory.mktemp("agency")) as database:
        person(database, JL, "220102", ["minimum_allowance"], name="李建国")
        person(database, JL2, "220102", name="吴玉梅")
        person(database, SX, "140105", ["minimum_allowance"], name="赵德胜")
        person(database, SX_BIG, "140105", name="黄丽华")
        yield database


@pytest.fixture(scope="module")
def jilin(db: Database) -> TestClient:
    """An agency of 长春市 (220100): its region and below."""
    c = client(db)
    _, secret = token(db, "agency", "220100")
    assert login(c, secret).headers["location"] == "/agency"
    return c


@pytest.fixture(scope="module")
def shanxi(db: Database) -> TestClient:
    c = client(db)
    _, secret = token(db, "agency", "140000")
    login(c, secret)
    return c


def test_the_console_greets_the_staff_member_with_its_region_and_what_waits(jilin: TestClient) -> None:
    page = jilin.get("/agency")
    assert page.status_code == 200
    shown = text(page.text)
    assert "医保经办机构" in shown and "长春市（220100）及下辖地区" in shown
    assert set(attr_values(page.text, "data-count")) == {"transfers_overdue", "recognitions_waiting", "cases_open"}


def test_a_search_finds_persons_of_the_staff_members_region_only_with_whole_resident_ids(
        db: Database, jilin: TestClient) -> None:
    page = jilin.get("/agency/persons?q=AG-")
    listed = re.findall(r'href="/agency/persons/([^"?]+)"', page.text)
    assert listed == [JL, JL2]
    with UnitOfWork(db) as uow:
        certno = uow.persons.get(JL).certno  # type: ignore[union-attr]
    assert certno in page.text, "agency staff see resident ids whole"
    assert "李建国" in text(jilin.get("/agency/persons?q=李建").text)
    assert JL in text(jilin.get(f"/agency/persons?q={certno}").text)


def test_a_person_outside_the_region_is_refused_with_403_in_chinese(jilin: TestClient) -> None:
    page = jilin.get(f"/agency/persons/{SX}")
    assert page.status_code == 403
    assert "不在本令牌的地区 220100 范围内" in text(page.text)


def test_a_reversal_with_a_reason_restores_the_totals_and_is_audited(db: Database, jilin: TestClient) -> None:
    first = settle(db, claim(JL, "AG-R1", "2023-03-01T09:00:00", "12000.00"))
    second = settle(db, claim(JL, "AG-R2", "2023-05-01T09:00:00", "30000.00"))
    page = jilin.get(f"/agency/persons/{JL}?year=2023")
    assert attr_values(page.text, "data-total")["maf_pay"] == format_fen(
        parse_fen(first["maf_pay"]) + parse_fen(second["maf_pay"]))

    r = post(jilin, "/agency/settlements/AG-R1/reversal", {"reason": "重复结算", "psn_no": JL, "year": "2023"})
    assert r.status_code == 303 and r.headers["location"] == f"/agency/persons/{JL}?year=2023#settlements"
    page = jilin.get(r.headers["location"])
    assert "结算 AG-R1 已撤销，年度累计已恢复。" in text(page.text)
    assert attr_values(page.text, "data-total")["maf_pay"] == second["maf_pay"]
    row = next(x for x in rows(page.text, "data-setl-id") if 'data-setl-id="AG-R1"' in x.attrs)
    assert "已撤销" in row.cells[-1] and "重复结算" in row.cells[-1]
    with UnitOfWork(db) as uow:
        assert uow.settlements.get("AG-R1").status == "reversed"  # type: ignore[union-attr]
        reversed_by = [e.actor for e in uow.audit.entries() if e.action == "settlement.reversed"
                       and e.entity_id == "AG-R1"]
    assert len(reversed_by) == 1 and reversed_by[0].startswith("agency:")


def test_a_reversal_without_a_reason_twice_or_without_the_csrf_token_is_refused(db: Database,
                                                                              jilin: TestClient) -> None:
    settle(db, claim(JL2, "AG-R3", "2023-06-01T09:00:00"))
    r = post(jilin, "/agency/settlements/AG-R3/reversal", {"reason": "", "psn_no": JL2, "year": "2023"})
    assert r.status_code == 422 and "原因：缺少撤销原因" in text(r.text)
    r = jilin.post("/agency/settlements/AG-R3/reversal", data={"reason": "x", "psn_no": JL2},
                   follow_redirects=False)
    assert r.status_code == 403 and "防跨站请求伪造" in text(r.text)
    assert post(jilin, "/agency/settlements/AG-R3/reversal", {"reason": "退费", "psn_no": JL2,
                                                              "year": "2023"}).status_code == 303
    r = post(jilin, "/agency/settlements/AG-R3/reversal", {"reason": "退费", "psn_no": JL2, "year": "2023"})
    assert r.status_code == 409 and "不能重复撤销" in text(r.text)


def test_another_regions_settlement_cannot_be_reversed_from_the_console(db: Database, shanxi: TestClient) -> None:
    settle(db, claim(JL2, "AG-R4", "2023-07-01T09:00:00"))
    r = post(shanxi, "/agency/settlements/AG-R4/reversal", {"reason": "x", "psn_no": JL2, "year": "2023"})
    assert r.status_code == 403
    with UnitOfWork(db) as uow:
        assert uow.settlements.get("AG-R4").status == "settled"  # type: ignore[union-attr]


def test_the_statement_of_a_settlement_opens_for_the_agency_with_the_whole_resident_id(
        db: Database, jilin: TestClient) -> None:
    settle(db, claim(JL2, "AG-R5", "2023-08-01T09:00:00"))
    page = jilin.get("/agency/statements/AG-R5")
    with UnitOfWork(db) as uow:
        certno = uow.persons.get(JL2).certno  # type: ignore[union-attr]
    assert page.status_code == 200 and "医疗费用结算单" in page.text and certno in page.text


def test_open_transfers_are_listed_by_deadline_with_the_overdue_ones_highlighted(db: Database,
                                                                               jilin: TestClient) -> None:
    uow = factory(db)
    late = transfers.apply_cross_province(uow(write=True), SYSTEM, {
        "psn_no": JL2, "from_region": "460000", "to_region": "220102",
        "application_date": (dt.date.today() - dt.timedelta(days=90)).isoformat()})
    fresh = transfers.apply_cross_province(uow(write=True), SYSTEM, {
        "psn_no": JL, "from_region": "460000", "to_region": "220102"})
    page = jilin.get("/agency/transfers")
    listed = rows(page.text, "data-transfer")
    assert [r.attrs.split('data-transfer="')[1].split('"')[0] for r in listed][:2] == [late["id"], fresh["id"]]
    assert 'class="overdue"' in listed[0].attrs and "已超期" in listed[0].cells[5]
    assert 'class=""' in listed[1].attrs and listed[1].cells[4] == fresh["deadline"]

    r = post(jilin, f"/agency/transfers/{fresh['id']}/rejected", {"reason": ""})
    assert r.status_code == 422 and "原因" in text(r.text)
    r = post(jilin, f"/agency/transfers/{fresh['id']}/completed", {})
    assert r.status_code == 303
    assert "已记录" in text(jilin.get("/agency/transfers").text)
    assert transfers.get_transfer(uow(), SYSTEM, fresh["id"])["status"] == "completed"


def test_an_online_recognition_is_reviewed_from_the_console(db: Database, jilin: TestClient) -> None:
    uow = factory(db)
    rec = recognitions.create_recognition(uow(write=True), SYSTEM, {
        "psn_no": JL, "kind": "chronic_disease", "disease": "高血压", "channel": "online",
        "institution_region": "460100"})
    assert rec["status"] == "submitted"
    page = jilin.get("/agency/recognitions")
    assert f'action="/agency/recognitions/{rec["id"]}/review"' in page.text
    r = post(jilin, f"/agency/recognitions/{rec['id']}/review", {"decision": "approve"})
    assert r.status_code == 303
    assert recognitions.get_recognition(uow(), SYSTEM, rec["id"])["status"] == "approved"
    assert f'action="/agency/recognitions/{rec["id"]}/review"' not in jilin.get("/agency/recognitions").text


def test_filings_of_the_region_are_listed(db: Database, jilin: TestClient) -> None:
    from minsheng.service.casework import filings

    filed = filings.create_filing(factory(db)(write=True), SYSTEM, {
        "psn_no": JL, "kind": "relocated_retiree", "destination": "110000"})
    shown = text(jilin.get("/agency/filings").text)
    assert filed["id"] in shown and "北京市" in shown and "异地安置退休人员" in shown


def test_the_watch_list_page_matches_the_service_and_exports_are_audited(db: Database, shanxi: TestClient) -> None:
    for i in range(3):  # a heavy personal burden in 2023
        settle(db, claim(SX_BIG, f"AG-W{i}", f"2023-0{i + 2}-01T09:00:00", "150000.00", first_share="30000.00"))
    settle(db, claim(SX, "AG-W9", "2023-02-01T09:00:00", "90000.00", first_share="20000.00"))
    expected = watch_lists.compute(factory(db)(), SYSTEM, "2023-12-31", "140000")
    assert expected["persons"], "the settlements above put someone on a list"
    page = shanxi.get("/agency/watch-lists?date=2023-12-31&region=140000")
    assert page.status_code == 200
    counts = attr_values(page.text, "data-count")
    assert counts == {k: str(v) for k, v in expected["counts"].items()}
    for p in expected["persons"]:
        assert p["psn_no"] in page.text and p["annual_personal_burden"] in page.text

    csv = shanxi.get("/agency/watch-lists/export?format=csv&date=2023-12-31&region=140000")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith(b"\xef\xbb\xbf") and "监测类别" in csv.content.decode("utf-8-sig")
    assert "attachment" in csv.headers["content-disposition"]
    xlsx = shanxi.get("/agency/watch-lists/export?format=xlsx&date=2023-12-31&region=140000")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    with UnitOfWork(db) as uow:
        formats = [e.payload for e in uow.audit.entries() if e.action == "watch_list.exported"]
    assert len(formats) == 2


def test_a_watch_list_for_a_region_whose_threshold_is_not_printed_says_so(db: Database, jilin: TestClient) -> None:
    settle(db, claim(JL2, "AG-W-JL", "2023-09-01T09:00:00", "90000.00", first_share="20000.00"))
    page = jilin.get("/agency/watch-lists?date=2023-12-31&region=220100")
    assert page.status_code == 422
    shown = text(page.text)
    assert "监测线没有在政策原文中公布" in shown and "medical.monitoring" in shown


def test_a_watch_list_outside_the_region_is_refused(jilin: TestClient) -> None:
    page = jilin.get("/agency/watch-lists?region=140000")
    assert page.status_code == 403
    assert jilin.get("/agency/watch-lists/export?format=csv&region=140000").status_code == 403


@pytest.mark.parametrize(("role", "region"), [("analyst", None), ("citizen", None)])
def test_the_console_refuses_other_roles(db: Database, role: str, region: str | None) -> None:
    c = client(db)
    _, secret = token(db, role, region, JL if role == "citizen" else None)
    login(c, secret)
    page = c.get("/agency/persons")
    assert page.status_code == 403
    assert "“经办机构工作台”仅供医保经办机构、系统管理员使用" in text(page.text)


# --- social assistance: each test on a database of its own (runs are once per half-month) ---

@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Database]:
    with sqlite_database(tmp_path) as database:
        person(database, "SA-01", "220102", name="周晓明")
        yield database


def staff(db: Database, level: str, township: str | None = "南岭街道", village: str | None = None
          ) -> TestClient:
    token_id, secret = token(db, "agency", "220102")
    body: dict[str, Any] = {"level": level}
    if township and level != "county":
        body["township"] = township
    if village:
        body["village"] = village
    assistance_approval.set_staff(factory(db)(write=True), SYSTEM, token_id, body)
    c = client(db)
    login(c, secret)
    return c


def case_actions(page: str, case_id: str) -> list[str]:
    article = page[page.index(f'id="case-{case_id}"'):]
    article = article[:article.index("</article>")]
    return re.findall(r'data-action="([^"]+)"', article)


def test_a_township_approves_a_minimum_allowance_through_every_step_and_the_next_settlement_pays_assistance(
        fresh: Database) -> None:
    township = staff(fresh, "township")
    admin = client(fresh)
    login(admin, token(fresh, "admin")[1])
    today = dt.date.today()
    first_half = today.replace(day=1) - dt.timedelta(days=1)  # last day of the previous month
    d1, d2 = first_half.replace(day=1), first_half.replace(day=16)
    before = settle(fresh, claim("SA-01", "SA-C1", f"{d1.isoformat()}T10:00:00"))
    assert before["maf_pay"] == "0.00"

    r = post(township, "/agency/assistance", {"psn_no": "SA-01", "category": "minimum_allowance",
                                             "on": d1.isoformat()})
    assert r.status_code == 303
    case_id = r.headers["location"].split("#case-")[1]
    page = township.get("/agency/assistance").text
    assert case_actions(page, case_id) == ["accept"]
    assert post(township, f"/agency/assistance/{case_id}/accept",
                {"decision": "accept", "on": d1.isoformat()}).status_code == 303
    assert case_actions(township.get("/agency/assistance").text, case_id) == ["survey", "require-appraisal"]

    r = post(admin, "/agency/assistance/runs", {"date": d1.isoformat()})  # sends it to verification
    assert r.status_code == 303 and "送经济核对 1 件" in text(admin.get("/agency/assistance").text)
    assert case_actions(township.get("/agency/assistance").text, case_id) == [
        "survey", "verification", "require-appraisal"]
    for step, body in (("survey", {"result": "eligible"}), ("verification", {"result": "passed", "report_no": "HD-1"}),
                       ("sign", {"decision": "approve"})):
        r = post(township, f"/agency/assistance/{case_id}/{step}", {**body, "on": d1.isoformat()})
        assert r.status_code == 303, text(r.text)
    assert "乡镇已签批" in text(township.get("/agency/assistance").text)

    r = post(admin, "/agency/assistance/runs", {"date": d2.isoformat()})  # makes the approval effective
    assert r.status_code == 303
    shown = text(township.get("/agency/assistance").text)
    assert "已审批认定" in shown
    after = settle(fresh, claim("SA-01", "SA-C2", f"{d2.isoformat()}T10:00:00"))
    assert parse_fen(after["maf_pay"]) > 0
    person_page = township.get(f"/agency/persons/SA-01?year={d2.year}").text
    maf = {r.attrs.split('"')[1]: r.cells[7] for r in rows(person_page, "data-setl-id")}
    assert maf == {"SA-C1": "0.00", "SA-C2": after["maf_pay"]}
    assert f"低保对象（{d2.isoformat()} 至 不限）" in text(person_page)


def test_each_staff_level_is_offered_only_the_steps_it_may_take(fresh: Database) -> None:
    case = assistance_approval.apply(factory(fresh)(write=True), SYSTEM, {
        "psn_no": "SA-01", "category": "低保对象", "township": "南岭街道", "village": "自由大路社区"})
    village = staff(fresh, "village", village="自由大路社区")
    county = staff(fresh, "county")
    township = staff(fresh, "township")
    assert case_actions(township.get("/agency/assistance").text, case["id"]) == ["accept"]
    for c in (village, county):
        assert case_actions(c.get("/agency/assistance").text, case["id"]) == []
    r = post(village, f"/agency/assistance/{case['id']}/accept", {"decision": "accept"})
    assert r.status_code == 403 and "不能办理“受理”" in text(r.text)
    assert "登记新申请" in village.get("/agency/assistance").text
    assert "登记新申请" not in county.get("/agency/assistance").text
    assert 'action="/agency/assistance/runs"' not in township.get("/agency/assistance").text


def test_a_second_run_in_the_same_half_month_is_refused_with_409(fresh: Database) -> None:
    admin = client(fresh)
    login(admin, token(fresh, "admin")[1])
    day = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    assert post(admin, "/agency/assistance/runs", {"date": day.isoformat()}).status_code == 303
    r = post(admin, "/agency/assistance/runs", {"date": day.isoformat()})
    assert r.status_code == 409 and "每月两次" in text(r.text)


def test_an_agency_without_a_staff_level_is_told_how_to_get_one(fresh: Database) -> None:
    c = client(fresh)
    login(c, token(fresh, "agency", "220100")[1])
    assert "minsheng casework staff" in text(c.get("/agency/assistance").text)
