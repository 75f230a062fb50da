"""The unit of work: one transaction, with the repositories that work inside it.

The service functions receive a unit of work and never touch a session::

    with uow_factory(write=True) as uow:
        person = uow.persons.get(psn_no, lock=True)
        ...
        uow.commit()

Leaving the block without :meth:`commit` rolls everything back. A writing unit of work
on SQLite begins with ``BEGIN IMMEDIATE`` (see :mod:`minsheng.service.db`), so writers are
serialised; on PostgreSQL the person row lock and the audit head lock serialise what
must be serialised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import TracebackType

from sqlalchemy.exc import IntegrityError

from minsheng.core.errors import Conflict
from minsheng.service.casework.repository import CaseworkRepository
from minsheng.service.db import Database
from minsheng.service.pg_messages import Sent
from minsheng.service.repository import (
    AccumulatorRepository,
    AuditLog,
    PersonRepository,
    SettlementRepository,
    TokenRepository,
    TraceRepository,
)


class DuplicateKey(Exception):
    """A row with this key was written meanwhile by another transaction."""


class UnitOfWork:
    persons: PersonRepository
    settlements: SettlementRepository
    accumulators: AccumulatorRepository
    tokens: TokenRepository
    audit: AuditLog
    casework: CaseworkRepository  # issue 5: filings, transfers, recognitions, assistance
    traces: TraceRepository

    def __init__(self, database: Database, *, write: bool = False, pinned: bool = False
                 ) -> None:
        self.database = database
        self.write = write or pinned
        self.pinned = pinned  # the settlement writer's own connection (Database.session)
        self.dialect = database.dialect

    def __enter__(self) -> UnitOfWork:
        self._queued = self.write and self.database.is_sqlite
        if self._queued:  # writers of this process queue here instead of polling SQLite
            self.database.write_lock.acquire()
        self.session = self.database.session(write=self.write, pinned=self.pinned)
        self.persons = PersonRepository(self.session)
        self.settlements = SettlementRepository(self.session)
        self.accumulators = AccumulatorRepository(self.session)
        self.tokens = TokenRepository(self.session)
        self.audit = AuditLog(self.session)
        self.casework = CaseworkRepository(self.session)
        self.traces = TraceRepository(self.session)
        self.sent: Sent | None = None
        """The settlement writer's last message (writes and ``COMMIT``), sent but not yet
        answered: :meth:`commit` waits for it."""
        self.new_terms: dict[str, str] = {}  # settlement terms to write here: name → body (trace_store)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.rollback()
        finally:
            self.session.close()
            if self._queued:
                self._queued = False
                self.database.write_lock.release()

    def commit(self) -> None:
        """Commit; a unique key taken meanwhile by another transaction is :class:`DuplicateKey`.
        A message already sent with the ``COMMIT`` in it (:attr:`sent`) is waited for first:
        its error, if any, is raised here."""
        try:
            sent, self.sent = self.sent, None
            if sent is not None:
                sent.results()
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            raise DuplicateKey(str(exc.orig)) from None

    def rollback(self) -> None:
        sent, self.sent = self.sent, None
        if sent is not None:  # the connection is free again only once the server has answered
            with contextlib.suppress(Exception):
                sent.results()
        self.session.rollback()

    def flush(self) -> None:
        try:
            self.session.flush()
        except IntegrityError as exc:
            self.session.rollback()
            raise DuplicateKey(str(exc.orig)) from None


def commit_or_conflict(uow: UnitOfWork, zh: str, en: str) -> None:
    """Commit; a unique key taken meanwhile by another transaction is a 409."""
    try:
        uow.commit()
    except DuplicateKey:
        raise Conflict(zh, en) from None


UnitOfWorkFactory = Callable[..., UnitOfWork]


def factory(database: Database) -> UnitOfWorkFactory:
    """``factory(db)(write=True)`` → a new unit of work on ``db``."""

    def make(*, write: bool = False) -> UnitOfWork:
        return UnitOfWork(database, write=write)

    return make
