"""Casework (issue 5): remote-care filings, transfers, disease recognitions, social-assistance
approval, its runs, and the levels of casework staff.

Revision ID: 0002
Revises: 0001
Create Date: 2024-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _audit_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column("created_by", sa.String(64), nullable=False),
            sa.Column("created_at", sa.DateTime, nullable=False)]


def upgrade() -> None:
    op.create_table(
        "remote_care_filing",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("psn_no", sa.String(32), sa.ForeignKey("person.psn_no"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("destination", sa.String(6), nullable=False),
        sa.Column("destination_province", sa.String(6), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("filed_at", sa.DateTime, nullable=False),
        sa.Column("valid_to", sa.Date),
        sa.Column("late_for_discharge", sa.DateTime),
        sa.Column("insutype_at_filing", sa.String(3), nullable=False),
        sa.Column("region_at_filing", sa.String(6), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("end_reason", sa.Text),
        sa.Column("replaced_by", sa.String(24)),
        *_audit_columns(),
    )
    op.create_index("ix_remote_care_filing_person", "remote_care_filing",
                    ["psn_no", "destination_province"])
    op.create_table(
        "insurance_transfer",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("psn_no", sa.String(32), sa.ForeignKey("person.psn_no"), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("insutype", sa.String(3), nullable=False),
        sa.Column("from_region", sa.String(6), nullable=False),
        sa.Column("to_region", sa.String(6), nullable=False),
        sa.Column("handling_region", sa.String(6), nullable=False),
        sa.Column("application_date", sa.Date, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("working_days", sa.BigInteger, nullable=False),
        sa.Column("digital_exchange", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("completed_on", sa.Date),
        sa.Column("contribution_months", sa.BigInteger),
        sa.Column("account_balance", sa.BigInteger),
        sa.Column("reason", sa.Text),
        sa.Column("steps", sa.Text, nullable=False),
        *_audit_columns(),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_insurance_transfer_psn_no", "insurance_transfer", ["psn_no"])
    op.create_index("ix_insurance_transfer_open", "insurance_transfer", ["status", "deadline"])
    op.create_table(
        "disease_recognition",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("psn_no", sa.String(32), sa.ForeignKey("person.psn_no"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("disease", sa.String(64), nullable=False),
        sa.Column("drug", sa.String(100)),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("institution_region", sa.String(6)),
        sa.Column("institution_name", sa.String(100)),
        sa.Column("physician_name", sa.String(64)),
        sa.Column("physician_title", sa.String(24)),
        sa.Column("applied_on", sa.Date, nullable=False),
        sa.Column("valid_from", sa.Date),
        sa.Column("valid_to", sa.Date),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("replaces", sa.String(24)),
        sa.Column("replaced_by", sa.String(24)),
        sa.Column("steps", sa.Text, nullable=False),
        *_audit_columns(),
    )
    op.create_index("ix_disease_recognition_psn_no", "disease_recognition", ["psn_no"])
    op.create_table(
        "assistance_case",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("psn_no", sa.String(32), sa.ForeignKey("person.psn_no"), nullable=False),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("township", sa.String(64), nullable=False),
        sa.Column("village", sa.String(64)),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("applied_on", sa.Date, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("accepted_on", sa.Date),
        sa.Column("survey_on", sa.Date),
        sa.Column("survey_result", sa.String(16)),
        sa.Column("verification_batch", sa.Date),
        sa.Column("verification_result", sa.String(16)),
        sa.Column("verification_report", sa.String(64)),
        sa.Column("appraisal_required", sa.Boolean, nullable=False),
        sa.Column("appraisal_on", sa.Date),
        sa.Column("appraisal_result", sa.String(16)),
        sa.Column("decision", sa.String(16)),
        sa.Column("granted_category", sa.String(32)),
        sa.Column("granted_to", sa.Date),
        sa.Column("signed_by", sa.String(64)),
        sa.Column("signed_on", sa.Date),
        sa.Column("decided_on", sa.Date),
        sa.Column("reason", sa.Text),
        sa.Column("steps", sa.Text, nullable=False),
        *_audit_columns(),
    )
    op.create_index("ix_assistance_case_psn_no", "assistance_case", ["psn_no"])
    op.create_index("ix_assistance_case_place", "assistance_case",
                    ["region", "township", "village"])
    op.create_table(
        "assistance_run",
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("run_date", sa.Date, nullable=False),
        sa.Column("verifications_sent", sa.BigInteger, nullable=False),
        sa.Column("approved", sa.BigInteger, nullable=False),
        sa.Column("denied", sa.BigInteger, nullable=False),
        sa.Column("run_by", sa.String(64), nullable=False),
        sa.Column("run_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "casework_staff",
        sa.Column("token_id", sa.String(24), sa.ForeignKey("api_token.id"), primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("township", sa.String(64)),
        sa.Column("village", sa.String(64)),
        sa.Column("name", sa.String(64)),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("casework_staff", "assistance_run", "assistance_case", "disease_recognition",
                  "insurance_transfer", "remote_care_filing"):
        op.drop_table(table)
