"""The trace: why each number is what it is.

A calculation records the parameters it read (value and reference), the inputs it used,
each intermediate value with its formula, and the rules it applied. The trace renders as
JSON (for programs) and as numbered Chinese text (for people).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minsheng.core.parameters import Reference, Resolved, to_json_value, to_text_value


@dataclass
class Step:
    kind: str  # "parameter" | "compute" | "rule"
    name: str
    description: str
    value: Any = None
    text_value: str = ""
    formula: str = ""
    reference: Reference | None = None
    example: bool = False
    override: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "name": self.name,
                             "description": self.description}
        if self.kind != "rule":
            d["value"] = self.value
        if self.formula:
            d["formula"] = self.formula
        if self.reference is not None:
            d["reference"] = self.reference.to_dict()
        if self.kind == "parameter":
            d["example"] = self.example
            if self.override:
                d["override"] = True
        return d

    def to_text(self) -> str:
        if self.kind == "parameter":
            tag = "（示例值）" if self.example else ("（本次假设值）" if self.override else "")
            cite = f"  —— 出处：{self.reference.cite()}" if self.reference else ""
            return f"{self.description} [{self.name}] = {self.text_value}{tag}{cite}"
        if self.kind == "compute":
            formula = f"：{self.formula}" if self.formula else ""
            return f"{self.description}{formula} = {self.text_value}"
        cite = f"  —— 出处：{self.reference.cite()}" if self.reference else ""
        return f"{self.description}{cite}"


@dataclass
class Trace:
    steps: list[Step] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    def parameter(self, resolved: Resolved) -> None:
        if resolved.name in self._seen:
            return
        self._seen.add(resolved.name)
        self.steps.append(Step(
            "parameter", resolved.name, resolved.description, resolved.display(),
            to_text_value(resolved.unit, resolved.value), reference=resolved.reference,
            example=resolved.example, override=resolved.override))

    def compute(self, name: str, description: str, unit: str, value: Any,
                formula: str = "") -> None:
        self.steps.append(Step("compute", name, description, to_json_value(unit, value),
                               to_text_value(unit, value), formula))

    def rule(self, name: str, description: str, reference: Reference | None = None) -> None:
        self.steps.append(Step("rule", name, description, reference=reference))

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.steps]

    def to_text(self) -> str:
        return "\n".join(f"{i}. {s.to_text()}" for i, s in enumerate(self.steps, 1))

    def sources(self) -> list[str]:
        """The distinct seed files and documents cited, in order of first use."""
        found: list[str] = []
        for s in self.steps:
            if s.reference and s.reference.source not in found:
                found.append(s.reference.source)
        return found


class NullTrace(Trace):
    """A trace that records nothing (bulk runs)."""

    def parameter(self, resolved: Resolved) -> None:
        return None

    def compute(self, name: str, description: str, unit: str, value: Any,
                formula: str = "") -> None:
        return None

    def rule(self, name: str, description: str, reference: Reference | None = None) -> None:
        return None
