"""More on reports: SLA targets whose clock is stopped, ratings of tickets closed before the
period, the question log counted for deflection, the chart answering the /stats message, the
digest's claim across processes, its setting and its scheduler job, and the storage reads'
period bounds on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

from core.domain import NewQuestion, NewTicket, Priority, QuestionOutcome, TicketStatus
from core.messages import ConversationRef
from core.reports.build import Period, Share, build_report
from core.tickets.lines import SupportLine
from core.tickets.sla_policy import SlaPolicy, SlaTarget
from tests.harness import CHANNEL, FakeClock, Harness
from tests.test_config import error_for, load_text

DAY1 = datetime(2026, 3, 2, tzinfo=UTC)
TARGETS = {Priority.NORMAL: SlaTarget(timedelta(hours=1), timedelta(hours=8))}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return DAY1 + timedelta(days=day - 1, hours=hour, minutes=minute)


async def report_of(bot: Harness, first: int, last: int, line: str | None = None):
    period = Period(date(2026, 3, 1 + first), date(2026, 3, 1 + last), UTC)
    async with bot.store.transaction() as tx:
        return await build_report(tx, period, bot.engine.desk.lines, bot.clock(), line)


async def test_a_target_whose_clock_is_stopped_counts_only_if_missed_before(store):
    bot = Harness(store, FakeClock(at(1, 9)), sla=SlaPolicy(TARGETS, warn_at=0.5))
    await bot.seed()
    await bot.user_says("/new printer broken", user="u1")  # T1, resolution due 17:00
    await bot.user_says("/new scanner broken", user="u2")  # T2, likewise
    bot.clock.now = at(1, 9, 10)
    await bot.agent_replies("Which model is it?", ticket=1)
    await bot.agent_replies("Which model is it?", ticket=2)
    await bot.agent_replies("/waiting", ticket=1)  # T1's clock stops at 09:10
    bot.clock.now = at(1, 18)  # nobody ran the SLA check: no breach recorded
    await bot.agent_replies("/waiting", ticket=2)  # T2's clock stops after its deadline
    bot.clock.now = at(2, 12)  # both still wait for the user, the old deadline long gone

    report = await report_of(bot, 1, 2)
    assert report.sla_response[Priority.NORMAL] == Share(2, 2)
    # T1 is not decided (its deadline moves when the user answers); T2 missed it.
    assert report.sla_resolution[Priority.NORMAL] == Share(0, 1)
    assert report.backlog_by_status == {TicketStatus.WAITING: 2}


async def test_a_rating_counts_in_its_own_period_and_its_tickets_line(store):
    l2 = SupportLine("L2", ConversationRef(CHANNEL, "l2-chat"))
    bot = Harness(store, FakeClock(at(1, 9)), more_lines=(l2,))
    await bot.seed()
    await bot.user_says("/new printer broken", user="u1")
    await bot.agent_replies("/take", ticket=1)
    await bot.agent_replies("/close", ticket=1)
    bot.clock.now = at(2, 9)
    await bot.user_says("/rate 1 4", user="u1")  # rated the next day

    day2 = await report_of(bot, 2, 2)
    assert (day2.opened, day2.closed) == (0, 0)
    assert day2.csat == {4: 1}
    ((agent),) = day2.agents
    assert (agent.name, agent.resolved, agent.csat_average, agent.ratings) == ("Agent1", 0, 4.0, 1)
    assert (await report_of(bot, 2, 2, "L1")).csat == {4: 1}
    assert (await report_of(bot, 2, 2, "L2")).csat == {}
    assert (await report_of(bot, 1, 1)).csat == {}


async def test_deflection_counts_the_question_log_of_the_period(store):
    bot = Harness(store, FakeClock(at(1, 9)))
    async with store.transaction() as tx:
        user, _ = await tx.users.upsert(CHANNEL, "u1", "U1", "en", None, at(1, 9))
        ticket = await tx.tickets.create(
            NewTicket(
                user.id, ConversationRef(CHANNEL, "chat-u1"), "q", None, Priority.NORMAL, at(1, 9)
            )
        )
        for moment, outcome, ticket_id in [
            (at(1, 8), QuestionOutcome.ANSWERED, None),
            (at(1, 9), QuestionOutcome.SUGGESTED, None),
            (at(1, 10), QuestionOutcome.TICKET, ticket.id),
            (at(1, 11), QuestionOutcome.ANSWERED, None),
            (at(2, 0), QuestionOutcome.TICKET, ticket.id),  # the next day
        ]:
            await tx.questions.log(
                NewQuestion(user.id, "q", "en", outcome, None, None, moment, ticket_id)
            )
    day1 = await report_of(bot, 1, 1)
    assert (day1.questions, day1.deflected, day1.deflection_rate) == (4, 3, 0.75)
    both = await report_of(bot, 1, 2)
    assert (both.questions, both.deflected) == (5, 3)
    assert (await report_of(bot, 3, 3)).deflection_rate is None


async def test_the_chart_answers_the_stats_message(store):
    bot = Harness(store, FakeClock(at(1, 9)))
    message = bot.staff_message("/stats")
    await bot.deliver(message)
    text, chart = (d.message for d in bot.to_staff()[-2:])
    assert text.reply_to_message_id == message.message_id
    assert chart.reply_to_message_id == message.message_id
    assert chart.attachments[0].content.startswith(b"\x89PNG")


class CountingStore:
    """The store, counting the transactions opened."""

    def __init__(self, store) -> None:
        self.store = store
        self.opened = 0

    def transaction(self):
        self.opened += 1
        return self.store.transaction()


async def test_the_digest_is_sent_once_even_when_another_process_comes_later(store):
    clock = FakeClock(at(2, 9))
    first = Harness(store, clock, digest_at=time(9, 0))
    second = Harness(store, clock, digest_at=time(9, 0))
    assert await first.jobs.digest.check()
    clock.now = at(2, 9, 5)
    assert not await second.jobs.digest.check()  # the day was claimed in the database
    await first.flush()
    await second.flush()
    digests = [
        d
        for bot in (first, second)
        for d in bot.to_staff()
        if d.message.text.startswith("🗓 Daily digest")
    ]
    assert len(digests) == 1

    # Once settled, the rest of the day costs no query; the next day sends again.
    counting = CountingStore(second.jobs.digest.unit_of_work.store)
    second.jobs.digest.unit_of_work.store = counting
    clock.now = at(2, 23, 59)
    assert not await second.jobs.digest.check()
    assert counting.opened == 0
    clock.now = at(3, 9)
    assert await second.jobs.digest.check()
    assert not await first.jobs.digest.check()


def test_the_digest_time_setting(tmp_path):
    assert load_text(tmp_path, "").reports.digest_at is None
    assert load_text(tmp_path, '[reports]\ndigest_time = ""\n').reports.digest_at is None
    settings = load_text(tmp_path, '[reports]\ndigest_time = "08:30"\n')
    assert settings.reports.digest_at == time(8, 30)
    from bot.app import engine_config

    assert engine_config(settings, {}).digest_at == time(8, 30)
    assert "digest_time" in error_for(tmp_path, '[reports]\ndigest_time = "25:00"\n')


async def test_the_scheduler_runs_the_digest_every_minute_when_on():
    from bot.engine import DIGEST_CHECK_SECONDS, Jobs
    from bot.runner import _start_scheduler

    class Checker:
        async def check(self) -> bool:
            return False

    def app(digest):
        return SimpleNamespace(
            jobs=Jobs(digest=digest),
            store=None,
        )

    scheduler = _start_scheduler(app(Checker()))
    try:
        job = scheduler.get_job("daily-digest")
        assert job is not None
        assert job.trigger.interval == timedelta(seconds=DIGEST_CHECK_SECONDS)
        assert DIGEST_CHECK_SECONDS <= 60  # the digest goes out within a minute of its time
    finally:
        scheduler.shutdown(wait=False)
    scheduler = _start_scheduler(app(None))
    try:
        assert scheduler.get_job("daily-digest") is None
    finally:
        scheduler.shutdown(wait=False)


# -- storage reads, every backend -------------------------------------------------------------

CHAT = ConversationRef("telegram", "100")


async def test_reads_for_reports_take_since_inclusive_until_exclusive(store):
    since, until = at(1, 0), at(2, 0)
    async with store.transaction() as tx:
        owner, _ = await tx.users.upsert("telegram", "1", "U1", "en", CHAT, since)
        agent, _ = await tx.users.upsert("telegram", "2", "A", "en", CHAT, since)

        async def ticket(created, **changes):
            made = await tx.tickets.create(
                NewTicket(owner.id, CHAT, "t", None, Priority.NORMAL, created)
            )
            return (await tx.tickets.update(made.id, **changes)) if changes else made

        at_start = await ticket(since)
        at_end = await ticket(until)
        resolved_inside = await ticket(at(0, 9), resolved_at=at(1, 9))
        resolved_before = await ticket(at(0, 9), resolved_at=at(0, 10))
        closed_at_end = await ticket(at(0, 9), closed_at=until, status=TicketStatus.CLOSED)
        await tx.ratings.add(resolved_inside.id, owner.id, agent.id, 5, None, since)
        await tx.ratings.add(closed_at_end.id, owner.id, agent.id, 1, None, until)
        await tx.ratings.add(resolved_before.id, owner.id, agent.id, 2, None, at(0, 23))
    async with store.transaction() as tx:
        touched = [t.id for t in await tx.reports.tickets_touched(since, until)]
        assert touched == [at_start.id, resolved_inside.id]
        assert at_end.id not in touched
        ratings = await tx.reports.ratings_between(since, until)
        assert [(r.ticket_id, r.score, r.agent_id) for r in ratings] == [
            (resolved_inside.id, 5, agent.id)
        ]
        assert sorted(await tx.reports.backlog(), key=str) == [(TicketStatus.NEW, None, 4)]
