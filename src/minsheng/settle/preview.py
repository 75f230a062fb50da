"""Preview settlement (试算): persons + claims + what-if parameters in, outputs out; nothing stored.

The body of ``minsheng settle`` and ``POST /api/v1/settlements/preview``::

    {"persons": [...], "claims": [...], "parameters": {...}}
    → {"claims": [per-claim outputs, in the order given],
       "persons": [per person-year outputs], "warnings": [...]}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from minsheng.core.calculation import Context
from minsheng.core.errors import InputError, MinshengError
from minsheng.core.money import format_fen
from minsheng.core.parameters import ParameterStore, ParameterView, default_store
from minsheng.core.regions import get_region
from minsheng.core.trace import NullTrace
from minsheng.rules.settlement import Settlement, resolve, settle
from minsheng.rules.settlement_params import ClaimParameters
from minsheng.rules.settlement_trace import claim_trace
from minsheng.settle.output import claim_json, person_year_json
from minsheng.settle.parse import Batch, parse_batch

TOP_LEVEL = ("persons", "claims", "parameters")


def parse_view(raw: Any, store: ParameterStore | None = None) -> ParameterView:
    """What-if parameters (``null`` sets none) over the shipped store."""
    store = store or default_store()
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InputError("parameters", "应为对象 {参数名: 取值}", "expected an object")
    return ParameterView(store, store.parse_overrides(raw, "parameters"))


def preview(doc: Any, *, trace: bool = False, store: ParameterStore | None = None
            ) -> dict[str, Any]:
    """Settle a whole request in memory and return the JSON reply."""
    if not isinstance(doc, Mapping):
        raise InputError("body", "应为对象 {persons, claims, parameters}", "expected an object")
    for key in doc:
        if key not in TOP_LEVEL:
            raise InputError(key, "未知的字段（可用：persons、claims、parameters）", "unknown field")
    view = parse_view(doc.get("parameters"), store)
    batch = parse_batch(doc.get("persons", []), doc.get("claims", []))
    params = resolve(batch.arrays, view)
    result = settle(batch.arrays, params, detail=trace)
    return render(batch, params, result, view, trace=trace)


def render(batch: Batch, params: ClaimParameters, result: Settlement, view: ParameterView,
           *, trace: bool = False) -> dict[str, Any]:
    warnings = list(params.tables.warnings)
    per_claim: list[dict[str, Any] | None] = [None] * len(batch.claims)
    for k, j in enumerate(batch.order.tolist()):
        claim = batch.claims[j]
        person = batch.persons[claim.psn_no]
        out = claim_json(result, k, claim.setl_id, claim.psn_no, person.insutype)
        if trace:
            out["trace"] = claim_trace(batch.arrays, params, result, k).to_json()
        per_claim[j] = out
    persons = []
    nseg = len(result.after)
    starts = result.segment.searchsorted(range(nseg), side="left")
    ends = [*starts[1:].tolist(), len(result)] if nseg else []
    for s, last in enumerate(ends):
        k = last - 1
        psn_no = batch.people[int(result.after.person[s])]
        row = person_year_json(result, s, psn_no)
        claim = batch.claims[int(batch.order[k])]
        person = batch.persons[psn_no]
        row.update(watch_list(view, person.region, claim.setl_time.date(),
                              person.categories_on(claim.setl_time.date()),
                              int(result.after.columns["psn_part_amt"][s]), warnings))
        persons.append(row)
    return {"claims": per_claim, "persons": persons, "warnings": warnings}


def watch_list(view: ParameterView, region: str, day: dt.date, categories: tuple[str, ...],
               burden: int, warnings: list[str]) -> dict[str, Any]:
    """因病返贫/因病致贫 watch list of a person-year (POLICY.md §3.5), on its last claim date.

    Where the thresholds are not encoded for the region, the list is ``null`` with a warning:
    the settlement itself does not depend on it.
    """
    from minsheng.rules.assistance import watch_list_status  # written alongside (issue 3)

    ctx = Context(day, get_region(region), view, NullTrace())
    try:
        key, threshold = watch_list_status(ctx, categories, burden)
    except MinshengError as exc:
        note = f"因病返贫致贫监测：{exc.message}"
        if note not in warnings:
            warnings.append(note)
        return {"watch_list": None, "watch_list_threshold": None}
    for w in ctx.warnings:
        if w not in warnings:
            warnings.append(w)
    return {"watch_list": key, "watch_list_threshold": format_fen(threshold)}

