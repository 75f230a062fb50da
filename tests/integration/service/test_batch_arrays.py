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
