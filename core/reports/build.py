"""Helpdesk figures for a period: volume, deflection, response and resolution times, SLA
compliance, satisfaction, the backlog and per-agent figures. /stats, the daily digest and
`helpdesk report` show the same `Report`.

Definitions (also in the README):
- opened / resolved / closed: tickets created / resolved / closed in the period;
- deflection: of the questions the knowledge base was asked in the period (the question log),
  the share that did not end in a ticket;
- first response and resolution times: wall-clock time from creation to the first answer / to
  the resolution, over the tickets created in the period that have one; median and 90th
  percentile (nearest rank);
- SLA compliance: among the tickets created in the period that have a target, the share whose
  target was met; a target still running (no answer or resolution yet, deadline not passed) is
  not counted yet, nor is one whose clock is stopped (the ticket waits for the user: its
  deadline moves when the clock runs again) unless it had passed before the clock stopped;
- satisfaction: the ratings given in the period;
- backlog: the active tickets now, by status and by support line.
A report for one line counts that line's tickets (a ticket counts in the line it is in now);
questions to the bot belong to no line and are always counted in full.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from core.domain import (
    ACTIVE_STATUSES,
    Priority,
    Ticket,
    TicketRating,
    TicketSla,
    TicketStatus,
)
from core.store import Transaction
from core.tickets.lines import SupportLines

MAX_PERIOD_DAYS = 366
_DATE = r"\d{4}-\d{2}-\d{2}"
_RANGE = re.compile(rf"({_DATE})(?:\s*\.\.\s*({_DATE}))?")
_RELATIVE_DAYS = {"today": 1, "day": 1, "week": 7, "month": 30}


@dataclass(frozen=True)
class Period:
    """Whole local days `first_day`..`last_day` in `zone`; `start`/`end` bound them in time
    (end exclusive)."""

    first_day: date
    last_day: date
    zone: tzinfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(), self.zone)

    @property
    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def end_of(self, day: date) -> datetime:
        return datetime.combine(day + timedelta(days=1), time(), self.zone)

    def contains(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end


def parse_period(text: str, now: datetime, zone: tzinfo) -> Period | None:
    """ "today" (also empty), "yesterday", "week" (the last 7 days with today), "month" (the
    last 30), "2026-03-01..2026-03-31" or one day "2026-03-01". None when not understood."""
    today = now.astimezone(zone).date()
    word = text.strip().lower() or "today"
    if word == "yesterday":
        day = today - timedelta(days=1)
        return Period(day, day, zone)
    if word in _RELATIVE_DAYS:
        return Period(today - timedelta(days=_RELATIVE_DAYS[word] - 1), today, zone)
    match = _RANGE.fullmatch(word)
    if match is None:
        return None
    try:
        first = date.fromisoformat(match.group(1))
        last = date.fromisoformat(match.group(2) or match.group(1))
    except ValueError:
        return None
    if first > last or (last - first).days >= MAX_PERIOD_DAYS:
        return None
    return Period(first, last, zone)


@dataclass(frozen=True)
class Durations:
    count: int = 0
    median: timedelta | None = None
    p90: timedelta | None = None


def durations(values: Iterable[timedelta]) -> Durations:
    ordered = sorted(values)
    if not ordered:
        return Durations()
    p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]  # nearest rank
    return Durations(len(ordered), statistics.median(ordered), p90)


@dataclass(frozen=True)
class Share:
    met: int = 0
    total: int = 0

    @property
    def rate(self) -> float | None:
        return self.met / self.total if self.total else None

    def __add__(self, other: Share) -> Share:
        return Share(self.met + other.met, self.total + other.total)


@dataclass(frozen=True)
class AgentFigures:
    agent_id: int
    name: str
    resolved: int
    first_response: Durations
    csat_average: float | None
    ratings: int


@dataclass(frozen=True)
class DayFigures:
    day: date
    opened: int
    resolved: int
    closed: int
    backlog: int  # tickets open at the end of the day
    sla: Share  # first-response and resolution targets of the tickets opened that day


@dataclass(frozen=True)
class Report:
    period: Period
    line: str | None  # None: all lines
    opened: int
    resolved: int
    closed: int
    questions: int
    deflected: int
    first_response: Durations
    resolution: Durations
    sla_response: dict[Priority, Share]
    sla_resolution: dict[Priority, Share]
    csat: dict[int, int]  # score -> count
    backlog_by_status: dict[TicketStatus, int]
    backlog_by_line: dict[str, int]
    agents: list[AgentFigures]
    days: list[DayFigures]
    sla_goal: float | None = None  # the share of targets to meet; None: SLA timers are off
    incidents: tuple[int, int] = (0, 0)  # (incidents opened, tickets linked to them)

    @property
    def deflection_rate(self) -> float | None:
        return self.deflected / self.questions if self.questions else None

    @property
    def ratings(self) -> int:
        return sum(self.csat.values())

    @property
    def csat_average(self) -> float | None:
        count = self.ratings
        return sum(score * n for score, n in self.csat.items()) / count if count else None


async def build_report(
    tx: Transaction,
    period: Period,
    lines: SupportLines,
    now: datetime,
    line: str | None = None,
    sla_goal: float | None = None,
) -> Report:
    """The figures of `period` as of `now`; `line`: only that support line's tickets;
    `sla_goal`: the SLA policy's goal (None: SLA timers are off)."""

    def in_line(ticket: Ticket) -> bool:
        return line is None or lines.of_ticket(ticket).name == line

    touched = [t for t in await tx.reports.tickets_touched(period.start, period.end) if in_line(t)]
    created = [t for t in touched if period.contains(t.created_at)]
    questions = await tx.questions.list(since=period.start, until=period.end)
    ratings = await _ratings(tx, period, {t.id: t for t in touched}, in_line)
    response, resolution, day_sla = _sla_shares(created, period, now)
    by_status, by_line = await _backlog(tx, lines, line)
    open_at_times = [
        t for t in await tx.reports.open_during(period.start, period.end) if in_line(t)
    ]
    return Report(
        period=period,
        line=line,
        opened=len(created),
        resolved=sum(period.contains(t.resolved_at) for t in touched),
        closed=sum(period.contains(t.closed_at) for t in touched),
        questions=len(questions),
        deflected=sum(q.ticket_id is None for q in questions),
        first_response=durations(
            t.first_response_at - t.created_at for t in created if t.first_response_at
        ),
        resolution=durations(t.resolved_at - t.created_at for t in created if t.resolved_at),
        sla_response=response,
        sla_resolution=resolution,
        csat=dict(sorted(Counter(r.score for r in ratings).items())),
        backlog_by_status=by_status,
        backlog_by_line=by_line,
        agents=await _agents(tx, period, touched, created, ratings),
        days=_days(period, created, touched, open_at_times, day_sla),
        sla_goal=sla_goal,
        incidents=await tx.incidents.counts(period.start, period.end),
    )


