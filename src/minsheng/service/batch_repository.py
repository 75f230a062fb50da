"""The settlement writer's statements: a batch's reads and writes, a handful of statements each.

The settlement writer runs these for every batch, so they go straight to the driver (psycopg
or sqlite3) on the unit of work's own connection and transaction — no ORM objects, no
statement compilation — with one statement text whatever the batch's size (``= ANY(array)``
on PostgreSQL, ``IN (SELECT value FROM json_each(?))`` on SQLite). On PostgreSQL a batch's
reads go as one message and its writes with the ``COMMIT`` as another
(:mod:`minsheng.service.pg_messages`); nothing is prepared. Values are written exactly as
the ORM writes them (SQLite date-times with microseconds), so the rest of the service reads
these rows like any other.

Locks (PostgreSQL): the persons of a batch are locked ``FOR UPDATE`` in ``psn_no`` order, so
that writers locking several persons never wait on each other in a cycle; the audit head is
locked last, just before the entries are appended, and held until commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import orjson
from sqlalchemy import Boolean, DateTime, Integer

from minsheng.service.audit import chain_hash, now
from minsheng.service.models import Settlement as SettlementModel
from minsheng.service.models import with_warnings
from minsheng.service.pg_messages import Message, Sent
from minsheng.service.repository import totals_json
from minsheng.service.unit_of_work import UnitOfWork
from minsheng.settle.parse import Holding, Person

if TYPE_CHECKING:
    import psycopg

SETTLEMENT_COLUMNS = (
    "setl_id", "psn_no", "setl_time", "year", "insutype", "region", "categories", "med_type",
    "hosp_lv", "in_province", "medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt",
    "overlmt_selfpay", "inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt",
    "psn_part_amt", "act_pay_dedc", "request_hash", "reply", "warnings_id", "trace",
    "contributions", "status", "settled_at", "settled_by")
_DATETIME_COLUMNS = tuple(SETTLEMENT_COLUMNS.index(c) for c in ("setl_time", "settled_at"))
T = TypeVar("T")
AUDIT_COLUMNS = ("seq", "at", "actor", "action", "entity_type", "entity_id", "payload",
                 "prev_hash", "hash")


def canonical_json(value: Any) -> str:
    """:func:`minsheng.service.audit.canonical_json` — sorted keys, no spaces, UTF-8 — for
    texts, integers, booleans, lists and objects with text keys, where orjson writes the very
    same characters (a test compares them), several times faster."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")


@dataclass(frozen=True)
class Query(Generic[T]):
    """One read of a batch: its statement (``?`` marks; empty: nothing to ask) and how its
    rows become the result. :meth:`BatchRepository.read` runs several together."""

    sql: str
    params: list[Any]
    decode: Callable[[list[tuple[Any, ...]]], T]


@dataclass(frozen=True)
class TokenRow:
    id: str
    role: str
    region: str | None
    psn_no: str | None
    revoked: bool


@dataclass(frozen=True)
class StoredSettlement:
    """What a replay needs of a settlement already stored."""

    setl_id: str
    psn_no: str
    region: str
    request_hash: str
    reply: str  # as sent (warnings included)


