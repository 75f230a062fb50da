"""Repositories: the only code that writes SQL for the service's aggregates.

Each repository works inside the session of a unit of work; none commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from minsheng.service.audit import chain_hash, entry_document, now
from minsheng.service.models import (
    AccumulatorYear,
    ApiToken,
    AuditEntry,
    AuditHead,
    Person,
    Settlement,
    SettlementTerms,
)


class PersonRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, psn_no: str, *, lock: bool = False) -> Person | None:
        """The person; ``lock`` takes the row lock that serialises its settlements."""
        stmt = select(Person).where(Person.psn_no == psn_no)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def add(self, person: Person) -> None:
        self.session.add(person)

    def list(self, *, region_prefixes: Iterable[str] | None = None,
             limit: int = 100, offset: int = 0) -> list[Person]:
        stmt = select(Person).order_by(Person.psn_no).limit(limit).offset(offset)
        if region_prefixes is not None:
            stmt = stmt.where(Person.region.in_(list(region_prefixes)))
        return list(self.session.scalars(stmt))


class SettlementRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, setl_id: str, *, lock: bool = False) -> Settlement | None:
        """The settlement; ``lock`` re-reads it under a row lock (for reversal)."""
        if not lock:
            return self.session.get(Settlement, setl_id)
        stmt = (select(Settlement).where(Settlement.setl_id == setl_id).with_for_update()
                .execution_options(populate_existing=True))
        return self.session.scalars(stmt).first()

    def add(self, settlement: Settlement) -> None:
        self.session.add(settlement)

    def for_person(self, psn_no: str, year: int | None = None) -> list[Settlement]:
        stmt = select(Settlement).where(Settlement.psn_no == psn_no)
        if year is not None:
            stmt = stmt.where(Settlement.year == year)
        return list(self.session.scalars(stmt.order_by(Settlement.setl_time,
                                                       Settlement.setl_id)))

    def insutype_used(self, psn_no: str, year: int) -> str | None:
        """The insurance type of the person's unreversed settlements in ``year``, if any."""
        stmt = (select(Settlement.insutype)
                .where(Settlement.psn_no == psn_no, Settlement.year == year,
                       Settlement.status == "settled").limit(1))
        return self.session.scalars(stmt).first()


class AccumulatorRepository:
    """The running totals per (person, year, column), as a mapping column → fen.

    A column appears once a claim has added to it, and stays (possibly at zero after a
    reversal); stored as one JSON object per person-year (see :func:`totals_json`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, psn_no: str, year: int) -> dict[str, int]:
        stored = self.session.execute(
            select(AccumulatorYear.totals)
            .where(AccumulatorYear.psn_no == psn_no, AccumulatorYear.year == year)).scalar()
        return {} if stored is None else {f: int(v) for f, v in orjson.loads(stored).items()}

    def add(self, psn_no: str, year: int, deltas: Mapping[str, int],
            current: Mapping[str, int]) -> None:
        """Add ``deltas`` to the totals whose present values are ``current`` (read under lock)."""
        totals = dict(current)
        for f, d in deltas.items():
            totals[f] = current[f] + d if f in current else d
        if totals == current:
            return
        from sqlalchemy.dialects import postgresql, sqlite

        module: Any = postgresql if _dialect(self.session) == "postgresql" else sqlite
        table = AccumulatorYear.__table__
        assert isinstance(table, Table)
        stmt = module.insert(table).values(psn_no=psn_no, year=year, totals=totals_json(totals))
        self.session.execute(stmt.on_conflict_do_update(
            index_elements=["psn_no", "year"], set_={"totals": stmt.excluded.totals}))


def totals_json(totals: Mapping[str, int]) -> str:
    """A person-year's totals as stored: a JSON object with sorted keys, no spaces."""
    return orjson.dumps(dict(totals), option=orjson.OPT_SORT_KEYS).decode("utf-8")


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, token: ApiToken) -> None:
        self.session.add(token)

    def by_hash(self, secret_hash: str) -> ApiToken | None:
        return self.session.scalars(
            select(ApiToken).where(ApiToken.secret_hash == secret_hash)).first()

    def get(self, token_id: str) -> ApiToken | None:
        return self.session.get(ApiToken, token_id)

    def list(self) -> list[ApiToken]:
        return list(self.session.scalars(select(ApiToken).order_by(ApiToken.created_at)))


class AuditLog:
    """Appends hash-chained entries; the head row is locked until the unit of work ends."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def append(self, actor: str, action: str, entity_type: str, entity_id: str,
               payload: str) -> AuditEntry:
        """Append one entry (``payload``: canonical JSON). Call as late as possible in a unit
        of work: from here until commit, other writers wait for the head."""
        head = self.session.scalars(
            select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
        at = now().isoformat(timespec="microseconds")
        document = entry_document(at, actor, action, entity_type, entity_id, payload)
        entry = AuditEntry(seq=head.seq + 1, at=at, actor=actor, action=action,
                           entity_type=entity_type, entity_id=entity_id, payload=payload,
                           prev_hash=head.hash, hash=chain_hash(head.hash, document))
        self.session.add(entry)
        head.seq = entry.seq
        head.hash = entry.hash
        return entry

    def entries(self, *, after: int = 0, limit: int | None = None) -> list[AuditEntry]:
        stmt = select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self.session.scalars(stmt))

    def head(self) -> AuditHead:
        return self.session.scalars(select(AuditHead).where(AuditHead.id == 1)).one()


class TraceRepository:
    """The terms settlements applied, stored once (:mod:`minsheng.service.trace_store`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def terms(self, name: str) -> str | None:
        row = self.session.get(SettlementTerms, name)
        return None if row is None else row.body



def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
