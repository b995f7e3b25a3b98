"""SLA timers through the engine with a controllable clock, on every storage backend: warnings
and breaches at the right moments inside and outside business hours, holidays, the pause while
waiting for the user, the first response stopping its timer, priority changes, and two monitors
running at once announcing each event exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app import sla_policy
from bot.config import ConfigError, load_settings
from bot.runner import run_service
from core.domain import Priority, SlaEvent, Ticket
from core.jobs.sla_monitor import SlaMonitor
from core.tickets.business_hours import BusinessCalendar, WorkingHours
from core.tickets.sla_policy import SlaPolicy, SlaTarget
from tests.harness import FakeClock, Harness

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = WorkingHours(frozenset({0, 1, 2, 3, 4}), time(9), time(18))
TARGETS = {
    Priority.NORMAL: SlaTarget(first_response=timedelta(hours=1), resolution=timedelta(hours=8)),
    Priority.URGENT: SlaTarget(first_response=timedelta(minutes=20), resolution=timedelta(hours=2)),
}
RESPONSE_WARNING = "still has no first response"
RESPONSE_BREACH = "got no first response"
RESOLUTION_BREACH = "was not resolved"


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


def helpdesk(store, start: datetime, holidays: frozenset[date] = frozenset(), **options) -> Harness:
    policy = SlaPolicy(TARGETS, BusinessCalendar(BERLIN, OFFICE, holidays), warn_at=0.8)
    return Harness(store, FakeClock(start), sla=policy, **options)


async def ticket(store, number: int = 1) -> Ticket:
    async with store.transaction() as tx:
        found = await tx.tickets.get(number)
    assert found is not None
    return found


async def check_at(bot: Harness, moment: datetime) -> list[tuple[SlaEvent, int]]:
    bot.clock.now = moment
    assert bot.jobs.sla is not None
    events = await bot.jobs.sla.check()
    await bot.flush()
    return events


def staff_texts(bot: Harness) -> list[str]:
    return [d.message.text for d in bot.to_staff()]


async def test_warning_then_breach_inside_business_hours(store):
    bot = helpdesk(store, berlin(2026, 3, 2, 10, 0))  # Monday 10:00
    await bot.user_says("/new the VPN drops every few minutes")
    opened = await ticket(store)
    assert opened.sla.response_warn_at == berlin(2026, 3, 2, 10, 48)
    assert opened.sla.response_due_at == berlin(2026, 3, 2, 11, 0)
    assert opened.sla.resolution_due_at == berlin(2026, 3, 2, 18, 0)

    assert await check_at(bot, berlin(2026, 3, 2, 10, 47)) == []
    assert await check_at(bot, berlin(2026, 3, 2, 10, 48)) == [(SlaEvent.RESPONSE_WARNING, 1)]
    warning, main_chat_warning = (d.message for d in bot.to_staff()[-2:])
    assert warning.conversation.thread_id == bot.thread_of(1)
    assert warning.text == (
        "⏳ SLA: ticket #1 (normal) still has no first response; due by Mar 2, 2026, 11:00\u202fAM."
    )
    # The warning shows in the staff chat itself too (threads get muted or buried).
    assert main_chat_warning.conversation.thread_id is None
    assert main_chat_warning.text == warning.text
    assert await check_at(bot, berlin(2026, 3, 2, 10, 59)) == []  # warned once

    assert await check_at(bot, berlin(2026, 3, 2, 11, 0)) == [(SlaEvent.RESPONSE_BREACH, 1)]
    in_thread, alert = (d.message for d in bot.to_staff()[-2:])
    assert in_thread.conversation.thread_id == bot.thread_of(1)
    assert RESPONSE_BREACH in in_thread.text
    assert alert.conversation.thread_id is None and alert.ticket_id is None
    assert RESPONSE_BREACH in alert.text
    breached = await ticket(store)
    assert breached.sla.response_breached_at == berlin(2026, 3, 2, 11, 0)
    assert breached.sla.response_warned_at == berlin(2026, 3, 2, 10, 48)
    assert await check_at(bot, berlin(2026, 3, 2, 12, 0)) == []
    async with store.transaction() as tx:
        audited = [
            a.action for a in await tx.audit.list("ticket") if a.action.startswith("ticket.sla")
        ]
    assert audited == ["ticket.sla.response_breach", "ticket.sla.response_warning"]


async def test_time_outside_business_hours_does_not_count(store):
    bot = helpdesk(store, berlin(2026, 3, 6, 17, 30))  # Friday 17:30
    await bot.user_says("/new the invoice PDF is empty")

    # 30 min on Friday, the rest from Monday 09:00: warning at 09:18, deadline at 09:30.
    assert await check_at(bot, berlin(2026, 3, 7, 12, 0)) == []
    assert await check_at(bot, berlin(2026, 3, 9, 9, 17)) == []
    assert await check_at(bot, berlin(2026, 3, 9, 9, 18)) == [(SlaEvent.RESPONSE_WARNING, 1)]
    assert await check_at(bot, berlin(2026, 3, 9, 9, 30)) == [(SlaEvent.RESPONSE_BREACH, 1)]


async def test_a_holiday_does_not_count(store):
    bot = helpdesk(store, berlin(2026, 3, 6, 17, 30), holidays=frozenset({date(2026, 3, 9)}))
    await bot.user_says("/new the invoice PDF is empty")

    assert await check_at(bot, berlin(2026, 3, 9, 9, 30)) == []  # Monday is a holiday
    assert await check_at(bot, berlin(2026, 3, 10, 9, 30)) == [(SlaEvent.RESPONSE_BREACH, 1)]
    # The monitor was away past the warning point: only the breach is announced, once.
    assert sum(RESPONSE_WARNING in text for text in staff_texts(bot)) == 0


async def test_the_first_response_stops_its_timer(store):
    bot = helpdesk(store, berlin(2026, 3, 2, 10, 0))
    await bot.user_says("/new my mailbox is full")
    bot.clock.now = berlin(2026, 3, 2, 10, 30)
    await bot.agent_replies("I have doubled your quota, please check", ticket=1)

    assert await check_at(bot, berlin(2026, 3, 2, 16, 0)) == []
    assert not any("SLA" in text for text in staff_texts(bot))
    # The resolution timer still runs: 80% of 8 business hours is 16:24.
    assert await check_at(bot, berlin(2026, 3, 2, 16, 24)) == [(SlaEvent.RESOLUTION_WARNING, 1)]


async def test_waiting_for_the_user_pauses_the_resolution_timer(store):
    bot = helpdesk(store, berlin(2026, 3, 2, 9, 0))
    await bot.user_says("/new the scanner does not scan")
    bot.clock.now = berlin(2026, 3, 2, 9, 30)
    await bot.agent_replies("/waiting Which model is it?", ticket=1)
    # Waiting past the original deadline (Monday 17:00) and overnight: only business time is
    # added back.
    assert await check_at(bot, berlin(2026, 3, 3, 9, 0)) == []
    bot.clock.now = berlin(2026, 3, 3, 10, 0)
    await bot.user_says("It is an HP ScanJet 3000")

    resumed = await ticket(store)
    assert resumed.sla.paused_since is None
    assert resumed.sla.paused_seconds == 9.5 * 3600  # Monday 09:30-18:00 + Tuesday 09:00-10:00
    # 8 h + 9.5 h from Monday 09:00: Tuesday 17:30; the warning at 6.4 h + 9.5 h: 15:54.
    assert resumed.sla.resolution_due_at == berlin(2026, 3, 3, 17, 30)
    assert await check_at(bot, berlin(2026, 3, 3, 15, 53)) == []
    assert await check_at(bot, berlin(2026, 3, 3, 15, 54)) == [(SlaEvent.RESOLUTION_WARNING, 1)]
    assert await check_at(bot, berlin(2026, 3, 3, 17, 30)) == [(SlaEvent.RESOLUTION_BREACH, 1)]


async def test_no_warning_while_waiting_for_the_user(store):
    bot = helpdesk(store, berlin(2026, 3, 2, 9, 0))
    await bot.user_says("/new the scanner does not scan")
    await bot.agent_replies("/waiting", ticket=1)  # no reply: the first response is still due

    assert await check_at(bot, berlin(2026, 3, 5, 9, 0)) == []


async def test_a_priority_change_recomputes_the_deadlines(store):
    bot = helpdesk(store, berlin(2026, 3, 2, 10, 0))
    await bot.user_says("/new payments are failing for everyone")
    bot.clock.now = berlin(2026, 3, 2, 10, 5)
    await bot.agent_replies("/priority urgent", ticket=1)

    urgent = await ticket(store)
    assert urgent.sla.response_due_at == berlin(2026, 3, 2, 10, 20)
    assert urgent.sla.resolution_due_at == berlin(2026, 3, 2, 12, 0)
    assert await check_at(bot, berlin(2026, 3, 2, 10, 16)) == [(SlaEvent.RESPONSE_WARNING, 1)]

    # Back to normal: the warning point moves into the future and is announced again then.
    await bot.agent_replies("/priority normal", ticket=1)
    normal = await ticket(store)
    assert normal.sla.response_warned_at is None
    assert await check_at(bot, berlin(2026, 3, 2, 10, 47)) == []
    assert await check_at(bot, berlin(2026, 3, 2, 10, 48)) == [(SlaEvent.RESPONSE_WARNING, 1)]


async def test_a_priority_without_target_has_no_timers(store):
    bot = helpdesk(store, berlin(2026, 3, 2, 10, 0))
    await bot.user_says("/new a small cosmetic glitch")
    await bot.agent_replies("/priority low", ticket=1)

    low = await ticket(store)
    assert low.sla.response_due_at is None and low.sla.resolution_due_at is None
    assert await check_at(bot, berlin(2026, 4, 1, 10, 0)) == []


async def test_resolved_tickets_have_no_running_timers(store):
    bot = helpdesk(store, berlin(2026, 3, 2, 10, 0))
    await bot.user_says("/new please unlock my account")
    await bot.agent_replies("/resolve unlocked", ticket=1)

    assert await check_at(bot, berlin(2026, 3, 9, 10, 0)) == []


async def test_two_monitors_at_once_announce_each_warning_exactly_once(store):
    clock = FakeClock(berlin(2026, 3, 2, 10, 0))
    policy = SlaPolicy(TARGETS, BusinessCalendar(BERLIN, OFFICE), warn_at=0.8)
    first = Harness(store, clock, sla=policy)
    second = Harness(store, clock, sla=policy)
    users = [f"u{n}" for n in range(8)]
    for user in users:
        await first.user_says(f"/new problem number {user}", user=user)
    assert first.jobs.sla is not None and second.jobs.sla is not None

    for moment in (berlin(2026, 3, 2, 10, 48), berlin(2026, 3, 2, 11, 0)):
        clock.now = moment
        results = await asyncio.gather(
            *(monitor.check() for monitor in (first.jobs.sla, second.jobs.sla) * 2)
        )
        announced = [event for result in results for event in result]
        assert len(announced) == len(set(announced)) == len(users)
    await first.flush()

    texts = staff_texts(first)
    # Each event once in the ticket's thread and once in the staff chat.
    assert sum(RESPONSE_WARNING in text for text in texts) == 2 * len(users)
    assert sum(RESPONSE_BREACH in text for text in texts) == 2 * len(users)


# -- configuration and the scheduler


def write_config(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "sqlite:///helpdesk.sqlite3"\n{text}', encoding="utf-8")
    return path


def test_the_config_builds_the_policy_with_business_hours(tmp_path):
    settings = load_settings(
        write_config(
            tmp_path,
            '[bot]\ntimezone = "Europe/Berlin"\n'
            "[sla]\nenabled = true\nwarn_at = 0.5\n"
            '[sla.targets.high]\nfirst_response = "1h30m"\nresolution = "2d"\n'
            '[sla.business_hours]\ndays = ["mon", "sat"]\nstart = "08:00"\nend = "12:30"\n'
            "holidays = [2026-12-26]\n",
        ),
        env={},
    )

    policy = sla_policy(settings)

    assert policy is not None and policy.warn_at == 0.5
    assert policy.targets == {
        Priority.HIGH: SlaTarget(timedelta(hours=1, minutes=30), timedelta(days=2))
    }
    calendar = policy.calendar
    assert calendar.zone == BERLIN and calendar.holidays == {date(2026, 12, 26)}
    assert calendar.hours == WorkingHours(frozenset({0, 5}), time(8), time(12, 30))


def test_sla_is_off_by_default_and_24_7_without_business_hours(tmp_path):
    assert sla_policy(load_settings(None, env={})) is None
    settings = load_settings(write_config(tmp_path, "[sla]\nenabled = true\n"), env={})
    policy = sla_policy(settings)
    assert policy is not None and policy.calendar.is_always_open
    assert set(policy.targets) == set(Priority)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[sla.targets.normal]\nfirst_response = "4 hours"\nresolution = "1d"\n', "duration"),
        ('[sla.targets.normal]\nfirst_response = "0m"\nresolution = "1d"\n', "longer than zero"),
        ('[sla.targets.urgnet]\nfirst_response = "1h"\nresolution = "1d"\n', "urgnet"),
        ('[sla.business_hours]\nstart = "9am"\n', "HH:MM"),
        ('[sla.business_hours]\nstart = "18:00"\nend = "09:00"\n', "later than start"),
        ('[sla.business_hours]\ndays = ["monday"]\n', "monday"),
        ("[sla]\nwarn_at = 1.5\n", "warn_at"),
    ],
)
def test_bad_sla_settings_are_one_line_errors(tmp_path, text, problem):
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, text), env={})
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_helpdesk_run_checks_the_timers_periodically_and_stops(tmp_path, monkeypatch):
    settings = load_settings(
        write_config(tmp_path, "[sla]\nenabled = true\ncheck_interval_seconds = 0.05\n"), env={}
    )
    stop = asyncio.Event()
    checks: list[datetime] = []

    async def counting_check(self, now=None):
        checks.append(datetime.now(UTC))
        if len(checks) == 3:
            stop.set()
        return []

    monkeypatch.setattr(SlaMonitor, "check", counting_check)
    await asyncio.wait_for(run_service(settings, channels={}, stop=stop), timeout=20)

    assert len(checks) >= 3


async def test_time_resolved_does_not_count_after_a_reopen(store):
    bot = helpdesk(store, berlin(2026, 3, 2, 9, 0))
    await bot.user_says("/new the printer prints blank pages")
    bot.clock.now = berlin(2026, 3, 2, 10, 0)
    await bot.agent_replies("/resolve new toner installed", ticket=1)
    bot.clock.now = berlin(2026, 3, 4, 10, 0)  # two business days later it is back
    await bot.agent_replies("/reopen", ticket=1)
    assert await check_at(bot, berlin(2026, 3, 4, 10, 1)) == []
    reopened = await ticket(store)
    # 1 h used before the resolution, 7 h left from Wednesday 10:00.
    assert reopened.sla.resolution_due_at == berlin(2026, 3, 4, 17, 0)
