"""The pages: home, the list of calculators, and one page per calculation.

A calculator page is a plain HTML form: posting it renders the whole page again with the
outputs, the warnings, the explanation step by step and every source cited. With JavaScript,
HTMX posts the same form and swaps in only the calculator part (the server sends that part
alone when the request carries ``HX-Request``). Input errors are shown beside their field
with status 422 — the pages report exactly what the API and the command line report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from minsheng import __version__
from minsheng.core.calculation import Calculation, Result, registry, run
from minsheng.core.errors import InputError, MinshengError, ParameterMissing
from minsheng.core.parameters import Reference, to_text_value
from minsheng.core.regions import all_regions
from minsheng.web import forms

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"

TOPICS: dict[str, str] = {
    "financing": "医保筹资与缴费",
    "assistance": "困难群众医疗保障",
    "medical_assistance": "医疗救助",
    "settlement": "医保结算",
    "remote_care": "异地就医与关系转移接续",
    "student_aid": "助学",
    "toll": "高速公路通行费",
    "straw_feed": "秸秆变肉补贴",
}
"""Chinese headings of the rules modules (topics); an unlisted topic is shown under 其他."""

OTHER_TOPIC = "其他"

router = APIRouter(include_in_schema=False)

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
_env.globals["version"] = __version__
templates = Jinja2Templates(env=_env)


def _page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, template, context, status_code=status)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    paths = {getattr(route, "path", "") for route in request.app.routes}
    calcs = registry()
    return _page(request, "home.html", nav="home", calculation_count=len(calcs),
                 topics=groups(calcs.values()),
                 has_settlement_api=any(p.startswith("/api/v1/settlements") for p in paths),
                 has_docs="/docs" in paths)


@router.get("/calculators", response_class=HTMLResponse)
def calculators(request: Request) -> Response:
    return _page(request, "calculators.html", nav="calculators", topics=groups(registry().values()))


@router.get("/calculators/{name}", response_class=HTMLResponse)
def calculator_page(request: Request, name: str) -> Response:
    calc = registry().get(name)
    if calc is None:
        return _not_found(request, name)
    return _calculator(request, calc, forms.default_values(calc), CalculatorState())


@router.post("/calculators/{name}", response_class=HTMLResponse)
async def calculator_post(request: Request, name: str) -> Response:
    calc = registry().get(name)
    if calc is None:
        return _not_found(request, name)
    posted = await request.form()
    values: dict[str, list[str]] = {k: [v for v in posted.getlist(k) if isinstance(v, str)]
                                    for k in posted}
    return _calculator(request, calc, values, evaluate(calc, values))


@dataclass
class CalculatorState:
    """What a calculator page shows besides its form: a result, or what went wrong."""

    result: ResultView | None = None
    field_errors: dict[str, str] = field(default_factory=dict)
    message: str = ""  # an error that is not about one field (a missing parameter …)
    status: int = 200


def evaluate(calc: Calculation, values: forms.FormData) -> CalculatorState:
    """Run the calculation on a posted form; errors become messages, never tracebacks."""
    submission = forms.inputs_from_form(calc, values)
    errors = forms.field_errors(calc, submission)
    if errors:
        return CalculatorState(field_errors=errors, status=InputError.status)
    try:
        result = run(calc.name, date=submission.date, region=submission.region,
                     inputs=submission.inputs)
    except InputError as exc:
        target = forms.error_field(exc.field, calc)
        if target is None:
            return CalculatorState(message=exc.message, status=exc.status)
        return CalculatorState(field_errors={target: forms.message_of(exc)}, status=exc.status)
    except ParameterMissing as exc:
        return CalculatorState(message=missing_message(exc), status=exc.status)
    except MinshengError as exc:
        return CalculatorState(message=exc.message, status=exc.status)
    return CalculatorState(result=result_view(result))


def missing_message(exc: ParameterMissing) -> str:
    """Name the parameter, the region (with its name) and the date, and say what to do."""
    code = str(exc.details.get("region", ""))
    region = all_regions().get(code)
    where = f"{region.name}（{code}）" if region else code
    return (f"没有找到参数 {exc.name} 在{where}、{exc.details.get('date', '')} 这一天适用的取值："
            "这一日期或地区的政策尚未编码。请换一个日期或地区，或向当地医保经办机构咨询。")


def _calculator(request: Request, calc: Calculation, values: forms.FormData,
                state: CalculatorState) -> Response:
    fields = forms.widgets(calc, values, state.field_errors)
    context = {"calc": calc, "fields": fields, "state": state,
               "topic": TOPICS.get(calc.topic, OTHER_TOPIC),
               "regions": forms.region_options(), "nav": "calculators"}
    partial = request.headers.get("HX-Request") == "true"
    template = "partials/calculator.html" if partial else "calculator.html"
    return _page(request, template, state.status, **context)


def _not_found(request: Request, name: str) -> Response:
    return _page(request, "not_found.html", 404, nav="calculators", name=name)


@dataclass(frozen=True)
class Topic:
    key: str
    title: str
    calculations: list[Calculation]


def groups(calcs: Any) -> list[Topic]:
    """Calculations grouped by topic in the order of :data:`TOPICS`; unlisted topics last, as 其他."""
    by_topic: dict[str, list[Calculation]] = {}
    for calc in calcs:
        key = calc.topic if calc.topic in TOPICS else "other"
        by_topic.setdefault(key, []).append(calc)
    order = [*(t for t in TOPICS if t in by_topic), *(["other"] if "other" in by_topic else [])]
    return [Topic(t, TOPICS.get(t, OTHER_TOPIC), by_topic[t]) for t in order]


@dataclass(frozen=True)
class StepView:
    kind: str  # parameter | compute | rule
    name: str
    description: str
    value: str
    formula: str
    reference: Reference | None
    example: bool = False
    override: bool = False


@dataclass(frozen=True)
class ResultView:
    """A result ready for the template: texts in Chinese, money as ``464.00``."""

    date: str
    region_code: str
    region_name: str
    outputs: list[tuple[str, str, str]]
    warnings: list[str]
    steps: list[StepView]
    sources: list[Reference]


def result_view(result: Result) -> ResultView:
    steps: list[StepView] = []
    for s in result.trace.steps:
        if s.kind == "parameter" and s.resolved is not None:
            r = s.resolved
            steps.append(StepView(s.kind, s.name, s.description, to_text_value(r.unit, r.value),
                                  "", r.reference, r.example, r.override))
        elif s.kind == "compute":
            steps.append(StepView(s.kind, s.name, s.description, to_text_value(s.unit, s.value),
                                  s.formula, s.reference))
        else:
            steps.append(StepView(s.kind, s.name, s.description, "", s.formula, s.reference))
    return ResultView(result.date.isoformat(), result.region.code, result.region.name,
                      result.output_rows(), list(result.warnings), steps, cited_sources(steps))


def cited_sources(steps: list[StepView]) -> list[Reference]:
    """Each distinct (seed file, document number) cited, in order of first use."""
    seen: dict[tuple[str, str], Reference] = {}
    for s in steps:
        ref = s.reference
        if ref is None or s.override:
            continue
        seen.setdefault((ref.source, ref.document), Reference(ref.source, ref.document))
    return list(seen.values())
