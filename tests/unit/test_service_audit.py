"""The audit chain: each entry's hash covers the previous hash and the entry's content,
so an edited, deleted or reordered entry is found (pure functions, no database)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from minsheng.service.audit import GENESIS, canonical_json, chain_hash, entry_document, verify


@dataclass(frozen=True)
class Row:
    seq: int
    at: str
    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload: str
    prev_hash: str
    hash: str


def chain(n: int) -> list[Row]:
    rows: list[Row] = []
    prev = GENESIS
    for i in range(1, n + 1):
        payload = canonical_json({"psn_no": f"P{i}", "amount": f"{i}.00"})
        at = f"2023-08-01T10:00:{i:02d}.000000"
        h = chain_hash(prev, entry_document(at, "hospital:tok_1", "settlement.created",
                                            "settlement", f"S{i}", payload))
        rows.append(Row(i, at, "hospital:tok_1", "settlement.created", "settlement", f"S{i}",
                        payload, prev, h))
        prev = h
    return rows


def test_canonical_json_sorts_keys_and_keeps_chinese_text() -> None:
    assert canonical_json({"b": 1, "a": "低保"}) == '{"a":"低保","b":1}'


def test_an_untouched_chain_verifies_and_reports_its_head() -> None:
    rows = chain(5)
    verdict = verify(rows, 5, rows[-1].hash)
    assert verdict.ok and verdict.entries == 5 and verdict.head_hash == rows[-1].hash


def test_an_empty_chain_verifies() -> None:
    assert verify([], 0, GENESIS).ok


def test_an_edited_entry_is_reported_as_edited() -> None:
    rows = chain(5)
    rows[2] = replace(rows[2], payload=canonical_json({"psn_no": "P3", "amount": "9999.00"}))
    verdict = verify(rows, 5, rows[-1].hash)
    assert (verdict.ok, verdict.problem, verdict.seq) == (False, "edited", 3)
    assert "第 3 条" in verdict.message


def test_a_deleted_entry_is_reported_as_deleted() -> None:
    rows = chain(5)
    del rows[1]
    verdict = verify(rows, 5, rows[-1].hash)
    assert (verdict.problem, verdict.seq) == ("deleted", 2)


def test_a_deleted_last_entry_is_found_through_the_head() -> None:
    rows = chain(5)
    verdict = verify(rows[:4], 5, rows[-1].hash)
    assert (verdict.problem, verdict.seq) == ("truncated", 5)


def test_two_swapped_entries_are_reported_as_reordered() -> None:
    rows = chain(5)
    a, b = rows[1], rows[2]
    rows[1] = replace(b, seq=2)
    rows[2] = replace(a, seq=3)
    verdict = verify(rows, 5, rows[-1].hash)
    assert (verdict.problem, verdict.seq) == ("reordered", 2)


def test_a_recomputed_hash_after_an_edit_breaks_the_link_to_the_next_entry() -> None:
    rows = chain(5)
    payload = canonical_json({"psn_no": "P3", "amount": "0.00"})
    forged = replace(rows[2], payload=payload, hash=chain_hash(rows[2].prev_hash, entry_document(
        rows[2].at, rows[2].actor, rows[2].action, rows[2].entity_type, rows[2].entity_id,
        payload)))
    rows[2] = forged
    verdict = verify(rows, 5, rows[-1].hash)
    assert not verdict.ok and verdict.seq in (3, 4)
