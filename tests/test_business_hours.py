"""The business-hours calendar: weekends, holidays, DST, starts outside working hours, 24/7."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.tickets.business_hours import BusinessCalendar, WorkingHours

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = WorkingHours(frozenset({0, 1, 2, 3, 4}), time(9), time(18))


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def office(**options) -> BusinessCalendar:
    return BusinessCalendar(BERLIN, OFFICE, **options)


def test_without_working_hours_every_second_counts() -> None:
    calendar = BusinessCalendar()
    start = datetime(2026, 3, 7, 23, 0, tzinfo=UTC)  # a Saturday night

    assert calendar.add_business_time(start, timedelta(hours=5)) == start + timedelta(hours=5)
    assert calendar.business_time_between(start, start + timedelta(days=2)) == timedelta(days=2)


def test_time_inside_one_working_day() -> None:
    start = berlin(2026, 3, 2, 10, 0)  # Monday

    due = office().add_business_time(start, timedelta(hours=4))

    assert due == berlin(2026, 3, 2, 14, 0)
    assert due.tzinfo == UTC
    assert office().business_time_between(start, due) == timedelta(hours=4)


def test_what_does_not_fit_today_continues_at_the_next_opening() -> None:
    due = office().add_business_time(berlin(2026, 3, 2, 16, 0), timedelta(hours=3))

    assert due == berlin(2026, 3, 3, 10, 0)


def test_the_weekend_does_not_count() -> None:
    friday = berlin(2026, 3, 6, 17, 0)

    assert office().add_business_time(friday, timedelta(hours=2)) == berlin(2026, 3, 9, 10, 0)
    assert office().business_time_between(friday, berlin(2026, 3, 9, 10, 0)) == timedelta(hours=2)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (berlin(2026, 3, 2, 7, 30), berlin(2026, 3, 2, 10, 0)),  # before opening: from 09:00
        (berlin(2026, 3, 2, 20, 0), berlin(2026, 3, 3, 10, 0)),  # after closing: next morning
        (berlin(2026, 3, 7, 12, 0), berlin(2026, 3, 9, 10, 0)),  # Saturday: Monday morning
    ],
)
def test_starting_outside_working_hours_counts_from_the_next_opening(start, expected) -> None:
    assert office().add_business_time(start, timedelta(hours=1)) == expected


def test_holidays_are_skipped() -> None:
    calendar = office(holidays=frozenset({date(2026, 3, 9), date(2026, 3, 10)}))
    friday = berlin(2026, 3, 6, 17, 0)

    assert calendar.add_business_time(friday, timedelta(hours=2)) == berlin(2026, 3, 11, 10, 0)
    assert calendar.business_time_between(friday, berlin(2026, 3, 11, 10, 0)) == timedelta(hours=2)


def test_spring_forward_keeps_local_opening_hours() -> None:
    # Berlin goes from UTC+1 to UTC+2 on Sunday 2026-03-29: Friday 17:00 local is 16:00 UTC,
    # Monday 10:00 local is 08:00 UTC.
    friday = berlin(2026, 3, 27, 17, 0)

    due = office().add_business_time(friday, timedelta(hours=2))

    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert due == berlin(2026, 3, 30, 10, 0)


def test_dst_day_counts_real_hours_when_open_around_the_clock() -> None:
    every_day = WorkingHours(frozenset(range(7)), time(0), time(23, 59))
    calendar = BusinessCalendar(BERLIN, every_day)
    # Sunday 2026-03-29 01:00-04:00 local is only 2 real hours (02:00 does not exist).
    spent = calendar.business_time_between(berlin(2026, 3, 29, 1, 0), berlin(2026, 3, 29, 4, 0))

    assert spent == timedelta(hours=2)


def test_between_is_zero_for_reversed_or_closed_intervals() -> None:
    calendar = office()
    saturday, sunday = berlin(2026, 3, 7, 10, 0), berlin(2026, 3, 8, 10, 0)

    assert calendar.business_time_between(sunday, saturday) == timedelta(0)
    assert calendar.business_time_between(saturday, sunday) == timedelta(0)


def test_add_and_between_agree_over_many_starts() -> None:
    calendar = office(holidays=frozenset({date(2026, 3, 4)}))
    start = berlin(2026, 3, 1, 0, 0)
    for step in range(0, 24 * 9, 5):  # every 5 hours over nine days
        begin = start + timedelta(hours=step)
        for hours in (0.5, 3, 9, 20):
            due = calendar.add_business_time(begin, timedelta(hours=hours))
            assert calendar.business_time_between(begin, due) == timedelta(hours=hours)


def test_bad_calendars_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        WorkingHours(frozenset(), time(9), time(18))
    with pytest.raises(ValueError):
        WorkingHours(frozenset({0}), time(18), time(9))
    with pytest.raises(ValueError):
        office().add_business_time(datetime(2026, 3, 2, 10, 0), timedelta(hours=1))
