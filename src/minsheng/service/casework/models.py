"""The casework tables (on the service's ``Base``; created by migration ``0002_casework``).

- ``remote_care_filing`` 异地就医备案: one filing of a person for a destination province
  (or a place in it), open-ended until changed, cancelled or the insurance status changes;
- ``insurance_transfer`` 转移接续: a cross-province application or an in-province transfer
  done at registration, with its deadline in official working days and its steps;
- ``disease_recognition`` 门诊慢特病认定 and 双通道药品备案 (one table, ``kind`` tells which);
- ``assistance_case`` 社会救助审批: one application to the township, with its parallel checks,
  appraisal, signed decision and the run that made it effective;
- ``assistance_run``: the twice-monthly verification and approval runs (one per half-month);
- ``casework_staff``: the level (village, township, county) of an agency token's holder in
  social-assistance casework, and its township and village.

Money is BIGINT fen. Steps of a case are kept as a JSON list in ``steps`` (who, when, what),
beside the hash-chained audit trail that records every change.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from minsheng.service.models import Base


class RemoteCareFiling(Base):
    __tablename__ = "remote_care_filing"
    __table_args__ = (Index("ix_remote_care_filing_person", "psn_no", "destination_province"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(32), ForeignKey("person.psn_no"))
    kind: Mapped[str] = mapped_column(String(24))
    destination: Mapped[str] = mapped_column(String(6))
    destination_province: Mapped[str] = mapped_column(String(6))
    channel: Mapped[str] = mapped_column(String(16))
    filed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    late_for_discharge: Mapped[dt.datetime | None] = mapped_column(DateTime)
    insutype_at_filing: Mapped[str] = mapped_column(String(3))
    region_at_filing: Mapped[str] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(16))  # active | changed | ended | cancelled
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    end_reason: Mapped[str | None] = mapped_column(Text)
    replaced_by: Mapped[str | None] = mapped_column(String(24))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class InsuranceTransfer(Base):
    __tablename__ = "insurance_transfer"
    __table_args__ = (Index("ix_insurance_transfer_open", "status", "deadline"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(32), ForeignKey("person.psn_no"), index=True)
    scope: Mapped[str] = mapped_column(String(16))  # cross_province | in_province
    channel: Mapped[str] = mapped_column(String(16))  # online | old_agency | new_agency | registration
    insutype: Mapped[str] = mapped_column(String(3))
    from_region: Mapped[str] = mapped_column(String(6))
    to_region: Mapped[str] = mapped_column(String(6))
    handling_region: Mapped[str] = mapped_column(String(6))  # the Jilin side, whose rules apply
    application_date: Mapped[dt.date] = mapped_column(Date)
    deadline: Mapped[dt.date] = mapped_column(Date)
    working_days: Mapped[int] = mapped_column(BigInteger)
    digital_exchange: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))  # applied | forwarded | completed | rejected
    completed_on: Mapped[dt.date | None] = mapped_column(Date)
    contribution_months: Mapped[int | None] = mapped_column(BigInteger)
    account_balance: Mapped[int | None] = mapped_column(BigInteger)  # fen
    reason: Mapped[str | None] = mapped_column(Text)
    steps: Mapped[str] = mapped_column(Text)  # JSON list
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class DiseaseRecognition(Base):
    __tablename__ = "disease_recognition"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(32), ForeignKey("person.psn_no"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # chronic_disease | dual_channel_drug
    disease: Mapped[str] = mapped_column(String(64))
    drug: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))  # institution | online
    scope: Mapped[str] = mapped_column(String(16))  # local | in_province | cross_province
    institution_region: Mapped[str | None] = mapped_column(String(6))
    institution_name: Mapped[str | None] = mapped_column(String(100))
    physician_name: Mapped[str | None] = mapped_column(String(64))
    physician_title: Mapped[str | None] = mapped_column(String(24))
    applied_on: Mapped[dt.date] = mapped_column(Date)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)  # dual channel: the assessment period's end
    status: Mapped[str] = mapped_column(String(16))  # submitted | approved | rejected | revoked
    reason: Mapped[str | None] = mapped_column(Text)
    replaces: Mapped[str | None] = mapped_column(String(24))
    replaced_by: Mapped[str | None] = mapped_column(String(24))
    steps: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class AssistanceCase(Base):
    __tablename__ = "assistance_case"
    __table_args__ = (Index("ix_assistance_case_place", "region", "township", "village"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(32), ForeignKey("person.psn_no"), index=True)
    region: Mapped[str] = mapped_column(String(6))  # county-level unit of the person
    township: Mapped[str] = mapped_column(String(64))
    village: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))  # applied for
    applied_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    accepted_on: Mapped[dt.date | None] = mapped_column(Date)
    survey_on: Mapped[dt.date | None] = mapped_column(Date)
    survey_result: Mapped[str | None] = mapped_column(String(16))  # eligible | ineligible
    verification_batch: Mapped[dt.date | None] = mapped_column(Date)  # the run that sent it
    verification_result: Mapped[str | None] = mapped_column(String(16))  # passed | failed
    verification_report: Mapped[str | None] = mapped_column(String(64))
    appraisal_required: Mapped[bool] = mapped_column(Boolean)
    appraisal_on: Mapped[dt.date | None] = mapped_column(Date)
    appraisal_result: Mapped[str | None] = mapped_column(String(16))  # agreed | disagreed
    decision: Mapped[str | None] = mapped_column(String(16))  # approve | deny
    granted_category: Mapped[str | None] = mapped_column(String(32))
    granted_to: Mapped[dt.date | None] = mapped_column(Date)
    signed_by: Mapped[str | None] = mapped_column(String(64))
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    decided_on: Mapped[dt.date | None] = mapped_column(Date)  # the approval run
    reason: Mapped[str | None] = mapped_column(Text)
    steps: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class AssistanceRun(Base):
    __tablename__ = "assistance_run"

    period: Mapped[str] = mapped_column(String(10), primary_key=True)  # 2023-09-1 | 2023-09-2
    run_date: Mapped[dt.date] = mapped_column(Date)
    verifications_sent: Mapped[int] = mapped_column(BigInteger)
    approved: Mapped[int] = mapped_column(BigInteger)
    denied: Mapped[int] = mapped_column(BigInteger)
    run_by: Mapped[str] = mapped_column(String(64))
    run_at: Mapped[dt.datetime] = mapped_column(DateTime)


class CaseworkStaff(Base):
    __tablename__ = "casework_staff"

    token_id: Mapped[str] = mapped_column(String(24), ForeignKey("api_token.id"), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))  # county | township | village
    township: Mapped[str | None] = mapped_column(String(64))
    village: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
