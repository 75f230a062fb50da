"""Forms generated from a calculation's typed inputs, and form posts turned back into inputs.

Every calculation page shows the same two controls first — the date (a date picker) and the
region (a searchable list of "安图县 222426"; the code is what counts) — then one control
per input, chosen by the input's type:

=============  ============================================================================
money          text box with ``inputmode=decimal`` (``1234.50``)
integer        text box with ``inputmode=numeric``
ratio, number  text box with ``inputmode=decimal`` (``0.05``)
date           date picker; ``datetime`` a ``datetime-local``; ``time`` a time picker
enum           radio buttons (up to four choices) or a drop-down list
categories     one check box per assistance category (Chinese label, posted as its key)
bool           a check box when the input has a default; otherwise 是/否 radio buttons, so
               "not answered" is never silently taken as "no"
text, list     text box (a list as comma-separated values)
=============  ============================================================================

A form post is a multi-dict of strings; :func:`inputs_from_form` turns it into the raw values
:func:`minsheng.core.calculation.run` parses, so the pages report exactly the errors the API
and the command line report, each naming its field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from minsheng.core.calculation import Calculation, Field
from minsheng.core.categories import CATEGORIES
from minsheng.core.dates import parse_date
from minsheng.core.errors import InputError
from minsheng.core.regions import all_regions, get_region

FormData = Mapping[str, Sequence[str]]
"""A posted form: every name with the list of values posted under it."""

RADIO_LIMIT = 4
"""Enums with at most this many choices are shown as radio buttons, longer ones as a list."""

DATE, REGION = "date", "region"
TRUE, FALSE, UNSET = "true", "false", ""

_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
_INDEX = re.compile(r"\[\d+\]$")


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class Widget:
    """One labelled form control, ready for the template."""

    name: str
    label: str
    kind: str  # input | checkbox | checkboxes | radios | select
    input_type: str = "text"  # for kind "input": text, date, datetime-local, time
    inputmode: str = ""
    required: bool = False
    help: str = ""
    options: tuple[Option, ...] = ()
    datalist: str = ""  # id of a <datalist> suggesting values
    values: tuple[str, ...] = ()  # the current value(s), as posted or by default
    error: str = ""
    unit: str = ""

    @property
    def id(self) -> str:
        return f"in-{self.name}"

    @property
    def value(self) -> str:
        return self.values[0] if self.values else ""

    def option_id(self, option: Option) -> str:
        return f"{self.id}-{option.value or 'unset'}"


def region_options() -> tuple[Option, ...]:
    """Every known region as ``Option("222426", "安图县 222426")``, in code order."""
    return tuple(Option(r.code, f"{r.name} {r.code}") for r in all_regions().values())


def default_values(calc: Calculation) -> dict[str, list[str]]:
    """The values an empty form starts with: the calculation's default region and input defaults."""
    values: dict[str, list[str]] = {DATE: [], REGION: [calc.default_region or ""]}
    for f in calc.inputs:
        values[f.name] = _default_text(f)
    return values


def _default_text(f: Field) -> list[str]:
    if f.default is None:
        return []
    if f.type == "categories":
        return list(f.default)
    if f.type == "bool":
        return [TRUE if f.default else FALSE]
    json_value = f.to_json(f.default)
    return [str(json_value)]


def widgets(calc: Calculation, values: FormData, errors: Mapping[str, str]) -> list[Widget]:
    """The form's controls — date, region, then each input — with values and errors."""
    date_help = "按这一天有效的政策规定计算。"
    if calc.date_input:
        source = next((f.label for f in calc.inputs if f.name == calc.date_input), calc.date_input)
        date_help += f"不填时按“{source}”的日期。"
    region_help = "输入地区名称或六位行政区划代码，可从列表中选择。"
    if calc.default_region:
        name = all_regions()[calc.default_region].name
        region_help += f"不填时按{name}（{calc.default_region}）。"
    out = [
        Widget(DATE, "计算日期", "input", input_type="date", required=calc.date_input is None,
               help=date_help, values=tuple(values.get(DATE, ())), error=errors.get(DATE, "")),
        Widget(REGION, "地区", "input", required=calc.default_region is None, help=region_help,
               datalist="regions", values=tuple(values.get(REGION, ())),
               error=errors.get(REGION, "")),
    ]
    for f in calc.inputs:
        out.append(widget(f, tuple(values.get(f.name, ())), errors.get(f.name, "")))
    return out


