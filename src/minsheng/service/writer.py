"""The settlement writer: group commit of the claims that arrive together.

One writer per database per process (:func:`writer_for`): a queue and :data:`THREADS`
threads. Requests (:class:`~minsheng.service.settlement_batch.SettleRequest`) wait in the
queue while a writer thread's previous transaction commits; the thread then takes all of
them (up to :data:`MAX_BATCH`) and settles them as one batch — one kernel call, one
transaction (:func:`~minsheng.service.settlement_batch.settle_batch`) — and answers each
request only after that transaction has committed, so an acknowledged settlement is durable
and sealed in the audit chain. There is no waiting to fill a batch: a lone claim is settled
at once.

``minsheng serve`` runs this writer in processes of its own (two on PostgreSQL, each settling
its share of the persons), fed by all its HTTP processes
(:mod:`minsheng.service.writer_process`); elsewhere (tests, ``--no-writer-process``) each
process has its own. With two threads one batch can be settled while the other's commit is
flushed to disk (not faster on the 2-core machine measured: docs/performance.md). They are
ordered by the database exactly as several writer processes are: by the persons' rows,
locked in ``psn_no`` order, and by the audit head, locked last. A ``setl_id`` taken by
another transaction meanwhile, a deadlock the database broke or a lost connection rolls the
batch back and settles it again (a claim taken meanwhile is then answered as a replay or
409). Each thread works on a connection of its own (no liveness ping per batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import InvalidStateError
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError

from minsheng.core.errors import Conflict
from minsheng.service.db import Database
from minsheng.service.settlement_batch import (
    REQUEUE,
    SettleReply,
    SettleRequest,
    settle_batch,
)
from minsheng.service.trace_store import store_for
from minsheng.service.unit_of_work import DuplicateKey, UnitOfWork

MAX_BATCH = 256
THREADS = max(1, int(os.environ.get("MINSHENG_WRITER_THREADS", "1")))
"""Writer threads per process (``MINSHENG_WRITER_THREADS``, default 1): with more, one
batch is settled while another's commit is flushed to disk (each on a connection of its
own; the database locks order them). Measured no faster on 2 cores, hence one."""
ATTEMPTS = 5
_RETRY_STATES = {"40001", "40P01"}  # serialization failure, deadlock detected
log = logging.getLogger("minsheng.service.writer")


class SettlementWriter:
    def __init__(self, database: Database, *, max_batch: int = MAX_BATCH,
                 threads: int = THREADS) -> None:
        self.database = database
        self.max_batch = max_batch
        self.pid = os.getpid()
        self._queue: deque[SettleRequest] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._threads = [threading.Thread(target=self._run, daemon=True,
                                          name=f"minsheng-settlement-writer-{i}")
                         for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, request: SettleRequest) -> None:
        """Queue a request; its ``future`` gets the reply (or the error) after the commit."""
        with self._ready:
            if self._stopping:
                raise RuntimeError("the settlement writer has stopped")
            self._queue.append(request)
            self._ready.notify()

    def submit_many(self, requests: Sequence[SettleRequest]) -> None:
        """Queue several requests at once: they are settled in one batch (up to
        :data:`MAX_BATCH`), e.g. the claims of a hospital's end-of-day upload."""
        with self._ready:
            if self._stopping:
                raise RuntimeError("the settlement writer has stopped")
            self._queue.extend(requests)
            self._ready.notify()

    def settle(self, request: SettleRequest) -> SettleReply:
        """Queue a request and wait for its reply (raises its error)."""
        self.submit(request)
        return request.future.result()

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        for thread in self._threads:
            if threading.current_thread() is not thread:
                thread.join(timeout=30)

    def _retryable(self, exc: BaseException) -> bool:
        """A ``setl_id`` settled meanwhile by another process (read it again), or a deadlock
        or serialization failure the database broke: the batch is settled again."""
        if isinstance(exc, DuplicateKey | IntegrityError):
            return True
        if isinstance(exc, DBAPIError):
            exc = exc.orig or exc
        dbapi = self.database.engine.dialect.dbapi
        if dbapi is not None and isinstance(exc, dbapi.IntegrityError):
            return True
        if getattr(exc, "sqlstate", None) in _RETRY_STATES:
            return True
        # PostgreSQL: a connection lost (server restarted): again on a new connection
        return (not self.database.is_sqlite and dbapi is not None
                and isinstance(exc, dbapi.OperationalError))

    def _take(self) -> list[SettleRequest] | None:
        with self._ready:
            while not self._queue and not self._stopping:
                self._ready.wait()
            if not self._queue:
                return None
            n = min(len(self._queue), self.max_batch)
            return [self._queue.popleft() for _ in range(n)]

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                self._settle(batch)
            except BaseException as exc:  # pragma: no cover - answered, never lost
                log.exception("settlement batch failed")
                for r in batch:
                    _answer(r, exc)

    def _settle(self, batch: Sequence[SettleRequest]) -> None:
        """Settle a batch and answer each request. Should the batch fail as a whole for a
        reason no claim was checked for (a database error), each claim is settled again on
        its own, so that only the claim that causes it fails."""
        try:
            self._settle_together(batch)
        except Exception as exc:
            if len(batch) == 1:
                raise
            log.warning("settlement batch of %d failed (%s); settling them one by one",
                        len(batch), type(exc).__name__)
            for request in batch:
                try:
                    self._settle_together([request])
                except Exception as alone:
                    log.exception("settlement failed")
                    _answer(request, alone)

    def _settle_together(self, batch: Sequence[SettleRequest]) -> None:
        outcomes = None
        for _ in range(ATTEMPTS):
            try:
                with UnitOfWork(self.database, write=True, pinned=True) as uow:
                    outcomes = settle_batch(uow, batch, commit=True)
                    uow.commit()
                    store_for(uow).committed(uow)
                break
            except Exception as exc:
                if not self._retryable(exc):
                    raise
        if outcomes is None:
            conflict = Conflict("结算冲突，请重试", "conflicting settlement, retry")
            for r in batch:
                _answer(r, conflict)
            return
        again: list[SettleRequest] = []
        answers: list[tuple[SettleRequest, SettleReply | BaseException]] = []
        for request, outcome in zip(batch, outcomes, strict=True):
            if outcome is REQUEUE:
                again.append(request)
            else:
                assert isinstance(outcome, SettleReply | BaseException)
                answers.append((request, outcome))
        _answer_all(answers)
        if again:
            with self._ready:
                self._queue.extendleft(reversed(again))


