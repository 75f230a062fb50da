"""Settle a batch of claims in one transaction: the body of the settlement writer's group commit.

:func:`settle_batch` takes the claims that arrived together (:class:`SettleRequest`, already
parsed) and, inside ONE unit of work:

1. resolves who sent each (the tokens of the batch in one query) and checks the role;
2. locks the persons of the batch (``SELECT … FOR UPDATE`` in ``psn_no`` order on
   PostgreSQL; the write transaction itself on SQLite) and reads, for all of them at once,
   the settlements already stored under the batch's ``setl_id``\\ s, the insurance type of
   each person-year and the accumulators;
3. checks each claim on its own — unknown person, region scope, replay or 409, the insurance
   type of the year, the casework route, the parameters in force. A claim that must be
   refused gets its error and the others go on; nothing of it is written;
4. settles every accepted claim in ONE kernel call (:func:`minsheng.service.kernel.settle_many`:
   claims of one person-year in ``setl_time`` order, ties by ``setl_id``, accumulators carried);
5. writes the settlement rows (each with a compact trace: :mod:`minsheng.service.trace_store`),
   the new accumulators and the audit entries — chained in the order the claims were
   settled — with one statement each.

The caller commits, then answers each request. A ``setl_id`` sent twice in one batch is
settled once: the second is answered with the first reply (same claim) or 409 (another).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, cast

from minsheng.core.errors import Conflict, InputError, MinshengError
from minsheng.service import kernel
from minsheng.service.audit import now
from minsheng.service.auth import SETTLE, Principal, Unauthorized
from minsheng.service.batch_repository import (
    BatchRepository,
    StoredSettlement,
    TokenRow,
    canonical_json,
)
from minsheng.service.casework.settlement_hooks import CareRequest
from minsheng.service.models import Person as PersonModel
from minsheng.service.trace_store import store_for
from minsheng.service.unit_of_work import UnitOfWork
from minsheng.settle.parse import Person

REQUEUE = object()
"""The outcome of a request whose fate hangs on a claim refused late in the batch: it is
settled again in the next batch (only after a kernel failure; see :func:`settle_batch`)."""


@dataclass(frozen=True)
class SettleReply:
    body: bytes
    replayed: bool
    setl_id: str


@dataclass
class SettleRequest:
    """One ``POST /api/v1/settlements``, parsed before it joins a batch.

    Either ``principal`` (known) or ``secret_hash`` (the bearer token's hash, resolved in the
    batch) says who sends it. ``error`` is a bad body: answered after the token and the role
    are checked, so that 401 and 403 come first as for every other route."""

    claim: kernel.Claim | None
    care: CareRequest | None
    digest: str
    principal: Principal | None = None
    secret_hash: str | None = None
    error: MinshengError | None = None
    future: Future[SettleReply] = field(default_factory=Future)
    waiter: asyncio.Future[SettleReply] | None = None
    """Set by a caller awaiting the reply on an event loop: resolved on that loop too."""
    channel: Any = None
    """Set for a request from an HTTP process (:mod:`minsheng.service.writer_process`): the
    connection its reply goes back on, with ``tag``."""
    tag: int = 0


Outcome = SettleReply | BaseException | object


def _principal(req: SettleRequest, tokens: dict[str, TokenRow]) -> Principal:
    if req.principal is not None:
        return req.principal
    token = tokens.get(req.secret_hash or "")
    if token is None or token.revoked:
        raise Unauthorized("访问令牌无效或已撤销", "unknown or revoked token")
    return Principal(token.id, token.role, token.region, token.psn_no)


def replay(existing: StoredSettlement, digest: str, principal: Principal) -> SettleReply:
    """The first reply of a ``setl_id`` already settled, or 409 for a different claim."""
    principal.require_person(SETTLE, existing.region, existing.psn_no)
    if existing.request_hash != digest:
        raise Conflict(f"结算流水号 {existing.setl_id} 已用于另一笔不同的结算",
                       f"setl_id {existing.setl_id} was already used for a different claim",
                       setl_id=existing.setl_id)
    return SettleReply(existing.reply.encode("utf-8"), True, existing.setl_id)


@dataclass
class _Accepted:
    index: int
    principal: Principal
    person: Person
    prepared: kernel.Prepared
    care: CareRequest
    digest: str


def settle_batch(uow: UnitOfWork, requests: Sequence[SettleRequest], *,
                 commit: bool = False, wait: bool = True,
                 meanwhile: Callable[[], None] | None = None) -> list[Outcome]:
    """Settle ``requests`` inside ``uow``; one outcome per request: a :class:`SettleReply`,
    the error to answer with, or :data:`REQUEUE`. With ``commit`` the writes go to
    PostgreSQL together with the ``COMMIT`` (one round trip; the caller's ``uow.commit()``
    then has nothing left to do); otherwise, and on SQLite, the caller commits. Without
    ``wait`` that last message is only sent (``uow.sent``): the outcomes hold only once the
    caller's ``uow.commit()``, which waits for it, has returned. ``meanwhile`` is called
    once the batch's reads are back (the pipelined writer answers its previous batch there,
    if it has committed)."""
    n = len(requests)
    outcomes: list[Outcome | None] = [None] * n
    principals: list[Principal | None] = [None] * n
    db = BatchRepository(uow)
    sent = [r.claim for r in requests if r.claim is not None]
    years = {(c.psn_no, c.setl_time.year) for c in sent}
    # every read of the batch at once (one round trip on PostgreSQL): the persons are locked
    # first, then what is stored of them is read under that lock
    tokens, persons, existing, used, before = db.read(
        db.tokens_query({r.secret_hash for r in requests
                         if r.principal is None and r.secret_hash}),
        db.lock_persons_query({c.psn_no for c in sent}),
        db.settlements_query({c.setl_id for c in sent}),
        db.insutypes_used_query(years),
        db.accumulators_query(years))
    if meanwhile is not None:
        meanwhile()
    for i, req in enumerate(requests):
        try:
            who = _principal(req, tokens)
            who.require(SETTLE)
            if req.error is not None:
                raise req.error
            principals[i] = who
        except MinshengError as exc:
            outcomes[i] = exc
    live = [i for i in range(n) if outcomes[i] is None]
    claims = {i: _claim(requests[i]) for i in live}

    accepted: list[_Accepted] = []
    leaders: dict[str, _Accepted] = {}
    followers: list[tuple[int, _Accepted]] = []
    for i in live:
        req, claim, sender = requests[i], claims[i], principals[i]
        assert sender is not None and req.care is not None
        try:
            person = persons.get(claim.psn_no)
            if person is None:
                raise InputError("psn_no", f"未知参保人 {claim.psn_no}（请先登记）",
                                 f"unknown person {claim.psn_no}")
            sender.require_person(SETTLE, person.region, person.psn_no)
            stored = existing.get(claim.setl_id)
            if stored is not None:
                outcomes[i] = replay(stored, req.digest, sender)
                continue
            leader = leaders.get(claim.setl_id)
            if leader is not None:  # the same setl_id earlier in this batch
                followers.append((i, leader))
                continue
            year = claim.setl_time.year
            insutype = used.get((person.psn_no, year))
            if insutype is not None and insutype != person.insutype:
                raise Conflict(f"参保人 {person.psn_no} 在 {year} 年已按险种 {insutype} 结算，"
                               f"一年内险种不变（现登记为 {person.insutype}）",
                               f"person {person.psn_no} was settled as {insutype} in {year}",
                               psn_no=person.psn_no)
            categories = person.categories_on(claim.setl_time.date())
            # the route notes what it found: afresh in each attempt (a batch may be settled
            # again); the casework hooks read the person's psn_no, insutype and region only
            care = dataclasses.replace(req.care, info={}, ctx=None)
            routed = care.route(uow, cast(PersonModel, person), claim)  # refuses, or 14 / 21
            prepared = kernel.prepare(routed, person.insutype, person.region, categories)
        except MinshengError as exc:
            outcomes[i] = exc
            continue
        item = _Accepted(i, sender, person, prepared, care, req.digest)
        leaders[claim.setl_id] = item
        accepted.append(item)

    results = _settle(accepted, before, outcomes)
    settled = [(item, results[item.index]) for item in accepted if item.index in results]
    for item, body in _write(uow, db, settled, before, commit, wait):
        outcomes[item.index] = SettleReply(body, False, item.prepared.claim.setl_id)
    for i, leader in followers:
        first = outcomes[leader.index]
        if not isinstance(first, SettleReply):
            outcomes[i] = REQUEUE  # the first was refused after all: this one is new
            continue
        try:
            principal = principals[i]
            assert principal is not None
            principal.require_person(SETTLE, leader.person.region, leader.person.psn_no)
            if requests[i].digest != leader.digest:
                raise Conflict(f"结算流水号 {first.setl_id} 已用于另一笔不同的结算",
                               f"setl_id {first.setl_id} was already used for a different "
                               "claim", setl_id=first.setl_id)
            outcomes[i] = SettleReply(first.body, True, first.setl_id)
        except MinshengError as exc:
            outcomes[i] = exc
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


def _claim(req: SettleRequest) -> kernel.Claim:
    assert req.claim is not None
    return req.claim


def _settle(accepted: list[_Accepted], before: dict[tuple[str, int], dict[str, int]],
            outcomes: list[Outcome | None]) -> dict[int, kernel.Result]:
    """One kernel call for every accepted claim. Should the kernel refuse the batch (a year's
    total beyond its range), the claims are settled one by one in the same order, so that
    only the claim that cannot be settled is refused."""
    try:
        results = kernel.settle_many([a.prepared for a in accepted], before, trace=False)
    except MinshengError:
        return _settle_one_by_one(accepted, before, outcomes)
    return {a.index: r for a, r in zip(accepted, results, strict=True)}


def _settle_one_by_one(accepted: list[_Accepted], before: dict[tuple[str, int], dict[str, int]],
                       outcomes: list[Outcome | None]) -> dict[int, kernel.Result]:
    carried = {key: dict(values) for key, values in before.items()}
    results: dict[int, kernel.Result] = {}
    ordered = sorted(accepted, key=lambda a: (a.prepared.claim.psn_no,
                                              a.prepared.claim.setl_time,
                                              a.prepared.claim.setl_id))
    for a in ordered:
        claim = a.prepared.claim
        key = (claim.psn_no, claim.setl_time.year)
        try:
            result = kernel.settle_many([a.prepared], {key: carried.get(key, {})}, trace=False)[0]
        except MinshengError as exc:
            outcomes[a.index] = exc
            continue
        carried[key] = result.accumulators
        results[a.index] = result
    return results


def _write(uow: UnitOfWork, db: BatchRepository, settled: list[tuple[_Accepted, kernel.Result]],
           before: dict[tuple[str, int], dict[str, int]], commit: bool, wait: bool
           ) -> list[tuple[_Accepted, bytes]]:
    """The settlement rows, the accumulators and the audit entries, in settlement order;
    returns each claim's reply."""
    settled.sort(key=lambda pair: (pair[0].prepared.claim.psn_no,
                                   pair[0].prepared.claim.setl_time,
                                   pair[0].prepared.claim.setl_id))
    rows: list[dict[str, Any]] = []
    replies: list[tuple[_Accepted, bytes]] = []
    entries: list[tuple[str, str, str, str, dict[str, Any]]] = []
    after: dict[tuple[str, int], dict[str, int]] = {}
    store = store_for(uow)
    for item, result in settled:
        item.care.annotate(result)  # the casework route: in the reply, its steps in the trace
        assert result.record is not None
        trace = store.dump(uow, result.record, result.trace)
        body, stored, warnings_id = store.reply(uow, result.reply)
        replies.append((item, body))
        rows.append(_row(item, result, stored, warnings_id, trace, now()))
        claim = item.prepared.claim
        after[(claim.psn_no, claim.setl_time.year)] = result.accumulators
        entries.append((item.principal.actor, "settlement.created", "settlement", claim.setl_id,
                        {"psn_no": claim.psn_no, "setl_time": claim.setl_time.isoformat(),
                         "request_hash": item.digest,
                         **{k: result.reply[k] for k in result.amounts}}))  # as formatted
    db.insert_settlements(rows)
    db.write_accumulators((p, y, values, before.get((p, y), {}))
                          for (p, y), values in after.items())
    db.append_audit(entries)  # holds the audit head from here to the commit
    db.insert_terms(uow.new_terms)
    uow.sent = db.finish(commit=commit, wait=wait)
    return replies


def _row(item: _Accepted, result: kernel.Result, reply: str, warnings_id: str | None,
         trace: str, stamp: dt.datetime) -> dict[str, Any]:
    claim, person, amounts = item.prepared.claim, item.person, result.amounts
    return {
        "setl_id": claim.setl_id, "psn_no": person.psn_no, "setl_time": claim.setl_time,
        "year": claim.setl_time.year, "insutype": person.insutype, "region": person.region,
        "categories": ",".join(item.prepared.categories), "med_type": claim.med_type,
        "hosp_lv": claim.hosp_lv, "in_province": claim.in_province,
        "medfee_sumamt": claim.medfee_sumamt, "fulamt_ownpay_amt": claim.fulamt_ownpay_amt,
        "preselfpay_amt": claim.preselfpay_amt, "overlmt_selfpay": claim.overlmt_selfpay,
        **{k: amounts[k] for k in ("inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay",
                                   "fund_pay_sumamt", "psn_part_amt", "act_pay_dedc")},
        "request_hash": item.digest, "reply": reply, "warnings_id": warnings_id,
        "trace": trace,
        "contributions": canonical_json(result.contributions), "status": "settled",
        "settled_at": stamp, "settled_by": item.principal.actor,
    }
