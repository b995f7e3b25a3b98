"""Reports against a hand-computed fixture: a two-day helpdesk history played through the engine
with a controllable clock, then every figure of the report checked against the numbers worked
out by hand below; /stats in the staff chat, the chart's content, periods and lines."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.domain import Priority, TicketStatus
from core.messages import ConversationRef
from core.reports.build import Period, Share, build_report, durations, parse_period
from core.reports.chart import BACKLOG_COLOR, CLOSED_COLOR, chart_series, render_chart
from core.reports.format import render_report, report_rows
from core.tickets.lines import SupportLine
from core.tickets.sla_policy import SlaPolicy, SlaTarget
from tests.harness import CHANNEL, FakeClock, Harness

DAY1 = datetime(2026, 3, 2, tzinfo=UTC)
TARGETS = {
    Priority.NORMAL: SlaTarget(timedelta(hours=1), timedelta(hours=8)),
    Priority.URGENT: SlaTarget(timedelta(minutes=20), timedelta(hours=2)),
}
PERIOD = Period(date(2026, 3, 2), date(2026, 3, 3), UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return DAY1 + timedelta(days=day - 1, hours=hour, minutes=minute)


async def play_history(bot: Harness) -> None:
    """Two days of a helpdesk; the expected figures are worked out in the tests."""
    clock = bot.clock
    steps = [
        (at(1, 9, 0), bot.user_says("/new printer broken", user="u1")),  # T1
        (at(1, 9, 1), bot.user_says("How do I reset my password?", user="u2")),  # Q1 answered
        (at(1, 9, 2), bot.user_says("What are your support hours?", user="u3")),  # Q2
        (at(1, 9, 3), bot.press("👎 Didn't help", user="u3")),  # Q2 -> T2
        (at(1, 9, 4), bot.user_says("/new the server is down", user="u4")),  # T3
        (at(1, 9, 5), bot.agent_replies("/priority urgent", ticket=3, agent="agent2")),
        (at(1, 9, 10), bot.agent_replies("/take", ticket=2, agent="agent1")),
        (at(1, 9, 20), bot.agent_replies("/take", ticket=1, agent="agent1")),
        (at(1, 9, 25), None),  # SLA check: T3's first response is late
        (at(1, 9, 30), bot.agent_replies("Turn it off and on", ticket=1, agent="agent1")),
        (at(1, 10, 0), bot.agent_replies("/take", ticket=3, agent="agent2")),
        (at(1, 10, 0), bot.agent_replies("Restarting it", ticket=3, agent="agent2")),
        (at(1, 10, 30), bot.agent_replies("/resolve fixed", ticket=3, agent="agent2")),
        (at(1, 10, 40), bot.agent_replies("/close", ticket=3, agent="agent2")),
        (at(1, 10, 41), bot.user_says("/rate 3 2", user="u4")),
        (at(1, 11, 0), bot.agent_replies("/resolve", ticket=1, agent="agent1")),
        (at(1, 11, 10), bot.user_says("/close 1", user="u1")),
        (at(1, 11, 11), bot.user_says("/rate 1 5", user="u1")),
        (at(2, 9, 0), bot.user_says("/new the VPN drops", user="u5")),  # T4
        (at(2, 10, 0), None),  # SLA check: T2 both late, T4 first response late
    ]
    for moment, step in steps:
        clock.now = moment
        if step is None:
            assert bot.jobs.sla is not None
            await bot.jobs.sla.check()
            await bot.flush()
        else:
            await step


def helpdesk(store, **options) -> Harness:
    bot = Harness(store, FakeClock(at(1, 8)), sla=SlaPolicy(TARGETS, warn_at=0.5), **options)
    return bot


async def report_of(bot: Harness, line: str | None = None):
    async with bot.store.transaction() as tx:
        return await build_report(tx, PERIOD, bot.engine.desk.lines, bot.clock(), line)


async def test_the_report_matches_the_hand_computed_figures(store):
    bot = helpdesk(store)
    await bot.seed()
    await play_history(bot)
    report = await report_of(bot)

    assert (report.opened, report.resolved, report.closed) == (4, 2, 2)
    assert (report.questions, report.deflected, report.deflection_rate) == (2, 1, 0.5)
    # First responses: T1 09:00 -> 09:30, T3 09:04 -> 10:00.
    assert report.first_response.count == 2
    assert report.first_response.median == timedelta(minutes=43)
    assert report.first_response.p90 == timedelta(minutes=56)
    # Resolutions: T3 09:04 -> 10:30, T1 09:00 -> 11:00.
    assert report.resolution.count == 2
    assert report.resolution.median == timedelta(minutes=103)
    assert report.resolution.p90 == timedelta(minutes=120)
    # Response: T1 met; T2 and T4 late (normal); T3 late (urgent, 20 min).
    assert report.sla_response[Priority.NORMAL] == Share(1, 3)
    assert report.sla_response[Priority.URGENT] == Share(0, 1)
    # Resolution: T1 met, T2 late, T4 still running (normal); T3 met (urgent).
    assert report.sla_resolution[Priority.NORMAL] == Share(1, 2)
    assert report.sla_resolution[Priority.URGENT] == Share(1, 1)
    assert report.sla_response[Priority.LOW] == Share(0, 0)
    assert report.csat == {2: 1, 5: 1} and report.csat_average == 3.5
    assert report.backlog_by_status == {TicketStatus.NEW: 1, TicketStatus.OPEN: 1}
    assert report.backlog_by_line == {"L1": 2}
    agents = {a.name: a for a in report.agents}
    assert set(agents) == {"Agent1", "Agent2"}
    assert (agents["Agent1"].resolved, agents["Agent1"].csat_average) == (1, 5.0)
    assert agents["Agent1"].first_response.median == timedelta(minutes=30)
    assert (agents["Agent2"].resolved, agents["Agent2"].csat_average) == (1, 2.0)
    assert agents["Agent2"].first_response.median == timedelta(minutes=56)
    # Open at each day's end: T2 on the first day; T2 and T4 on the second.
    assert [(d.day.day, d.opened, d.resolved, d.closed, d.backlog, d.sla) for d in report.days] == [
        (2, 3, 2, 2, 1, Share(3, 6)),
        (3, 1, 0, 0, 2, Share(0, 1)),
    ]

    text = render_report(report, bot.engine.desk.tell.staff_text)
    assert text.splitlines()[:5] == [
        "📊 Report Mar 2, 2026 – Mar 3, 2026 · all lines",
        "Tickets: 4 opened, 2 resolved, 2 closed",
        "Questions to the bot: 2, answered without a ticket: 1 (50%)",
        "First response: median 43 min, 90% within 56 min (2 tickets)",
        "Resolution: median 1 h 43 min, 90% within 2 h 0 min (2 tickets)",
    ]
    assert "• urgent: 0% (0 of 1) / 100% (1 of 1)" in text
    assert "• normal: 33% (1 of 3) / 50% (1 of 2)" in text
    assert "Satisfaction: 3.5 of 5 from 2 ratings (2★ 1, 5★ 1)" in text
    assert "Open now: new 1, in progress 1" in text

    rows = dict(report_rows(report))
    assert rows["tickets.opened"] == "4" and rows["deflection_rate"] == "0.5"
    assert rows["first_response.median_seconds"] == "2580"
    assert rows["sla.response.normal.met"] == "1" and rows["sla.response.normal.total"] == "3"
    assert rows["csat.score_5"] == "1" and rows["csat.score_3"] == "0"
    assert rows["day.2026-03-02.sla_rate"] == "0.5"


async def test_stats_in_the_staff_chat_sends_the_report_and_the_chart(store):
    bot = helpdesk(store)
    await bot.seed()
    await play_history(bot)
    await bot.deliver(bot.staff_message("/stats 2026-03-02..2026-03-03", agent="agent1"))
    text, chart = (d.message for d in bot.to_staff()[-2:])
    # An agent (no supervisor role) gets the line of the chat asked in: the only one here.
    assert text.text.startswith("📊 Report Mar 2, 2026 – Mar 3, 2026 · L1")
    (picture,) = chart.attachments
    png = picture.content  # the outbox handed the adapter the bytes
    assert picture.kind == "photo" and png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert picture.size == len(png) and picture.url is None
    assert chart.text.startswith("📈")

    await bot.deliver(bot.staff_message("/stats someday"))
    assert bot.to_staff()[-1].message.text.startswith("Usage: /stats")
    await bot.deliver(bot.staff_message("/stats 2026-03-03..2026-03-01"))
    assert bot.to_staff()[-1].message.text.startswith("Usage: /stats")


async def test_an_agent_sees_their_line_and_a_supervisor_every_line(store):
    l2 = SupportLine("L2", ConversationRef(CHANNEL, "l2-chat"))
    bot = helpdesk(
        store,
        more_lines=(l2,),
        bootstrap_roles={(CHANNEL, "boss"): frozenset({"supervisor"})},
    )
    await bot.seed()
    bot.clock.now = at(1, 9)
    await bot.user_says("/new first", user="u1")
    await bot.user_says("/new second", user="u2")
    await bot.agent_replies("/escalate", ticket=2)
    bot.clock.now = at(1, 12)

    await bot.deliver(bot.staff_message("/stats today", agent="agent1"))
    own_line = bot.to_staff()[-2].message.text
    assert own_line.startswith("📊 Report Mar 2, 2026 – Mar 2, 2026 · L1")
    assert "Tickets: 1 opened" in own_line

    await bot.deliver(bot.staff_message("/stats today", agent="boss"))
    everything = bot.to_staff()[-2].message.text
    assert "· all lines" in everything and "Tickets: 2 opened" in everything
    assert "Open by line: L1 1, L2 1" in everything

    l2_report = await report_of(bot, "L2")
    assert l2_report.opened == 1 and l2_report.backlog_by_line == {"L2": 1}


async def test_stats_needs_the_agent_role_when_required(store):
    from core.tickets.policy import TicketPolicy

    bot = helpdesk(store, tickets=TicketPolicy(require_agent_role=True))
    await bot.deliver(bot.staff_message("/stats", agent="stranger"))
    assert bot.to_staff()[-1].message.text == "Sorry, /stats needs the agent role."
    async with store.transaction() as tx:
        (refused,) = [a for a in await tx.audit.list("command") if a.action == "command.refused"]
    assert refused.object_id == "stats"


def _report_with(opened: list[int], closed: list[int], goal: float | None = 0.9, sla=True):
    from core.reports.build import DayFigures, Report

    days = [
        DayFigures(
            date(2026, 3, 2) + timedelta(days=n),
            o,
            0,
            c,
            10 + n,
            Share(n % 2, 1) if sla else Share(),
        )
        for n, (o, c) in enumerate(zip(opened, closed, strict=True))
    ]
    return Report(
        period=Period(days[0].day, days[-1].day, UTC), line="L1", opened=sum(opened),
        resolved=0, closed=sum(closed), questions=0, deflected=0,
        first_response=durations([]), resolution=durations([]),
        sla_response={p: Share() for p in Priority},
        sla_resolution={p: Share() for p in Priority},
        csat={}, backlog_by_status={}, backlog_by_line={}, agents=[], days=days, sla_goal=goal,
    )  # fmt: skip


def _pixels(png: bytes, color: str) -> int:
    from matplotlib.image import imread

    image = imread(io.BytesIO(png))
    rgb = tuple(int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    diff = abs(image[:, :, :3] - rgb).sum(axis=2)
    return int((diff < 0.02).sum())


class _Labels:
    """The catalog lookup of the chart, noting which texts it drew."""

    def __init__(self) -> None:
        self.used: dict[str, dict] = {}

    def __call__(self, key: str, **params) -> str:
        self.used[key] = params
        return key


def test_the_chart_is_a_png_whose_bars_and_backlog_follow_the_data():
    from matplotlib.image import imread

    few = render_chart(_report_with([1, 1, 1], [0, 0, 0]), _Labels())
    many = render_chart(_report_with([1, 5, 1], [2, 2, 2]), _Labels())
    assert few.startswith(b"\x89PNG") and many.startswith(b"\x89PNG")
    assert imread(io.BytesIO(few)).shape[:2] == (650, 900)
    legend_only = _pixels(few, CLOSED_COLOR)  # no closed bars: only the legend's swatch
    assert 0 < legend_only < 1000
    assert _pixels(many, CLOSED_COLOR) > legend_only + 5000
    assert _pixels(few, BACKLOG_COLOR) > 300  # the backlog line is drawn
    series = chart_series(_report_with([1, 5, 1], [2, 2, 2]))
    assert series.opened == [1, 5, 1] and series.sla_percent == [0.0, 100.0, 0.0]
    assert series.backlog == [10, 11, 12]


def test_the_chart_names_its_line_and_draws_the_sla_goal_or_says_why_not():
    labels = _Labels()
    render_chart(_report_with([1, 2], [1, 1], goal=0.95), labels)
    assert labels.used["chart.goal"] == {"goal": 0.95}  # the catalog writes it as a percentage
    assert labels.used["chart.line"] == {"name": "L1"}
    assert labels.used["chart.title"]["where"] == "chart.line"
    assert "chart.sla_off" not in labels.used and "chart.sla_none" not in labels.used

    off = _Labels()
    render_chart(_report_with([1, 2], [1, 1], goal=None, sla=False), off)
    assert "chart.sla_off" in off.used and "chart.goal" not in off.used
    off_now = _Labels()  # figures from when the timers were on
    render_chart(_report_with([1, 2], [1, 1], goal=None), off_now)
    assert "chart.sla_off_now" in off_now.used and "chart.sla_off" not in off_now.used

    no_data = _Labels()
    render_chart(_report_with([1, 2], [1, 1], sla=False), no_data)
    assert "chart.sla_none" in no_data.used and "chart.goal" in no_data.used


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("", "2026-03-10", "2026-03-10"),
        ("today", "2026-03-10", "2026-03-10"),
        ("yesterday", "2026-03-09", "2026-03-09"),
        ("week", "2026-03-04", "2026-03-10"),
        ("month", "2026-02-09", "2026-03-10"),
        ("2026-01-01..2026-01-31", "2026-01-01", "2026-01-31"),
        ("2026-01-05", "2026-01-05", "2026-01-05"),
    ],
)
def test_periods(text, first, last):
    # 23:30 UTC on March 9 is already March 10 in Moscow: days are local.
    period = parse_period(text, datetime(2026, 3, 9, 23, 30, tzinfo=UTC), ZoneInfo("Europe/Moscow"))
    assert period is not None
    assert (period.first_day.isoformat(), period.last_day.isoformat()) == (first, last)


@pytest.mark.parametrize(
    "text", ["soon", "2026-02-30", "2026-03-02..2026-03-01", "2020-01-01..2026-01-01"]
)
def test_bad_periods(text):
    assert parse_period(text, datetime(2026, 3, 9, tzinfo=UTC), UTC) is None


def test_period_bounds_are_local_midnights():
    period = Period(date(2026, 3, 2), date(2026, 3, 3), ZoneInfo("Europe/Berlin"))
    assert period.start == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
    assert period.contains(datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    assert not period.contains(datetime(2026, 3, 3, 23, 0, tzinfo=UTC))