def _answer(request: SettleRequest, outcome: SettleReply | BaseException) -> None:
    _answer_all([(request, outcome)])


def _answer_all(answers: Sequence[tuple[SettleRequest, SettleReply | BaseException]]) -> None:
    """Give each request its reply or error, unless it has one already or was given up (its
    client went away: the settlement stands, and a retry gets the reply). Requests awaited on
    an event loop (``waiter``) are woken together: one call into each loop per batch, not
    one per reply (each such call wakes the loop and hands it the interpreter); requests
    from HTTP processes get their replies in one message to each process."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[SettleReply],
                                                        SettleReply | BaseException]]] = {}
    by_channel: dict[Any, list[tuple[int, SettleReply | BaseException]]] = {}
    for request, outcome in answers:
        if request.channel is not None:  # from an HTTP process: one send per batch to each
            by_channel.setdefault(request.channel, []).append((request.tag, outcome))
        try:
            if isinstance(outcome, BaseException):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)
        except InvalidStateError:
            pass
        if request.waiter is not None:
            by_loop.setdefault(request.waiter.get_loop(), []).append((request.waiter, outcome))
    for channel, replies in by_channel.items():
        channel.answer(replies)
    for loop, woken in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_wake, woken)


def _wake(woken: Sequence[tuple[asyncio.Future[SettleReply], SettleReply | BaseException]]
          ) -> None:
    for waiter, outcome in woken:
        if waiter.done():  # cancelled: the client went away
            continue
        if isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


_lock = threading.Lock()


def writer_for(database: Database) -> SettlementWriter:
    """The writer of ``database`` in this process (started on first use, stopped with
    :meth:`Database.dispose`)."""
    writer: SettlementWriter | None = database.settlement_writer
    if writer is None or writer.pid != os.getpid():  # none yet, or inherited by a fork
        with _lock:
            writer = database.settlement_writer
            if writer is None or writer.pid != os.getpid():
                writer = SettlementWriter(database)
                database.settlement_writer = writer
    return writer