def _sla_shares(
    created: list[Ticket], period: Period, now: datetime
) -> tuple[dict[Priority, Share], dict[Priority, Share], dict[date, Share]]:
    """Targets met per priority (first response, resolution) and per day of creation."""
    response = {p: Share() for p in Priority}
    resolution = {p: Share() for p in Priority}
    day_sla: dict[date, Share] = {}
    for ticket in created:
        for shares, outcome in (
            (response, _response_met(ticket, now)),
            (resolution, _resolution_met(ticket, now)),
        ):
            if outcome is not None:
                share = Share(int(outcome), 1)
                shares[ticket.priority] += share
                day = period.day_of(ticket.created_at)
                day_sla[day] = day_sla.get(day, Share()) + share
    return response, resolution, day_sla


async def _backlog(
    tx: Transaction, lines: SupportLines, line: str | None
) -> tuple[dict[TicketStatus, int], dict[str, int]]:
    """Active tickets now by status and by line (only `line`'s when given)."""
    by_status: Counter[TicketStatus] = Counter()
    by_line: Counter[str] = Counter()
    for status, line_name, count in await tx.reports.backlog():
        name = lines.named(line_name).name if lines.named(line_name) else lines.first.name
        if line is not None and name != line:
            continue
        by_status[status] += count
        by_line[name] += count
    return (
        {s: by_status[s] for s in _ACTIVE_ORDER if by_status[s]},
        {known.name: by_line[known.name] for known in lines if by_line[known.name]},
    )


