"""The array literals the settlement writer sends to PostgreSQL read back as the very values."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from minsheng.service.batch_repository import _array
from minsheng.service.db import Database

AWKWARD = ["", "plain", 'a "quoted" word', "back\\slash", "\\\"", "{braces}", "a,b", "NULL",
           "null", " spaced ", "民生 医保", "tab\there", "line\nbreak", "'single'"]


@pytest.fixture
def pg(backend: str, database: Database) -> Database:
    if backend != "postgres":
        pytest.skip("array literals are PostgreSQL's")
    return database


def _read_back(db: Database, literal: str, kind: str) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(text(f"SELECT CAST(:a AS {kind}[])"), {"a": literal}).scalar_one())


def test_awkward_texts_and_nulls_come_back_unchanged(pg: Database) -> None:
    values: list[Any] = [*AWKWARD, None]
    assert _read_back(pg, _array(values, "text"), "text") == values
    assert _read_back(pg, _array(AWKWARD, "varchar"), "varchar") == AWKWARD


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # the database is read only
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                               blacklist_characters="\x00")), max_size=8))
def test_any_texts_come_back_unchanged(pg: Database, values: list[str]) -> None:
    assert _read_back(pg, _array(values, "text"), "text") == values


def test_date_times_booleans_and_integers_come_back_unchanged(pg: Database) -> None:
    times = [dt.datetime(2023, 8, 1, 13, 0), dt.datetime(2026, 11, 23, 8, 46, 19, 610161), None]
    assert _read_back(pg, _array(times, "timestamp"), "timestamp") == times
    assert _read_back(pg, _array([True, False, None], "boolean"), "boolean") == [True, False, None]
    big = [0, -1, 2**62, None]
    assert _read_back(pg, _array(big, "bigint"), "bigint") == big


def test_audit_entries_chained_by_the_writer_verify_whatever_their_text(
        fresh_database: Database) -> None:
    """The writer's entries (chained by ``audit_append`` in PostgreSQL, in Python on SQLite)
    hash exactly as ``minsheng audit verify`` recomputes them — Chinese, quotes, backslashes,
    line breaks and braces included — and follow an entry appended the ORM's way."""
    from minsheng.service.audit_trail import verify_chain
    from minsheng.service.batch_repository import BatchRepository
    from minsheng.service.unit_of_work import UnitOfWork

    with UnitOfWork(fresh_database, write=True) as uow:
        uow.audit.append("admin", "person.created", "person", "P1", '{"name":"张三"}')
        uow.commit()
    with UnitOfWork(fresh_database, write=True) as uow:
        db = BatchRepository(uow)
        db.append_audit([("tok-民生", "settlement.created", "settlement", f"S{i}",
                          {"note": word, "n": i, "ok": True, "list": [word, None]})
                         for i, word in enumerate(AWKWARD)])
        db.finish(commit=True)
        uow.commit()
    with UnitOfWork(fresh_database) as uow:
        entries = uow.audit.entries()
        assert [e.entity_id for e in entries] == ["P1", *(f"S{i}" for i in range(len(AWKWARD)))]
        assert [e.seq for e in entries] == list(range(1, len(AWKWARD) + 2))
        assert uow.audit.head().seq == len(AWKWARD) + 1
    assert verify_chain(UnitOfWork(fresh_database)).ok
