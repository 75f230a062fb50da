"""The settlement writer talks to PostgreSQL in whole messages (minsheng.service.pg_messages).

Its connection is in autocommit mode, so the batch's first message must begin the transaction
itself: the persons it locks stay locked until the commit. Nothing is prepared, so no plan
made while a table was small (a sequential scan of ``settlement`` for the ``setl_id`` lookup,
once psycopg had prepared it after its fifth run) outlives the table's growth."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text

from minsheng.service.auth import SYSTEM
from minsheng.service.batch_repository import BatchRepository
from minsheng.service.db import Database
from minsheng.service.persons import create_person
from minsheng.service.pg_messages import Message
from minsheng.service.unit_of_work import UnitOfWork


def _postgres_only(backend: str) -> None:
    if backend != "postgres":
        pytest.skip("messages, locks and prepared statements as PostgreSQL has them")


def _raw_url(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False).replace(
        "postgresql+psycopg", "postgresql")


def _register(database: Database, psn_no: str) -> None:
    create_person(UnitOfWork(database, write=True), SYSTEM, {
        "psn_no": psn_no, "insutype": "390", "region": "140100", "categories": []})


def test_the_persons_a_batch_reads_stay_locked_until_its_commit(
        backend: str, fresh_database: Database) -> None:
    _postgres_only(backend)
    _register(fresh_database, "LOCK-1")
    with UnitOfWork(fresh_database, pinned=True) as uow:
        db = BatchRepository(uow)
        [persons] = db.read(db.lock_persons_query({"LOCK-1"}))
        assert set(persons) == {"LOCK-1"}
        raw = uow.session.connection().connection.dbapi_connection
        assert raw.autocommit  # the writer's own connection: no BEGIN of the driver's
        assert raw.info.transaction_status == TransactionStatus.INTRANS
        with psycopg.connect(_raw_url(fresh_database), autocommit=True) as other, \
                pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("SELECT 1 FROM person WHERE psn_no = 'LOCK-1' FOR UPDATE NOWAIT")
        db.finish(commit=True)
        assert raw.info.transaction_status == TransactionStatus.IDLE
    with psycopg.connect(_raw_url(fresh_database), autocommit=True) as other:
        other.execute("SELECT 1 FROM person WHERE psn_no = 'LOCK-1' FOR UPDATE NOWAIT")


def test_an_error_in_a_message_skips_its_commit_and_nothing_is_written(
        backend: str, fresh_database: Database) -> None:
    _postgres_only(backend)
    _register(fresh_database, "ERR-1")
    with UnitOfWork(fresh_database, pinned=True) as uow:
        db = BatchRepository(uow)
        db.read(db.lock_persons_query({"ERR-1"}))
        db.write_accumulators([("ERR-1", 2023, {"hifp_pay": 100}, {})])
        db._pending.append(("SELECT 1 / 0", []))  # any statement failing after the writes
        with pytest.raises(psycopg.errors.DivisionByZero):
            db.finish(commit=True)
    with UnitOfWork(fresh_database) as uow:
        assert uow.session.execute(text(
            "SELECT count(*) FROM accumulator_year WHERE psn_no = 'ERR-1'")).scalar() == 0


def test_no_statement_of_the_writer_is_prepared(backend: str, fresh_database: Database
                                                ) -> None:
    _postgres_only(backend)
    with UnitOfWork(fresh_database, pinned=True) as uow:
        db = BatchRepository(uow)
        for i in range(8):
            db.read(db.settlements_query({f"PLAN-{i}"}),
                    db.accumulators_query({(f"PLAN-P{i}", 2023)}))
        prepared = [s for (s,) in uow.session.execute(
            text("SELECT statement FROM pg_prepared_statements"))]
    assert prepared == []


TRICKY = ["it's", "back\\slash", 'say "hi"', "'';--", "民生 · 结算", "", "{\"a\",\"b\"}"]


@pytest.mark.parametrize("standard_strings", [True, False], ids=["quoted here", "by psycopg"])
def test_values_reach_postgresql_exactly_as_given_however_they_are_quoted(
        backend: str, fresh_database: Database, standard_strings: bool) -> None:
    _postgres_only(backend)
    with psycopg.connect(_raw_url(fresh_database), autocommit=True) as conn:
        message = Message(conn)
        message._standard_strings = standard_strings
        rows = message.run([("SELECT %s::text, %s::text", [value, value + "'"])
                            for value in TRICKY] + [("COMMIT", [])])
    assert [r[0] for r in rows[:-1]] == [(value, value + "'") for value in TRICKY]


def test_a_nul_character_is_refused_before_anything_is_sent(
        backend: str, fresh_database: Database) -> None:
    _postgres_only(backend)
    _register(fresh_database, "NUL-1")
    with psycopg.connect(_raw_url(fresh_database), autocommit=True) as conn:
        message = Message(conn)
        with pytest.raises(psycopg.DataError, match="NUL"):
            message.run([("UPDATE person SET region = %s WHERE psn_no = 'NUL-1'", ["14\x00"])])
        assert conn.info.transaction_status == TransactionStatus.IDLE
        assert conn.execute("SELECT region FROM person WHERE psn_no = 'NUL-1'").fetchone() == (
            "140100",)
