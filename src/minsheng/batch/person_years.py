"""Per person-year results of a batch: the year's totals and the watch list (POLICY.md §3.5).

The totals are the kernel's accumulators after the batch (:data:`ACCUMULATOR_FIELDS`).
The watch list follows :func:`minsheng.rules.assistance.watch_list_status` exactly: it is
called once per distinct (region, categories, parameter period) to learn the threshold
and the list a burden above it leads to, and every person-year is then compared with
"strictly greater than", as that function does. The date is the person-year's last claim.
Where the monitoring parameters are not encoded (say, for a Jilin region), the list is
left empty and a warning names the missing parameter, region and date — never a guess.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from minsheng.core.calculation import Context
from minsheng.core.errors import ParameterMissing
from minsheng.core.parameters import ParameterView
from minsheng.core.regions import get_region
from minsheng.core.trace import NullTrace
from minsheng.rules.assistance import watch_list_status
from minsheng.rules.settlement import I64
from minsheng.rules.settlement_params import (
    mask_categories,
    number_day,
    period_breaks,
)

MONITORING_PREFIX = "medical.monitoring."
WATCH_MISSING = "监测名单未计算"
WATCH_LABELS = {"relapse_watch": "因病返贫监测", "impoverish_watch": "因病致贫监测", "none": "未纳入"}


@dataclass
class WatchLists:
    """Per person-year: list key (``None`` where not encoded) and threshold in fen (−1: none)."""

    key: list[str | None]
    threshold: I64
    warnings: list[str]
    missing: set[tuple[str, str, str]] = field(default_factory=set)
    """(parameter, region, date) of each lookup that found no encoded value."""

    def counts(self) -> dict[str, int]:
        out = {"relapse_watch": 0, "impoverish_watch": 0, "none": 0, "unknown": 0}
        for k in self.key:
            out[k or "unknown"] += 1
        return out


def watch_lists(region: I64, categories: npt.NDArray[np.uint16], day: I64, burden: I64,
                view: ParameterView) -> WatchLists:
    """The watch list of each person-year from its region, categories, last day and burden."""
    n = len(region)
    breaks = period_breaks(view, MONITORING_PREFIX)
    period = np.searchsorted(breaks, day, side="right")
    keys = np.stack([region.astype(np.int64), categories.astype(np.int64), period], axis=1)
    if n == 0:
        return WatchLists([], np.zeros(0, np.int64), [])
    distinct, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    above_key: list[str | None] = []
    thresholds = np.full(len(distinct), -1, np.int64)
    warnings: list[str] = []
    missing: set[tuple[str, str, str]] = set()
    for j, i in enumerate(first.tolist()):
        code = f"{int(region[i]):06d}"
        cats = mask_categories(int(categories[i]))
        on = number_day(int(day[i]))
        try:
            threshold, key, notes = _terms(view, code, cats, on)
        except ParameterMissing as exc:
            missing.add((exc.name, code, on.isoformat()))
            above_key.append(None)
            continue
        thresholds[j] = threshold
        above_key.append(key)
        warnings.extend(w for w in notes if w not in warnings)
    threshold_of = thresholds[inverse]
    above = burden > threshold_of
    out: list[str | None] = []
    for j, is_above in zip(inverse.tolist(), above.tolist(), strict=True):
        k = above_key[j]
        out.append(None if k is None else (k if is_above else "none"))
    return WatchLists(out, threshold_of, [*missing_warnings(missing), *warnings], missing)


def missing_warnings(missing: set[tuple[str, str, str]]) -> list[str]:
    """One warning per parameter not encoded, naming every region and the dates concerned."""
    by_name: dict[str, tuple[set[str], set[str]]] = {}
    for name, region, day in missing:
        regions, days = by_name.setdefault(name, (set(), set()))
        regions.add(region)
        days.add(day)
    out = []
    for name in sorted(by_name):
        regions, days = by_name[name]
        span = min(days) if len(days) == 1 else f"{min(days)} 至 {max(days)} 间的结算日"
        out.append(f"{WATCH_MISSING}（不作推测）：参数 {name} 在地区 {'、'.join(sorted(regions))}、"
                   f"日期 {span} 没有已编码的取值")
    return out


def _terms(view: ParameterView, code: str, cats: tuple[str, ...],
           on: dt.date) -> tuple[int, str, list[str]]:
    ctx = Context(on, get_region(code), view, NullTrace())
    _, threshold = watch_list_status(ctx, cats, 0)
    key, _ = watch_list_status(ctx, cats, threshold + 1)
    return threshold, key, ctx.warnings
