"""32 clients settling claims of the same persons at once: settlements of one person are
serialised, so every claim sees the one before it, no cap is overrun, and the
accumulators are exactly the sum of the settlements.

Threads call the service layer, each request with its own session (as the server does).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from service_helpers import ACCUMULATED, claim_body, fen, kernel_outputs, uid

from minsheng.core.money import parse_fen
from minsheng.core.parameters import default_store
from minsheng.service import persons, settlements
from minsheng.service.auth import SYSTEM
from minsheng.service.db import Database
from minsheng.service.unit_of_work import factory

CLIENTS = 32
CLAIMS_PER_CLIENT = 4
PERSONS = 4


def test_concurrent_claims_of_the_same_persons_are_settled_one_after_the_other(
        database: Database) -> None:
    uow = factory(database)
    people = [uid("P") for _ in range(PERSONS)]
    for psn_no in people:
        persons.create_person(uow(write=True), SYSTEM, {
            "psn_no": psn_no, "insutype": "390", "region": "140100",
            "categories": ["minimum_allowance"]})
    start = threading.Barrier(CLIENTS)

    def client(i: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        start.wait()
        done = []
        for j in range(CLAIMS_PER_CLIENT):
            claim = claim_body(uid("S"), people[(i + j) % PERSONS], total="90000.00",
                               setl_time="2023-09-01T10:00:00")
            reply = settlements.settle(uow, SYSTEM, claim)
            done.append((claim, json.loads(reply.body)))
        return done

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [pair for part in pool.map(client, range(CLIENTS)) for pair in part]
    assert len(results) == CLIENTS * CLAIMS_PER_CLIENT

    cap = default_store().get("medical.assistance.minimum_allowance.annual_cap",
                              dt.date(2023, 9, 1), "140100").value
    with uow() as w:
        order = {e.entity_id: e.seq for e in w.audit.entries()
                 if e.action == "settlement.created"}
        stored = {p: w.accumulators.get(p, 2023) for p in people}
    for psn_no in people:
        mine = sorted((pair for pair in results if pair[0]["psn_no"] == psn_no),
                      key=lambda pair: order[pair[0]["setl_id"]])
        # the same claims in the order they were settled, as one batch through the kernel
        expected = kernel_outputs([claim for claim, _ in mine], "390", "140100",
                                  [("minimum_allowance",)] * len(mine))
        got = [fen(reply) for _, reply in mine]
        assert got == expected
        assert sum(g["maf_pay"] for g in got) <= cap
        for k in ACCUMULATED:
            assert stored[psn_no][k] == sum(g[k] for g in got)


def test_the_same_claim_sent_by_many_clients_at_once_is_settled_once(
        database: Database) -> None:
    uow = factory(database)
    psn_no = uid("P")
    persons.create_person(uow(write=True), SYSTEM, {
        "psn_no": psn_no, "insutype": "390", "region": "140100", "categories": []})
    claim = claim_body(uid("S"), psn_no)
    start = threading.Barrier(16)

    def send(_: int) -> bytes:
        start.wait()
        return settlements.settle(uow, SYSTEM, claim).body

    with ThreadPoolExecutor(16) as pool:
        bodies = set(pool.map(send, range(16)))
    assert len(bodies) == 1
    with uow() as w:
        assert len(w.settlements.for_person(psn_no)) == 1
        totals = w.accumulators.get(psn_no, 2023)
    assert totals["medfee_sumamt"] == parse_fen(claim["medfee_sumamt"])
