"""A business-hours calendar: which time counts towards SLA targets.

Pure arithmetic, no I/O. Every input datetime must be timezone-aware; results are in UTC. Working
hours are wall-clock times in the calendar's zone, so a DST change moves them with the clock
(09:00-18:00 stays 09:00-18:00 local, the day is 9 real hours either way). Without working hours
the calendar is 24/7: every second counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

# A calendar with no working day at all would make `add_business_time` loop forever; this bounds
# the search (no real calendar has a gap of several years).
MAX_SEARCH_DAYS = 3 * 366


@dataclass(frozen=True)
class WorkingHours:
    """Working days (0 = Monday ... 6 = Sunday) and the daily window [start, end)."""

    days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    start: time = time(9, 0)
    end: time = time(18, 0)

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("working days must be a non-empty subset of 0..6")
        if self.start >= self.end:
            raise ValueError("working hours must start before they end")


@dataclass(frozen=True)
class BusinessCalendar:
    zone: tzinfo = field(default_factory=lambda: ZoneInfo("UTC"))
    hours: WorkingHours | None = None  # None: 24/7
    holidays: frozenset[date] = frozenset()

    @property
    def is_always_open(self) -> bool:
        return self.hours is None

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The moment when `duration` of business time has passed since `start`. Starting
        outside working hours counts from the next opening."""
        _require_aware(start)
        start = start.astimezone(UTC)
        if self.is_always_open or duration <= timedelta(0):
            return start + max(duration, timedelta(0))
        remaining = duration
        day = start.astimezone(self.zone).date()
        for _ in range(MAX_SEARCH_DAYS):
            window = self._window(day)
            if window is not None:
                opens, closes = window
                begin = max(start, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError("the calendar has no working time within the search range")

    def next_opening(self, now: datetime) -> datetime | None:
        """When the team is next at work (UTC); None while it is at work now."""
        _require_aware(now)
        now = now.astimezone(UTC)
        if self.is_always_open:
            return None
        day = now.astimezone(self.zone).date()
        for _ in range(MAX_SEARCH_DAYS):
            window = self._window(day)
            if window is not None and now < window[1]:
                return None if window[0] <= now else window[0]
            day += timedelta(days=1)
        raise ValueError("the calendar has no working time within the search range")

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time in [a, b); zero when b is not after a."""
        _require_aware(a)
        _require_aware(b)
        a, b = a.astimezone(UTC), b.astimezone(UTC)
        if b <= a:
            return timedelta(0)
        if self.is_always_open:
            return b - a
        total = timedelta(0)
        day = a.astimezone(self.zone).date()
        last = b.astimezone(self.zone).date()
        while day <= last:
            window = self._window(day)
            if window is not None:
                begin, end = max(a, window[0]), min(b, window[1])
                if begin < end:
                    total += end - begin
            day += timedelta(days=1)
        return total

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """That local day's working window in UTC, or None for a day off."""
        hours = self.hours
        assert hours is not None
        if day.weekday() not in hours.days or day in self.holidays:
            return None
        # Subtract in UTC: Python subtracts two datetimes of the same tzinfo as wall-clock times.
        opens = datetime.combine(day, hours.start, self.zone).astimezone(UTC)
        closes = datetime.combine(day, hours.end, self.zone).astimezone(UTC)
        return opens, closes


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("business-time arithmetic needs timezone-aware datetimes")
