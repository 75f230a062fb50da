"""Settlement traces stored compactly, and rendered when they are read.

A settlement's trace — each tier's base, deductible, ratio and cap room, and every parameter
read with its value and reference — is 4 to 11 kB of JSON, and building it costs as much as
settling the claim. So the service stores only what the trace is made of:

- the kernel's intermediate values for the claim (:data:`~minsheng.rules.settlement.DETAIL_FIELDS`)
  and the cap room left after it;
- the terms applied (the three tiers' terms, with every parameter read: value, unit,
  reference, example flag, region and period), stored ONCE in ``settlement_terms`` under the
  hash of their content and never changed — a snapshot of the parameters in force, so a
  later change of the parameter files does not change what an old trace says;
- the casework route's own steps, if any.

:func:`load` renders the trace from these with the kernel's renderer
(:func:`minsheng.rules.settlement_trace.claim_trace`) — the very trace the kernel gives for
that claim — and appends the route's steps. A trace stored as a JSON list (written by other
code, or for terms that cannot be snapshotted) is read as it is.

Stored form: ``{"v": 1, "terms": ID, "values": {...}, "steps": [...]}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import orjson

from minsheng.core.parameters import Bracket, Reference, Resolved
from minsheng.rules import settlement as k
from minsheng.rules.settlement_params import (
    NO_ASSISTANCE,
    NO_CRITICAL,
    AssistanceTerms,
    BasicTerms,
    ClaimParameters,
    CriticalTerms,
    ParameterTables,
    category_mask,
    day_number,
)
from minsheng.rules.settlement_trace import claim_trace
from minsheng.service.models import Settlement, with_warnings
from minsheng.service.unit_of_work import UnitOfWork
from minsheng.settle.output import CAPS_LEFT as CAPS

VERSION = 1
_CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class TraceRecord:
    """What one claim's trace is made of (see the module docstring): its terms, the kernel's
    intermediate values and cap room, and (to render it whole if need be) the batch's claim
    arrays with the claim's row and outputs."""

    basic: BasicTerms
    critical: CriticalTerms | None
    assistance: AssistanceTerms | None
    values: dict[str, int]
    claims: k.Claims
    row: int
    outputs: Mapping[str, int]

    def render(self) -> list[dict[str, Any]]:
        return _render(self.basic, self.critical, self.assistance, self.values,
                       self.claims.take(np.array([self.row])), self.outputs)


_RECORDED = (*k.DETAIL_FIELDS, *CAPS)
"""The kernel's values a trace record keeps: its details and the cap room left."""


def record(claims: k.Claims, params: ClaimParameters, columns: Mapping[str, list[int]], i: int,
           outputs: Mapping[str, int]) -> TraceRecord:
    """The trace record of the i-th claim of a batch settled with ``detail=True``;
    ``columns``: :func:`record_columns` of the batch, read once for all its claims."""
    tb = params.tables
    crow, arow = columns["critical_row"][i], columns["assistance_row"][i]
    values = {name: columns[name][i] for name in _RECORDED}
    return TraceRecord(tb.basic[columns["basic_row"][i]], tb.critical[crow] if crow else None,
                       tb.assistance[arow] if arow else None, values, claims, i, outputs)


def record_columns(result: k.Settlement, params: ClaimParameters) -> dict[str, list[int]]:
    """What :func:`record` reads of a batch, as Python lists (one conversion per column)."""
    d = result.details
    assert d is not None
    columns = {name: d[name].tolist() for name in k.DETAIL_FIELDS}
    columns.update({name: getattr(result, name).tolist() for name in CAPS})
    columns.update(basic_row=params.basic_row.tolist(), critical_row=params.critical_row.tolist(),
                   assistance_row=params.assistance_row.tolist())
    return columns


# -- the terms as JSON, and back ------------------------------------------------------------

def _value(v: Any) -> Any:
    if v is None or isinstance(v, bool | str):
        return {"t": type(v).__name__, "v": v}
    if isinstance(v, int):
        return {"t": "int", "v": v}
    if isinstance(v, Fraction):
        return {"t": "frac", "v": f"{v.numerator}/{v.denominator}"}
    if isinstance(v, dt.date):
        return {"t": "date", "v": v.isoformat()}
    if isinstance(v, tuple | list) and all(isinstance(b, Bracket) for b in v):
        return {"t": "brackets", "v": [[b.lower, f"{b.ratio.numerator}/{b.ratio.denominator}"]
                                       for b in v]}
    raise TypeError(f"cannot snapshot a parameter value of type {type(v).__name__}")


def _unvalue(d: Mapping[str, Any]) -> Any:
    t, v = d["t"], d["v"]
    if t == "frac":
        return Fraction(v)
    if t == "date":
        return dt.date.fromisoformat(v)
    if t == "brackets":
        return tuple(Bracket(int(lower), Fraction(r)) for lower, r in v)
    return v


