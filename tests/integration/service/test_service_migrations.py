"""Migrations keep the data: the accumulators of an older schema (one row per column) are
carried over to one row per person-year (migration 0004), values and zeros alike, and read
back the same through the service."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from service_helpers import new_database_url
from sqlalchemy import text

from minsheng.service.db import Database, alembic_config
from minsheng.service.unit_of_work import UnitOfWork


def test_accumulators_of_the_older_schema_are_carried_over(backend: str,
                                                           tmp_path: Path) -> None:
    url, remove = new_database_url(backend, tmp_path)
    db = Database(url, pool_size=2)
    try:
        cfg = alembic_config(db.url)
        with db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0003")
        with db.engine.connect() as conn:
            for psn_no in ("P1", "P2"):
                conn.execute(text(
                    "INSERT INTO person (psn_no, insutype, region, created_at, updated_at) "
                    "VALUES (:p, '390', '140100', '2023-01-01 00:00:00.000000', "
                    "'2023-01-01 00:00:00.000000')"), {"p": psn_no})
            rows = [("P1", 2023, "medfee_sumamt", 2_000_000), ("P1", 2023, "hifp_pay", 0),
                    ("P1", 2024, "maf_pay", 1234), ("P2", 2023, "psn_part_amt", 99)]
            conn.execute(text("INSERT INTO accumulator (psn_no, year, field, value) "
                              "VALUES (:p, :y, :f, :v)"),
                         [{"p": p, "y": y, "f": f, "v": v} for p, y, f, v in rows])
            conn.commit()
        db.migrate()
        with UnitOfWork(db) as uow:
            assert uow.accumulators.get("P1", 2023) == {"medfee_sumamt": 2_000_000,
                                                        "hifp_pay": 0}
            assert uow.accumulators.get("P1", 2024) == {"maf_pay": 1234}
            assert uow.accumulators.get("P2", 2023) == {"psn_part_amt": 99}
            assert uow.accumulators.get("P2", 2024) == {}
    finally:
        db.dispose()
        remove()