def _days(
    period: Period,
    created: list[Ticket],
    touched: list[Ticket],
    open_at_times: list[Ticket],
    day_sla: dict[date, Share],
) -> list[DayFigures]:
    def per_day(moments) -> Counter[date]:
        return Counter(period.day_of(m) for m in moments if period.contains(m))

    opened = per_day(t.created_at for t in created)
    resolved = per_day(t.resolved_at for t in touched)
    closed = per_day(t.closed_at for t in touched)
    return [
        DayFigures(
            day,
            opened[day],
            resolved[day],
            closed[day],
            _open_at(open_at_times, period.end_of(day)),
            day_sla.get(day, Share()),
        )
        for day in period.days
    ]


def _open_at(candidates: list[Ticket], moment: datetime) -> int:
    """How many of `candidates` were open at `moment`: created before it and not yet resolved
    or closed (a ticket active now counts as open since it was created)."""

    def done_at(ticket: Ticket) -> datetime | None:
        if ticket.status in ACTIVE_STATUSES:
            return None
        return min((m for m in (ticket.resolved_at, ticket.closed_at) if m), default=None)

    return sum(
        1
        for t in candidates
        if t.created_at < moment and ((done := done_at(t)) is None or done >= moment)
    )


_ACTIVE_ORDER = [s for s in TicketStatus if s in ACTIVE_STATUSES]


def _response_met(ticket: Ticket, now: datetime) -> bool | None:
    """Whether the first-response target was met; None: no target, or still running."""
    sla = ticket.sla
    return _met(sla.response_due_at, sla.response_breached_at, ticket.first_response_at, sla, now)


def _resolution_met(ticket: Ticket, now: datetime) -> bool | None:
    sla = ticket.sla
    return _met(sla.resolution_due_at, sla.resolution_breached_at, ticket.resolved_at, sla, now)


def _met(
    due: datetime | None,
    breached: datetime | None,
    done: datetime | None,
    sla: TicketSla,
    now: datetime,
) -> bool | None:
    if due is None:
        return None
    if breached is not None:
        return False
    if done is not None:
        return done <= due
    # While the ticket waits for the user the clock is stopped and `due` is stale: it moves by
    # the pause when the clock runs again (core.tickets.sla_policy), so only a deadline passed
    # before is missed.
    stopped_at = sla.paused_since or now
    return False if stopped_at >= due else None


async def _ratings(
    tx: Transaction, period: Period, known: dict[int, Ticket], in_line
) -> list[TicketRating]:
    """The period's ratings of the tickets the report covers (a rating may come in for a ticket
    closed before the period)."""
    ratings = await tx.reports.ratings_between(period.start, period.end)
    kept = []
    for rating in ratings:
        ticket = known.get(rating.ticket_id) or await tx.tickets.get(rating.ticket_id)
        if ticket is not None and in_line(ticket):
            kept.append(rating)
    return kept


async def _agents(
    tx: Transaction,
    period: Period,
    touched: list[Ticket],
    created: list[Ticket],
    ratings: list[TicketRating],
) -> list[AgentFigures]:
    resolved = Counter(
        t.assignee_id for t in touched if t.assignee_id and period.contains(t.resolved_at)
    )
    responses: dict[int, list[timedelta]] = {}
    for ticket in created:
        if ticket.assignee_id and ticket.first_response_at:
            responses.setdefault(ticket.assignee_id, []).append(
                ticket.first_response_at - ticket.created_at
            )
    scores: dict[int, list[int]] = {}
    for rating in ratings:
        if rating.agent_id:
            scores.setdefault(rating.agent_id, []).append(rating.score)
    figures = []
    for agent_id in sorted(set(resolved) | set(responses) | set(scores)):
        user = await tx.users.get(agent_id)
        given = scores.get(agent_id, [])
        figures.append(
            AgentFigures(
                agent_id=agent_id,
                name=user.name if user else f"#{agent_id}",
                resolved=resolved[agent_id],
                first_response=durations(responses.get(agent_id, [])),
                csat_average=sum(given) / len(given) if given else None,
                ratings=len(given),
            )
        )
    figures.sort(key=lambda a: (-a.resolved, a.name.casefold()))
    return figures