def _frac(v: Fraction | None) -> str | None:
    return None if v is None else f"{v.numerator}/{v.denominator}"


def _unfrac(v: str | None) -> Fraction | None:
    return None if v is None else Fraction(v)


def _read(r: Resolved) -> dict[str, Any]:
    ref = r.reference
    return {"name": r.name, "unit": r.unit, "description": r.description, "value": _value(r.value),
            "reference": [ref.source, ref.document, ref.clause, ref.note], "example": r.example,
            "override": r.override, "region": r.region,
            "start": r.start.isoformat() if r.start else None,
            "end": r.end.isoformat() if r.end else None}


def _unread(d: Mapping[str, Any]) -> Resolved:
    return Resolved(d["name"], d["unit"], d["description"], _unvalue(d["value"]),
                    Reference(*d["reference"]), d["example"], d["override"], d["region"],
                    dt.date.fromisoformat(d["start"]) if d["start"] else None,
                    dt.date.fromisoformat(d["end"]) if d["end"] else None)


def terms_json(basic: BasicTerms, critical: CriticalTerms | None,
               assistance: AssistanceTerms | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "basic": {"deductible": basic.deductible, "per_year": basic.per_year,
                  "ratio": _frac(basic.ratio), "cap": basic.cap,
                  "reads": [_read(r) for r in basic.reads]},
        "critical": None, "assistance": None}
    if critical is not None:
        out["critical"] = {"deductible": critical.deductible,
                           "brackets": _value(critical.brackets)["v"], "cap": critical.cap,
                           "tilted": critical.tilted, "reads": [_read(r) for r in critical.reads]}
    if assistance is not None:
        a = assistance
        out["assistance"] = {"category": a.category, "deductible": a.deductible,
                             "inpatient_ratio": _frac(a.inpatient_ratio),
                             "chronic_ratio": _frac(a.chronic_ratio),
                             "topup_target": _frac(a.topup_target), "cap": a.cap,
                             "reads": [_read(r) for r in a.reads]}
    return out


def terms_from_json(d: Mapping[str, Any]
                    ) -> tuple[BasicTerms, CriticalTerms | None, AssistanceTerms | None]:
    b = d["basic"]
    basic = BasicTerms(b["deductible"], b["per_year"], _unfrac(b["ratio"]), b["cap"],
                       tuple(_unread(r) for r in b["reads"]))
    critical = assistance = None
    if (c := d["critical"]) is not None:
        critical = CriticalTerms(c["deductible"], _unvalue({"t": "brackets", "v": c["brackets"]}),
                                 c["cap"], c["tilted"], tuple(_unread(r) for r in c["reads"]))
    if (a := d["assistance"]) is not None:
        assistance = AssistanceTerms(a["category"], a["deductible"], _unfrac(a["inpatient_ratio"]),
                                     _unfrac(a["chronic_ratio"]), _unfrac(a["topup_target"]),
                                     a["cap"], tuple(_unread(r) for r in a["reads"]))
    return basic, critical, assistance


# -- writing and reading --------------------------------------------------------------------

