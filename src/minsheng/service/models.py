"""The tables of the service (SQLAlchemy 2, typed ``Mapped[...]``). Money is BIGINT fen.

- ``person`` and ``person_category`` (assistance categories with validity periods);
- ``settlement``: one settled claim — its inputs, its outputs, the reply sent, its trace,
  its contribution to every accumulator column, and (when reversed) who, why and when;
- ``accumulator_year``: one row per (person, year) with the running totals over settled,
  unreversed claims of every column of the kernel's ``ACCUMULATOR_FIELDS`` as a JSON object
  (so that the kernel may add columns without a migration, and a settlement rewrites one row);
- ``api_token``: bearer tokens, stored as the sha256 of the secret;
- ``audit_entry`` and ``audit_head``: the append-only, hash-chained audit trail;
- ``settlement_terms``: the terms applied by settlements (each tier's terms with every
  parameter read, value and reference), stored once under the hash of their content and
  referred to by each settlement's compact trace (:mod:`minsheng.service.trace_store`); and
  the warnings of settlements' replies, likewise (``settlement.warnings_id``).

The schema itself is created by the Alembic migrations in ``migrations/versions``; a test
compares these models with the migrated schema.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# An auto-incrementing key: BIGINT on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
AutoKey = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "person"

    psn_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    insutype: Mapped[str] = mapped_column(String(3))
    region: Mapped[str] = mapped_column(String(6), index=True)
    psn_name: Mapped[str | None] = mapped_column(String(64))
    certno: Mapped[str | None] = mapped_column(String(18))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    categories: Mapped[list[PersonCategory]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin",
        order_by="PersonCategory.id")


class PersonCategory(Base):
    __tablename__ = "person_category"

    id: Mapped[int] = mapped_column(AutoKey, primary_key=True, autoincrement=True)
    psn_no: Mapped[str] = mapped_column(
        String(32), ForeignKey("person.psn_no", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    person: Mapped[Person] = relationship(back_populates="categories")


class Settlement(Base):
    __tablename__ = "settlement"
    __table_args__ = (Index("ix_settlement_person_year", "psn_no", "year"),)

    setl_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    psn_no: Mapped[str] = mapped_column(String(32), ForeignKey("person.psn_no"))
    setl_time: Mapped[dt.datetime] = mapped_column(DateTime)
    year: Mapped[int] = mapped_column(Integer)
    insutype: Mapped[str] = mapped_column(String(3))
    region: Mapped[str] = mapped_column(String(6))
    categories: Mapped[str] = mapped_column(String(200))  # held on the claim date, comma-separated
    med_type: Mapped[str] = mapped_column(String(2))
    hosp_lv: Mapped[int] = mapped_column(SmallInteger)
    in_province: Mapped[bool] = mapped_column(Boolean)
    medfee_sumamt: Mapped[int] = mapped_column(BigInteger)
    fulamt_ownpay_amt: Mapped[int] = mapped_column(BigInteger)
    preselfpay_amt: Mapped[int] = mapped_column(BigInteger)
    overlmt_selfpay: Mapped[int] = mapped_column(BigInteger)
    inscp_scp_amt: Mapped[int] = mapped_column(BigInteger)
    hifp_pay: Mapped[int] = mapped_column(BigInteger)
    hifmi_pay: Mapped[int] = mapped_column(BigInteger)
    maf_pay: Mapped[int] = mapped_column(BigInteger)
    fund_pay_sumamt: Mapped[int] = mapped_column(BigInteger)
    psn_part_amt: Mapped[int] = mapped_column(BigInteger)
    act_pay_dedc: Mapped[int] = mapped_column(BigInteger)
    request_hash: Mapped[str] = mapped_column(String(64))
    reply: Mapped[str] = mapped_column(Text)  # the JSON sent back, verbatim
    trace: Mapped[str] = mapped_column(Text)  # JSON list of trace steps
    contributions: Mapped[str] = mapped_column(Text)  # JSON {accumulator column: fen}
    status: Mapped[str] = mapped_column(String(16))  # settled | reversed
    settled_at: Mapped[dt.datetime] = mapped_column(DateTime)
    settled_by: Mapped[str] = mapped_column(String(64))
    reversed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reversed_by: Mapped[str | None] = mapped_column(String(64))
    reversal_reason: Mapped[str | None] = mapped_column(Text)
    warnings_id: Mapped[str | None] = mapped_column(String(32))  # its warnings: settlement_terms
    warnings_snapshot: Mapped[SettlementTerms | None] = relationship(
        primaryjoin="foreign(Settlement.warnings_id) == SettlementTerms.id", lazy="selectin",
        viewonly=True)

    @property
    def full_reply(self) -> str:
        """The reply as it was sent (the stored text and, if stored apart, its warnings)."""
        snapshot = self.warnings_snapshot if self.warnings_id else None
        return with_warnings(self.reply, snapshot.body if snapshot is not None else None)


class AccumulatorYear(Base):
    """A person-year's running totals: ``totals`` is a JSON object, column → fen."""

    __tablename__ = "accumulator_year"

    psn_no: Mapped[str] = mapped_column(String(32), ForeignKey("person.psn_no"),
                                        primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    totals: Mapped[str] = mapped_column(Text)


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(6))
    psn_no: Mapped[str | None] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AuditEntry(Base):
    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))  # ISO date-time, China time, as hashed
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, as hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last sequence number and hash (the lock that orders appends)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))



def with_warnings(reply: str, warnings: str | None) -> str:
    """A reply stored without its warnings (a JSON object's text), with ``warnings`` (a JSON
    list's text) added back as its last member — the very text sent; ``None``: stored whole."""
    if warnings is None:
        return reply
    return reply[:-1] + ',"warnings":' + warnings + "}"


class SettlementTerms(Base):
    """A snapshot of what settlements applied — the terms of a claim, or the warnings of its
    reply — named by the hash of ``body`` (JSON) and never changed."""

    __tablename__ = "settlement_terms"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
