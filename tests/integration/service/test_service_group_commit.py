"""Group commit: the claims that arrive together are settled in one transaction and one kernel
call, and each is answered on its own — as if they had been settled one after the other.

A batch is what :func:`minsheng.service.settlement_batch.settle_batch` settles inside one unit
of work (the settlement writer commits it, then answers); the tests call it directly to
choose exactly which claims share a batch, and go through the writer and over HTTP too.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from service_helpers import (
    MONEY,
    Roles,
    claim_body,
    fen,
    kernel_outputs,
    person_body,
    register,
    reply,
    settle_requests,
    settle_together,
    uid,
)

from minsheng.core.errors import Conflict, InputError, MinshengError, ParameterMissing
from minsheng.core.money import parse_fen
from minsheng.service import kernel, settlements
from minsheng.service.auth import SYSTEM, Forbidden, Unauthorized
from minsheng.service.db import Database
from minsheng.service.settlement_batch import SettleReply, settle_batch
from minsheng.service.unit_of_work import UnitOfWork
from minsheng.service.writer import writer_for


def audit_seq(db: Database) -> int:
    with UnitOfWork(db) as uow:
        return uow.audit.head().seq


def test_a_refused_claim_in_a_batch_is_answered_with_its_error_and_the_others_settle(
        client: TestClient, roles: Roles, database: Database) -> None:
    first, second = (register(client, roles, categories=["minimum_allowance"])
                     for _ in range(2))
    a, b = claim_body(uid("S"), first), claim_body(uid("S"), second, total="35000.00")
    head = audit_seq(database)
    outcomes = settle_together(database, [
        a,
        {**claim_body(uid("S"), uid("P"))},  # nobody registered under this psn_no
        {**claim_body(uid("S"), first), "preselfpay_amt": "-1.00"},  # a bad amount
        claim_body(uid("S"), first, setl_time="1999-01-01T10:00:00"),  # no rule encoded
        b,
        {**a, "medfee_sumamt": "20000.01"},  # a's setl_id, another claim
    ])
    assert fen(reply(outcomes[0])) == kernel_outputs([a], "390", "140100",
                                                     [("minimum_allowance",)])[0]
    assert isinstance(outcomes[1], InputError) and outcomes[1].field == "psn_no"
    assert isinstance(outcomes[2], InputError) and outcomes[2].field == "preselfpay_amt"
    assert isinstance(outcomes[3], ParameterMissing)
    assert fen(reply(outcomes[4])) == kernel_outputs([b], "390", "140100",
                                                     [("minimum_allowance",)])[0]
    assert isinstance(outcomes[5], Conflict) and outcomes[5].status == 409
    with UnitOfWork(database) as uow:
        assert [s.setl_id for s in uow.settlements.for_person(first)] == [a["setl_id"]]
        assert [s.setl_id for s in uow.settlements.for_person(second)] == [b["setl_id"]]
        assert uow.accumulators.get(first, 2023)["medfee_sumamt"] == parse_fen(
            a["medfee_sumamt"])
    assert audit_seq(database) == head + 2  # one entry per settlement, none for the refused


def test_two_identical_retries_in_one_batch_settle_once(
        client: TestClient, roles: Roles, database: Database) -> None:
    psn_no = register(client, roles)
    claim = claim_body(uid("S"), psn_no)
    in_other_words = {**claim, "medfee_sumamt": 20000, "preselfpay_amt": "1000"}
    first, again = settle_together(database, [claim, in_other_words])
    assert isinstance(first, SettleReply) and isinstance(again, SettleReply)
    assert not first.replayed and again.replayed
    assert again.body == first.body
    with UnitOfWork(database) as uow:
        assert len(uow.settlements.for_person(psn_no)) == 1
        assert uow.accumulators.get(psn_no, 2023)["medfee_sumamt"] == 2_000_000
    r = client.post("/api/v1/settlements", json=claim, headers=roles.hospital)
    assert r.content == first.body and r.headers["idempotent-replay"] == "true"


def test_claims_of_one_person_in_one_batch_are_settled_in_setl_time_order(
        client: TestClient, roles: Roles, database: Database) -> None:
    psn_no = register(client, roles, categories=["minimum_allowance"])
    claims = [claim_body(uid("S"), psn_no, setl_time=f"2023-0{m}-01T09:00:00", total=total)
              for m, total in ((3, "90000.00"), (5, "120000.00"), (7, "80000.00"))]
    tie = claim_body("A" + uid("S"), psn_no, setl_time="2023-05-01T09:00:00", total="500.00",
                     preself="50.00")
    arriving = [claims[2], claims[0], tie, claims[1]]  # neither in time nor in setl_id order
    outcomes = settle_together(database, arriving)
    in_order = [claims[0], tie, claims[1], claims[2]]  # the tie: setl_id "A…" first
    expected = kernel_outputs(in_order, "390", "140100", [("minimum_allowance",)] * 4)
    got = {c["setl_id"]: fen(reply(o)) for c, o in zip(arriving, outcomes, strict=True)}
    assert [got[c["setl_id"]] for c in in_order] == expected
    assert sum(e["maf_pay"] for e in expected) > 0
    with UnitOfWork(database) as uow:
        chained = [e.entity_id for e in uow.audit.entries()
                   if e.entity_id in got and e.action == "settlement.created"]
        totals = uow.accumulators.get(psn_no, 2023)
    assert chained == [c["setl_id"] for c in in_order]  # the audit chain in settlement order
    for name in ("hifp_pay", "hifmi_pay", "maf_pay", "psn_part_amt"):
        assert totals[name] == sum(e[name] for e in expected)


def test_a_batch_after_a_batch_carries_the_accumulators(
        client: TestClient, roles: Roles, database: Database) -> None:
    psn_no = register(client, roles, categories=["relapsed_poverty"])
    claims = [claim_body(uid("S"), psn_no, setl_time=f"2023-0{m}-01T09:00:00", total="70000.00")
              for m in range(2, 8)]
    outcomes = settle_together(database, claims[:3]) + settle_together(database, claims[3:])
    expected = kernel_outputs(claims, "390", "140100", [("relapsed_poverty",)] * 6)
    assert [fen(reply(o)) for o in outcomes] == expected


def test_in_a_batch_the_token_is_checked_before_the_body(
        client: TestClient, roles: Roles, database: Database) -> None:
    from minsheng.service.auth import hash_secret

    psn_no = register(client, roles)
    bad_body = {**claim_body(uid("S"), psn_no), "hosp_lv": 9}
    analyst = hash_secret(roles.analyst["Authorization"].removeprefix("Bearer "))
    hospital = hash_secret(roles.hospital["Authorization"].removeprefix("Bearer "))
    [unknown] = settle_together(database, [bad_body], secret=hash_secret("msk_nonsense"))
    [forbidden] = settle_together(database, [bad_body], secret=analyst)
    [invalid, settled] = settle_together(database, [bad_body, claim_body(uid("S"), psn_no)],
                                         secret=hospital)
    assert isinstance(unknown, Unauthorized)
    assert isinstance(forbidden, Forbidden)
    assert isinstance(invalid, InputError) and invalid.field == "hosp_lv"
    assert reply(settled)["psn_no"] == psn_no


def test_the_settlement_writer_answers_every_claim_submitted_together(
        client: TestClient, roles: Roles, database: Database) -> None:
    people = [register(client, roles, categories=["minimum_allowance"]) for _ in range(3)]
    bodies = [claim_body(uid("S"), people[i % 3], setl_time=f"2023-0{1 + i % 9}-01T08:00:00",
                         total=f"{10000 + 997 * i}.00") for i in range(24)]
    bodies.append(dict(bodies[5]))  # a retry in the same batch
    requests = [settlements.parse_request(b, principal=SYSTEM) for b in bodies]
    writer_for(database).submit_many(requests)
    replies = [r.future.result(timeout=60) for r in requests]
    assert replies[-1].replayed and replies[-1].body == replies[5].body
    for psn_no in people:
        mine = sorted((b for b in bodies[:-1] if b["psn_no"] == psn_no),
                      key=lambda b: (b["setl_time"], b["setl_id"]))
        expected = kernel_outputs(mine, "390", "140100", [("minimum_allowance",)] * len(mine))
        got = {b["setl_id"]: fen(json.loads(r.body)) for b, r in zip(bodies, replies,
                                                                      strict=True)}
        assert [got[b["setl_id"]] for b in mine] == expected


@pytest.mark.parametrize("categories,region", [(["minimum_allowance"], "140100"),
                                               (["relapsed_poverty", "orphan"], "220102"),
                                               ([], "220102")])
def test_a_stored_trace_reads_back_as_the_kernels_trace_of_that_claim(
        client: TestClient, roles: Roles, categories: list[str], region: str) -> None:
    psn_no = register(client, roles, categories=categories, region=region)
    claims = [claim_body(uid("S"), psn_no, setl_time=f"2023-0{m}-01T09:00:00", med_type=mt,
                         hosp_lv=lv, total=total, preself="21.50")
              for m, mt, lv, total in ((2, "21", 3, "60000.00"), (3, "14", 1, "900.00"),
                                       (4, "11", 0, "300.00"))]
    before: dict[str, int] = {}
    for c in claims:
        r = client.post("/api/v1/settlements", json=c, headers=roles.hospital)
        assert r.status_code == 200, r.text
        expected = kernel.settle_one(kernel.parse_claim(c), "390", region,
                                     tuple(k for k in categories), before)
        before = expected.accumulators
        record = client.get(f"/api/v1/settlements/{c['setl_id']}", headers=roles.admin).json()
        assert record["trace"] == expected.trace
        assert record["outputs"] == expected.reply
        assert {m: parse_fen(record["outputs"][m]) for m in MONEY} == expected.amounts


def test_over_http_a_body_that_is_not_an_object_is_refused_after_the_token(
        client: TestClient, roles: Roles) -> None:
    assert client.post("/api/v1/settlements", json=[1, 2]).status_code == 401
    r = client.post("/api/v1/settlements", json=[1, 2], headers=roles.analyst)
    assert r.status_code == 403
    r = client.post("/api/v1/settlements", json=[1, 2], headers=roles.hospital)
    assert r.status_code == 422 and r.json()["field"] == "body"
    r = client.post("/api/v1/settlements", content=b"{not json", headers=roles.hospital)
    assert r.status_code == 422 and r.json()["field"] == "body"


def test_a_person_registered_meanwhile_is_found_by_the_next_batch(
        client: TestClient, roles: Roles, database: Database) -> None:
    psn_no = uid("P")
    claim = claim_body(uid("S"), psn_no)
    [unknown] = settle_together(database, [claim])
    assert isinstance(unknown, MinshengError) and unknown.details.get("field") == "psn_no"
    assert client.post("/api/v1/persons", json=person_body(psn_no),
                       headers=roles.admin).status_code == 201
    [settled] = settle_together(database, [claim])
    assert reply(settled)["setl_id"] == claim["setl_id"]


def test_a_batch_that_fails_as_a_whole_is_settled_again_claim_by_claim(
        client: TestClient, roles: Roles, database: Database) -> None:
    """A failure no claim was checked for (here a claim built past the parser, with an amount
    beyond int64) must not take the other claims of its batch with it."""
    import dataclasses

    psn_no = register(client, roles)
    good = [settlements.parse_request(claim_body(uid("S"), psn_no, setl_time=t),
                                      principal=SYSTEM)
            for t in ("2023-02-01T10:00:00", "2023-03-01T10:00:00")]
    poisoned = settlements.parse_request(claim_body(uid("S"), psn_no), principal=SYSTEM)
    assert poisoned.claim is not None
    poisoned.claim = dataclasses.replace(poisoned.claim, medfee_sumamt=2**70)
    writer_for(database).submit_many([good[0], poisoned, good[1]])
    assert not good[0].future.result(timeout=60).replayed
    assert not good[1].future.result(timeout=60).replayed
    assert poisoned.future.exception(timeout=60) is not None
    with UnitOfWork(database) as uow:
        assert len(uow.settlements.for_person(psn_no)) == 2


def test_a_request_given_up_by_its_client_does_not_disturb_its_batch(
        client: TestClient, roles: Roles, database: Database) -> None:
    psn_no = register(client, roles)
    gone, waiting = (settlements.parse_request(claim_body(uid("S"), psn_no, setl_time=t),
                                               principal=SYSTEM)
                     for t in ("2023-04-01T10:00:00", "2023-05-01T10:00:00"))
    assert gone.future.cancel()  # the client went away before its batch was settled
    writer_for(database).submit_many([gone, waiting])
    assert reply(waiting.future.result(timeout=60))["psn_no"] == psn_no
    assert gone.claim is not None
    retry = client.post("/api/v1/settlements", json=claim_body(
        gone.claim.setl_id, psn_no, setl_time="2023-04-01T10:00:00"), headers=roles.hospital)
    assert retry.status_code == 200 and retry.headers["idempotent-replay"] == "true"


def test_a_batch_settled_again_gives_the_same_reply_and_trace(
        client: TestClient, roles: Roles, database: Database) -> None:
    """A batch rolled back and settled again (another transaction took a ``setl_id``
    meanwhile, or the database broke a deadlock) notes the casework route afresh."""
    psn_no = register(client, roles, region="220102")
    claim = {**claim_body(uid("S"), psn_no), "care_region": "222401",  # 延吉市: in Jilin
             "visit": "emergency_observation"}
    once = {**claim, "setl_id": uid("S"), "setl_time": "2023-09-01T10:00:00"}
    [alone] = settle_together(database, [once])
    requests = [settlements.parse_request(claim, principal=SYSTEM)]
    with UnitOfWork(database, write=True) as uow:
        settle_batch(uow, requests)  # rolled back: settled again below, with the same request
    [again] = settle_requests(database, requests)
    assert reply(again)["route"] == reply(alone)["route"]
    assert reply(again)["route"]["scope"] == "in_province"
    traces = [client.get(f"/api/v1/settlements/{c['setl_id']}", headers=roles.admin).json()
              ["trace"] for c in (once, claim)]
    assert [s["name"] for s in traces[1]] == [s["name"] for s in traces[0]]
    assert [s["name"] for s in traces[1]].count("route") == 1


def test_a_batch_meeting_terms_another_has_written_waits_for_the_audit_head_not_the_terms(
        backend: str, fresh_database: Database) -> None:
    """Batch A has settled (not yet committed) and written three new sets of terms; batch B,
    meeting the same terms, waits for the audit head — which A holds — and not for A's
    uncommitted terms. So two batches can never each hold terms the other waits for (a
    deadlock PostgreSQL would break after a second): terms are written after the head."""
    import threading
    import time

    from sqlalchemy import text

    from minsheng.service.persons import create_person

    if backend != "postgres":
        pytest.skip("SQLite runs one writing transaction at a time")
    db = fresh_database
    for p in ("PA", "PB"):
        create_person(UnitOfWork(db, write=True), SYSTEM, person_body(p))

    def requests(psn_no: str) -> list[settlements.SettleRequest]:
        return [settlements.parse_request(
            claim_body(uid("T"), psn_no, hosp_lv=lv, setl_time=f"2023-08-0{lv}T10:00:00"),
            principal=SYSTEM) for lv in (1, 2, 3)]

    first = UnitOfWork(db, write=True)
    first.__enter__()
    try:
        assert all(isinstance(o, SettleReply) for o in settle_batch(first, requests("PA")))
        second: list[object] = []

        def settle_second() -> None:
            with UnitOfWork(db, write=True) as uow:
                second.extend(settle_batch(uow, requests("PB")))
                uow.commit()

        thread = threading.Thread(target=settle_second)
        thread.start()
        waiting = None
        with db.engine.connect() as watch:
            for _ in range(500):  # until the second batch waits to lock a row (10 s at most)
                waiting = watch.execute(text(
                    "SELECT l.relation::regclass::text FROM pg_stat_activity a "
                    "JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'tuple' "
                    "WHERE a.wait_event_type = 'Lock' AND a.datname = current_database()"
                )).scalar()
                watch.rollback()  # pg_stat_activity is read once a transaction: read it anew
                if waiting is not None:
                    break
                time.sleep(0.02)
        first.commit()
    finally:
        first.__exit__(None, None, None)
    thread.join(timeout=30)
    assert waiting == "audit_head", waiting
    assert len(second) == 3 and all(isinstance(o, SettleReply) for o in second), second
