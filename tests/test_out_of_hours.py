"""A ticket opened outside business hours tells the user when the team is back, in their
language and the team's time zone; within them, or with the notice off, nothing is added."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from bot.app import ticket_policy
from bot.config import load_settings
from core.tickets.business_hours import BusinessCalendar, WorkingHours
from core.tickets.policy import TicketPolicy
from tests.harness import FakeClock, Harness

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = WorkingHours(frozenset({0, 1, 2, 3, 4}), time(9), time(18))


def desk(store, local: datetime, notice: bool = True) -> Harness:
    hours = BusinessCalendar(BERLIN, OFFICE, frozenset({date(2026, 3, 9)}))
    policy = TicketPolicy(open_hours=hours if notice else None)
    return Harness(store, FakeClock(local.astimezone(UTC)), tickets=policy)


async def test_a_ticket_opened_at_the_weekend_says_when_the_team_is_back(store):
    saturday = datetime(2026, 3, 7, 22, 30, tzinfo=BERLIN)
    h = desk(store, saturday)
    await h.user_says("/new the printer is on fire", user="ann")
    await h.user_says("/new принтер горит", user="ivan", language="ru")
    # Monday 9 March is a holiday: the team is back on Tuesday at 9:00 Berlin time.
    assert h.to_user("ann")[-1].endswith(
        "Our team is away now. Back at work: Mar 10, 2026, 9:00\u202fAM. "
        "Your ticket will wait for them."
    )
    assert h.to_user("ivan")[-1].endswith(
        "Снова на связи: 10 мар. 2026\u202fг., 09:00. Обращение дождётся её."
    )
    assert "I have opened ticket #1" in h.to_user("ann")[-1]  # one message, not two


async def test_within_hours_or_with_the_notice_off_nothing_is_added(store):
    tuesday = datetime(2026, 3, 10, 10, 0, tzinfo=BERLIN)
    h = desk(store, tuesday)
    await h.user_says("/new the printer is on fire")
    assert "Back at work" not in h.to_user()[-1]
    night = desk(store, datetime(2026, 3, 10, 23, 0, tzinfo=BERLIN), notice=False)
    await night.user_says("/new the scanner is on fire", user="u2", update_id="night-1")
    assert "Back at work" not in night.to_user("u2")[-1]


def test_the_notice_follows_the_business_hours_setting(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[sla.business_hours]\ndays = ["mon"]\nstart = "09:00"\nend = "10:00"\n')
    assert ticket_policy(load_settings(path, env={})).open_hours is not None  # SLA off: still
    path.write_text(path.read_text() + "[tickets]\nout_of_hours_notice = false\n")
    assert ticket_policy(load_settings(path, env={})).open_hours is None
    assert ticket_policy(load_settings(None, env={})).open_hours is None  # no hours: 24/7


def test_next_opening():
    calendar = BusinessCalendar(BERLIN, OFFICE)
    friday_evening = datetime(2026, 3, 6, 18, 0, tzinfo=BERLIN)
    assert calendar.next_opening(friday_evening) == datetime(2026, 3, 9, 9, 0, tzinfo=BERLIN)
    assert calendar.next_opening(datetime(2026, 3, 6, 17, 59, tzinfo=BERLIN)) is None
    assert calendar.next_opening(datetime(2026, 3, 6, 8, 0, tzinfo=BERLIN)) == datetime(
        2026, 3, 6, 9, 0, tzinfo=BERLIN
    )
    assert BusinessCalendar(BERLIN).next_opening(friday_evening) is None  # 24/7
