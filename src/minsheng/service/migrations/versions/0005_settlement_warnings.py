"""A settlement's warnings stored once: ``settlement.warnings_id`` names a snapshot in
``settlement_terms`` (the JSON list of the warnings, under the hash of its text) and
``settlement.reply`` then holds the reply without them — about 2 kB less per settlement (the
ten example-value warnings of a Shanxi claim), which PostgreSQL no longer compresses and logs
row by row. The reply sent is the stored text with ``"warnings": [...]`` as its last member
(:func:`minsheng.service.models.with_warnings`), byte for byte. Rows written before (and by
other code) keep their whole reply and no ``warnings_id``.

Revision ID: 0005
Revises: 0004
Create Date: 2024-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("settlement", sa.Column("warnings_id", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("settlement", "warnings_id")
