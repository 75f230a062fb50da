"""Citizen self-service (``/me``): one's own contributions, settlements, totals and cases.

Issue 8 item 4. Figures come from the registered calculations (financing: 004 吉医保联〔2020〕15号
and 000 医保发〔2021〕32号); a year whose figure the seeds do not print is said so, naming the
parameter; a citizen reads only its own statements (结算单).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pages_helpers import attr_values, claim, client, login, person, rows, settle, sqlite_database, text, token

from minsheng.core.calculation import run
from minsheng.core.money import format_fen, parse_fen
from minsheng.service.auth import SYSTEM
from minsheng.service.casework import assistance_approval, filings, transfers
from minsheng.service.db import Database
from minsheng.service.unit_of_work import factory

ADULT, MINOR, OTHER = "ME-ADULT", "ME-MINOR", "ME-OTHER"
REGION = "220102"  # 长春市南关区


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with sqlite_database(tmp_path_factory.mktemp("citizen")) as database:
        person(database, ADULT, categories=["minimum_allowance"], born=dt.date(1960, 5, 6), name="李建国")
        person(database, MINOR, born=dt.date(2008, 3, 1), name="李小明")
        person(database, OTHER, name="张桂兰")
        yield database


@pytest.fixture(scope="module")
def replies(db: Database) -> list[dict[str, Any]]:
    """Three settlements of the adult in 2023 (one outpatient, two inpatient) and one of another person."""
    out = [settle(db, claim(ADULT, f"ME-S{i}", f"2023-0{i + 3}-10T09:00:00", total, med))
           for i, (total, med) in enumerate((("286.40", "11"), ("20000.00", "21"), ("8650.00", "21")))]
    settle(db, claim(OTHER, "ME-OTHER-1", "2023-04-01T09:00:00"))
    return out


def logged_in(db: Database, psn_no: str) -> TestClient:
    c = client(db)
    _, secret = token(db, "citizen", psn_no=psn_no)
    assert login(c, secret).headers["location"] == "/me"
    return c


def expected_outputs(name: str, day: str, inputs: dict[str, Any] | None = None) -> dict[str, str]:
    result = run(name, date=day, region=REGION, inputs=inputs or {})
    return {key: value for key, _, value in result.output_rows()}


def test_a_citizen_sees_its_own_registration_with_the_resident_id_masked(db: Database) -> None:
    page = logged_in(db, ADULT).get("/me")
    assert page.status_code == 200
    shown = text(page.text)
    assert "李建国" in shown and ADULT in shown and "南关区（220102）" in shown and "低保对象" in shown
    assert "2201**********" in shown
    assert "19600506" not in page.text, "the birth date inside the resident id never reaches the page"
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "SAMEORIGIN"


def test_the_fiscal_subsidy_of_2021_is_computed_for_the_persons_region_with_its_source(db: Database) -> None:
    page = logged_in(db, ADULT).get("/me?year=2021")
    shown = attr_values(page.text, "data-output")
    for key, value in expected_outputs("resident_fiscal_subsidy", "2021-01-01").items():
        assert shown[key] == value
    assert shown["total"] == "580.00" and shown["central"] == "348.00"
    assert "000_41bda435cb7595ae.txt" in page.text and "医保发〔2021〕32号" in page.text


@pytest.mark.parametrize(("psn_no", "age"), [(ADULT, 59), (MINOR, 11)])
def test_the_contribution_of_2020_follows_the_age_on_new_years_day(db: Database, psn_no: str, age: int) -> None:
    page = logged_in(db, psn_no).get("/me?year=2020")
    want = expected_outputs("resident_contribution", "2020-01-01", {"age": age, "is_student": False})
    assert attr_values(page.text, "data-output")["amount"] == want["amount"]
    assert want["amount"] == ("290.00" if age >= 18 else "200.00")  # 004: adults 290, under 18: 200
    assert f"（{age} 周岁）" in text(page.text)


def test_a_year_whose_figures_the_seeds_do_not_print_is_said_so_plainly(db: Database) -> None:
    page = logged_in(db, ADULT).get("/me?year=2023")
    shown = text(page.text)
    assert "政策原文没有公布 2023 年南关区的这项标准，本站不做推算" in shown
    assert "medical.financing.resident.fiscal_subsidy.total" in shown
    assert "medical.financing.resident.contribution.minor_age_limit" in shown
    assert attr_values(page.text, "data-output") == {}, "no figure is guessed"


def test_a_year_out_of_range_is_refused_with_422_naming_the_year(db: Database) -> None:
    page = logged_in(db, ADULT).get("/me?year=1999")
    assert page.status_code == 422
    assert "年度应在 2020 至" in text(page.text)


def test_the_settlements_of_the_year_link_to_their_printable_statements(db: Database, replies: list[dict[str, Any]]
                                                                        ) -> None:
    c = logged_in(db, ADULT)
    page = c.get("/me?year=2023")
    listed = rows(page.text, "data-setl-id")
    assert [r.attrs.split('"')[1] for r in listed] == [r["setl_id"] for r in replies]
    assert [r.cells[4] for r in listed] == [r["maf_pay"] for r in replies]
    for r in replies:
        assert f'href="/me/statements/{r["setl_id"]}"' in page.text
    statement = c.get(f"/me/statements/{replies[1]['setl_id']}")
    assert statement.status_code == 200
    assert "医疗费用结算单" in statement.text and replies[1]["setl_id"] in statement.text
    assert "2201**********" in statement.text
    assert statement.headers["cache-control"] == "no-store"


def test_a_citizen_cannot_open_another_persons_statement(db: Database, replies: list[dict[str, Any]]) -> None:
    page = logged_in(db, ADULT).get("/me/statements/ME-OTHER-1")
    assert page.status_code == 403
    assert "参保人只能查询本人的信息" in text(page.text)
    assert '<html lang="zh-CN">' in page.text


def test_the_totals_of_the_year_are_the_sums_of_the_settlements(db: Database, replies: list[dict[str, Any]]) -> None:
    totals = attr_values(logged_in(db, ADULT).get("/me?year=2023").text, "data-total")
    assert totals["claims"] == str(len(replies))
    for key in ("hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt"):
        assert totals[key] == format_fen(sum(parse_fen(r[key]) for r in replies))
    assert parse_fen(totals["maf_pay"]) > 0, "a 低保 person gets medical assistance"


def test_filings_transfers_and_assistance_applications_show_where_they_stand(db: Database) -> None:
    uow = factory(db)
    filings.create_filing(uow(write=True), SYSTEM, {"psn_no": MINOR, "kind": "long_term_resident",
                                                    "destination": "460000"})
    applied = (dt.date.today() - dt.timedelta(days=60)).isoformat()
    moved = transfers.apply_cross_province(uow(write=True), SYSTEM, {
        "psn_no": MINOR, "from_region": "460000", "to_region": REGION, "application_date": applied})
    case = assistance_approval.apply(uow(write=True), SYSTEM, {
        "psn_no": MINOR, "category": "低保对象", "township": "南岭街道"})
    shown = text(logged_in(db, MINOR).get("/me").text)
    assert "备案到 海南省" in shown and "长期有效" in shown
    assert f"办结期限 {moved['deadline']}" in shown and "已超期" in shown
    assert "在南岭街道申请低保对象" in shown and f"预计办结日期 {case['due_on']}" in shown
    assert "已申请待受理" in shown


@pytest.mark.parametrize(("role", "region"), [("agency", "220000"), ("analyst", None)])
def test_the_citizen_page_refuses_other_roles_with_a_page_in_chinese(db: Database, role: str, region: str | None
                                                                     ) -> None:
    c = client(db)
    _, secret = token(db, role, region)
    login(c, secret)
    page = c.get("/me")
    assert page.status_code == 403
    assert "“参保人自助服务”仅供参保人使用" in text(page.text)
