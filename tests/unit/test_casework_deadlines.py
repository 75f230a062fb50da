"""Casework deadlines: transfers in official working days (National Day, the Spring Festival
and their adjusted working weekends; 001 measure 2), social assistance in calendar days with
two runs a month (003), and a year the official calendar does not cover."""

from __future__ import annotations

import datetime as dt

import pytest

from minsheng.core.dates import CalendarNotCovered
from minsheng.rules.remote_care import transfer_deadline_for
from minsheng.service.casework.assistance_approval import period_of
from minsheng.service.casework.common import context
from minsheng.service.casework.models import InsuranceTransfer
from minsheng.service.casework.transfers import progress

D = dt.date


def transfer(applied: dt.date) -> InsuranceTransfer:
    deadline, days = transfer_deadline_for(context(applied, "220102"), "cross_province", applied)
    return InsuranceTransfer(id="T1", application_date=applied, deadline=deadline,
                             working_days=days, status="applied")


def test_working_days_stand_still_over_national_day_and_count_the_adjusted_weekend() -> None:
    t = transfer(D(2023, 9, 25))
    assert t.deadline == D(2023, 10, 20)
    used = {day: progress(t, D(2023, *day))["working_days_used"]
            for day in ((9, 28), (10, 6), (10, 7), (10, 8), (10, 20))}
    assert used == {(9, 28): 3, (10, 6): 3, (10, 7): 4, (10, 8): 5, (10, 20): 15}
    assert progress(t, D(2023, 10, 20))["overdue"] is False
    late = progress(t, D(2023, 10, 23))
    assert (late["overdue"], late["working_days_left"]) == (True, -1)


def test_the_spring_festival_holidays_are_skipped_and_its_working_sunday_counts() -> None:
    # 2024-02-09 (Friday) is day 1; 02-10..02-17 are holidays; Sunday 02-18 is day 2
    t = transfer(D(2024, 2, 8))
    assert t.deadline == D(2024, 3, 6)
    assert progress(t, D(2024, 2, 17))["working_days_used"] == 1
    assert progress(t, D(2024, 2, 18))["working_days_used"] == 2


def test_an_in_province_transfer_is_due_the_day_of_registration() -> None:
    day = D(2023, 9, 29)  # a public holiday: registration still completes that day
    assert transfer_deadline_for(context(day, "222401"), "in_province", day) == (day, 0)


def test_a_deadline_in_a_year_the_official_calendar_does_not_cover_is_an_error() -> None:
    with pytest.raises(CalendarNotCovered):
        transfer(D(2026, 12, 20))


def test_social_assistance_is_due_fifteen_calendar_days_after_the_application() -> None:
    ctx = context(D(2023, 9, 25), "220102")
    days = ctx.param("social_assistance.approval.due_days")
    assert D(2023, 9, 25) + dt.timedelta(days=days) == D(2023, 10, 10)
    assert ctx.param("social_assistance.approval.runs_per_month") == 2
    assert ctx.params.get("social_assistance.approval.due_days", D(2023, 9, 25),
                          "220102").reference.source == "003_8545a6f139e71cec.txt"


def test_the_runs_fall_in_the_two_halves_of_the_month() -> None:
    assert [period_of(D(2023, 9, d)) for d in (1, 15, 16, 30)] == [
        "2023-09-1", "2023-09-1", "2023-09-2", "2023-09-2"]
    assert period_of(D(2024, 2, 29)) == "2024-02-2"
