"""Properties the settlement writer relies on.

- Its fast canonical JSON is the audit trail's canonical JSON, character for character, so
  the entries it chains verify, and idempotency hashes stay what they were.
- Settling claims of several persons in one kernel call gives each claim exactly what
  settling them one by one in settlement order gives: reply, trace, accumulators and the
  claim's own contribution to every accumulator column (what a reversal subtracts).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from minsheng.service import kernel
from minsheng.service.audit import canonical_json
from minsheng.service.batch_repository import canonical_json as fast_canonical_json

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**15, 10**15) | TEXT,
                      lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)


@given(st.dictionaries(TEXT, VALUES, max_size=8))
def test_the_fast_canonical_json_is_the_audit_trails_canonical_json(value: dict[str, Any]
                                                                     ) -> None:
    assert fast_canonical_json(value) == canonical_json(value)


PEOPLE = {"P1": ("390", "140100", ("minimum_allowance",)), "P2": ("390", "220102", ()),
          "P3": ("390", "220102", ("relapsed_poverty", "orphan")),
          "P4": ("310", "140100", ("extreme_poverty",))}


@st.composite
def claims(draw: st.DrawFn) -> list[kernel.Claim]:
    out = []
    for i in range(draw(st.integers(1, 12))):
        total = draw(st.integers(0, 30_000_000))
        own = draw(st.integers(0, total // 3))
        first = draw(st.integers(0, (total - own) // 3))
        out.append(kernel.Claim(
            f"S{draw(st.integers(0, 3))}{i:02d}", draw(st.sampled_from(sorted(PEOPLE))),
            dt.datetime(2023, draw(st.integers(1, 12)), draw(st.sampled_from([1, 15])), 9),
            draw(st.sampled_from(["11", "14", "21"])), draw(st.integers(0, 3)),
            draw(st.booleans()), total, own, first, 0))
    return out


@settings(max_examples=40, deadline=None)
@given(claims())
def test_one_kernel_call_settles_each_claim_as_one_by_one_in_settlement_order(
        batch: list[kernel.Claim]) -> None:
    prepared = [kernel.prepare(c, *PEOPLE[c.psn_no]) for c in batch]
    together = kernel.settle_many(prepared, {})
    recorded = kernel.settle_many(prepared, {}, trace=False)  # as the settlement writer does
    carried: dict[str, dict[str, int]] = {}
    for i in sorted(range(len(batch)), key=lambda i: (batch[i].psn_no, batch[i].setl_time,
                                                      batch[i].setl_id)):
        c = batch[i]
        before = carried.get(c.psn_no, {})
        alone = kernel.settle_one(c, *PEOPLE[c.psn_no], before)
        assert together[i].reply == alone.reply
        assert together[i].trace == alone.trace
        assert recorded[i].reply == alone.reply and recorded[i].accumulators == alone.accumulators
        record = recorded[i].record
        assert record is not None and record.render() == alone.trace
        assert together[i].accumulators == alone.accumulators
        assert together[i].contributions == {f: v - before.get(f, 0)
                                             for f, v in alone.accumulators.items()
                                             if v != before.get(f, 0)}
        carried[c.psn_no] = alone.accumulators
