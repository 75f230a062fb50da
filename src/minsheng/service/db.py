"""The database: engine, sessions and migrations.

``MINSHENG_DATABASE_URL`` chooses it (``postgresql+psycopg://postgres@127.0.0.1:5432/test``);
by default an SQLite file ``minsheng.db`` in the working folder. The schema is created or
migrated by Alembic (:func:`Database.migrate`, run when the service starts).

SQLite is set up for a multi-threaded server: WAL journal, ``synchronous=FULL`` (an
acknowledged settlement survives a crash), foreign keys on, a busy timeout, and
transactions begun explicitly — ``BEGIN IMMEDIATE`` for a writing unit of work, so
that writers are serialised from their first statement (no lost updates), and a plain
``BEGIN`` for readers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///minsheng.db"
ENV_VAR = "MINSHENG_DATABASE_URL"
MIGRATIONS = Path(__file__).parent / "migrations"
_WRITE = "minsheng_write"
_MIGRATION_LOCK = 7_201_000_004  # pg_advisory_lock key while migrating


def database_url() -> str:
    return os.environ.get(ENV_VAR) or DEFAULT_URL


def _normalise(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Database:
    """An engine with two session factories: readers and (serialised) writers."""

    def __init__(self, url: str | None = None, *, pool_size: int = 20) -> None:
        self.url = _normalise(url or database_url())
        self.is_sqlite = self.is_sqlite_url(self.url)
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 60}
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = 20
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = 20
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self.write_lock = threading.Lock()  # SQLite: one writer of this process at a time
        self.settlement_writer: Any = None  # minsheng.service.writer: started on first use
        self.trace_store: Any = None  # minsheng.service.trace_store: made on first use
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self.engine.execution_options(**{_WRITE: True}),
                                    expire_on_commit=False)
        self._pinned: sessionmaker[Session] | None = None
        self._pinned_engine: Engine | None = None
        self._pinned_lock = threading.Lock()

    @staticmethod
    def is_sqlite_url(url: str) -> bool:
        return url.startswith("sqlite")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, *, write: bool, pinned: bool = False) -> Session:
        """A new session; ``pinned``: on the settlement writer's own connection (see
        :meth:`_pinned_sessions`)."""
        if pinned:
            return self._pinned_sessions()()
        return (self._writer if write else self._reader)()

    def _pinned_sessions(self) -> sessionmaker[Session]:
        """Writing sessions on connections kept for the settlement writer's threads: no
        liveness ping per batch (a dropped connection fails its batch, which the writer
        settles again on a new one). On PostgreSQL in autocommit mode: the driver sends no
        ``BEGIN`` of its own (a round trip), the batch's first message begins the transaction
        (:mod:`minsheng.service.pg_messages`) and its last one commits it."""
        with self._pinned_lock:
            if self._pinned is None:
                kwargs: dict[str, Any] = {"pool_size": 2, "max_overflow": 2,
                                          "pool_pre_ping": False}
                if self.is_sqlite:
                    kwargs["connect_args"] = {"check_same_thread": False, "timeout": 60}
                else:
                    kwargs["isolation_level"] = "AUTOCOMMIT"
                engine = create_engine(self.url, **kwargs)
                if self.is_sqlite:
                    _configure_sqlite(engine)
                self._pinned_engine = engine
                self._pinned = sessionmaker(engine.execution_options(**{_WRITE: True}),
                                            expire_on_commit=False)
            return self._pinned

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration (safe to call concurrently)."""
        from alembic import command

        with self._migration_lock() as conn:
            cfg = alembic_config(self.url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @contextmanager
    def _migration_lock(self) -> Iterator[Connection]:
        with self._connect_for_migration() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
                conn.commit()
                try:
                    yield conn
                finally:
                    conn.rollback()
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                    conn.commit()
            else:
                yield conn

    def _connect_for_migration(self) -> Connection:
        # On SQLite the migration's transaction begins IMMEDIATE: concurrent starters queue.
        return self.engine.execution_options(**{_WRITE: True}).connect()

    def dispose(self) -> None:
        writer, self.settlement_writer = self.settlement_writer, None
        if writer is not None:
            writer.stop()
        if self._pinned_engine is not None:
            self._pinned_engine.dispose()
            self._pinned, self._pinned_engine = None, None
        self.engine.dispose()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


_databases: dict[str, Database] = {}
_lock = threading.Lock()


def get_database(url: str | None = None, *, migrate: bool = True) -> Database:
    """The process-wide database for ``url`` (default: from the environment), migrated once."""
    key = _normalise(url or database_url())
    with _lock:
        db = _databases.get(key)
        if db is None:
            db = Database(key)
            if migrate:
                db.migrate()
            _databases[key] = db
        return db


def forget_databases() -> None:
    """Dispose every cached database (tests, and server shutdown)."""
    with _lock:
        for db in _databases.values():
            db.dispose()
        _databases.clear()
