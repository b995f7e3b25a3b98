"""Auto-close of tickets waiting for the user, through the engine with a controllable clock, on
every storage backend: the reminder at the right moment and only once, the resolution later, a
user reply in between cancelling both, and two checkers at once acting once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import auto_close_policy
from bot.config import ConfigError, load_settings
from core.domain import Ticket, TicketStatus
from core.jobs.auto_close import AutoClosePolicy, AutoCloseResult
from tests.harness import FakeClock, Harness

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = AutoClosePolicy(resolve_after=timedelta(hours=96), remind_after=timedelta(hours=48))
REMINDER = "is waiting for your answer"
AUTO_RESOLVED = "has been resolved automatically"  # to the user
AUTO_RESOLVED_NOTE = "resolved automatically: no answer"  # in the thread


def helpdesk(store, clock: FakeClock | None = None) -> Harness:
    return Harness(store, clock or FakeClock(START), auto_close=POLICY)


async def ticket(store, number: int = 1) -> Ticket:
    async with store.transaction() as tx:
        found = await tx.tickets.get(number)
    assert found is not None
    return found


async def check_at(bot: Harness, moment: datetime) -> AutoCloseResult:
    bot.clock.now = moment
    assert bot.jobs.auto_close is not None
    result = await bot.jobs.auto_close.check()
    await bot.flush()
    return result


async def waiting_ticket(bot: Harness, user: str = "u1", number: int = 1) -> None:
    await bot.user_says("/new the printer jams on every page", user=user)
    await bot.agent_replies("/waiting Which model is it?", ticket=number)


async def test_reminder_once_then_resolution(store):
    bot = helpdesk(store)
    await waiting_ticket(bot)
    assert (await ticket(store)).waiting_since == START

    assert await check_at(bot, START + timedelta(hours=47, minutes=59)) == AutoCloseResult()
    assert not any(REMINDER in text for text in bot.to_user())
    assert await check_at(bot, START + timedelta(hours=48)) == AutoCloseResult(reminded=(1,))
    assert bot.to_user()[-1] == (
        "Reminder: your ticket #1 is waiting for your answer. If we hear nothing within 48 hours, "
        "it will be resolved automatically (you can reopen it later)."
    )
    note = bot.to_staff()[-1].message
    assert note.conversation.thread_id == bot.thread_of(1) and "was reminded" in note.text
    assert await check_at(bot, START + timedelta(hours=95)) == AutoCloseResult()  # only once
    assert sum(REMINDER in text for text in bot.to_user()) == 1
    assert (await ticket(store)).status == TicketStatus.WAITING

    assert await check_at(bot, START + timedelta(hours=96)) == AutoCloseResult(resolved=(1,))
    resolved = await ticket(store)
    assert resolved.status == TicketStatus.RESOLVED
    assert resolved.resolved_at == START + timedelta(hours=96)
    assert resolved.waiting_since is None
    to_user = bot.last_to_user()
    assert to_user.message.text == (
        "Your ticket #1 has been resolved automatically: we waited 96 hours for your answer. "
        "If the problem remains, just reply within 72 hours and the ticket reopens."
    )
    assert to_user.message.buttons  # confirm / not solved, as after any resolution
    in_thread = bot.to_staff()[-1].message
    assert in_thread.conversation.thread_id == bot.thread_of(1)
    assert in_thread.text == (
        "✔️ Ticket #1 resolved automatically: no answer from the user for 96 hours."
    )
    assert await check_at(bot, START + timedelta(hours=200)) == AutoCloseResult()
    async with store.transaction() as tx:
        entries = [e for e in await tx.audit.list(object_type="ticket") if e.object_id == "1"]
    changes = [(e.action, e.after) for e in entries if e.action == "ticket.status"]
    assert changes[0] == ("ticket.status", {"status": "resolved", "reason": "auto_close"})  # newest
    assert any(e.action == "ticket.waiting_reminder" for e in entries)


async def test_the_reminder_is_in_the_users_language(store):
    bot = helpdesk(store)
    await bot.user_says("/lang ru")
    await waiting_ticket(bot)
    await check_at(bot, START + timedelta(hours=48))
    assert bot.to_user()[-1].startswith("Напоминание: обращение №1 ждёт вашего ответа.")


async def test_a_user_reply_cancels_reminder_and_resolution(store):
    bot = helpdesk(store)
    await waiting_ticket(bot)
    bot.clock.now = START + timedelta(hours=40)
    await bot.user_says("It is an HP LaserJet 1020")
    reopened = await ticket(store)
    assert reopened.status == TicketStatus.OPEN and reopened.waiting_since is None

    for hours in (48, 96, 300):
        assert await check_at(bot, START + timedelta(hours=hours)) == AutoCloseResult()
    assert (await ticket(store)).status == TicketStatus.OPEN

    # Waiting again starts a new clock, with a new reminder.
    bot.clock.now = START + timedelta(hours=300)
    await bot.agent_replies("/waiting And the driver version?", ticket=1)
    later = START + timedelta(hours=348)
    assert await check_at(bot, later - timedelta(minutes=1)) == AutoCloseResult()
    assert await check_at(bot, later) == AutoCloseResult(reminded=(1,))


async def test_a_reply_after_the_reminder_cancels_the_resolution(store):
    bot = helpdesk(store)
    await waiting_ticket(bot)
    assert await check_at(bot, START + timedelta(hours=50)) == AutoCloseResult(reminded=(1,))
    await bot.user_says("Sorry, it is an HP LaserJet 1020")
    assert await check_at(bot, START + timedelta(hours=200)) == AutoCloseResult()
    assert (await ticket(store)).status == TicketStatus.OPEN


async def test_past_both_points_resolves_without_a_late_reminder(store):
    bot = helpdesk(store)
    await waiting_ticket(bot)
    assert await check_at(bot, START + timedelta(hours=100)) == AutoCloseResult(resolved=(1,))
    assert not any(REMINDER in text for text in bot.to_user())


async def test_two_checkers_at_once_act_once(store):
    clock = FakeClock(START)
    first, second = helpdesk(store, clock), helpdesk(store, clock)
    users = [f"u{n}" for n in range(6)]
    for number, user in enumerate(users, start=1):
        await waiting_ticket(first, user=user, number=number)
    checkers = [bot.jobs.auto_close for bot in (first, second)]
    assert first.jobs.auto_close is not None and second.jobs.auto_close is not None

    for moment, field in (
        (START + timedelta(hours=48), "reminded"),
        (START + timedelta(hours=96), "resolved"),
    ):
        clock.now = moment
        results = await asyncio.gather(*(c.check() for c in checkers * 2 if c is not None))
        acted = [n for result in results for n in getattr(result, field)]
        assert sorted(acted) == list(range(1, len(users) + 1))
    await first.flush()

    for user in users:
        texts = first.to_user(user)
        assert sum(REMINDER in t for t in texts) == sum(AUTO_RESOLVED in t for t in texts) == 1
    staff = [d.message.text for d in first.to_staff()]
    assert sum("was reminded" in t for t in staff) == len(users)
    assert sum(AUTO_RESOLVED_NOTE in t for t in staff) == len(users)


async def test_without_a_reminder_only_the_resolution(store):
    policy = AutoClosePolicy(resolve_after=timedelta(hours=10))
    bot = Harness(store, FakeClock(START), auto_close=policy)
    await waiting_ticket(bot)
    assert await check_at(bot, START + timedelta(hours=9)) == AutoCloseResult()
    assert await check_at(bot, START + timedelta(hours=10)) == AutoCloseResult(resolved=(1,))


# -- configuration


def write_config(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "sqlite:///helpdesk.sqlite3"\n{text}', encoding="utf-8")
    return path


def test_defaults_and_the_config_build_the_policy(tmp_path):
    assert auto_close_policy(load_settings(None, env={})) == AutoClosePolicy(
        resolve_after=timedelta(hours=96),
        remind_after=timedelta(hours=48),
        close_resolved_after=timedelta(days=7),
    )
    settings = load_settings(
        write_config(
            tmp_path,
            "[tickets]\nremind_waiting_after_hours = 0\nresolve_waiting_after_hours = 12.5\n"
            "close_resolved_after_hours = 0\n",
        ),
        env={},
    )
    assert auto_close_policy(settings) == AutoClosePolicy(timedelta(hours=12.5), None)
    only_closing = load_settings(
        write_config(tmp_path, "[tickets]\nresolve_waiting_after_hours = 0\n"), env={}
    )
    assert auto_close_policy(only_closing) == AutoClosePolicy(
        None, None, close_resolved_after=timedelta(days=7)
    )
    off = load_settings(
        write_config(
            tmp_path,
            "[tickets]\nresolve_waiting_after_hours = 0\nclose_resolved_after_hours = 0\n",
        ),
        env={},
    )
    assert auto_close_policy(off) is None


async def test_off_means_no_checker(store):
    assert Harness(store, FakeClock(START)).jobs.auto_close is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[tickets]\nremind_waiting_after_hours = 96\n", "remind_waiting_after_hours"),
        ("[tickets]\nresolve_waiting_after_hours = -1\n", "resolve_waiting_after_hours"),
        ('[tickets]\nremind_waiting_after_hours = "soon"\n', "remind_waiting_after_hours"),
        ("[tickets]\nclose_resolved_after_hours = 24\n", "close_resolved_after_hours"),
    ],
)
def test_bad_auto_close_settings_are_one_line_errors(tmp_path, text, problem):
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, text), env={})
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_policy_rejects_a_reminder_after_the_resolution():
    with pytest.raises(ValueError):
        AutoClosePolicy(resolve_after=timedelta(hours=1), remind_after=timedelta(hours=2))


# -- closing resolved tickets

CLOSING = AutoClosePolicy(resolve_after=None, close_resolved_after=timedelta(days=7))


async def test_a_resolved_ticket_is_closed_after_a_week_and_the_user_asked_to_rate(store):
    bot = Harness(store, FakeClock(START), auto_close=CLOSING)
    await bot.user_says("/new the projector in room 4 is dead")
    await bot.agent_replies("/resolve replaced the lamp", ticket=1)

    assert (await check_at(bot, START + timedelta(days=7) - timedelta(minutes=1))).closed == ()
    assert (await ticket(store)).status == TicketStatus.RESOLVED
    result = await check_at(bot, START + timedelta(days=7))
    assert result.closed == (1,)
    closed = await ticket(store)
    assert closed.status == TicketStatus.CLOSED and closed.closed_at == bot.clock()
    last = bot.last_to_user().message
    assert last.text.startswith("Your ticket #1 has been closed: it was resolved 7 days ago.")
    assert "How would you rate the help with ticket #1?" in last.text
    assert [b.payload for b in last.buttons[0]] == [f"/rate 1 {n}" for n in range(1, 6)]
    note = bot.to_staff()[-1].message
    assert note.conversation.thread_id == bot.thread_of(1)
    assert note.text.startswith("🔒 Ticket #1 closed automatically")
    async with store.transaction() as tx:
        (audit,) = [a for a in await tx.audit.list("ticket") if a.after and a.after.get("reason")]
    assert audit.actor is None and audit.after == {"status": "closed", "reason": "auto_close"}
    assert (await check_at(bot, START + timedelta(days=8))).closed == ()  # once

    await bot.user_says("/rate 1 4")
    async with store.transaction() as tx:
        assert (await tx.ratings.get(1)).score == 4


async def test_confirmed_or_reopened_tickets_are_not_closed_again(store):
    bot = Harness(store, FakeClock(START), auto_close=CLOSING)
    await bot.user_says("/new one", user="u1")
    await bot.user_says("/new two", user="u2")
    await bot.agent_replies("/resolve", ticket=1)
    await bot.agent_replies("/resolve", ticket=2)
    bot.clock.advance(hours=1)
    await bot.user_says("/close 1", user="u1")  # confirmed
    await bot.user_says("/reopen 2", user="u2")  # not solved
    closed_at = (await ticket(store, 1)).closed_at
    result = await check_at(bot, START + timedelta(days=30))
    assert result.closed == ()
    assert (await ticket(store, 1)).closed_at == closed_at
    assert (await ticket(store, 2)).status == TicketStatus.OPEN


async def test_two_checkers_close_each_ticket_once(store):
    clock = FakeClock(START)
    first = Harness(store, clock, auto_close=CLOSING)
    second = Harness(store, clock, auto_close=CLOSING)
    for n in range(1, 6):
        await first.user_says(f"/new problem {n}", user=f"u{n}")
        await first.agent_replies("/resolve", ticket=n)
    clock.now = START + timedelta(days=8)
    results = await asyncio.gather(
        *(checker.check() for checker in (first.jobs.auto_close, second.jobs.auto_close) * 2)
    )
    closed = [number for result in results for number in result.closed]
    assert sorted(closed) == [1, 2, 3, 4, 5]
