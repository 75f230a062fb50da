"""Read-only lists for the pages: what an agency console or a citizen's page shows at a glance.

The service modules answer one person or one case at a time; the pages also need lists —
the persons of a region matching a search, the open transfers and the filings and
recognitions of the persons of a region, recent settlements, and a citizen's own
social-assistance applications. Each function here checks the caller exactly as the
per-item functions do (:class:`~minsheng.service.auth.Principal`: role, then region or own
``psn_no``) and returns the same JSON as those functions (``person_json``, ``filing_json``,
``transfer_json``, ``recognition_json``, ``case_json``, ``settlement_json``), so a list never
shows more than opening each item would.

:class:`ListingQueries` holds the SQL (like a repository, inside the unit of work's session).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from minsheng.core.errors import InputError, NotFound
from minsheng.core.regions import all_regions, is_within
from minsheng.service.auth import (
    CASEWORK,
    CASEWORK_READ,
    PERSON_READ,
    SETTLEMENT_READ,
    Forbidden,
    Principal,
)
from minsheng.service.casework.assistance_approval import LEVEL_STEPS, LEVELS, case_json
from minsheng.service.casework.filings import filing_json
from minsheng.service.casework.models import (
    AssistanceCase,
    DiseaseRecognition,
    InsuranceTransfer,
    RemoteCareFiling,
)
from minsheng.service.casework.recognitions import recognition_json
from minsheng.service.casework.transfers import transfer_json
from minsheng.service.models import Person, Settlement
from minsheng.service.persons import person_json
from minsheng.service.settlements import settlement_json
from minsheng.service.unit_of_work import UnitOfWork

LIMIT = 200
"""At most this many rows per list (the page says when a list was cut)."""

OPEN_TRANSFER = ("applied", "forwarded")


class ListingQueries:
    """The SQL of the lists (read only; never commits)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def persons(self, regions: Iterable[str] | None, text: str, *, by_certno: bool,
                limit: int) -> list[Person]:
        stmt = select(Person)
        if regions is not None:
            stmt = stmt.where(Person.region.in_(list(regions)))
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            like = f"%{escaped}%"
            conditions: list[ColumnElement[bool]] = [
                func.lower(Person.psn_no).like(like.lower(), escape="\\"),
                Person.psn_name.like(like, escape="\\")]
            if by_certno:
                conditions.append(Person.certno == text.upper())
            stmt = stmt.where(or_(*conditions))
        return list(self.session.scalars(stmt.order_by(Person.psn_no).limit(limit)))

    def filings(self, regions: Iterable[str] | None, limit: int
                ) -> list[tuple[RemoteCareFiling, Person]]:
        stmt = select(RemoteCareFiling, Person).join(Person, Person.psn_no == RemoteCareFiling.psn_no)
        if regions is not None:
            stmt = stmt.where(Person.region.in_(list(regions)))
        stmt = stmt.order_by(RemoteCareFiling.filed_at.desc(), RemoteCareFiling.id).limit(limit)
        return [(f, p) for f, p in self.session.execute(stmt)]

    def open_transfers(self, regions: Iterable[str] | None, limit: int) -> list[InsuranceTransfer]:
        stmt = select(InsuranceTransfer).where(InsuranceTransfer.status.in_(OPEN_TRANSFER))
        if regions is not None:
            codes = list(regions)
            stmt = stmt.where(or_(InsuranceTransfer.from_region.in_(codes),
                                  InsuranceTransfer.to_region.in_(codes)))
        return list(self.session.scalars(
            stmt.order_by(InsuranceTransfer.deadline, InsuranceTransfer.id).limit(limit)))

    def recognitions(self, regions: Iterable[str] | None, limit: int) -> list[DiseaseRecognition]:
        stmt = select(DiseaseRecognition).join(Person, Person.psn_no == DiseaseRecognition.psn_no)
        if regions is not None:
            stmt = stmt.where(Person.region.in_(list(regions)))
        # those waiting for the agency first, then the newest
        waiting = (DiseaseRecognition.status != "submitted")
        stmt = stmt.order_by(waiting, DiseaseRecognition.applied_on.desc(),
                             DiseaseRecognition.id).limit(limit)
        return list(self.session.scalars(stmt))

    def settlements(self, regions: Iterable[str] | None, limit: int) -> list[Settlement]:
        stmt = select(Settlement)
        if regions is not None:
            stmt = stmt.where(Settlement.region.in_(list(regions)))
        return list(self.session.scalars(
            stmt.order_by(Settlement.setl_time.desc(), Settlement.setl_id).limit(limit)))

    def cases(self, psn_no: str) -> list[AssistanceCase]:
        return list(self.session.scalars(
            select(AssistanceCase).where(AssistanceCase.psn_no == psn_no)
            .order_by(AssistanceCase.applied_on, AssistanceCase.id)))


def _queries(uow: UnitOfWork) -> ListingQueries:
    return ListingQueries(uow.session)


def region_scope(principal: Principal) -> list[str] | None:
    """The region codes a token reaches (its region and every region below it); ``None``: all."""
    if principal.role == "admin" or principal.region is None:
        return None
    return [code for code in all_regions() if is_within(code, principal.region)]


def _staff_role(principal: Principal, action: str) -> None:
    """Lists of a region are for agency staff and administrators (403 otherwise)."""
    principal.require(action)
    if principal.role not in ("admin", "agency"):
        raise Forbidden("区域列表仅供医保经办机构和管理员查询", "region lists are for agencies",
                        role=principal.role, action=action)


