"""Several statements to PostgreSQL in one message: one round trip, a handful of system calls.

The settlement writer sends each batch's reads together, then its writes and the ``COMMIT``
together (:mod:`minsheng.service.batch_repository`). A psycopg pipeline would do it in one
round trip too, but it sends every statement with its own system calls (two ``poll`` and one
``sendto`` for each of the Parse, Bind, Describe, Execute messages: about 40 system calls
for a batch of one claim, seen with strace) and keeps a Python generator going per result. As
one simple-query message (the values quoted by psycopg's own client-side binding,
:class:`psycopg.ClientCursor`) the writer's CPU for a batch of one claim fell from 3.9 to
1.8 ms, for a batch of 16 from 7.0 to 4.8 ms (docs/performance.md, sitting 4).

Nothing is prepared: the server plans every statement afresh each time, so no plan made while
a table was small (a sequential scan) outlives the table's growth.

On a connection in autocommit mode (the writer's own, see
:meth:`minsheng.service.db.Database.session`) the first message of a transaction begins it
(``BEGIN`` goes in the same message instead of a round trip of its own). An error in any
statement skips the rest of the message (a ``COMMIT`` in it included) and is raised; the
transaction is then in error until rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

Statement = tuple[str, Sequence[Any]]
"""A statement with ``%s`` marks and its values."""


class Message:
    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection
        self._quoting = psycopg.ClientCursor(connection)

    def text(self, statements: Sequence[Statement]) -> str:
        """The statements with their values quoted in, as one message."""
        mogrify = self._quoting.mogrify
        return ";\n".join(mogrify(sql, params) if params else sql for sql, params in statements)

    def run(self, statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
        """Run the statements in order; the rows of each (``[]`` for a statement without)."""
        if not statements:
            return []
        connection = self._connection
        begin = (connection.autocommit
                 and connection.info.transaction_status == TransactionStatus.IDLE)
        text = ("BEGIN;\n" if begin else "") + self.text(statements)
        cursor = connection.cursor()
        cursor.execute(text.encode("utf-8"), prepare=False)  # no values: the simple protocol
        results: list[list[tuple[Any, ...]]] = []
        while True:
            results.append(cursor.fetchall() if cursor.description is not None else [])
            if not cursor.nextset():
                break
        return results[1:] if begin else results
