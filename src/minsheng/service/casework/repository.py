"""The casework repository: the only casework code that writes SQL. Works inside the session
of a unit of work (``uow.casework``); never commits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minsheng.service.casework.models import (
    AssistanceCase,
    AssistanceRun,
    CaseworkStaff,
    DiseaseRecognition,
    InsuranceTransfer,
    RemoteCareFiling,
)
from minsheng.service.models import Person, Settlement

OPEN_TRANSFER = ("applied", "forwarded")
CLOSED_ASSISTANCE = ("approved", "denied", "not_accepted")


class CaseworkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)

    # remote-care filings
    def filing(self, filing_id: str) -> RemoteCareFiling | None:
        if not _storable(filing_id):
            return None
        return self.session.get(RemoteCareFiling, filing_id)

    def filings(self, psn_no: str, province: str | None = None) -> list[RemoteCareFiling]:
        stmt = select(RemoteCareFiling).where(RemoteCareFiling.psn_no == psn_no)
        if province is not None:
            stmt = stmt.where(RemoteCareFiling.destination_province == province)
        return list(self.session.scalars(stmt.order_by(RemoteCareFiling.filed_at,
                                                       RemoteCareFiling.id)))

    # transfers
    def transfer(self, transfer_id: str, *, lock: bool = False) -> InsuranceTransfer | None:
        if not _storable(transfer_id):
            return None
        stmt = select(InsuranceTransfer).where(InsuranceTransfer.id == transfer_id)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def transfers(self, psn_no: str) -> list[InsuranceTransfer]:
        return list(self.session.scalars(
            select(InsuranceTransfer).where(InsuranceTransfer.psn_no == psn_no)
            .order_by(InsuranceTransfer.application_date, InsuranceTransfer.id)))

    def overdue_transfers(self, day: dt.date) -> list[InsuranceTransfer]:
        return list(self.session.scalars(
            select(InsuranceTransfer)
            .where(InsuranceTransfer.status.in_(OPEN_TRANSFER), InsuranceTransfer.deadline < day)
            .order_by(InsuranceTransfer.deadline, InsuranceTransfer.id)))

    # recognitions
    def recognition(self, rec_id: str) -> DiseaseRecognition | None:
        if not _storable(rec_id):
            return None
        return self.session.get(DiseaseRecognition, rec_id)

    def recognitions(self, psn_no: str) -> list[DiseaseRecognition]:
        return list(self.session.scalars(
            select(DiseaseRecognition).where(DiseaseRecognition.psn_no == psn_no)
            .order_by(DiseaseRecognition.applied_on, DiseaseRecognition.id)))

    # social assistance
    def case(self, case_id: str, *, lock: bool = False) -> AssistanceCase | None:
        if not _storable(case_id):
            return None
        stmt = select(AssistanceCase).where(AssistanceCase.id == case_id)
        if lock:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def cases(self, *, psn_no: str | None = None, statuses: tuple[str, ...] | None = None,
              region: str | None = None) -> list[AssistanceCase]:
        stmt = select(AssistanceCase)
        if psn_no is not None:
            stmt = stmt.where(AssistanceCase.psn_no == psn_no)
        if statuses is not None:
            stmt = stmt.where(AssistanceCase.status.in_(statuses))
        if region is not None:
            stmt = stmt.where(AssistanceCase.region == region)
        return list(self.session.scalars(stmt.order_by(AssistanceCase.applied_on,
                                                       AssistanceCase.id)))

    def open_cases(self) -> list[AssistanceCase]:
        return list(self.session.scalars(
            select(AssistanceCase).where(AssistanceCase.status.not_in(CLOSED_ASSISTANCE))
            .order_by(AssistanceCase.applied_on, AssistanceCase.id).with_for_update()))

    def run(self, period: str) -> AssistanceRun | None:
        return self.session.get(AssistanceRun, period)

    def runs(self) -> list[AssistanceRun]:
        return list(self.session.scalars(select(AssistanceRun).order_by(AssistanceRun.run_date)))

    def staff(self, token_id: str) -> CaseworkStaff | None:
        return self.session.get(CaseworkStaff, token_id)

    # watch lists
    def burdens(self, year: int, until: dt.datetime) -> list[tuple[Person, int, int]]:
        """Each person with settled, unreversed claims in ``year`` before ``until``: the sum of
        their ``psn_part_amt`` and the number of claims."""
        totals = (select(Settlement.psn_no, func.sum(Settlement.psn_part_amt).label("burden"),
                         func.count().label("claims"))
                  .where(Settlement.year == year, Settlement.status == "settled",
                         Settlement.setl_time < until)
                  .group_by(Settlement.psn_no).subquery())
        rows = self.session.execute(
            select(Person, totals.c.burden, totals.c.claims)
            .join(totals, totals.c.psn_no == Person.psn_no).order_by(Person.psn_no))
        return [(p, int(b), int(c)) for p, b, c in rows]


def _storable(key: str) -> bool:
    """Whether a key can be stored at all (PostgreSQL holds no NUL character in text): a key
    that cannot is not found, rather than an error of the database."""
    return "\x00" not in key
