"""People using the pages behind a login, in a real (headless) Chromium against ``minsheng serve``.

Issue 8 item 7: a citizen logs in with the keyboard, computes the year's fiscal subsidy and
reads a settlement statement (结算单); a township caseworker approves a 低保 application
through the steps the casework requires (the twice-monthly runs, which are an administrator's,
through the service layer) and sees the person's next settlement pay medical assistance.
The server has a database of its own, filled through the service layer.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from minsheng.core.calculation import run
from minsheng.core.money import parse_fen
from minsheng.core.resident_id import make_certno
from minsheng.service import persons, settlements
from minsheng.service.auth import SYSTEM, create_token
from minsheng.service.casework import assistance_approval
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork, factory
from server_process import serving

SEED = "000_41bda435cb7595ae.txt"


@dataclass
class Site:
    base: str
    db: Database

    def token(self, role: str, region: str | None = None, psn_no: str | None = None) -> tuple[str, str]:
        with UnitOfWork(self.db, write=True) as uow:
            row, secret = create_token(uow, role, region=region, psn_no=psn_no, label="e2e")
            uow.commit()
        return row.id, secret

    def person(self, psn_no: str, categories: list[str], name: str) -> None:
        persons.create_person(factory(self.db)(write=True), SYSTEM, {
            "psn_no": psn_no, "insutype": "390", "region": "220102", "psn_name": name,
            "certno": make_certno("220102", dt.date(1958, 4, 2), 321), "categories": categories})

    def settle(self, psn_no: str, setl_id: str, day: dt.date) -> dict[str, Any]:
        reply = settlements.settle(factory(self.db), SYSTEM, {
            "setl_id": setl_id, "psn_no": psn_no, "setl_time": f"{day.isoformat()}T10:00:00",
            "med_type": "21", "hosp_lv": 3, "in_province": True, "medfee_sumamt": "20000.00",
            "fulamt_ownpay_amt": "0.00", "preselfpay_amt": "1000.00", "overlmt_selfpay": "0.00"})
        result: dict[str, Any] = json.loads(reply.body)
        return result


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("logged-in")
    url = f"sqlite:///{workdir / 'minsheng.db'}"
    with serving(url, workdir) as (_, base):
        db = Database(url, pool_size=2)
        try:
            yield Site(base, db)
        finally:
            db.dispose()


@pytest.fixture
def tab(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", base_url=site.base,
                                  viewport={"width": 1100, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in_with_the_keyboard(tab: Any, secret: str) -> None:
    tab.get_by_label("访问令牌").focus()
    tab.keyboard.type(secret)
    tab.keyboard.press("Enter")


def test_a_citizen_logs_in_computes_the_subsidy_and_reads_a_statement(tab: Any, site: Site, screenshot: Any) -> None:
    site.person("E2E-CIT", ["minimum_allowance"], "李建国")
    settled = site.settle("E2E-CIT", "E2E-CIT-2021-1", dt.date(2021, 6, 10))
    _, secret = site.token("citizen", psn_no="E2E-CIT")

    tab.goto("/me")
    expect(tab).to_have_url(f"{site.base}/login?next=/me")
    log_in_with_the_keyboard(tab, secret)
    expect(tab).to_have_url(f"{site.base}/me")
    expect(tab.get_by_role("heading", level=1)).to_have_text("我的医保：李建国")

    year = tab.get_by_label("选择年度")
    year.focus()
    year.select_option("2021")
    year.focus()
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.id") == "year-submit"
    tab.keyboard.press("Enter")  # 查看
    expect(tab).to_have_url(f"{site.base}/me?year=2021")
    expected = {k: v for k, _, v in run("resident_fiscal_subsidy", date="2021-01-01", region="220102",
                                        inputs={}).output_rows()}
    figures = tab.locator("#contributions")
    expect(figures.locator('[data-output="total"]')).to_have_text(expected["total"])
    expect(figures.locator('[data-output="central"]')).to_have_text(expected["central"])
    expect(figures).to_contain_text(SEED)
    row = tab.locator('tr[data-setl-id="E2E-CIT-2021-1"]')
    expect(row.locator('[data-col="maf_pay"]')).to_have_text(settled["maf_pay"])
    screenshot(tab, "citizen-me")

    row.get_by_role("link", name="查看结算单").click()
    expect(tab).to_have_url(f"{site.base}/me/statements/E2E-CIT-2021-1")
    expect(tab.get_by_role("heading", level=1)).to_have_text("医疗费用结算单")
    expect(tab.locator("body")).to_contain_text("E2E-CIT-2021-1")
    expect(tab.locator("body")).to_contain_text("2201**********")
    screenshot(tab, "citizen-statement")

    tab.set_viewport_size({"width": 360, "height": 740})  # the same page on a phone
    tab.goto("/me?year=2021")
    assert tab.evaluate("document.documentElement.scrollWidth") <= 360, "nothing wider than the phone"
    screenshot(tab, "narrow-citizen-me")


def act(tab: Any, case_id: str, action: str, on: dt.date, choices: tuple[str, ...] = ()) -> None:
    """Open one action of a case, answer it, date it and submit it."""
    details = tab.locator(f"#case-{case_id} details", has=tab.locator(f'form[data-action="{action}"]'))
    details.locator("summary").click()
    for label in choices:
        details.get_by_label(label, exact=True).check()
    details.get_by_label("办理日期").fill(on.isoformat())
    details.get_by_role("button").click()
    expect(tab.locator("#flash")).to_contain_text(f"{case_id}：")


def test_a_township_caseworker_approves_a_minimum_allowance_and_the_next_settlement_pays_assistance(
        tab: Any, site: Site, screenshot: Any) -> None:
    last_month = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    d1, d2 = last_month.replace(day=1), last_month.replace(day=16)  # two half-months: two runs
    site.person("E2E-SA", [], "周晓明")
    before = site.settle("E2E-SA", "E2E-SA-1", d1)
    assert before["maf_pay"] == "0.00"
    token_id, secret = site.token("agency", "220102")
    assistance_approval.set_staff(factory(site.db)(write=True), SYSTEM, token_id,
                                  {"level": "township", "township": "南岭街道"})

    tab.goto("/login")
    log_in_with_the_keyboard(tab, secret)
    expect(tab).to_have_url(f"{site.base}/agency")
    tab.get_by_role("link", name="社会救助审批").click()

    tab.get_by_text("登记新申请（一门式受理窗口）").click()
    tab.get_by_label("个人编号").fill("E2E-SA")
    tab.get_by_label("申请类别").select_option("minimum_allowance")
    tab.get_by_label("申请日期").fill(d1.isoformat())
    tab.get_by_role("button", name="登记申请").click()
    expect(tab.locator("#flash")).to_contain_text("已登记申请")
    case_id = tab.url.rsplit("#case-", 1)[1]

    act(tab, case_id, "accept", d1)
    assistance_approval.run_batch(factory(site.db)(write=True), SYSTEM, d1)  # 经济核对 sent
    tab.reload()
    act(tab, case_id, "survey", d1, ("符合条件",))
    act(tab, case_id, "verification", d1, ("核对通过",))
    act(tab, case_id, "sign", d1, ("批准",))
    expect(tab.locator(f"#case-{case_id} [data-case-status]")).to_have_text("乡镇已签批，待审批批次生效")
    assistance_approval.run_batch(factory(site.db)(write=True), SYSTEM, d2)  # the approval takes effect
    tab.reload()
    expect(tab.locator(f"#case-{case_id} [data-case-status]")).to_have_text("已审批认定")
    screenshot(tab, "agency-assistance")

    after = site.settle("E2E-SA", "E2E-SA-2", d2)
    tab.goto(f"/agency/persons/E2E-SA?year={d2.year}")
    expect(tab.locator('tr[data-setl-id="E2E-SA-1"] [data-col="maf_pay"]')).to_have_text("0.00")
    expect(tab.locator('tr[data-setl-id="E2E-SA-2"] [data-col="maf_pay"]')).to_have_text(after["maf_pay"])
    assert parse_fen(after["maf_pay"]) > 0
    expect(tab.locator('[data-field="categories"]')).to_contain_text(f"低保对象（{d2.isoformat()} 至 不限）")
    screenshot(tab, "agency-person")


def test_an_analyst_simulates_a_reform_on_a_small_synthetic_population(tab: Any, site: Site, screenshot: Any
                                                                       ) -> None:
    _, secret = site.token("analyst")
    tab.goto("/analyst")
    log_in_with_the_keyboard(tab, secret)
    expect(tab).to_have_url(f"{site.base}/analyst")
    tab.get_by_label("人数").fill("500")
    tab.get_by_label("参数名 1").first.fill("medical.critical.resident.deductible")
    tab.get_by_label("取值 1").first.fill("10000.00")
    tab.get_by_role("button", name="开始测算").click()
    expect(tab.locator("#flash")).to_contain_text("测算完成")
    expect(tab.locator("#headlines")).to_contain_text("大病保险：基线")
    tab.locator("iframe.report-frame").scroll_into_view_if_needed()
    report = tab.frame_locator("iframe.report-frame")
    expect(report.locator("svg").first).to_be_visible()
    expect(report.locator("body")).to_contain_text("改革")
    screenshot(tab, "analyst-run")
