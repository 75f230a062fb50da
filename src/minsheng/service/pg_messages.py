"""Several statements to PostgreSQL in one message: one round trip, a handful of system calls.

The settlement writer sends each batch's reads together, then its writes and the ``COMMIT``
together (:mod:`minsheng.service.batch_repository`). A psycopg pipeline would do it in one
round trip too, but it sends every statement with its own system calls (two ``poll`` and one
``sendto`` for each of the Parse, Bind, Describe, Execute messages: about 40 system calls
for a batch of one claim, seen with strace) and keeps a Python generator going per result. As
one simple-query message the writer's CPU for a batch of one claim fell from 3.9 to 1.8 ms,
for a batch of 16 from 7.0 to 4.8 ms (docs/performance.md, sitting 4). The message goes to
libpq without a cursor and its values are quoted here (:meth:`Message.text`): another 4–7%
of the writer's CPU (sitting 6).

Nothing is prepared: the server plans every statement afresh each time, so no plan made while
a table was small (a sequential scan) outlives the table's growth.

A message sent outside a transaction begins one (``BEGIN`` goes in the same message instead
of a round trip of its own): on the writer's own connection, in autocommit mode (see
:meth:`minsheng.service.db.Database.session`), as on any other. An error in any
statement skips the rest of the message (a ``COMMIT`` in it included) and is raised; the
transaction is then in error until rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors, generators
from psycopg.adapt import Transformer
from psycopg.pq import ExecStatus, TransactionStatus

Statement = tuple[str, Sequence[Any]]
"""A statement with ``%s`` marks and its values."""


class Message:
    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection
        self._quoting = psycopg.ClientCursor(connection)
        self._rows = Transformer(connection)
        self._standard_strings = connection.info.parameter_status(
            "standard_conforming_strings") == "on"

    def text(self, statements: Sequence[Statement]) -> str:
        """The statements with their values quoted in, as one message.

        Values that are all texts (the writer's: array literals) are quoted here — within
        single quotes, each single quote doubled, as PostgreSQL reads a literal when
        ``standard_conforming_strings`` is on (its default) — rather than by psycopg's
        adapters (about a tenth of the writer's CPU for a small batch). Any other value, or
        that setting off, goes through psycopg's own quoting."""
        mogrify = self._quoting.mogrify
        parts = []
        for sql, params in statements:
            if not params:
                parts.append(sql)
            elif self._standard_strings and all(type(v) is str for v in params):
                parts.append(sql % tuple(["'" + v.replace("'", "''") + "'" for v in params]))
            else:
                parts.append(mogrify(sql, params))
        text = ";\n".join(parts)
        if "\x00" in text:  # libpq would cut the message there
            raise psycopg.DataError("PostgreSQL text cannot contain NUL (0x00) characters")
        return text

    def run(self, statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
        """Run the statements in order; the rows of each (``[]`` for a statement without).

        The message goes straight to libpq (``send_query``, then psycopg's own wait for all
        the results, as :meth:`psycopg.Cursor.execute` does inside), and rows are made by a
        :class:`psycopg.adapt.Transformer` of the connection: a cursor would build, for every
        result, the objects of its columns and of its loaders, about a tenth of the writer's
        CPU for a small batch. The first statement that fails raises its error, as from a
        cursor (``psycopg.errors.UniqueViolation`` and the rest)."""
        return self.send(statements).results()

    def send(self, statements: Sequence[Statement]) -> Sent:
        """Send the statements as one message and return at once: :meth:`Sent.results` waits
        for what the server answers (the writer settles its next batch meanwhile). Until then
        the connection is busy with this message and must not be used otherwise."""
        connection = self._connection
        # outside a transaction: this message begins one (as psycopg itself would on a
        # connection not in autocommit mode, before a cursor's first statement)
        begin = connection.info.transaction_status == TransactionStatus.IDLE
        if not statements:
            return Sent(self, begin=False, sent=False)
        text = ("BEGIN;\n" if begin else "") + self.text(statements)
        pgconn = connection.pgconn
        with connection.lock:
            pgconn.send_query(text.encode("utf-8"))
            connection.wait(generators.send(pgconn))
        return Sent(self, begin=begin, sent=True)

    def _load(self, results: Sequence[Any], begin: bool) -> list[list[tuple[Any, ...]]]:
        rows: list[list[tuple[Any, ...]]] = []
        load = self._rows.load_rows
        for result in results:
            status = result.status
            if status == ExecStatus.TUPLES_OK:
                self._rows.set_pgresult(result)
                rows.append(load(0, result.ntuples, tuple))
            elif status == ExecStatus.COMMAND_OK or status == ExecStatus.EMPTY_QUERY:
                rows.append([])
            elif status == ExecStatus.FATAL_ERROR:
                raise errors.error_from_result(result,
                                               encoding=self._connection.info.encoding)
            else:
                raise errors.InternalError(f"unexpected result status {status!r}")
        return rows[1:] if begin else rows


class Sent:
    """A message on its way: :meth:`results` waits for the server's answer (once)."""

    def __init__(self, message: Message, *, begin: bool, sent: bool) -> None:
        self._message, self._begin, self._sent = message, begin, sent

    def ready(self) -> bool:
        """Whether the server has begun to answer (:meth:`results` then waits little, if at
        all); without waiting. A broken connection counts as ready: :meth:`results` raises."""
        if not self._sent:
            return True
        connection = self._message._connection
        try:
            with connection.lock:
                connection.pgconn.consume_input()
                return not connection.pgconn.is_busy()
        except psycopg.Error:
            return True

    def results(self) -> list[list[tuple[Any, ...]]]:
        """The rows of each statement, or the error of the first that failed."""
        if not self._sent:
            return []
        self._sent = False
        connection = self._message._connection
        with connection.lock:
            results = connection.wait(generators.fetch_many(connection.pgconn))
        return self._message._load(results, self._begin)
