"""The trace: why each number is what it is.

A calculation records the parameters it read (value and reference), each intermediate
value with its formula, and the rules it applied. Steps keep raw values and are formatted
only when the trace is rendered — as JSON (for programs) or numbered Chinese text (for people).
"""

from __future__ import annotations

from typing import Any

from minsheng.core.parameters import Reference, Resolved, to_json_value, to_text_value


class Step:
    __slots__ = ("description", "formula", "kind", "name", "reference", "resolved", "unit",
                 "value")

    def __init__(self, kind: str, name: str, description: str, unit: str = "",
                 value: Any = None, formula: str = "", reference: Reference | None = None,
                 resolved: Resolved | None = None) -> None:
        self.kind = kind  # "parameter" | "compute" | "rule"
        self.name = name
        self.description = description
        self.unit = unit
        self.value = value
        self.formula = formula
        self.reference = reference
        self.resolved = resolved

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "name": self.name,
                             "description": self.description}
        if self.kind == "parameter" and self.resolved is not None:
            return self.resolved.step_dict()
        if self.kind == "compute":
            d["value"] = to_json_value(self.unit, self.value)
        if self.formula:
            d["formula"] = self.formula
        if self.reference is not None:
            d["reference"] = self.reference.to_dict()
        return d

    def to_text(self) -> str:
        if self.kind == "parameter" and self.resolved is not None:
            r = self.resolved
            tag = "（示例值）" if r.example else ("（本次假设值）" if r.override else "")
            value = to_text_value(r.unit, r.value)
            return f"{self.description} [{self.name}] = {value}{tag}  —— 出处：{r.reference.cite()}"
        if self.kind == "compute":
            formula = f"：{self.formula}" if self.formula else ""
            return f"{self.description}{formula} = {to_text_value(self.unit, self.value)}"
        cite = f"  —— 出处：{self.reference.cite()}" if self.reference else ""
        return f"{self.description}{cite}"


class Trace:
    __slots__ = ("_seen", "steps")

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self._seen: set[str] = set()

    def parameter(self, resolved: Resolved) -> None:
        if resolved.name in self._seen:
            return
        self._seen.add(resolved.name)
        self.steps.append(Step("parameter", resolved.name, resolved.description,
                               resolved=resolved))

    def compute(self, name: str, description: str, unit: str, value: Any,
                formula: str = "") -> None:
        self.steps.append(Step("compute", name, description, unit, value, formula))

    def rule(self, name: str, description: str, reference: Reference | None = None) -> None:
        self.steps.append(Step("rule", name, description, reference=reference))

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.steps]

    def to_text(self) -> str:
        return "\n".join(f"{i}. {s.to_text()}" for i, s in enumerate(self.steps, 1))

    def sources(self) -> list[str]:
        """The distinct sources cited (seed files first use first)."""
        found: list[str] = []
        for s in self.steps:
            ref = s.resolved.reference if s.resolved is not None else s.reference
            if ref is not None and ref.source not in found:
                found.append(ref.source)
        return found


class NullTrace(Trace):
    """A trace that records nothing (bulk runs)."""

    __slots__ = ()

    def parameter(self, resolved: Resolved) -> None:
        return None

    def compute(self, name: str, description: str, unit: str, value: Any,
                formula: str = "") -> None:
        return None

    def rule(self, name: str, description: str, reference: Reference | None = None) -> None:
        return None