class TraceStore:
    """The compact traces of one database, with the terms this process has seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (id of each terms object) → (the terms, kept alive so that ids stay theirs; id; body)
        self._ids: dict[tuple[int, int, int], tuple[Any, str | None, bytes]] = {}
        self._stored: set[str] = set()  # written by a committed unit of work
        self._loaded: dict[str, tuple[BasicTerms, CriticalTerms | None,
                                      AssistanceTerms | None]] = {}
        self._warnings: dict[tuple[str, ...], tuple[bytes, str]] = {}  # → (JSON list, name)

    def dump(self, uow: UnitOfWork, rec: TraceRecord, steps: Sequence[dict[str, Any]]) -> str:
        """The text to store for a claim's trace; ``steps``: steps appended after the
        kernel's (the casework route). Terms this process has not stored yet are noted in
        ``uow.new_terms`` for the caller to write in the same transaction (the settlement
        writer writes them after it holds the audit head, so that two transactions never
        wait on each other's uncommitted copy of the same terms)."""
        terms = (rec.basic, rec.critical, rec.assistance)
        key = (id(rec.basic), id(rec.critical), id(rec.assistance))
        known = self._ids.get(key)
        if known is None:
            try:
                body = orjson.dumps(terms_json(*terms), option=orjson.OPT_SORT_KEYS)
                name: str | None = hashlib.sha256(body).hexdigest()[:32]
            except TypeError:  # a value the snapshot does not know: keep the whole trace
                body, name = b"", None
            with self._lock:
                if len(self._ids) > _CACHE_LIMIT:
                    self._ids.clear()
                known = self._ids[key] = (terms, name, body)
        _, name, body = known
        if name is None:
            return orjson.dumps(rec.render() + list(steps)).decode("utf-8")
        if name not in self._stored and name not in uow.new_terms:
            uow.new_terms[name] = body.decode("utf-8")
        return orjson.dumps({"v": VERSION, "terms": name, "values": rec.values,
                             "steps": list(steps)}).decode("utf-8")

    def reply(self, uow: UnitOfWork, reply: dict[str, Any]) -> tuple[bytes, str, str | None]:
        """The reply to send (``warnings`` put last), the text to store and the name of its
        warnings, stored apart like terms (noted in ``uow.new_terms`` when new); ``None``:
        no warnings, the text is stored whole (see :func:`~.models.with_warnings`)."""
        warnings = reply.pop("warnings", None) or []
        if not warnings:
            reply["warnings"] = warnings
            body = orjson.dumps(reply)
            return body, body.decode("utf-8"), None
        key = tuple(warnings)
        known = self._warnings.get(key)
        if known is None:
            listed = orjson.dumps(warnings)
            known = (listed, hashlib.sha256(listed).hexdigest()[:32])
            with self._lock:
                if len(self._warnings) > _CACHE_LIMIT:
                    self._warnings.clear()
                self._warnings[key] = known
        listed, name = known
        stored = orjson.dumps(reply).decode("utf-8")
        reply["warnings"] = warnings
        text = listed.decode("utf-8")
        if name not in self._stored and name not in uow.new_terms:
            uow.new_terms[name] = text
        return with_warnings(stored, text).encode("utf-8"), stored, name

    def committed(self, uow: UnitOfWork) -> None:
        """``uow``, given to :meth:`dump`, has committed: the terms it wrote are stored."""
        with self._lock:
            self._stored |= uow.new_terms.keys()

    def load(self, uow: UnitOfWork, s: Settlement) -> list[dict[str, Any]]:
        """The trace of a stored settlement, as JSON values."""
        stored = orjson.loads(s.trace)
        if isinstance(stored, list):
            return stored
        name = stored["terms"]
        terms = self._loaded.get(name)
        if terms is None:
            body = uow.traces.terms(name)
            if body is None:
                raise LookupError(f"settlement terms {name} are missing")
            terms = terms_from_json(orjson.loads(body))
            self._loaded[name] = terms
        outputs = {name: getattr(s, name) for name in k.Settlement.OUTPUTS}
        return _render(*terms, stored["values"], _claims(s), outputs) + list(stored["steps"])


def _render(basic: BasicTerms, critical: CriticalTerms | None, assistance: AssistanceTerms | None,
            values: Mapping[str, int], claims: k.Claims, outputs: Mapping[str, int]
            ) -> list[dict[str, Any]]:
    """The kernel's trace of one claim (``claims``: its one row) from its terms, intermediate
    values and outputs."""
    tables = ParameterTables([basic], [NO_CRITICAL] + ([critical] if critical else []),
                             [NO_ASSISTANCE] + ([assistance] if assistance else []), [])
    params = ClaimParameters(tables, np.zeros(1, np.int32),
                             np.array([1 if critical else 0], np.int32),
                             np.array([1 if assistance else 0], np.int32))
    return claim_trace(claims, params, _settlement(outputs, values), 0).to_json()


def _claims(s: Settlement) -> k.Claims:
    cats = tuple(c for c in s.categories.split(",") if c)
    return k.Claims.from_columns({
        "person": [0], "day": [day_number(s.setl_time.date())], "region": [int(s.region)],
        "resident": [s.insutype == "390"], "med_type": [int(s.med_type)],
        "hosp_lv": [s.hosp_lv], "in_province": [s.in_province],
        "categories": [category_mask(cats)], "medfee_sumamt": [s.medfee_sumamt],
        "fulamt_ownpay_amt": [s.fulamt_ownpay_amt], "preselfpay_amt": [s.preselfpay_amt],
        "overlmt_selfpay": [s.overlmt_selfpay]})


def _settlement(outputs: Mapping[str, int], values: Mapping[str, int]) -> k.Settlement:
    one = {name: np.array([outputs[name]], np.int64) for name in k.Settlement.OUTPUTS}
    caps = {name: np.array([values[name]], np.int64) for name in CAPS}
    details = {name: np.array([values[name]], np.int64) for name in k.DETAIL_FIELDS}
    acc = k.Accumulators.zeros(np.zeros(1, np.int64), np.zeros(1, np.int64))
    return k.Settlement(**one, **caps, segment=np.zeros(1, np.int64), before=acc, after=acc,
                        details=details)


_lock = threading.Lock()


def store_for(uow: UnitOfWork) -> TraceStore:
    """The trace store of the unit of work's database in this process."""
    database = uow.database
    store: TraceStore | None = database.trace_store
    if store is None:
        with _lock:
            store = database.trace_store
            if store is None:
                store = database.trace_store = TraceStore()
    return store


def load(uow: UnitOfWork, s: Settlement) -> list[dict[str, Any]]:
    """A stored settlement's trace as JSON values (see the module docstring)."""
    return store_for(uow).load(uow, s)
