"""Repositories: the only code that writes SQL for the service's aggregates.

Each repository works inside the session of a unit of work; none commits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from minsheng.service.audit import chain_hash, entry_document, now
from minsheng.service.models import (
    Accumulator,
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

    def lock_many(self, psn_nos: Collection[str]) -> dict[str, Person]:
        """The persons (with their categories), each row locked — in ``psn_no`` order, so that
        writers locking several persons never wait on each other in a cycle."""
        if not psn_nos:
            return {}
        stmt = (select(Person).where(_among(self.session, Person.psn_no, sorted(psn_nos)))
                .order_by(Person.psn_no).with_for_update())
        return {p.psn_no: p for p in self.session.scalars(stmt)}

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

    def get_many(self, setl_ids: Collection[str]) -> dict[str, Settlement]:
        if not setl_ids:
            return {}
        stmt = select(Settlement).where(_among(self.session, Settlement.setl_id, setl_ids))
        return {s.setl_id: s for s in self.session.scalars(stmt)}

    def add(self, settlement: Settlement) -> None:
        self.session.add(settlement)

    def insert_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert settlement rows (column → value) in one statement; a ``setl_id`` taken
        meanwhile by another transaction raises IntegrityError."""
        if rows:
            self.session.execute(insert(_table(Settlement)), list(rows))

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

    def insutypes_used(self, pairs: Collection[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """Per (psn_no, year) of ``pairs``: the insurance type of its unreversed settlements."""
        if not pairs:
            return {}
        stmt = (select(Settlement.psn_no, Settlement.year, Settlement.insutype).distinct()
                .where(_among(self.session, Settlement.psn_no, {p for p, _ in pairs}),
                       _among(self.session, Settlement.year, {y for _, y in pairs}, Integer),
                       Settlement.status == "settled"))
        wanted = set(pairs)
        return {(p, y): t for p, y, t in self.session.execute(stmt) if (p, y) in wanted}


class AccumulatorRepository:
    """The running totals per (person, year, column), as a mapping column → fen."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, psn_no: str, year: int) -> dict[str, int]:
        rows = self.session.execute(
            select(Accumulator.field, Accumulator.value)
            .where(Accumulator.psn_no == psn_no, Accumulator.year == year))
        return {f: int(v) for f, v in rows}

    def add(self, psn_no: str, year: int, deltas: Mapping[str, int],
            current: Mapping[str, int]) -> None:
        """Add ``deltas`` to the totals whose present values are ``current`` (read under lock)."""
        updates = [{"psn_no": psn_no, "year": year, "field": f, "value": current[f] + d}
                   for f, d in deltas.items() if d and f in current]
        inserts = [Accumulator(psn_no=psn_no, year=year, field=f, value=d)
                   for f, d in deltas.items() if f not in current]
        if updates:
            table = Accumulator.__table__
            assert isinstance(table, Table)
            self.session.execute(
                update(table).where(table.c.psn_no == bindparam("k_psn_no"),
                                    table.c.year == bindparam("k_year"),
                                    table.c.field == bindparam("k_field"))
                .values(value=bindparam("k_value")),
                [{"k_psn_no": u["psn_no"], "k_year": u["year"], "k_field": u["field"],
                  "k_value": u["value"]} for u in updates])
        if inserts:
            self.session.add_all(inserts)

    def get_many(self, pairs: Collection[tuple[str, int]]) -> dict[tuple[str, int], dict[str, int]]:
        """The totals of each (psn_no, year) of ``pairs`` (absent: none stored yet)."""
        found: dict[tuple[str, int], dict[str, int]] = {}
        if not pairs:
            return found
        wanted = set(pairs)
        rows = self.session.execute(
            select(Accumulator.psn_no, Accumulator.year, Accumulator.field, Accumulator.value)
            .where(_among(self.session, Accumulator.psn_no, {p for p, _ in pairs}),
                   _among(self.session, Accumulator.year, {y for _, y in pairs}, Integer)))
        for p, y, f, v in rows:
            if (p, y) in wanted:
                found.setdefault((p, y), {})[f] = int(v)
        return found

    def set_many(self, changes: Iterable[tuple[str, int, Mapping[str, int], Mapping[str, int]]]
                 ) -> None:
        """Write new totals ``(psn_no, year, after, current)``: a column of ``current`` (read
        under lock) is updated where it changed, a new one inserted — one statement each."""
        updates: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        for psn_no, year, after, current in changes:
            for f, v in after.items():
                if f in current:
                    if v != current[f]:
                        updates.append({"k_psn_no": psn_no, "k_year": year, "k_field": f,
                                        "k_value": v})
                elif v:
                    inserts.append({"psn_no": psn_no, "year": year, "field": f, "value": v})
        if _dialect(self.session) == "postgresql":  # one statement over arrays, not one per row
            if updates:
                self.session.execute(_PG_UPDATE, _columns(updates, "k_psn_no", "k_year",
                                                          "k_field", "k_value"))
            if inserts:
                self.session.execute(_PG_INSERT, _columns(inserts, "psn_no", "year", "field",
                                                          "value"))
            return
        table = _table(Accumulator)
        if updates:
            self.session.execute(
                update(table).where(table.c.psn_no == bindparam("k_psn_no"),
                                    table.c.year == bindparam("k_year"),
                                    table.c.field == bindparam("k_field"))
                .values(value=bindparam("k_value")), updates)
        if inserts:
            self.session.execute(insert(table), inserts)


_PG_UPDATE = text(
    "UPDATE accumulator AS a SET value = v.value FROM unnest("
    "CAST(:p AS VARCHAR[]), CAST(:y AS INTEGER[]), CAST(:f AS VARCHAR[]), CAST(:v AS BIGINT[])"
    ") AS v(psn_no, year, field, value) "
    "WHERE a.psn_no = v.psn_no AND a.year = v.year AND a.field = v.field")
_PG_INSERT = text(
    "INSERT INTO accumulator (psn_no, year, field, value) SELECT * FROM unnest("
    "CAST(:p AS VARCHAR[]), CAST(:y AS INTEGER[]), CAST(:f AS VARCHAR[]), CAST(:v AS BIGINT[]))")


def _columns(rows: Sequence[Mapping[str, Any]], *keys: str) -> dict[str, list[Any]]:
    return {name: [r[k] for r in rows] for name, k in zip("pyfv", keys, strict=True)}


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, token: ApiToken) -> None:
        self.session.add(token)

    def by_hashes(self, hashes: Collection[str]) -> dict[str, ApiToken]:
        if not hashes:
            return {}
        stmt = select(ApiToken).where(_among(self.session, ApiToken.secret_hash, hashes))
        return {t.secret_hash: t for t in self.session.scalars(stmt)}

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

    def append_many(self, entries: Sequence[tuple[str, str, str, str, str]]) -> list[int]:
        """Append ``(actor, action, entity_type, entity_id, payload)`` entries in this order,
        chained one to the next; the head is locked once (until the unit of work ends) and
        the entries written in one statement. Returns their numbers."""
        if not entries:
            return []
        head = self.session.execute(
            select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
        ).one()
        seq, prev = int(head.seq), str(head.hash)
        rows: list[dict[str, Any]] = []
        for actor, action, entity_type, entity_id, payload in entries:
            seq += 1
            at = now().isoformat(timespec="microseconds")
            digest = chain_hash(prev, entry_document(at, actor, action, entity_type, entity_id,
                                                     payload))
            rows.append({"seq": seq, "at": at, "actor": actor, "action": action,
                         "entity_type": entity_type, "entity_id": entity_id,
                         "payload": payload, "prev_hash": prev, "hash": digest})
            prev = digest
        self.session.execute(insert(_table(AuditEntry)), rows)
        head_table = _table(AuditHead)
        self.session.execute(update(head_table).where(head_table.c.id == 1)
                             .values(seq=seq, hash=prev))
        return [r["seq"] for r in rows]

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

    def add_terms(self, name: str, body: str) -> None:
        """Store a snapshot of terms unless it is there already (its name is its hash)."""
        from sqlalchemy.dialects import postgresql, sqlite

        module: Any = postgresql if _dialect(self.session) == "postgresql" else sqlite
        self.session.execute(module.insert(_table(SettlementTerms))
                             .values(id=name, body=body, created_at=now())
                             .on_conflict_do_nothing(index_elements=["id"]))


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _among(session: Session, column: InstrumentedAttribute[Any], values: Collection[Any],
           item_type: Any = String) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(:array)``, one statement text
    whatever the number of values (so the server plans it once)."""
    if _dialect(session) == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(item_type), unique=True))
    return column.in_(list(values))