def widget(f: Field, values: tuple[str, ...], error: str = "") -> Widget:
    """The control for one typed input."""
    required = f.required and f.default is None and f.type != "categories"
    common: dict[str, Any] = {"name": f.name, "label": f.label, "required": required,
                              "help": f.help, "values": values, "error": error}
    if f.type == "categories":
        options = tuple(Option(key, zh) for key, zh in CATEGORIES.items())
        return Widget(kind="checkboxes", options=options, **common)
    if f.type == "bool":
        if f.default is not None:
            return Widget(kind="checkbox", options=(Option(TRUE, "是"),), **common)
        options = (Option(TRUE, "是"), Option(FALSE, "否"))
        if not f.required:
            options += (Option(UNSET, "不填"),)
            if not values:
                common["values"] = (UNSET,)
        return Widget(kind="radios", options=options, **common)
    if f.type == "enum":
        options = tuple(Option(key, zh) for key, zh in f.choices)
        if len(options) <= RADIO_LIMIT:
            if not required and f.default is None:
                options += (Option(UNSET, "不填"),)
                if not values:
                    common["values"] = (UNSET,)
            return Widget(kind="radios", options=options, **common)
        blank = Option(UNSET, "请选择" if required else "不填")
        return Widget(kind="select", options=(blank, *options), **common)
    if f.type == "date":
        return Widget(kind="input", input_type="date", **common)
    if f.type == "datetime":
        return Widget(kind="input", input_type="datetime-local", **common)
    if f.type == "time":
        return Widget(kind="input", input_type="time", **common)
    if f.type == "money":
        return Widget(kind="input", inputmode="decimal", unit="元", **common)
    if f.type in ("ratio", "number"):
        return Widget(kind="input", inputmode="decimal", **common)
    if f.type == "integer":
        return Widget(kind="input", inputmode="numeric", **common)
    if f.type == "list":
        common["help"] = "；".join(s for s in (f.help, "多个取值用逗号分隔") if s)
    return Widget(kind="input", **common)


@dataclass(frozen=True)
class Submission:
    """A form post as the raw values :func:`minsheng.core.calculation.run` takes."""

    date: str | None
    region: str | None
    inputs: dict[str, Any]


def inputs_from_form(calc: Calculation, form: FormData) -> Submission:
    """Turn a posted form into raw inputs.

    Blank optional inputs are left out (so the calculation's own default applies); a blank
    required input is passed on as blank, so the calculation reports it missing by name.
    Names that are not inputs of the calculation are ignored.
    """
    inputs: dict[str, Any] = {}
    for f in calc.inputs:
        posted = [v for v in form.get(f.name, ()) if v is not None]
        if f.type == "categories":
            inputs[f.name] = [v for v in posted if v.strip()]
            continue
        if f.type == "bool" and f.default is not None:  # a check box: unchecked is "no"
            inputs[f.name] = TRUE if TRUE in posted else FALSE
            continue
        text = posted[0].strip() if posted else ""
        if text or (f.required and f.default is None):
            inputs[f.name] = text
    date = _first(form, DATE)
    region = _first(form, REGION)
    return Submission(date or None, region_code(region) if region else None, inputs)


def region_code(text: str) -> str:
    """The code in "安图县 222426" (or the text itself: a code or a region name)."""
    found = _CODE.search(text)
    return found.group(1) if found else text.strip()


def _first(form: FormData, name: str) -> str:
    posted = form.get(name, ())
    return posted[0].strip() if posted else ""


def field_errors(calc: Calculation, submission: Submission) -> dict[str, str]:
    """Every field's error at once (the calculation itself stops at the first one).

    Each value is parsed exactly as :func:`minsheng.core.calculation.run` parses it, so the
    messages are the same; a form with several mistakes is corrected in one go.
    """
    errors: dict[str, str] = {}
    checks: list[tuple[str, Any]] = []
    if submission.date:
        checks.append((DATE, lambda: parse_date(submission.date, DATE)))
    elif not (calc.date_input and submission.inputs.get(calc.date_input)):
        errors[DATE] = "缺少日期"
    if submission.region:
        checks.append((REGION, lambda: get_region(submission.region, REGION)))
    elif calc.default_region is None:
        errors[REGION] = "缺少地区代码"
    for f in calc.inputs:
        if f.name in submission.inputs:
            checks.append((f.name, lambda f=f: f.parse(submission.inputs[f.name])))
    for name, check in checks:
        try:
            check()
        except InputError as exc:
            errors.setdefault(error_field(exc.field, calc) or name, message_of(exc))
    return errors


def message_of(exc: InputError) -> str:
    """``"region：未知的地区代码"`` → ``"未知的地区代码"`` (the page names the field by its label)."""
    prefix = f"{exc.field}："
    return exc.message[len(prefix):] if exc.message.startswith(prefix) else exc.message


def error_field(field: str, calc: Calculation) -> str | None:
    """The form control an error's field belongs to (``categories[1]`` → ``categories``)."""
    base = _INDEX.sub("", field)
    names = {DATE, REGION, *(f.name for f in calc.inputs)}
    return base if base in names else None
