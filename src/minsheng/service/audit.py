"""The audit trail: every change appended to a hash-chained log, and its verification.

Each entry's ``hash`` is ``sha256(prev_hash + canonical JSON of the entry)``, where the
entry is ``{"at", "actor", "action", "entity_type", "entity_id", "payload"}`` and the
canonical JSON has sorted keys, no spaces and UTF-8 text. The first entry's
``prev_hash`` is 64 zeros. Entries are numbered ``seq`` 1, 2, 3 …; the head row holds the
last number and hash, and appending locks it, so the chain has one order.

:func:`verify` walks the chain and reports the first entry that was edited (its hash no
longer matches its content), deleted (a number is missing, or the next entry links to a
hash that is nowhere), or reordered (an entry links to the hash of an entry other than the
one before it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

GENESIS = "0" * 64
CHINA = dt.timezone(dt.timedelta(hours=8))


def now() -> dt.datetime:
    """The current China time, without zone, to the microsecond."""
    return dt.datetime.now(CHINA).replace(tzinfo=None)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def entry_document(at: str, actor: str, action: str, entity_type: str, entity_id: str,
                   payload: str) -> str:
    """The canonical JSON that is hashed (``payload`` is already canonical JSON)."""
    return canonical_json({"at": at, "actor": actor, "action": action,
                           "entity_type": entity_type, "entity_id": entity_id,
                           "payload": json.loads(payload)})


def chain_hash(prev_hash: str, document: str) -> str:
    return hashlib.sha256((prev_hash + document).encode("utf-8")).hexdigest()


class EntryLike(Protocol):
    seq: int
    at: str
    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    head_hash: str
    problem: str = ""  # edited | deleted | reordered | truncated
    seq: int | None = None
    message: str = ""
    message_en: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"ok": self.ok, "entries": self.entries, "head_hash": self.head_hash}
        if not self.ok:
            d.update(problem=self.problem, seq=self.seq, message=self.message,
                     message_en=self.message_en)
        return d


def verify(entries: Iterable[EntryLike], head_seq: int | None = None,
           head_hash: str | None = None) -> Verdict:
    """Check the chain (entries in ``seq`` order) and, when given, that it ends at the head."""
    rows = list(entries)
    hashes = {r.hash: r.seq for r in rows}
    prev = GENESIS
    expected = 1
    for row in rows:
        recomputed = chain_hash(row.prev_hash, entry_document(
            row.at, row.actor, row.action, row.entity_type, row.entity_id, row.payload))
        if recomputed != row.hash:
            return _bad("edited", row.seq, len(rows), prev,
                        f"第 {row.seq} 条审计记录的内容被改动（哈希不符）",
                        f"entry {row.seq} was edited (its hash does not match its content)")
        if row.seq != expected or row.prev_hash != prev:
            if row.prev_hash in hashes and hashes[row.prev_hash] != expected - 1:
                return _bad("reordered", row.seq, len(rows), prev,
                            f"第 {row.seq} 条审计记录的顺序被调换（链接到第 "
                            f"{hashes[row.prev_hash]} 条之后）",
                            f"entry {row.seq} was moved (it links to entry "
                            f"{hashes[row.prev_hash]})")
            if row.seq != expected:
                return _bad("deleted", expected, len(rows), prev,
                            f"第 {expected} 条审计记录被删除（链条在第 {row.seq} 条处断开）",
                            f"entry {expected} was deleted (the chain breaks at {row.seq})")
            return _bad("deleted", row.seq - 1, len(rows), prev,
                        f"第 {row.seq - 1} 条审计记录被替换或删除（第 {row.seq} 条链接的哈希不存在）",
                        f"entry {row.seq - 1} was replaced or deleted (entry {row.seq} "
                        "links to a hash that is nowhere)")
        prev = row.hash
        expected += 1
    if head_seq is not None and (head_seq != expected - 1 or (head_hash or prev) != prev):
        return _bad("truncated", expected, len(rows), prev,
                    f"审计记录末尾被删除：链头记录为第 {head_seq} 条，实际只到第 {expected - 1} 条",
                    f"entries after {expected - 1} were deleted (the head says {head_seq})")
    return Verdict(True, len(rows), prev)


def _bad(problem: str, seq: int, count: int, head: str, zh: str, en: str) -> Verdict:
    return Verdict(False, count, head, problem, seq, zh, en)