class BatchRepository:
    """The statements of one batch, inside the unit of work ``uow`` (which commits)."""

    def __init__(self, uow: UnitOfWork) -> None:
        connection = uow.session.connection()  # begins the transaction (IMMEDIATE on SQLite)
        self.pg = uow.dialect == "postgresql"
        raw = connection.connection.dbapi_connection
        self._cursor = raw.cursor()  # type: ignore[union-attr]
        self._pending: list[tuple[str, list[Any]]] = []  # PostgreSQL: statements to send together
        self._message = Message(cast("psycopg.Connection[Any]", raw)) if self.pg else None

    # -- helpers --------------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.pg else text

    def _among(self, column: str, kind: str = "varchar") -> str:
        """``column`` is one of the values of a list parameter (see :meth:`_list`)."""
        if self.pg:
            return f"{column} = ANY(CAST(? AS {kind}[]))"
        return f"{column} IN (SELECT value FROM json_each(?))"

    def _list(self, values: Iterable[Any], kind: str = "varchar") -> str:
        """A list as one text parameter: an array literal (PostgreSQL) or a JSON array."""
        return _array(values, kind) if self.pg else orjson.dumps(list(values)).decode("utf-8")

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._sql(sql), params)
        return list(self._cursor.fetchall())

    def _insert(self, table: str, columns: Sequence[str], values: Sequence[Sequence[Any]]
                ) -> None:
        """Rows into ``table`` with one statement whatever their number, given as one list of
        values per column: on PostgreSQL an ``INSERT … SELECT FROM unnest(arrays)`` (one array
        literal per column) queued to go with the batch's next statements (:meth:`_flush`); on
        SQLite one prepared statement for all."""
        names = ", ".join(columns)
        if self.pg:
            kinds = _KINDS[table]
            arrays = ", ".join(f"%s::{kinds[c]}[]" for c in columns)
            self._pending.append((f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})",
                                  [_array(v, kinds[c]) for c, v in zip(columns, values, strict=True)]))
        else:
            marks = ", ".join("?" for _ in columns)
            self._cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                                     list(zip(*values, strict=True)))

    def _flush(self, *, wait: bool = True) -> Sent | None:
        """Send the queued statements in one message: one round trip to the server for all
        of them. An error of any (a ``setl_id`` taken meanwhile: IntegrityError) skips the
        rest and is raised here — or, without ``wait``, by the returned message's
        ``results()``; the transaction is then rolled back."""
        statements, self._pending = self._pending, []
        if not statements:
            return None
        assert self._message is not None
        sent = self._message.send(statements)
        if not wait:
            return sent
        sent.results()
        return None

    def _time(self, value: dt.datetime) -> Any:
        return value if self.pg else value.strftime("%Y-%m-%d %H:%M:%S.%f")

    def _date(self, value: Any) -> dt.date | None:
        if value is None or isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value))

    # -- reads ----------------------------------------------------------------------------
    def read(self, *queries: Query[Any]) -> list[Any]:
        """Run several reads; on PostgreSQL in one message (one round trip to the server),
        executed in the order given — so a lock taken by one holds for those after it."""
        if not self.pg:
            return [q.decode(self._rows(q.sql, q.params)) if q.sql else q.decode([])
                    for q in queries]
        assert self._message is not None
        asked = [q for q in queries if q.sql]
        rows = iter(self._message.run([(self._sql(q.sql), q.params) for q in asked]))
        return [q.decode(next(rows)) if q.sql else q.decode([]) for q in queries]

    def tokens_query(self, hashes: Collection[str]) -> Query[dict[str, TokenRow]]:
        def decode(rows: list[tuple[Any, ...]]) -> dict[str, TokenRow]:
            return {h: TokenRow(i, role, region, psn, revoked is not None)
                    for h, i, role, region, psn, revoked in rows}

        if not hashes:
            return Query("", [], decode)
        return Query("SELECT secret_hash, id, role, region, psn_no, revoked_at FROM api_token "
                     f"WHERE {self._among('secret_hash')}", [self._list(hashes)], decode)

    def lock_persons_query(self, psn_nos: Collection[str]) -> Query[dict[str, Person]]:
        """The persons with their categories (in the order registered), rows locked."""
        def decode(rows: list[tuple[Any, ...]]) -> dict[str, Person]:
            found: dict[str, tuple[str, str, list[Holding]]] = {}
            for psn_no, insutype, region, category, start, end in rows:
                _, _, held = found.setdefault(psn_no, (insutype, region, []))
                if category is not None:
                    held.append(Holding(category, self._date(start), self._date(end)))
            return {p: Person(p, t, r, tuple(h)) for p, (t, r, h) in found.items()}

        if not psn_nos:
            return Query("", [], decode)
        lock = " FOR UPDATE OF p" if self.pg else ""
        return Query(
            "SELECT p.psn_no, p.insutype, p.region, c.category, c.valid_from, c.valid_to "
            "FROM person p LEFT JOIN person_category c ON c.psn_no = p.psn_no "
            f"WHERE {self._among('p.psn_no')} ORDER BY p.psn_no, c.id{lock}",
            [self._list(sorted(psn_nos))], decode)

    def settlements_query(self, setl_ids: Collection[str]) -> Query[dict[str, StoredSettlement]]:
        def decode(rows: list[tuple[Any, ...]]) -> dict[str, StoredSettlement]:
            return {r[0]: StoredSettlement(r[0], r[1], r[2], r[3], with_warnings(r[4], r[5]))
                    for r in rows}

        if not setl_ids:
            return Query("", [], decode)
        return Query("SELECT s.setl_id, s.psn_no, s.region, s.request_hash, s.reply, w.body "
                     "FROM settlement s LEFT JOIN settlement_terms w ON w.id = s.warnings_id "
                     f"WHERE {self._among('s.setl_id')}", [self._list(setl_ids)], decode)

    def insutypes_used_query(self, pairs: Collection[tuple[str, int]]
                             ) -> Query[dict[tuple[str, int], str]]:
        """Per (psn_no, year): the insurance type of its unreversed settlements, if any."""
        def decode(rows: list[tuple[Any, ...]]) -> dict[tuple[str, int], str]:
            return {(p, int(y)): t for p, y, t in rows if t is not None}

        if not pairs:
            return Query("", [], decode)
        ordered = sorted(pairs)
        first = ("SELECT s.insutype FROM settlement s WHERE s.psn_no = v.psn_no "
                 "AND s.year = v.year AND s.status = 'settled' LIMIT 1")  # one index probe
        if self.pg:
            pairs_sql = ("unnest(CAST(? AS varchar[]), CAST(? AS integer[])) "
                         "AS v(psn_no, year)")
        else:
            pairs_sql = ("(SELECT a.value AS psn_no, b.value AS year FROM json_each(?) a "
                         "JOIN json_each(?) b ON a.key = b.key) AS v")
        return Query(f"SELECT v.psn_no, v.year, ({first}) FROM {pairs_sql}",
                     [self._list(p for p, _ in ordered),
                      self._list((y for _, y in ordered), "integer")], decode)

    def accumulators_query(self, pairs: Collection[tuple[str, int]]
                           ) -> Query[dict[tuple[str, int], dict[str, int]]]:
        wanted = set(pairs)

        def decode(rows: list[tuple[Any, ...]]) -> dict[tuple[str, int], dict[str, int]]:
            return {(p, int(y)): orjson.loads(t) for p, y, t in rows if (p, int(y)) in wanted}

        if not pairs:
            return Query("", [], decode)
        return Query(
            "SELECT psn_no, year, totals FROM accumulator_year "
            f"WHERE {self._among('psn_no')} AND {self._among('year', 'integer')}",
            [self._list({p for p, _ in pairs}), self._list({y for _, y in pairs}, "integer")],
            decode)

    # -- writes ---------------------------------------------------------------------------
    def insert_settlements(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """One statement for all; a ``setl_id`` taken meanwhile raises the driver's
        IntegrityError (the writer then settles the batch again)."""
        if not rows:
            return
        values = [[r[c] for r in rows] for c in SETTLEMENT_COLUMNS]
        if not self.pg:
            for j in _DATETIME_COLUMNS:
                values[j] = [self._time(v) for v in values[j]]
        self._insert("settlement", SETTLEMENT_COLUMNS, values)

    def write_accumulators(self, changes: Iterable[tuple[str, int, Mapping[str, int],
                                                         Mapping[str, int]]]) -> None:
        """New totals ``(psn_no, year, after, current)``, one row per person-year: columns of
        ``current`` (read under the person's lock) take their new values, a column not there
        yet appears once it is not zero (as :class:`~.repository.AccumulatorRepository`)."""
        rows: list[tuple[str, int, str]] = []
        for psn_no, year, after, current in changes:
            totals = dict(current)
            totals.update({f: v for f, v in after.items() if f in current or v})
            if totals != current:
                rows.append((psn_no, year, totals_json(totals)))
        if not rows:
            return
        upsert = "ON CONFLICT (psn_no, year) DO UPDATE SET totals = excluded.totals"
        if self.pg:  # one statement over three arrays, sent with the audit head's lock
            self._pending.append((
                "INSERT INTO accumulator_year (psn_no, year, totals) SELECT * FROM unnest("
                f"%s::varchar[], %s::integer[], %s::text[]) {upsert}",
                [_array(r[0] for r in rows), _array((r[1] for r in rows), "integer"),
                 _array(r[2] for r in rows)]))
        else:
            self._cursor.executemany(
                f"INSERT INTO accumulator_year (psn_no, year, totals) VALUES (?, ?, ?) {upsert}",
                rows)

    def append_audit(self, entries: Sequence[tuple[str, str, str, str, dict[str, Any]]]) -> None:
        """Append ``(actor, action, entity_type, entity_id, payload)`` entries in this order,
        each chained to the one before exactly as :mod:`minsheng.service.audit` chains and
        verifies them. On PostgreSQL the database chains them (``audit_append``, migration
        0006), in the message that also carries the batch's other writes and its commit, so
        the head is held only while the database runs the end of that message; on SQLite
        (one writer at a time) they are chained here."""
        if not entries:
            return
        stamped = []
        for actor, action, entity_type, entity_id, payload in entries:
            at = now().isoformat(timespec="microseconds")
            document = canonical_json({"at": at, "actor": actor, "action": action,
                                       "entity_type": entity_type, "entity_id": entity_id,
                                       "payload": payload})  # audit.entry_document
            stamped.append((at, actor, action, entity_type, entity_id, canonical_json(payload),
                            document))
        if self.pg:
            self._pending.append(("SELECT audit_append(%s::text[], %s::text[], %s::text[], "
                                  "%s::text[], %s::text[], %s::text[], %s::text[])",
                                  [_text_array([e[j] for e in stamped]) for j in range(7)]))
            return
        [(seq, prev)] = self._rows("SELECT seq, hash FROM audit_head WHERE id = 1", [])
        seq = int(seq)
        rows = []
        for at, actor, action, entity_type, entity_id, text, document in stamped:
            seq += 1
            digest = chain_hash(prev, document)
            rows.append((seq, at, actor, action, entity_type, entity_id, text, prev, digest))
            prev = digest
        self._insert("audit_entry", AUDIT_COLUMNS, list(zip(*rows, strict=True)))
        self._cursor.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", [seq, prev])

    def insert_terms(self, terms: Mapping[str, str]) -> None:
        """Snapshots of settlement terms (name → JSON body) unless there already. Written
        after the audit head is held: a transaction that holds the head never waits for
        another's uncommitted copy of the same terms, since that other waits for the head."""
        if not terms:
            return
        stamp = self._time(now())
        rows = [(name, body, stamp) for name, body in terms.items()]
        if self.pg:
            self._pending.append((
                "INSERT INTO settlement_terms (id, body, created_at) SELECT * FROM unnest("
                "%s::varchar[], %s::text[], %s::timestamp[]) ON CONFLICT (id) DO NOTHING",
                [_array(r[0] for r in rows), _array((r[1] for r in rows), "text"),
                 _array((r[2] for r in rows), "timestamp")]))
        else:
            self._cursor.executemany("INSERT OR IGNORE INTO settlement_terms (id, body, created_at) "
                                     "VALUES (?, ?, ?)", rows)

    def finish(self, *, commit: bool = False, wait: bool = True) -> Sent | None:
        """Send what is still queued (PostgreSQL); with ``commit``, the ``COMMIT`` goes in the
        same message (one round trip for the batch's writes and its commit: an error of any
        statement skips the rest, the commit included, and is raised here). Otherwise, and
        on SQLite, the caller commits. Without ``wait`` the message is only sent, and
        returned: its ``results()`` wait for the commit (or raise what failed)."""
        if commit and self.pg:
            self._pending.append(("COMMIT", []))
        return self._flush(wait=wait)


def _array(values: Iterable[Any], kind: str = "varchar") -> str:
    """A PostgreSQL array literal — one text parameter, much cheaper for the driver than a
    list: of texts (``{"a","b"}``, ``kind`` ``varchar`` or ``text``), date-times
    (``timestamp``), booleans (``boolean``) or integers (``{1,2}``: ``integer``, ``bigint``,
    ``smallint``). ``None`` is NULL."""
    if kind in ("varchar", "text"):
        return _text_array(values)
    items = values if isinstance(values, list) else list(values)
    if kind == "timestamp":
        return "{" + ",".join("NULL" if v is None else f'"{v}"' for v in items) + "}"
    if kind == "boolean":
        return "{" + ",".join("NULL" if v is None else ("t" if v else "f") for v in items) + "}"
    if None in items:
        return "{" + ",".join("NULL" if v is None else str(int(v)) for v in items) + "}"
    return "{" + ",".join(map(str, map(int, items))) + "}"


def _text_array(values: Iterable[Any]) -> str:
    items = values if isinstance(values, list) else list(values)
    if not items:
        return "{}"
    if None in items:
        return "{" + ",".join("NULL" if v is None else _quoted(str(v)) for v in items) + "}"
    texts = items if all(type(v) is str for v in items) else [str(v) for v in items]
    joined = '","'.join(texts)
    if "\\" in joined or joined.count('"') != 2 * (len(texts) - 1):  # quotes beyond the separators'
        joined = '","'.join(map(_escaped, texts))
    return '{"' + joined + '"}'


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _quoted(text: str) -> str:
    return '"' + _escaped(text) + '"'


def _kinds(model: type[Any]) -> dict[str, str]:
    """Column → the array type its values travel in (see :func:`_array`)."""
    kinds = {}
    for column in model.__table__.columns:
        t = column.type
        kinds[column.name] = ("timestamp" if isinstance(t, DateTime) else
                              "boolean" if isinstance(t, Boolean) else
                              "bigint" if isinstance(t, Integer) else "text")
    return kinds


_KINDS = {"settlement": _kinds(SettlementModel)}
