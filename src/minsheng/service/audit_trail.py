"""Reading and verifying the audit trail (service functions; administrators only)."""

from __future__ import annotations

import json
from typing import Any

from minsheng.service.audit import Verdict, verify
from minsheng.service.auth import AUDIT_READ, SYSTEM, Principal
from minsheng.service.unit_of_work import UnitOfWork

BATCH = 5000


def verify_chain(uow: UnitOfWork, principal: Principal = SYSTEM) -> Verdict:
    """Walk the whole chain (in batches) and check it ends at the head."""
    principal.require(AUDIT_READ)
    with uow:
        head = uow.audit.head()
        rows = []
        after = 0
        while True:
            batch = uow.audit.entries(after=after, limit=BATCH)
            rows.extend(batch)
            if len(batch) < BATCH:
                break
            after = batch[-1].seq
        return verify(rows, head.seq, head.hash)


def entries(uow: UnitOfWork, principal: Principal = SYSTEM, *, after: int = 0,
            limit: int = 100) -> dict[str, Any]:
    principal.require(AUDIT_READ)
    with uow:
        rows = uow.audit.entries(after=after, limit=limit)
        return {"entries": [
            {"seq": r.seq, "at": r.at, "actor": r.actor, "action": r.action,
             "entity_type": r.entity_type, "entity_id": r.entity_id,
             "payload": json.loads(r.payload), "prev_hash": r.prev_hash, "hash": r.hash}
            for r in rows]}
