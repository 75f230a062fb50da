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
from service_helpers import ACCUMULATED, claim_body, fen, kernel_outputs, person_body, token, uid

from minsheng.service.audit_trail import verify_chain
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork
from server_process import serving

pytestmark = pytest.mark.slow

CLIENTS = 12
CLAIMS_PER_CLIENT = 6
PERSONS = 3


@pytest.mark.parametrize("writer", ["--writer-process", "--writers=2", "--no-writer-process"])
def test_two_server_processes_settle_the_same_persons_as_one_would(
        server_database: tuple[str, Database], writer: str, tmp_path: Path) -> None:
    url, db = server_database
    headers = token(db, "admin")
    people = [uid("P") for _ in range(PERSONS)]
    shared = [claim_body(uid("S"), people[i % PERSONS], total="90000.00",
                         setl_time="2023-09-01T10:00:00") for i in range(4)]
    replies: dict[str, list[bytes]] = {}
    sent: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    with serving(url, tmp_path, "--workers", "2", writer) as (_, base):
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
            expected = kernel_outputs([sent[s] for s in mine], "390", "140100",
                                      [("minimum_allowance",)] * len(mine))
            got = [fen(bodies_by_id[s]) for s in mine]
            assert got == expected
            stored = uow.accumulators.get(psn_no, 2023)
            for k in ACCUMULATED:
                assert stored[k] == sum(g[k] for g in got)
    assert verify_chain(UnitOfWork(db)).ok
