"""The registry of calculations, their typed inputs and outputs, and how one is run.

A rules module declares a calculation with :func:`calculation`; the CLI, the HTTP API and
the pages are generated from the registry, so every face parses inputs, reports errors
and formats outputs the same way::

    @calculation(
        "resident_contribution", title="城乡居民医保个人缴费标准",
        inputs=[Field("age", "integer", "年龄"), Field("is_student", "bool", "是否在校学生")],
        outputs=[Field("amount", "money", "个人缴费（元/年）")],
    )
    def resident_contribution(ctx: Context, age: int, is_student: bool) -> dict[str, Any]:
        ...
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from minsheng.core.categories import CATEGORIES, parse_categories
from minsheng.core.dates import parse_date, parse_datetime
from minsheng.core.errors import InputError, NotFound
from minsheng.core.money import format_fen, parse_fen
from minsheng.core.parameters import (
    ParameterStore,
    ParameterView,
    Reference,
    Resolved,
    default_store,
    parse_value,
    to_json_value,
    to_text_value,
)
from minsheng.core.regions import Region, get_region
from minsheng.core.trace import NullTrace, Trace

FIELD_TYPES = ("money", "ratio", "integer", "number", "bool", "text", "date", "datetime",
               "time", "enum", "categories", "list")


@dataclass(frozen=True)
class Field:
    """A typed input or output of a calculation."""

    name: str
    type: str
    label: str
    required: bool = True
    default: Any = None
    choices: tuple[tuple[str, str], ...] = ()  # (key, 中文) for enums
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"unknown field type {self.type}")

    def parse(self, raw: Any) -> Any:
        """Parse a raw value (JSON value or command-line string), naming this field on error."""
        name = self.name
        if self.type == "categories":
            return parse_categories(raw, name)
        if raw is None or (isinstance(raw, str) and raw.strip() == "" and self.type != "text"):
            raise InputError(name, "缺少取值", "missing value")
        if self.type == "money":
            value: Any = parse_fen(raw, name)
        elif self.type == "date":
            value = parse_date(raw, name)
        elif self.type == "datetime":
            value = parse_datetime(raw, name)
        elif self.type == "time":
            value = _parse_time(raw, name)
        elif self.type == "enum":
            value = self._parse_choice(raw)
        elif self.type in ("integer", "number", "ratio", "bool", "text", "list"):
            unit = self.type
            if isinstance(raw, str) and self.type == "bool":
                raw = {"是": "true", "否": "false", "1": "true", "0": "false"}.get(raw.strip(), raw)
            if isinstance(raw, float) and self.type == "integer" and raw.is_integer():
                raw = int(raw)
            value = parse_value(unit, raw, name)
            if self.type in ("integer", "number", "ratio"):
                if self.minimum is not None and value < self.minimum:
                    raise InputError(name, f"不能小于 {self.minimum:g}：{raw!r}",
                                     f"must be at least {self.minimum:g}")
                if self.maximum is not None and value > self.maximum:
                    raise InputError(name, f"不能大于 {self.maximum:g}：{raw!r}",
                                     f"must be at most {self.maximum:g}")
        else:  # pragma: no cover - guarded by __post_init__
            raise InputError(name, f"未知类型 {self.type}")
        return value

    def _parse_choice(self, raw: Any) -> str:
        text = str(raw).strip()
        for key, zh in self.choices:
            if text in (key, zh):
                return key
        options = "、".join(f"{k}（{zh}）" for k, zh in self.choices)
        raise InputError(self.name, f"取值 {text!r} 不在可选范围内：{options}",
                         f"{text!r} is not one of {', '.join(k for k, _ in self.choices)}")

    def to_json(self, value: Any) -> Any:
        if value is None:
            return None
        if self.type == "money":
            return format_fen(value)
        if self.type in ("date", "datetime", "time"):
            return value.isoformat()
        if self.type == "categories":
            return list(value)
        if self.type in ("ratio", "number"):
            return to_json_value(self.type, value)
        return value

    def to_text(self, value: Any) -> str:
        if value is None:
            return "—"
        if self.type == "enum":
            return dict(self.choices).get(value, str(value))
        if self.type == "categories":
            return "、".join(CATEGORIES[k] for k in value) or "无"
        if self.type in ("date", "datetime", "time"):
            return str(value.isoformat())
        if self.type in ("money", "ratio", "number", "bool", "list"):
            return to_text_value(self.type, value)
        return str(value)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "type": self.type, "label": self.label,
                             "required": self.required}
        if self.default is not None:
            d["default"] = self.to_json(self.default)
        if self.choices:
            d["choices"] = [{"key": k, "label": zh} for k, zh in self.choices]
        if self.type == "categories":
            d["choices"] = [{"key": k, "label": zh} for k, zh in CATEGORIES.items()]
        if self.help:
            d["help"] = self.help
        return d


def _parse_time(raw: Any, name: str) -> dt.time:
    if isinstance(raw, dt.time):
        return raw
    try:
        return dt.time.fromisoformat(str(raw).strip())
    except ValueError:
        raise InputError(name, f"时间应为 HH:MM 格式：{raw!r}", "expected HH:MM") from None


class Context:
    """What a formula sees: the date, the region, the parameters, and the trace it writes."""

    __slots__ = ("date", "params", "region", "region_code", "trace", "warnings")

    def __init__(self, date: dt.date, region: Region, params: ParameterView,
                 trace: Trace | None = None) -> None:
        self.date = date
        self.region = region
        self.region_code = region.code
        self.params = params
        self.trace = trace if trace is not None else Trace()
        self.warnings: list[str] = []

    def resolve(self, name: str, day: dt.date | None = None) -> Resolved:
        """The parameter in force (recorded in the trace; an example value adds a warning)."""
        resolved = self.params.get(name, day or self.date, self.region_code)
        self.trace.parameter(resolved)
        if resolved.example:
            warning = (f"参数 {name} 使用了示例值 {to_text_value(resolved.unit, resolved.value)}"
                       f"（非政策原文，仅供演示：{resolved.reference.note or resolved.reference.source}）")
            if warning not in self.warnings:
                self.warnings.append(warning)
        return resolved

    def param(self, name: str, day: dt.date | None = None) -> Any:
        return self.resolve(name, day).value

    def compute(self, name: str, description: str, unit: str, value: Any,
                formula: str = "") -> Any:
        self.trace.compute(name, description, unit, value, formula)
        return value

    def rule(self, name: str, description: str, reference: Reference | None = None) -> None:
        self.trace.rule(name, description, reference)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


Formula = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Calculation:
    name: str
    title: str
    description: str
    inputs: tuple[Field, ...]
    outputs: tuple[Field, ...]
    formula: Formula
    topic: str
    default_region: str | None = None
    sources: tuple[str, ...] = ()
    date_input: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "description": self.description,
            "topic": self.topic, "sources": list(self.sources),
            "default_region": self.default_region, "date_input": self.date_input,
            "inputs": [f.describe() for f in self.inputs],
            "outputs": [f.describe() for f in self.outputs],
        }

    def parse_inputs(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        known = {f.name for f in self.inputs}
        for key in raw:
            if key not in known:
                allowed = "、".join(sorted(known)) or "（无）"
                raise InputError(key, f"计算 {self.name} 没有这个输入（可用：{allowed}）",
                                 f"{self.name} has no such input")
        parsed: dict[str, Any] = {}
        for f in self.inputs:
            if f.name in raw and not (raw[f.name] is None and not f.required):
                parsed[f.name] = f.parse(raw[f.name])
            elif f.required and f.default is None and f.type != "categories":
                raise InputError(f.name, "缺少必填输入", "required input missing")
            else:
                parsed[f.name] = f.default if f.type != "categories" or f.default else ()
        return parsed


_REGISTRY: dict[str, Calculation] = {}


def calculation(name: str, *, title: str, inputs: list[Field] | tuple[Field, ...] = (),
                outputs: list[Field] | tuple[Field, ...], description: str = "",
                default_region: str | None = None, sources: tuple[str, ...] = (),
                date_input: str | None = None) -> Callable[[Formula], Formula]:
    """Register a formula as a calculation under ``name`` (a CONTRACT.md name).

    ``default_region`` is used when no region is given; ``date_input`` names an input
    (a date or date-time) whose date is used when no ``date`` is given.
    """

    def register(formula: Formula) -> Formula:
        if name in _REGISTRY and _REGISTRY[name].formula is not formula:
            raise ValueError(f"calculation {name} registered twice")
        topic = formula.__module__.rsplit(".", 1)[-1]
        _REGISTRY[name] = Calculation(name, title, description, tuple(inputs), tuple(outputs),
                                      formula, topic, default_region, sources, date_input)
        return formula

    return register


@cache
def registry() -> dict[str, Calculation]:
    """Every registered calculation, by name (importing every rules module once)."""
    import minsheng.rules as rules

    for info in pkgutil.iter_modules(rules.__path__):
        importlib.import_module(f"minsheng.rules.{info.name}")
    return dict(sorted(_REGISTRY.items()))


def get_calculation(name: str) -> Calculation:
    calc = registry().get(name)
    if calc is None:
        raise NotFound(f"未知的计算：{name}（minsheng calc --list 列出全部）",
                       f"unknown calculation {name}", calculation=name)
    return calc


@dataclass
class Result:
    calculation: Calculation
    date: dt.date
    region: Region
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    warnings: list[str]
    trace: Trace
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        fields = {f.name: f for f in self.calculation.outputs}
        outputs = {k: (fields[k].to_json(v) if k in fields else v)
                   for k, v in self.outputs.items()}
        return {"name": self.calculation.name, "date": self.date.isoformat(),
                "region": self.region.code, "outputs": outputs, "warnings": self.warnings,
                "trace": self.trace.to_json()}

    def output_rows(self) -> list[tuple[str, str, str]]:
        """``(name, 中文标签, value as text)`` for each output, in declared order."""
        rows = []
        for f in self.calculation.outputs:
            if f.name in self.outputs:
                rows.append((f.name, f.label, f.to_text(self.outputs[f.name])))
        return rows

    def explain(self) -> str:
        return self.trace.to_text()


def run(name: str, *, date: Any, region: Any, inputs: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None, store: ParameterStore | None = None,
        trace: bool = True) -> Result:
    """Run one calculation from raw values; every bad value raises an error naming it."""
    calc = get_calculation(name)
    if region is None or region == "":
        if calc.default_region is None:
            raise InputError("region", "缺少地区代码", "region required")
        region = calc.default_region
    reg = get_region(region, "region")
    parsed = calc.parse_inputs(inputs or {})
    if (date is None or date == "") and calc.date_input and parsed.get(calc.date_input):
        date = parsed[calc.date_input]
    if date is None or date == "":
        raise InputError("date", "缺少日期", "date required")
    day = parse_date(date, "date")
    store = store or default_store()
    overrides = store.parse_overrides(parameters or {})
    ctx = Context(day, reg, ParameterView(store, overrides), Trace() if trace else NullTrace())
    outputs = calc.formula(ctx, **parsed)
    return Result(calc, day, reg, parsed, outputs, ctx.warnings, ctx.trace)
