"""Initial schema: persons, settlements, accumulators, tokens, audit trail.

Revision ID: 0001
Revises:
Create Date: 2024-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

AutoKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "person",
        sa.Column("psn_no", sa.String(32), primary_key=True),
        sa.Column("insutype", sa.String(3), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("psn_name", sa.String(64)),
        sa.Column("certno", sa.String(18)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_person_region", "person", ["region"])
    op.create_table(
        "person_category",
        sa.Column("id", AutoKey, primary_key=True, autoincrement=True),
        sa.Column("psn_no", sa.String(32),
                  sa.ForeignKey("person.psn_no", ondelete="CASCADE"), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("valid_from", sa.Date),
        sa.Column("valid_to", sa.Date),
    )
    op.create_index("ix_person_category_psn_no", "person_category", ["psn_no"])
    money = ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "overlmt_selfpay",
             "inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt",
             "psn_part_amt", "act_pay_dedc")
    op.create_table(
        "settlement",
        sa.Column("setl_id", sa.String(64), primary_key=True),
        sa.Column("psn_no", sa.String(32), sa.ForeignKey("person.psn_no"), nullable=False),
        sa.Column("setl_time", sa.DateTime, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("insutype", sa.String(3), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("categories", sa.String(200), nullable=False),
        sa.Column("med_type", sa.String(2), nullable=False),
        sa.Column("hosp_lv", sa.SmallInteger, nullable=False),
        sa.Column("in_province", sa.Boolean, nullable=False),
        *(sa.Column(name, sa.BigInteger, nullable=False) for name in money),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("reply", sa.Text, nullable=False),
        sa.Column("trace", sa.Text, nullable=False),
        sa.Column("contributions", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("settled_at", sa.DateTime, nullable=False),
        sa.Column("settled_by", sa.String(64), nullable=False),
        sa.Column("reversed_at", sa.DateTime),
        sa.Column("reversed_by", sa.String(64)),
        sa.Column("reversal_reason", sa.Text),
    )
    op.create_index("ix_settlement_person_year", "settlement", ["psn_no", "year"])
    op.create_table(
        "accumulator",
        sa.Column("psn_no", sa.String(32), sa.ForeignKey("person.psn_no"), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("field", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("region", sa.String(6)),
        sa.Column("psn_no", sa.String(32)),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("revoked_at", sa.DateTime),
    )
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])


def downgrade() -> None:
    for table in ("audit_head", "audit_entry", "api_token", "accumulator", "settlement",
                  "person_category", "person"):
        op.drop_table(table)
