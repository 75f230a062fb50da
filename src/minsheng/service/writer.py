"""The settlement writer: group commit of the claims that arrive together.

One writer per database per process (:func:`writer_for`): a queue and :data:`THREADS`
threads. Requests (:class:`~minsheng.service.settlement_batch.SettleRequest`) wait in the
queue while a writer thread's previous transaction commits; the thread then takes all of
them (up to :data:`MAX_BATCH`) and settles them as one batch — one kernel call, one
transaction (:func:`~minsheng.service.settlement_batch.settle_batch`) — and answers each
request only after that transaction has committed, so an acknowledged settlement is durable
and sealed in the audit chain. There is no waiting to fill a batch: a lone claim is settled
at once.

On PostgreSQL the writer is pipelined (one thread; ``MINSHENG_WRITER_PIPELINE=0`` to turn
it off): while a batch's writes and its ``COMMIT`` are on their way to the server, the next
batch — of other persons only, so that it never waits for the first one's locks — is read
and settled; the first batch is answered as soon as its commit is in. On 2 cores this
settled as many claims a second as two writer processes, with a quarter less CPU per claim
(docs/performance.md, sitting 6). A lone claim is still answered as soon as it commits.

``minsheng serve`` runs this writer in a process of its own (``--writers N``: N processes,
each settling its share of the persons), fed by all its HTTP processes
(:mod:`minsheng.service.writer_process`); elsewhere (tests, ``--no-writer-process``) each
process has its own. With ``MINSHENG_WRITER_THREADS`` above 1 (not pipelined) one batch can
be settled while another's commit is flushed to disk (not faster on the 2-core machine
measured: docs/performance.md). Transactions are ordered by the database exactly as several
writer processes are: by the persons' rows, locked in ``psn_no`` order, and by the audit
head, locked last. A ``setl_id`` taken by another transaction meanwhile, a deadlock the
database broke or a lost connection rolls the batch back and settles it again (a claim taken
meanwhile is then answered as a replay or 409). Each batch works on a connection of its own
(no liveness ping per batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Collection, Sequence
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
PIPELINE = os.environ.get("MINSHENG_WRITER_PIPELINE", "1") != "0"
"""On PostgreSQL with one writer thread, settle the next batch while the last one's commit is
on its way (``MINSHENG_WRITER_PIPELINE=0``: one batch at a time)."""
ATTEMPTS = 5
_RETRY_STATES = {"40001", "40P01"}  # serialization failure, deadlock detected
log = logging.getLogger("minsheng.service.writer")


_Flying = tuple[Sequence[SettleRequest], UnitOfWork, list[Any]]
"""A batch whose writes and ``COMMIT`` are on their way: its requests, unit of work and
outcomes (which hold once it has committed)."""


class SettlementWriter:
    def __init__(self, database: Database, *, max_batch: int = MAX_BATCH,
                 threads: int = THREADS, pipelined: bool | None = None) -> None:
        self.database = database
        self.max_batch = max_batch
        self.pid = os.getpid()
        # never on SQLite: there the second batch's transaction would wait for the first's
        # write lock, which only this thread could release
        self.pipelined = not database.is_sqlite and (PIPELINE and threads == 1
                                                     if pipelined is None else pipelined)
        self._queue: deque[SettleRequest] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._flying: _Flying | None = None  # pipelined: the batch whose commit is on its way
        run = self._run_pipelined if self.pipelined else self._run
        self._threads = [threading.Thread(target=run, daemon=True,
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

    def _take_besides(self, busy: Collection[str]) -> list[SettleRequest]:
        """Without waiting: the queued requests in order (up to :attr:`max_batch`) but those
        of the persons in ``busy`` — and, behind them, those persons' later claims — which
        stay queued in their order."""
        with self._ready:
            queue = self._queue
            taken: list[SettleRequest] = []
            held: list[SettleRequest] = []
            while queue and len(taken) < self.max_batch:
                request = queue.popleft()
                claim = request.claim
                if claim is not None and claim.psn_no in busy:
                    held.append(request)
                else:
                    taken.append(request)
            queue.extendleft(reversed(held))
            return taken

    def _run_pipelined(self) -> None:
        """One thread, two batches at a time (PostgreSQL): while a batch's writes and its
        ``COMMIT`` are on their way to the server, the next batch — of other persons, so it
        never waits for the first one's locks — is read and settled, and its own message
        sent. The first batch is answered as soon as its commit is in: looked for once the
        next batch's reads are back, else awaited once that batch is sent. When nothing
        else is queued a batch is answered as soon as it commits, as without pipelining. The
        two transactions meet only at the audit head, which the database grants in the
        order their messages reach it."""
        while True:
            flying = self._flying
            if flying is None:
                batch = self._take()
                if batch is None:
                    return
            else:
                batch = self._take_besides(_persons(flying[0]))
                if not batch:  # nothing to settle meanwhile: answer the batch in flight
                    self._land_flying()
                    continue
            started = self._send(batch)
            self._land_flying()
            self._flying = started

    def _land_flying(self) -> None:
        flying, self._flying = self._flying, None
        if flying is not None:
            self._land(flying)

    def _land_if_committed(self) -> None:
        """Answer the batch in flight now if the server has answered its message."""
        flying = self._flying
        if flying is not None and (flying[1].sent is None or flying[1].sent.ready()):
            self._land_flying()

    def _send(self, batch: Sequence[SettleRequest]) -> _Flying | None:
        """Read, settle and send the writes and ``COMMIT`` of ``batch`` without waiting for
        them; should anything fail before that, the batch is settled the usual way."""
        uow = UnitOfWork(self.database, write=True, pinned=True)
        try:
            uow.__enter__()
            try:
                outcomes = settle_batch(uow, batch, commit=True, wait=False,
                                        meanwhile=self._land_if_committed)
            except BaseException:
                uow.__exit__(None, None, None)
                raise
        except Exception:
            self._settle_answered(batch)
            return None
        return batch, uow, outcomes

    def _land(self, flying: _Flying) -> None:
        """Wait for a batch's commit and answer its requests; should it fail (a ``setl_id``
        taken meanwhile, a deadlock broken, a connection lost…), it is settled again the
        usual way."""
        batch, uow, outcomes = flying
        try:
            try:
                uow.commit()
                store_for(uow).committed(uow)
            finally:
                uow.__exit__(None, None, None)
        except Exception:
            self._settle_answered(batch)
            return
        self._deliver(batch, outcomes)

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            self._settle_answered(batch)

    def _settle_answered(self, batch: Sequence[SettleRequest]) -> None:
        """:meth:`_settle`; should even that fail, every request gets the error."""
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
        self._deliver(batch, outcomes)

    def _deliver(self, batch: Sequence[SettleRequest], outcomes: Sequence[Any]) -> None:
        """Answer each request of a committed batch; those to settle again go back to the
        front of the queue."""
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


def _persons(batch: Sequence[SettleRequest]) -> set[str]:
    return {r.claim.psn_no for r in batch if r.claim is not None}


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
