"""Several server processes (``minsheng serve --workers 2``) — handing their settlements to one
writer process, to two that share the persons (``--writers 2``), or each with a writer of its
own (``--no-writer-process``) — settling claims of the same persons at once: the database
orders them, so every
reply is what the kernel gives for that person's claims in the order they were settled, no
cap is overrun, the accumulators are the sums of the settlements, a ``setl_id`` sent to
both processes at once is settled once, and the audit chain verifies.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx2
import pytest
from service_helpers import claim_body, new_database_url, person_body, token, uid
from test_service_concurrency import OUTPUTS, batch
from test_service_crash import server

from minsheng.core.money import parse_fen
from minsheng.service.audit_trail import verify_chain
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork

pytestmark = pytest.mark.slow

CLIENTS = 12
CLAIMS_PER_CLIENT = 6
PERSONS = 3


@pytest.mark.parametrize("writer", ["--writer-process", "--writers=2", "--no-writer-process"])
def test_two_server_processes_settle_the_same_persons_as_one_would(backend: str, writer: str,
                                                                   tmp_path: Path) -> None:
    url, remove = new_database_url(backend, tmp_path)
    db = Database(url, pool_size=2)
    db.migrate()
    try:
        headers = token(db, "admin")
        people = [uid("P") for _ in range(PERSONS)]
        shared = [claim_body(uid("S"), people[i % PERSONS], total="90000.00",
                             setl_time="2023-09-01T10:00:00") for i in range(4)]
        replies: dict[str, list[bytes]] = {}
        sent: dict[str, dict[str, Any]] = {}
        lock = threading.Lock()
        with server(url, tmp_path, "--workers", "2", writer) as (_, base):
            for psn_no in people:
                r = httpx2.post(f"{base}/api/v1/persons", headers=headers, json=person_body(
                    psn_no, categories=["minimum_allowance"]))
                assert r.status_code == 201, r.text
            start = threading.Barrier(CLIENTS)

            def client(i: int) -> None:
                # a connection each: the kernel spreads them over both processes
                with httpx2.Client(base_url=base, headers=headers, timeout=60) as c:
                    start.wait()
                    for j in range(CLAIMS_PER_CLIENT):
                        claim = (shared[(i + j) % len(shared)] if j % 3 == 0 else
                                 claim_body(uid("S"), people[(i + j) % PERSONS],
                                            total="90000.00", setl_time="2023-09-01T10:00:00"))
                        r = c.post("/api/v1/settlements", json=claim)
                        assert r.status_code == 200, r.text
                        with lock:
                            replies.setdefault(claim["setl_id"], []).append(r.content)
                            sent[claim["setl_id"]] = claim

            threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        for setl_id, bodies in replies.items():
            assert len(set(bodies)) == 1, setl_id  # retries got the first reply
        bodies_by_id = {s: json.loads(b[0]) for s, b in replies.items()}
        with UnitOfWork(db) as uow:
            order = [e.entity_id for e in uow.audit.entries() if e.action == "settlement.created"]
            assert len(order) == len(set(order)) == len(replies)  # each settled once
            for psn_no in people:
                mine = [s for s in order if bodies_by_id[s]["psn_no"] == psn_no]
                # the same claims in the order they were settled, as one batch of the kernel
                expected = batch([(sent[s], {}) for s in mine])
                got = [{k: parse_fen(bodies_by_id[s][k]) for k in OUTPUTS} for s in mine]
                assert got == expected
                stored = uow.accumulators.get(psn_no, 2023)
                for k in OUTPUTS:
                    assert stored[k] == sum(g[k] for g in got)
        assert verify_chain(UnitOfWork(db)).ok
    finally:
        db.dispose()
        remove()
