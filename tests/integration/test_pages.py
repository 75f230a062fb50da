"""The pages in Chinese, read as HTML through the app (no browser; see tests/e2e for one).

Acceptance (issue 8): posting the resident-subsidy form with date 2021-06-01 and region
222426 (安图县, 延边州) shows 464.00 and cites 000_41bda435cb7595ae.txt (医保发〔2021〕32号:
“延边地区享受国家西部大开发优惠政策，中央财政补助464元”).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient

from minsheng.api.app import create_app
from minsheng.core.calculation import Calculation, registry, run
from minsheng.core.categories import CATEGORIES
from minsheng.web.forms import region_code

SUBSIDY = "/calculators/resident_fiscal_subsidy"
SEED = "000_41bda435cb7595ae.txt"


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app())


@dataclass
class Page:
    """What a person (or a screen reader) finds on a page."""

    status: int
    text: str
    html_lang: str = ""
    labels: dict[str, str] = field(default_factory=dict)  # for= id → label text
    controls: list[dict[str, str]] = field(default_factory=list)  # input/select/button attrs
    links: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # data-output → shown value
    errors: dict[str, str] = field(default_factory=dict)  # data-field → error shown beside it
    alerts: list[str] = field(default_factory=list)

    def controls_named(self, name: str) -> list[dict[str, str]]:
        return [c for c in self.controls if c.get("name") == name]


class _Reader(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.capture: list[tuple[str, str, list[str]]] = []  # (tag, kind, text parts)
        self.field = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.page.html_lang = a.get("lang", "")
        if tag in ("input", "select", "button", "textarea"):
            self.page.controls.append({"tag": tag, **a})
        if tag == "a" and "href" in a:
            self.page.links.append(a["href"])
        if "data-field" in a:
            self.field = a["data-field"]
        if tag == "label" and "for" in a:
            self.capture.append((tag, "label:" + a["for"], []))
        elif "data-output" in a:
            self.capture.append((tag, "output:" + a["data-output"], []))
        elif tag == "p" and "error" in a.get("class", "").split():
            self.capture.append((tag, "error:" + self.field, []))
        elif a.get("role") == "alert":
            self.capture.append((tag, "alert", []))
        elif self.capture:
            self.capture.append((tag, "", []))

    def handle_endtag(self, tag: str) -> None:
        if not self.capture:
            return
        _, kind, parts = self.capture.pop()
        text = "".join(parts).strip()
        if self.capture:
            self.capture[-1][2].append(text)
        if kind.startswith("label:"):
            self.page.labels[kind[6:]] = text
        elif kind.startswith("output:"):
            self.page.outputs[kind[7:]] = text
        elif kind.startswith("error:"):
            self.page.errors[kind[6:]] = text
        elif kind == "alert":
            self.page.alerts.append(text)

    def handle_data(self, data: str) -> None:
        if self.capture:
            self.capture[-1][2].append(data)


def read(response: Any) -> Page:
    page = Page(response.status_code, response.text)
    _Reader(page).feed(response.text)
    return page


def post(client: TestClient, path: str, data: dict[str, Any], **headers: str) -> Page:
    return read(client.post(path, data=data, headers=headers))


# --- the acceptance check -------------------------------------------------------------------

def test_posting_the_resident_subsidy_form_for_antu_shows_464_and_cites_the_seed(client: TestClient) -> None:
    page = post(client, SUBSIDY, {"date": "2021-06-01", "region": "222426"})
    assert page.status == 200
    assert page.outputs["central"] == "464.00"
    assert SEED in page.text
    assert "医保发〔2021〕32号" in page.text
    assert "中央财政补助464元" in page.text  # the clause quoted from the seed


def test_the_page_shows_exactly_what_the_api_computes(client: TestClient) -> None:
    body = {"date": "2021-06-01", "region": "222426", "inputs": {"insured_persons": 1000}}
    api = client.post("/api/v1/calculations/resident_fiscal_subsidy", json=body).json()
    page = post(client, SUBSIDY, {"date": "2021-06-01", "region": "222426", "insured_persons": "1000"})
    assert page.outputs == api["outputs"]
    for step in api["trace"]:
        assert step["description"] in page.text
        if "reference" in step:
            assert step["reference"]["source"] in page.text


def test_a_region_chosen_from_the_list_as_name_and_code_counts_by_its_code() -> None:
    assert region_code("安图县 222426") == "222426"
    assert region_code(" 222426 ") == "222426"
    assert region_code("安图县") == "安图县"  # a name alone is looked up by name


def test_the_region_may_be_given_by_its_list_entry(client: TestClient) -> None:
    page = post(client, SUBSIDY, {"date": "2021-06-01", "region": "安图县 222426"})
    assert page.outputs["central"] == "464.00"
    assert "安图县（222426）" in page.text


# --- every calculator has a complete, labelled form -----------------------------------------

@pytest.mark.parametrize("calc", registry().values(), ids=lambda c: c.name)
def test_every_calculator_page_has_a_labelled_control_for_every_input(client: TestClient,
                                                                      calc: Calculation) -> None:
    page = read(client.get(f"/calculators/{calc.name}"))
    assert page.status == 200
    assert page.html_lang == "zh-CN"
    assert calc.title in page.text

    date = page.controls_named("date")
    assert [c["type"] for c in date] == ["date"]
    region = page.controls_named("region")
    assert len(region) == 1 and region[0]["list"] == "regions"
    assert "安图县 222426" in page.text  # the searchable region list

    for f in calc.inputs:
        controls = page.controls_named(f.name)
        assert controls, f"no control for input {f.name}"
        if f.type == "categories":
            assert sorted(c["value"] for c in controls) == sorted(CATEGORIES)
        if f.type == "money":
            assert controls[0]["inputmode"] == "decimal"
        if f.type == "datetime":
            assert controls[0]["type"] == "datetime-local"
        if f.type == "date":
            assert controls[0]["type"] == "date"
        if f.type == "enum":
            offered = {c.get("value") for c in controls} | set(re.findall(
                r'<option value="([^"]*)"', _select_html(page.text, f.name)))
            assert {k for k, _ in f.choices} <= offered
        label = page.labels.get(f"in-{f.name}")
        if label is None:  # a group of check boxes or radio buttons is named by its legend
            assert f"<legend>{f.label}" in page.text
        else:
            assert label.startswith(f.label)

    for control in page.controls:
        if control["tag"] == "button" or control.get("type") == "hidden":
            continue
        assert control.get("id") in page.labels, f"control without a <label for>: {control}"
        assert page.labels[control["id"]], f"empty label for {control['id']}"
    assert any(c["tag"] == "button" and c.get("type") == "submit" for c in page.controls)


def _select_html(text: str, name: str) -> str:
    found = re.search(rf'<select[^>]*name="{name}".*?</select>', text, re.S)
    return found.group(0) if found else ""


def test_the_calculators_page_lists_every_calculation_under_a_chinese_heading(client: TestClient) -> None:
    page = read(client.get("/calculators"))
    for calc in registry().values():
        assert f"/calculators/{calc.name}" in page.links
        assert calc.title in page.text
    assert "医保筹资与缴费" in page.text


# --- errors ---------------------------------------------------------------------------------

def test_an_unknown_region_is_shown_beside_the_region_field_and_the_values_are_kept(client: TestClient) -> None:
    page = post(client, SUBSIDY, {"date": "2021-06-01", "region": "999999"})
    assert page.status == 422
    assert "未知的地区代码" in page.errors["region"]
    region = page.controls_named("region")[0]
    assert region["value"] == "999999"
    assert region["aria-invalid"] == "true"
    assert page.controls_named("date")[0]["value"] == "2021-06-01"
    assert page.outputs == {}


def test_several_mistakes_are_all_shown_at_once_each_beside_its_field(client: TestClient) -> None:
    page = post(client, "/calculators/ms_charity_aid",
                {"date": "2023-09-01", "region": "220000", "self_pay": "-5", "ytd_aid": "abc"})
    assert page.status == 422
    assert set(page.errors) == {"self_pay", "ytd_aid"}
    assert all(page.errors.values())
    assert "请修改以下内容" in page.alerts[0]


def test_a_blank_required_input_is_named_as_missing(client: TestClient) -> None:
    page = post(client, "/calculators/watch_list", {"date": "2023-06-30", "region": "140100"})
    assert page.status == 422
    assert "缺少" in page.errors["annual_personal_burden"]


def test_a_date_with_no_encoded_policy_is_explained_at_the_top_naming_parameter_region_and_date(
        client: TestClient) -> None:
    page = post(client, SUBSIDY, {"date": "2015-01-01", "region": "222426"})
    assert page.status == 422
    alert = page.alerts[0]
    assert "medical.financing.resident.fiscal_subsidy.total" in alert
    assert "安图县（222426）" in alert
    assert "2015-01-01" in alert
    assert page.errors == {}


def test_an_unknown_calculator_is_a_chinese_404_page(client: TestClient) -> None:
    page = read(client.get("/calculators/no_such_thing"))
    assert page.status == 404
    assert page.html_lang == "zh-CN"
    assert "未找到这项计算" in page.text
    assert read(client.post("/calculators/no_such_thing", data={})).status == 404


# --- the typed controls post what the calculation expects ---------------------------------

def test_categories_are_posted_as_keys_and_stay_checked_after_posting(client: TestClient) -> None:
    data = {"date": "2023-06-30", "region": "140100", "categories": ["minimum_allowance"],
            "annual_personal_burden": "6000.01"}
    page = post(client, "/calculators/watch_list", data)
    assert page.status == 200
    expected = run("watch_list", date="2023-06-30", region="140100",
                   inputs={"categories": ["minimum_allowance"], "annual_personal_burden": "6000.01"})
    assert page.outputs == {name: text for name, _, text in expected.output_rows()}
    assert expected.outputs["list"] == "relapse_watch"  # 低保对象 over 6000: the relapse watch list
    checked = [c["value"] for c in page.controls_named("categories") if "checked" in c]
    assert checked == ["minimum_allowance"]


def test_a_yes_no_question_without_a_default_must_be_answered(client: TestClient) -> None:
    base = {"date": "2023-05-10", "region": "140100", "categories": ["minimum_allowance"]}
    unanswered = post(client, "/calculators/deposit_waiver", base)
    assert unanswered.status == 422
    assert {"referred_from_primary_care", "admitted_in_home_city"} <= set(unanswered.errors)

    answered = post(client, "/calculators/deposit_waiver",
                    {**base, "referred_from_primary_care": "true", "admitted_in_home_city": "true"})
    assert answered.status == 200
    assert answered.outputs["waived"] == "是"


def test_an_unticked_check_box_means_no(client: TestClient) -> None:
    adult = post(client, "/calculators/resident_contribution",
                 {"date": "2020-09-01", "region": "220102", "age": "30"})
    student = post(client, "/calculators/resident_contribution",
                   {"date": "2020-09-01", "region": "220102", "age": "30", "is_student": "true"})
    assert adult.status == student.status == 200
    assert adult.outputs["group"] == "成年人"
    assert student.outputs["group"] == "学生或未成年人"


def test_the_date_may_come_from_the_calculations_own_date_input(client: TestClient) -> None:
    page = post(client, "/calculators/transfer_deadline",
                {"date": "", "region": "220000", "scope": "cross_province",
                 "application_date": "2023-09-25"})
    assert page.status == 200
    assert "日期 2023-09-25" in page.text


# --- HTMX and the page frame ----------------------------------------------------------------

def test_an_htmx_post_returns_only_the_calculator_part_to_swap_in(client: TestClient) -> None:
    response = client.post(SUBSIDY, data={"date": "2021-06-01", "region": "222426"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="calculator"')
    assert read(response).outputs["central"] == "464.00"


def test_the_form_posts_to_itself_with_and_without_javascript(client: TestClient) -> None:
    text = client.get(SUBSIDY).text
    assert 'method="post" action="/calculators/resident_fiscal_subsidy#outcome"' in text
    assert 'hx-post="/calculators/resident_fiscal_subsidy"' in text
    assert 'hx-target="#calculator"' in text


def test_the_home_page_is_in_chinese_and_links_only_to_pages_that_exist(client: TestClient) -> None:
    page = read(client.get("/"))
    assert page.status == 200
    assert page.html_lang == "zh-CN"
    assert "/calculators" in page.links
    internal = {link.split("#")[0] for link in page.links if link.startswith("/")}
    for link in sorted(internal):
        assert client.get(link).status_code == 200, link


def test_scripts_and_styles_are_served_locally_with_htmx_and_its_licence(client: TestClient) -> None:
    page = read(client.get("/"))
    assert "http://" not in page.text.replace("http://www.w3.org", "")
    assert "https://" not in page.text
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200
    assert "Zero-Clause BSD" in htmx.text[:400]
    assert client.get("/static/minsheng.css").status_code == 200
    assert client.get("/static/minsheng.js").status_code == 200


def test_pages_stay_out_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(p == "/" or p.startswith("/calculators") for p in paths)