def search_persons(uow: UnitOfWork, principal: Principal, text: str = "",
                   limit: int = LIMIT) -> dict[str, Any]:
    """Persons insured in the token's region and below whose ``psn_no`` or name contains
    ``text`` (or whose resident id is ``text``, for roles that see resident ids)."""
    _staff_role(principal, PERSON_READ)
    query = (text or "").strip()
    if len(query) > 64:
        raise InputError("q", "查询内容不超过64个字符", "at most 64 characters")
    with uow:
        rows = _queries(uow).persons(region_scope(principal), query,
                                     by_certno=principal.sees_certno, limit=limit + 1)
        return {"query": query, "truncated": len(rows) > limit,
                "persons": [person_json(p, principal) for p in rows[:limit]]}


def filings_in_region(uow: UnitOfWork, principal: Principal, limit: int = LIMIT
                      ) -> dict[str, Any]:
    """Remote-care filings of the persons insured in the token's region, newest first."""
    _staff_role(principal, CASEWORK)
    with uow:
        rows = _queries(uow).filings(region_scope(principal), limit + 1)
        return {"truncated": len(rows) > limit,
                "filings": [filing_json(f, p) for f, p in rows[:limit]]}


def open_transfers(uow: UnitOfWork, principal: Principal, day: dt.date,
                   limit: int = LIMIT) -> dict[str, Any]:
    """Open transfers with either end in the token's region, by deadline (overdue first)."""
    _staff_role(principal, CASEWORK)
    with uow:
        rows = _queries(uow).open_transfers(region_scope(principal), limit + 1)
        return {"date": day.isoformat(), "truncated": len(rows) > limit,
                "transfers": [transfer_json(t, day) for t in rows[:limit]]}


def recognitions_in_region(uow: UnitOfWork, principal: Principal, limit: int = LIMIT
                           ) -> dict[str, Any]:
    """Chronic-disease recognitions and dual-channel filings of the region's persons;
    those waiting for the agency's review first."""
    _staff_role(principal, CASEWORK)
    with uow:
        rows = _queries(uow).recognitions(region_scope(principal), limit + 1)
        return {"truncated": len(rows) > limit,
                "recognitions": [recognition_json(r) for r in rows[:limit]]}


def recent_settlements(uow: UnitOfWork, principal: Principal, limit: int = 50
                       ) -> dict[str, Any]:
    """The newest settlements of the persons insured in the token's region."""
    _staff_role(principal, SETTLEMENT_READ)
    with uow:
        rows = _queries(uow).settlements(region_scope(principal), limit + 1)
        return {"truncated": len(rows) > limit,
                "settlements": [settlement_json(s) for s in rows[:limit]]}


def own_assistance_cases(uow: UnitOfWork, principal: Principal, psn_no: str,
                         day: dt.date | None = None) -> dict[str, Any]:
    """A person's social-assistance applications and where they stand (the citizen: its own;
    agency staff and administrators: a person of their region)."""
    principal.require(CASEWORK_READ)
    if principal.role not in ("citizen", "agency", "admin"):
        raise Forbidden("社会救助申请仅供申请人本人和经办人员查询", "assistance cases are for the "
                        "applicant and agency staff", role=principal.role, action=CASEWORK_READ)
    if principal.role == "citizen":
        principal.require_person(CASEWORK_READ, "", psn_no)
    with uow:
        person = uow.persons.get(psn_no)
        if person is None:
            raise NotFound(f"未知参保人 {psn_no}", f"unknown person {psn_no}", psn_no=psn_no)
        principal.require_person(CASEWORK_READ, person.region, person.psn_no)
        return {"psn_no": person.psn_no,
                "cases": [case_json(c, day) for c in _queries(uow).cases(person.psn_no)]}


def staff_level(uow: UnitOfWork, principal: Principal) -> dict[str, Any]:
    """The social-assistance staff level of the token (what the console offers it)."""
    if principal.role == "admin":
        return {"level": "admin", "level_name": "系统管理员", "township": None, "village": None,
                "steps": sorted(LEVEL_STEPS["township"] | {"run"})}
    if principal.role != "agency":
        return {"level": None, "level_name": "", "township": None, "village": None, "steps": []}
    with uow:
        row = uow.casework.staff(principal.token_id)
        if row is None:
            return {"level": None, "level_name": "未登记为社会救助经办人员", "township": None,
                    "village": None, "steps": []}
        return {"level": row.level, "level_name": LEVELS[row.level], "township": row.township,
                "village": row.village, "steps": sorted(LEVEL_STEPS[row.level])}


def birth_date(uow: UnitOfWork, principal: Principal, psn_no: str) -> dt.date | None:
    """The birth date in a person's resident id (for the age-dependent contribution), read
    for whoever may read the person; the resident id itself stays masked for them."""
    principal.require(PERSON_READ)
    if principal.role == "citizen":
        principal.require_person(PERSON_READ, "", psn_no)
    with uow:
        person = uow.persons.get(psn_no)
        if person is None:
            raise NotFound(f"未知参保人 {psn_no}", f"unknown person {psn_no}", psn_no=psn_no)
        principal.require_person(PERSON_READ, person.region, person.psn_no)
        if not person.certno:
            return None
        c = person.certno
        return dt.date(int(c[6:10]), int(c[10:12]), int(c[12:14]))


def assistance_runs(uow: UnitOfWork, principal: Principal) -> list[dict[str, Any]]:
    """The twice-monthly social-assistance runs so far (administrators, who start them)."""
    if principal.role != "admin":
        raise Forbidden("仅系统管理员可以查看和运行审批批次", "administrators only",
                        role=principal.role, action="assistance.run")
    with uow:
        return [{"period": r.period, "run_date": r.run_date.isoformat(),
                 "verifications_sent": r.verifications_sent, "approved": r.approved,
                 "denied": r.denied} for r in uow.casework.runs()]
