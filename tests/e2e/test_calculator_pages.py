"""A person uses the calculator pages in a real (headless) browser.

Acceptance (issue 8): the resident fiscal subsidy for 安图县 (222426) on 2021-06-01 shows the
central share 464.00 and cites 000_41bda435cb7595ae.txt, whose clause reads “延边地区享受国家
西部大开发优惠政策，中央财政补助464元，省级财政补助69.6元，市县财政补助46.4元”.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

SUBSIDY = "/calculators/resident_fiscal_subsidy"
SEED = "000_41bda435cb7595ae.txt"


def focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def tab_out_of_the_date_picker(page: Any) -> None:
    """Tab past the date picker's own stops (its 年/月/日 parts and calendar button)."""
    for _ in range(4):
        page.keyboard.press("Tab")
        if focused_id(page) != "in-date":
            return


def test_a_citizen_computes_the_resident_subsidy_with_the_keyboard_alone(page: Any, screenshot: Any) -> None:
    page.goto(SUBSIDY)
    page.evaluate("window.notReloaded = true")

    page.get_by_label("计算日期").focus()
    for key in ("2021", "ArrowRight", "06", "ArrowRight", "01"):  # 年 → 月 → 日
        page.keyboard.press(key) if key.startswith("Arrow") else page.keyboard.type(key)
    tab_out_of_the_date_picker(page)
    assert focused_id(page) == "in-region"
    page.keyboard.type("222426")
    page.keyboard.press("Tab")
    assert focused_id(page) == "in-insured_persons"
    page.keyboard.press("Tab")
    assert focused_id(page) == "submit"
    page.keyboard.press("Enter")

    result = page.locator("#outcome")
    expect(result.locator('[data-output="central"]')).to_have_text("464.00")
    expect(result.locator('[data-output="total"]')).to_have_text("580.00")
    expect(result).to_contain_text(SEED)
    expect(result).to_contain_text("医保发〔2021〕32号")
    expect(result).to_contain_text("中央财政补助464元")
    assert page.evaluate("window.notReloaded === true"), "HTMX replaced the result without a reload"
    # focus moves to the result for keyboard and screen-reader users (once HTMX has settled it)
    expect(result).to_be_focused()
    expect(page.get_by_label("计算日期")).to_have_value("2021-06-01")
    screenshot(page, "subsidy-result")


def test_the_calculator_form_works_without_javascript(browser: Any, server: str) -> None:
    context = browser.new_context(locale="zh-CN", base_url=server, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(SUBSIDY)
        page.get_by_label("计算日期").fill("2021-06-01")
        page.get_by_label("地区").fill("安图县 222426")
        page.get_by_role("button", name="计算").click()
        page.wait_for_url("**/calculators/resident_fiscal_subsidy#outcome")
        expect(page.locator('[data-output="central"]')).to_have_text("464.00")
        expect(page.locator("#outcome")).to_contain_text(SEED)
    finally:
        context.close()


def test_an_unknown_region_is_shown_beside_the_region_field_and_the_values_are_kept(page: Any, screenshot: Any) -> None:
    page.goto(SUBSIDY)
    page.evaluate("window.notReloaded = true")
    page.get_by_label("计算日期").fill("2021-06-01")
    page.get_by_label("地区").fill("999999")
    page.get_by_label("参保人数").fill("一百")
    page.get_by_role("button", name="计算").click()

    region_error = page.locator("#in-region-error")
    expect(region_error).to_contain_text("未知的地区代码")
    expect(page.locator('[data-field="region"]')).to_contain_text("未知的地区代码")
    expect(page.locator('[data-field="insured_persons"] .error')).to_contain_text("整数")
    expect(page.get_by_label("地区")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("地区")).to_have_value("999999")
    expect(page.get_by_label("计算日期")).to_have_value("2021-06-01")
    expect(page.get_by_role("alert")).to_contain_text("请修改以下内容")
    expect(page.locator('[data-output="central"]')).to_have_count(0)
    screenshot(page, "subsidy-errors")

    page.get_by_label("地区").fill("安图县 222426")  # corrected in the swapped-in form
    page.get_by_label("参保人数").fill("")
    page.get_by_role("button", name="计算").click()
    expect(page.locator('[data-output="central"]')).to_have_text("464.00")
    expect(page.locator(".error")).to_have_count(0)
    assert page.evaluate("window.notReloaded === true"), "the swapped-in form posts with HTMX too"


def test_a_date_with_no_encoded_policy_names_the_parameter_region_and_date_at_the_top(page: Any) -> None:
    page.goto(SUBSIDY)
    page.get_by_label("计算日期").fill("2015-01-01")
    page.get_by_label("地区").fill("222426")
    page.get_by_role("button", name="计算").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("medical.financing.resident.fiscal_subsidy.total")
    expect(alert).to_contain_text("安图县（222426）")
    expect(alert).to_contain_text("2015-01-01")


def test_a_person_finds_a_calculator_from_the_home_page(page: Any, screenshot: Any) -> None:
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    screenshot(page, "home")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="政策计算器").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("政策计算器")
    screenshot(page, "calculators")
    page.get_by_role("link", name="城乡居民医保人均财政补助及各级分担").click()
    expect(page.get_by_role("button", name="计算")).to_be_visible()
    screenshot(page, "calculator-form")


def test_the_pages_fit_a_narrow_phone_screen(narrow_page: Any, screenshot: Any) -> None:
    page = narrow_page
    for path, name in (("/", "narrow-home"), ("/calculators", "narrow-calculators"),
                       ("/calculators/ms_charity_aid", "narrow-calculator")):
        page.goto(path)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{path} scrolls sideways on a 360 px screen: {width}"
        screenshot(page, name)
