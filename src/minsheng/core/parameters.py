"""Dated, cited policy parameters, loaded from YAML and looked up by name, date and region.

A parameter file lives under ``src/minsheng/parameters/<jurisdiction>/<topic>.yaml``::

    jurisdiction: "220000"          # default region of the values in this file
    parameters:
      medical.financing.resident.fiscal_subsidy.total:
        description: 城乡居民医保人均财政补助标准（元/人·年）
        unit: money
        values:
          - from: 2021-01-01
            to: 2021-12-31          # optional, inclusive
            region: "222400"        # optional, else the file's jurisdiction
            value: "580.00"         # null means "none": no cap, no deductible, no ratio
            reference:
              source: 000_41bda435cb7595ae.txt
              document: 医保发〔2021〕32号
              clause: 人均财政补助标准新增30元，达到每人每年580元
            example: false          # true marks a value for demonstrations only

Lookup walks the region tree upwards (a county inherits its prefecture's and its
province's values unless it has its own). A parameter with no value in force is an error
naming parameter, region and date. What-if overrides replace a value for one run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from minsheng.core.errors import InputError, ParameterFileError, ParameterMissing
from minsheng.core.money import format_fen, format_ratio, parse_fen, parse_ratio
from minsheng.core.regions import all_regions, lineage

UNITS = ("money", "ratio", "integer", "number", "bool", "text", "date", "brackets", "list")
ENTRY_KEYS = {"from", "to", "region", "value", "reference", "example", "note"}
REFERENCE_KEYS = {"source", "document", "clause", "date", "note", "url"}
PARAMETER_KEYS = {"description", "unit", "values", "description_en"}


@dataclass(frozen=True)
class Bracket:
    """One band of a progressive schedule: from ``lower`` fen (above the deductible) at ``ratio``."""

    lower: int
    ratio: Fraction


@dataclass(frozen=True)
class Reference:
    source: str
    document: str = ""
    clause: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, str]:
        return dict(self._dict)

    @cached_property
    def _dict(self) -> dict[str, str]:
        d = {"source": self.source, "document": self.document, "clause": self.clause,
             "note": self.note}
        return {k: v for k, v in d.items() if v}

    def cite(self) -> str:
        """A short citation in Chinese: ``000_41bda435cb7595ae.txt《医保发〔2021〕32号》 …``."""
        parts = [self.source]
        if self.document:
            parts.append(self.document)
        if self.clause:
            parts.append(f"“{self.clause}”")
        return "，".join(parts)


OVERRIDE_REFERENCE = Reference(source="override", note="本次运行的假设值（what-if override）")


@dataclass(frozen=True)
class Entry:
    start: dt.date
    end: dt.date | None
    region: str
    value: Any
    reference: Reference
    example: bool
    file: str

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Declaration:
    name: str
    unit: str
    description: str


@dataclass(frozen=True)
class Resolved:
    """A parameter value in force, with where it came from."""

    name: str
    unit: str
    description: str
    value: Any
    reference: Reference
    example: bool = False
    override: bool = False
    region: str = ""
    start: dt.date | None = None
    end: dt.date | None = None

    def display(self) -> Any:
        return self._display

    def step_dict(self) -> dict[str, Any]:
        """This value as a trace step (a fresh dict; built once per resolved value)."""
        return dict(self._step)

    @cached_property
    def _step(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": "parameter", "name": self.name,
                             "description": self.description, "value": self.display(),
                             "reference": self.reference.to_dict(), "example": self.example}
        if self.override:
            d["override"] = True
        return d

    @cached_property
    def _display(self) -> Any:
        return to_json_value(self.unit, self.value)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name, "description": self.description, "unit": self.unit,
            "value": self.display(), "reference": self.reference.to_dict(),
            "example": self.example,
        }
        if self.override:
            d["override"] = True
        else:
            d["region"] = self.region
            d["from"] = self.start.isoformat() if self.start else None
            d["to"] = self.end.isoformat() if self.end else None
        return d


def to_json_value(unit: str, value: Any) -> Any:
    """A parameter value as CONTRACT.md writes it in JSON (money as ``"580.00"``)."""
    if value is None:
        return None
    if unit == "money":
        return format_fen(value)
    if unit in ("ratio", "number"):
        return float(value) if value.denominator != 1 else int(value)
    if unit == "date":
        return value.isoformat()
    if unit == "brackets":
        return [{"from": format_fen(b.lower), "ratio": float(b.ratio)} for b in value]
    if unit == "list":
        return list(value)
    return value


def to_text_value(unit: str, value: Any) -> str:
    if value is None:
        return "无"
    if unit == "money":
        return format_fen(value)
    if unit in ("ratio", "number"):
        return format_ratio(value)
    if unit == "bool":
        return "是" if value else "否"
    if unit == "brackets":
        return "；".join(f"{format_fen(b.lower)} 以上 {format_ratio(b.ratio)}" for b in value)
    if unit == "list":
        return "、".join(str(v) for v in value)
    return str(value)


def parse_value(unit: str, raw: Any, where: str) -> Any:
    """Parse a raw YAML/JSON/CLI value for ``unit``; ``None`` stays none. Raises InputError."""
    if raw is None:
        return None
    if unit == "money":
        return parse_fen(raw, where)
    if unit in ("ratio", "number"):
        r = parse_ratio(raw, where)
        if unit == "ratio" and r < 0:
            raise InputError(where, f"比例不能为负：{raw!r}", "ratio must not be negative")
        return r
    if unit == "integer":
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise InputError(where, f"应为整数：{raw!r}", "expected an integer")
        try:
            return int(raw)
        except ValueError:
            raise InputError(where, f"应为整数：{raw!r}", "expected an integer") from None
    if unit == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise InputError(where, f"应为 true 或 false：{raw!r}", "expected a boolean")
    if unit == "text":
        if not isinstance(raw, str):
            raise InputError(where, f"应为文本：{raw!r}", "expected text")
        return raw
    if unit == "date":
        if isinstance(raw, dt.date):
            return raw
        try:
            return dt.date.fromisoformat(str(raw))
        except ValueError:
            raise InputError(where, f"应为日期：{raw!r}", "expected a date") from None
    if unit == "brackets":
        if isinstance(raw, str):
            import json

            try:
                raw = json.loads(raw)
            except ValueError:
                raise InputError(where, "应为 JSON 列表 [{from, ratio}, …]",
                                 "expected a JSON list of {from, ratio}") from None
        if not isinstance(raw, list) or not raw:
            raise InputError(where, "应为非空列表 [{from, ratio}, …]",
                             "expected a non-empty list of {from, ratio}")
        brackets: list[Bracket] = []
        for i, item in enumerate(raw):
            if not isinstance(item, Mapping) or set(item) != {"from", "ratio"}:
                raise InputError(f"{where}[{i}]", "每一段应有且只有 from 与 ratio",
                                 "each bracket needs exactly from and ratio")
            b = Bracket(parse_fen(item["from"], f"{where}[{i}].from"),
                        parse_ratio(item["ratio"], f"{where}[{i}].ratio"))
            if brackets and b.lower <= brackets[-1].lower:
                raise InputError(f"{where}[{i}].from", "各段起点须递增",
                                 "bracket lower bounds must increase")
            brackets.append(b)
        if brackets[0].lower != 0:
            raise InputError(f"{where}[0].from", "第一段须从 0 开始", "first bracket starts at 0")
        return tuple(brackets)
    if unit == "list":
        if isinstance(raw, str):
            return tuple(s.strip() for s in raw.split(",") if s.strip())
        if not isinstance(raw, list):
            raise InputError(where, "应为列表", "expected a list")
        return tuple(str(s) for s in raw)
    raise InputError(where, f"未知单位 {unit}", f"unknown unit {unit}")


_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed


class _Loader(_SafeBase):  # type: ignore[misc]
    """A safe loader (libyaml's parser when available) that leaves dates as text, so a bad
    date is reported with its key."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(eq=False)
class ParameterStore:
    """Every declared parameter and its dated values, indexed by name and region."""

    declarations: dict[str, Declaration] = field(default_factory=dict)
    entries: dict[str, dict[str, list[Entry]]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    # -- loading -----------------------------------------------------------------------
    def load_file(self, path: Path | Any, label: str) -> None:
        try:
            doc = yaml.load(path.read_text("utf-8"), Loader=_Loader)
        except yaml.YAMLError as exc:
            raise ParameterFileError(label, "(YAML)", f"不是有效的 YAML：{exc}") from None
        self.load_document(doc, label)

    def load_document(self, doc: Any, label: str) -> None:
        if not isinstance(doc, dict):
            raise ParameterFileError(label, "(文件)", "顶层应为映射（jurisdiction, parameters）")
        unknown = set(doc) - {"jurisdiction", "parameters", "description", "references"}
        if unknown:
            raise ParameterFileError(label, sorted(unknown)[0], "未知的顶层键")
        jurisdiction = str(doc.get("jurisdiction", ""))
        if jurisdiction not in all_regions():
            raise ParameterFileError(label, "jurisdiction", f"未知的地区代码 {jurisdiction!r}")
        params = doc.get("parameters")
        if not isinstance(params, dict) or not params:
            raise ParameterFileError(label, "parameters", "应为非空映射")
        staged: list[tuple[Declaration, list[Entry]]] = []
        for name, spec in params.items():
            staged.append(self._parse_parameter(label, jurisdiction, str(name), spec))
        for decl, entries in staged:
            self._add(label, decl, entries)
        self.files.append(label)

    def _parse_parameter(self, label: str, jurisdiction: str, name: str,
                         spec: Any) -> tuple[Declaration, list[Entry]]:
        if not isinstance(spec, dict):
            raise ParameterFileError(label, name, "应为映射（description, unit, values）")
        unknown = set(spec) - PARAMETER_KEYS
        if unknown:
            raise ParameterFileError(label, f"{name}.{sorted(unknown)[0]}", "未知的键")
        unit = spec.get("unit")
        if unit not in UNITS:
            raise ParameterFileError(label, f"{name}.unit",
                                     f"单位应为 {'/'.join(UNITS)} 之一，收到 {unit!r}")
        description = spec.get("description")
        if not isinstance(description, str) or not description.strip():
            raise ParameterFileError(label, f"{name}.description", "缺少说明")
        values = spec.get("values")
        if not isinstance(values, list):
            raise ParameterFileError(label, f"{name}.values", "应为列表（可为空：只声明）")
        entries = [self._parse_entry(label, jurisdiction, name, unit, i, raw)
                   for i, raw in enumerate(values)]
        return Declaration(name, unit, description.strip()), entries

    def _parse_entry(self, label: str, jurisdiction: str, name: str, unit: str, i: int,
                     raw: Any) -> Entry:
        key = f"{name}.values[{i}]"
        if not isinstance(raw, dict):
            raise ParameterFileError(label, key, "应为映射（from, value, reference）")
        unknown = set(raw) - ENTRY_KEYS
        if unknown:
            raise ParameterFileError(label, f"{key}.{sorted(unknown)[0]}", "未知的键")
        start = _date_field(label, f"{key}.from", raw.get("from"), required=True)
        end = _date_field(label, f"{key}.to", raw.get("to"), required=False)
        assert start is not None
        if end is not None and end < start:
            raise ParameterFileError(label, f"{key}.to", f"结束日期 {end} 早于开始日期 {start}")
        region = str(raw.get("region", jurisdiction))
        if region not in all_regions():
            raise ParameterFileError(label, f"{key}.region", f"未知的地区代码 {region!r}")
        if "value" not in raw:
            raise ParameterFileError(label, f"{key}.value", "缺少取值（无上限等请写 null）")
        try:
            value = parse_value(unit, raw["value"], f"{key}.value")
        except InputError as exc:
            raise ParameterFileError(label, f"{key}.value", exc.message) from None
        reference = _reference(label, f"{key}.reference", raw.get("reference"))
        example = raw.get("example", False)
        if not isinstance(example, bool):
            raise ParameterFileError(label, f"{key}.example", "应为 true 或 false")
        if example and "示例" not in reference.note and "example" not in reference.note.lower():
            raise ParameterFileError(label, f"{key}.reference.note",
                                     "示例值的出处须写明它是示例（example）")
        return Entry(start, end, region, value, reference, example, label)

    def _add(self, label: str, decl: Declaration, entries: list[Entry]) -> None:
        known = self.declarations.get(decl.name)
        if known is not None and known.unit != decl.unit:
            raise ParameterFileError(label, f"{decl.name}.unit",
                                     f"与已声明的单位 {known.unit} 不一致")
        if known is None:
            self.declarations[decl.name] = decl
        by_region = self.entries.setdefault(decl.name, {})
        for e in entries:
            listed = by_region.setdefault(e.region, [])
            for other in listed:
                if _overlap(e, other):
                    raise ParameterFileError(
                        label, decl.name,
                        f"地区 {e.region} 的取值期间重叠：{e.start}～{e.end or '…'} 与 "
                        f"{other.start}～{other.end or '…'}（{other.file}）")
            listed.append(e)
            listed.sort(key=lambda x: x.start)
        self._lookup.cache_clear()

    # -- lookup ------------------------------------------------------------------------
    def declaration(self, name: str) -> Declaration:
        decl = self.declarations.get(name)
        if decl is None:
            raise InputError(name, "未知的参数名", "unknown parameter")
        return decl

    def get(self, name: str, day: dt.date, region: str) -> Resolved:
        return self._lookup(name, day, region)

    @cache  # noqa: B019 - the store is immutable once loaded; cache_clear on every load
    def _lookup(self, name: str, day: dt.date, region: str) -> Resolved:
        decl = self.declaration(name)
        by_region = self.entries.get(name, {})
        for code in lineage(region):
            for e in by_region.get(code, ()):
                if e.covers(day):
                    return Resolved(name, decl.unit, decl.description, e.value, e.reference,
                                    e.example, False, e.region, e.start, e.end)
        raise ParameterMissing(name, region, day.isoformat())

    def in_force(self, day: dt.date, region: str, prefix: str = "") -> list[Resolved]:
        """Every parameter with a value in force on ``day`` in ``region`` (sorted by name)."""
        found = []
        for name in sorted(self.declarations):
            if not name.startswith(prefix):
                continue
            try:
                found.append(self.get(name, day, region))
            except ParameterMissing:
                continue
        return found

    def parse_overrides(self, raw: Mapping[str, Any], field_prefix: str = "parameters"
                        ) -> dict[str, Any]:
        """Parse what-if overrides ``{name: raw value}`` with each parameter's unit."""
        parsed: dict[str, Any] = {}
        for name, value in raw.items():
            decl = self.declarations.get(name)
            if decl is None:
                raise InputError(f"{field_prefix}.{name}", "未知的参数名", "unknown parameter")
            parsed[name] = parse_value(decl.unit, value, f"{field_prefix}.{name}")
        return parsed


def _overlap(a: Entry, b: Entry) -> bool:
    a_end = a.end or dt.date.max
    b_end = b.end or dt.date.max
    return a.start <= b_end and b.start <= a_end


def _date_field(label: str, key: str, raw: Any, *, required: bool) -> dt.date | None:
    if raw is None:
        if required:
            raise ParameterFileError(label, key, "缺少日期")
        return None
    if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
        return raw
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise ParameterFileError(label, key, f"不是日期（YYYY-MM-DD）：{raw!r}") from None


def _reference(label: str, key: str, raw: Any) -> Reference:
    if not isinstance(raw, dict):
        raise ParameterFileError(label, key, "每个取值都须注明出处（source, document, clause）")
    unknown = set(raw) - REFERENCE_KEYS
    if unknown:
        raise ParameterFileError(label, f"{key}.{sorted(unknown)[0]}", "未知的键")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ParameterFileError(label, f"{key}.source", "缺少出处（种子文件名或其他来源）")
    return Reference(source.strip(), str(raw.get("document") or ""),
                     str(raw.get("clause") or ""), str(raw.get("note") or ""))


def load_directory(root: Any, label_root: str = "") -> ParameterStore:
    """Load every ``*.yaml`` below ``root`` (a Path or an importlib Traversable)."""
    store = ParameterStore()
    for path, label in sorted(_walk(root, label_root), key=lambda t: t[1]):
        store.load_file(path, label)
    return store


def _walk(root: Any, prefix: str) -> Iterable[tuple[Any, str]]:
    for child in root.iterdir():
        label = f"{prefix}{child.name}"
        if child.is_dir():
            yield from _walk(child, label + "/")
        elif child.name.endswith((".yaml", ".yml")):
            yield child, label


@cache
def default_store() -> ParameterStore:
    """The parameters shipped with minsheng (``src/minsheng/parameters``), loaded once."""
    return load_directory(resources.files("minsheng").joinpath("parameters"))


@dataclass
class ParameterView:
    """The parameters seen by one run: the store plus what-if overrides."""

    store: ParameterStore
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str, day: dt.date, region: str) -> Resolved:
        if name in self.overrides:
            decl = self.store.declaration(name)
            return Resolved(name, decl.unit, decl.description, self.overrides[name],
                            OVERRIDE_REFERENCE, override=True)
        return self.store.get(name, day, region)

