"""The region tree: GB/T 2260 administrative division codes with names and parents.

The table (``regions.csv``, copied from ``shared/data/regions.csv``) holds every unit
POLICY.md names, every county-level unit of 长春市 and 延边朝鲜族自治州, and 山西省/太原市.
A region inherits the parameters of the regions above it unless it overrides them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from minsheng.core.errors import InputError


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    parent: str | None
    note: str

    @property
    def level(self) -> str:
        if self.code.endswith("0000"):
            return "province"
        if self.code.endswith("00"):
            return "prefecture"
        return "county"


@cache
def all_regions() -> dict[str, Region]:
    text = resources.files("minsheng.core").joinpath("regions.csv").read_text("utf-8")
    regions: dict[str, Region] = {}
    for row in csv.DictReader(text.splitlines()):
        regions[row["code"]] = Region(row["code"], row["name"], row["parent"] or None,
                                      row.get("note") or "")
    return regions


def get_region(code: object, field: str = "region") -> Region:
    """The region with this 6-digit code; an unknown code is an error naming the field."""
    text = str(code).strip()
    region = all_regions().get(text)
    if region is None:
        by_name = {r.name: r for r in all_regions().values()}
        region = by_name.get(text)
    if region is None:
        raise InputError(field, f"未知的地区代码 {text!r}（GB/T 2260 六位代码）",
                         f"unknown region code {text!r}")
    return region


@cache
def lineage(code: str) -> tuple[str, ...]:
    """The code and its ancestors, nearest first: ``222426 → (222426, 222400, 220000)``."""
    chain: list[str] = []
    current: str | None = get_region(code).code
    while current is not None:
        chain.append(current)
        current = all_regions()[current].parent
    return tuple(chain)


def is_within(code: str, ancestor: str) -> bool:
    """Whether ``code`` is ``ancestor`` or lies below it."""
    return ancestor in lineage(code)


def province_of(code: str) -> str:
    return lineage(code)[-1]


def children(code: str) -> list[Region]:
    return [r for r in all_regions().values() if r.parent == code]
