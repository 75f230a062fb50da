"""The pipelined settlement writer (PostgreSQL): while one batch's writes and ``COMMIT`` are on
their way to the server, the next batch — of other persons — is read and settled.

Each claim must still be answered exactly as if the batches had been settled one after the
other: claims of one person in order with their accumulators carried, a ``setl_id`` settled
once, and a batch whose commit fails (here: the batch in flight took the same ``setl_id``)
settled again rather than answered with the database's error."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient
from service_helpers import Roles, claim_body, fen, kernel_outputs, register, uid

from minsheng.core.errors import Conflict
from minsheng.service import settlements
from minsheng.service.audit_trail import verify_chain
from minsheng.service.auth import SYSTEM
from minsheng.service.db import Database
from minsheng.service.settlement_batch import SettleReply, SettleRequest
from minsheng.service.unit_of_work import UnitOfWork
from minsheng.service.writer import SettlementWriter


class WatchedWriter(SettlementWriter):
    """Notes, for each batch it sends, the persons of the batch then in flight."""

    def __init__(self, database: Database, **kwargs: object) -> None:
        self.sent: list[tuple[set[str], set[str]]] = []
        super().__init__(database, pipelined=True, **kwargs)  # type: ignore[arg-type]

    def _send(self, batch: Sequence[SettleRequest]):  # type: ignore[no-untyped-def]
        flying = self._flying
        self.sent.append(({r.claim.psn_no for r in batch if r.claim},
                          {r.claim.psn_no for r in flying[0] if r.claim} if flying else set()))
        return super()._send(batch)


def _postgres_only(backend: str) -> None:
    if backend != "postgres":
        pytest.skip("SQLite settles one batch at a time: the writer is not pipelined there")


def test_a_batch_sent_while_another_commits_shares_no_person_with_it_and_all_add_up(
        backend: str, client: TestClient, roles: Roles, database: Database) -> None:
    _postgres_only(backend)
    people = [register(client, roles, categories=["minimum_allowance"]) for _ in range(4)]
    bodies = [claim_body(uid("P"), people[i % 4], setl_time=f"2023-{1 + i // 4:02d}-01T08:00:00",
                         total=f"{30000 + 1531 * i}.00") for i in range(40)]
    writer = WatchedWriter(database, max_batch=3)
    try:
        requests = [settlements.parse_request(b, principal=SYSTEM) for b in bodies]
        writer.submit_many(requests)
        replies = [r.future.result(timeout=60) for r in requests]
    finally:
        writer.stop()
    overlapping = [(mine, flying) for mine, flying in writer.sent if flying]
    assert overlapping, "no batch was sent while another was in flight"
    assert all(not (mine & flying) for mine, flying in overlapping)
    got = {b["setl_id"]: fen(json.loads(r.body)) for b, r in zip(bodies, replies, strict=True)}
    for psn_no in people:
        mine = [b for b in bodies if b["psn_no"] == psn_no]
        expected = kernel_outputs(mine, "390", "140100", [("minimum_allowance",)] * len(mine))
        assert [got[b["setl_id"]] for b in mine] == expected
    assert verify_chain(UnitOfWork(database)).ok


def test_a_setl_id_the_batch_in_flight_took_is_answered_409_not_with_a_database_error(
        backend: str, client: TestClient, roles: Roles, database: Database) -> None:
    _postgres_only(backend)
    first, second = register(client, roles), register(client, roles)
    setl_ids = [uid("D") for _ in range(6)]
    requests = []
    for setl_id in setl_ids:  # one batch each (max_batch=1): the second follows the first
        requests += [settlements.parse_request(claim_body(setl_id, psn_no), principal=SYSTEM)
                     for psn_no in (first, second)]
    writer = WatchedWriter(database, max_batch=1)
    try:
        writer.submit_many(requests)
        outcomes = [r.future.exception(timeout=60) or r.future.result() for r in requests]
    finally:
        writer.stop()
    assert any(flying for _, flying in writer.sent), "no batch was sent while another was in flight"
    for i, setl_id in enumerate(setl_ids):
        one, other = outcomes[2 * i], outcomes[2 * i + 1]
        assert isinstance(one, SettleReply) and not one.replayed, one
        assert isinstance(other, Conflict) and other.details.get("setl_id") == setl_id, other
    with UnitOfWork(database) as uow:
        assert [len(uow.settlements.for_person(p)) for p in (first, second)] == [6, 0]
    assert verify_chain(UnitOfWork(database)).ok
