"""Dates and the official working-day calendar (国务院办公厅 holiday schedules).

Working days come from the package ``chinese-calendar``, which encodes each year's
published schedule (holidays and adjusted working weekends, 调休). A year it does not
cover is an error, never a guess.
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar

from minsheng.core.errors import InputError, MinshengError


class CalendarNotCovered(MinshengError):
    kind = "calendar_not_covered"

    def __init__(self, day: dt.date) -> None:
        super().__init__(
            f"官方工作日历未覆盖 {day.year} 年（国务院办公厅节假日安排尚未编码），无法计算工作日",
            f"the official working-day calendar does not cover {day.year}",
            year=day.year,
        )


def parse_date(value: object, field: str = "date") -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(field, f"日期应为 YYYY-MM-DD 格式，收到 {value!r}", "expected an ISO date")


def parse_datetime(value: object, field: str = "time") -> dt.datetime:
    """An ISO date-time without zone, China time (``2023-08-01T07:30:00``)."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is not None:
                raise InputError(field, "日期时间不带时区（按北京时间）", "no time zone: China time")
            return parsed
    raise InputError(field, f"日期时间应为 YYYY-MM-DDTHH:MM:SS 格式，收到 {value!r}",
                     "expected an ISO date-time")


def is_working_day(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        raise CalendarNotCovered(day) from None


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The ``n``-th working day after ``start`` (``start`` itself not counted)."""
    day = start
    counted = 0
    while counted < n:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end``."""
    return sum(1 for i in range(1, (end - start).days + 1)
               if is_working_day(start + dt.timedelta(days=i)))
