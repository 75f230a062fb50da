"""The settlement writer's reads keep good plans as the tables grow (PostgreSQL).

psycopg prepares a statement after its fifth run, and PostgreSQL then keeps one generic plan
for it — made while the table was small, so a sequential scan — until the table is next
analyzed. For the lookup of the batch's ``setl_id``\\ s that meant a scan of the whole
``settlement`` table on every batch, growing with the table; it is therefore planned afresh
each time, while the reads of small or keyed tables stay prepared."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from minsheng.service.batch_repository import BatchRepository
from minsheng.service.db import Database
from minsheng.service.unit_of_work import UnitOfWork


def test_the_setl_id_lookup_is_never_a_prepared_statement_while_the_others_are(
        backend: str, database: Database) -> None:
    if backend != "postgres":
        pytest.skip("prepared statements and their plans are PostgreSQL's")
    with UnitOfWork(database, write=True) as uow:
        db = BatchRepository(uow)
        for i in range(8):
            db.read(db.settlements_query({f"PLAN-{i}"}),
                    db.accumulators_query({(f"PLAN-P{i}", 2023)}))
        prepared = [s for (s,) in uow.session.execute(
            text("SELECT statement FROM pg_prepared_statements"))]
    assert any("FROM accumulator_year" in s for s in prepared), prepared
    assert not any("LEFT JOIN settlement_terms w" in s for s in prepared), prepared
