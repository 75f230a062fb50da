"""Compact settlement traces: the terms applied, stored once (a snapshot of the parameters
read, with their references), which each settlement's trace refers to.

Revision ID: 0003
Revises: 0002
Create Date: 2024-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settlement_terms",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("settlement_terms")
