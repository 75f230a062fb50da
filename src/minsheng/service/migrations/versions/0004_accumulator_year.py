"""Accumulators as one row per person-year: ``accumulator_year.totals`` holds the columns as a
JSON object (column → fen). A settlement then rewrites one row per person-year instead of a
row per changed column (about ten), and the kernel may still add columns without a migration.

The rows of ``accumulator`` are carried over (columns that exist stay, with their values,
zeros included), then that table is dropped.

Revision ID: 0004
Revises: 0003
Create Date: 2024-01-04
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CHUNK = 10_000


def _json(totals: dict[str, int]) -> str:
    return json.dumps(totals, sort_keys=True, separators=(",", ":"))


def upgrade() -> None:
    table = op.create_table(
        "accumulator_year",
        sa.Column("psn_no", sa.String(32), sa.ForeignKey("person.psn_no"), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("totals", sa.Text, nullable=False),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT psn_no, year, field, value FROM accumulator ORDER BY psn_no, year, field"))
    batch: list[dict[str, Any]] = []
    key: tuple[str, int] | None = None
    totals: dict[str, int] = {}
    for psn_no, year, field, value in rows:
        if (psn_no, year) != key:
            if key is not None:
                batch.append({"psn_no": key[0], "year": key[1], "totals": _json(totals)})
            key, totals = (psn_no, year), {}
        totals[field] = int(value)
        if len(batch) >= CHUNK:
            op.bulk_insert(table, batch)
            batch = []
    if key is not None:
        batch.append({"psn_no": key[0], "year": key[1], "totals": _json(totals)})
    if batch:
        op.bulk_insert(table, batch)
    op.drop_table("accumulator")


def downgrade() -> None:
    table = op.create_table(
        "accumulator",
        sa.Column("psn_no", sa.String(32), sa.ForeignKey("person.psn_no"), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("field", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    rows = op.get_bind().execute(sa.text("SELECT psn_no, year, totals FROM accumulator_year"))
    batch = [{"psn_no": p, "year": y, "field": f, "value": v}
             for p, y, totals in rows for f, v in json.loads(totals).items()]
    if batch:
        op.bulk_insert(table, batch)
    op.drop_table("accumulator_year")
