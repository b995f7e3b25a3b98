"""A `Report` as text for the staff chat (in the staff language) and as rows for a CSV file.

The text passes figures as numbers and dates: the catalog lookup writes them the language's way
(core.i18n). The CSV rows stay machine-readable (ISO dates, plain decimals)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from core.domain import Priority
from core.reports.build import AgentFigures, DayFigures, Durations, Report, Share

Text = Callable[..., str]  # a catalog lookup: text(key, **params)


def render_report(report: Report, text: Text) -> str:
    period = report.period
    lines = [
        text(
            "report.title",
            first=period.first_day,
            last=period.last_day,
            line=report.line or text("report.all_lines"),
        ),
        text("report.volume", opened=report.opened, resolved=report.resolved, closed=report.closed),
        text(
            "report.deflection",
            questions=report.questions,
            deflected=report.deflected,
            rate=_ratio(report.deflection_rate),
        ),
        _durations(text, "report.first_response", report.first_response),
        _durations(text, "report.resolution", report.resolution),
        *_sla_lines(report, text),
        _csat_line(report, text),
        *_incident_lines(report, text),
        *_backlog_lines(report, text),
        *_agent_lines(report, text),
    ]
    return "\n".join(lines)


def _incident_lines(report: Report, text: Text) -> list[str]:
    """Incidents of the period (all lines: an incident spans them), when there were any."""
    count, tickets = report.incidents
    return [text("report.incidents", count=count, tickets=tickets)] if count else []


def _sla_lines(report: Report, text: Text) -> list[str]:
    sla = [
        text(
            "report.sla_line",
            priority=text(f"priority.{priority.value}"),
            response=_share(report.sla_response[priority], text),
            resolution=_share(report.sla_resolution[priority], text),
        )
        for priority in reversed(Priority)
        if report.sla_response[priority].total or report.sla_resolution[priority].total
    ]
    return [text("report.sla_header") if sla else text("report.sla_none"), *sla]


def _csat_line(report: Report, text: Text) -> str:
    if not report.ratings:
        return text("report.csat_none")
    distribution = ", ".join(
        text("report.csat_item", score=score, count=n) for score, n in report.csat.items()
    )
    return text(
        "report.csat",
        average=_average(report.csat_average),
        count=report.ratings,
        distribution=distribution,
    )


def _backlog_lines(report: Report, text: Text) -> list[str]:
    backlog = ", ".join(
        text("report.item", name=text(f"staff.status.{status.value}"), count=n)
        for status, n in report.backlog_by_status.items()
    )
    lines = [text("report.backlog", items=backlog or "0")]
    if len(report.backlog_by_line) > 1 or (report.line is None and report.backlog_by_line):
        by_line = ", ".join(
            text("report.item", name=name, count=n) for name, n in report.backlog_by_line.items()
        )
        lines.append(text("report.backlog_lines", items=by_line))
    return lines


def _agent_lines(report: Report, text: Text) -> list[str]:
    if not report.agents:
        return []
    return [text("report.agents_header")] + [
        text(
            "report.agent_line",
            name=agent.name,
            resolved=agent.resolved,
            response=_duration(agent.first_response.median, text),
            csat=_average(agent.csat_average),
            count=agent.ratings,
        )
        for agent in report.agents
    ]


def report_rows(report: Report) -> list[tuple[str, str]]:
    """(metric, value) pairs: counts, rates 0..1, durations in seconds; empty value: none."""
    rows: list[tuple[str, object]] = [
        ("period.first_day", report.period.first_day.isoformat()),
        ("period.last_day", report.period.last_day.isoformat()),
        ("line", report.line or "all"),
        ("tickets.opened", report.opened),
        ("tickets.resolved", report.resolved),
        ("tickets.closed", report.closed),
        ("questions", report.questions),
        ("questions.deflected", report.deflected),
        ("deflection_rate", report.deflection_rate),
    ]
    for name, figures in (
        ("first_response", report.first_response),
        ("resolution", report.resolution),
    ):
        rows += [
            (f"{name}.count", figures.count),
            (f"{name}.median_seconds", _seconds(figures.median)),
            (f"{name}.p90_seconds", _seconds(figures.p90)),
        ]
    for priority in Priority:
        for name, shares in (
            ("response", report.sla_response),
            ("resolution", report.sla_resolution),
        ):
            share = shares[priority]
            rows += [
                (f"sla.{name}.{priority.value}.met", share.met),
                (f"sla.{name}.{priority.value}.total", share.total),
            ]
    rows += [("csat.average", report.csat_average), ("csat.count", report.ratings)]
    rows += [(f"csat.score_{score}", report.csat.get(score, 0)) for score in range(1, 6)]
    rows += [(f"backlog.status.{s.value}", n) for s, n in report.backlog_by_status.items()]
    rows += [(f"backlog.line.{name}", n) for name, n in report.backlog_by_line.items()]
    for agent in report.agents:
        rows += [
            (f"agent.{agent.name}.resolved", agent.resolved),
            (f"agent.{agent.name}.first_response_median_seconds",
             _seconds(agent.first_response.median)),
            (f"agent.{agent.name}.csat_average", agent.csat_average),
            (f"agent.{agent.name}.ratings", agent.ratings),
        ]  # fmt: skip
    for day in report.days:
        rows += [
            (f"day.{day.day.isoformat()}.opened", day.opened),
            (f"day.{day.day.isoformat()}.closed", day.closed),
            (f"day.{day.day.isoformat()}.sla_rate", day.sla.rate),
        ]
    return [(metric, _plain(value)) for metric, value in rows]


def report_json(report: Report) -> dict:
    """The figures as JSON (the HTTP API): counts, rates 0..1, durations in seconds; null:
    none."""

    def times(figures: Durations) -> dict:
        return {
            "count": figures.count,
            "median_seconds": _seconds(figures.median),
            "p90_seconds": _seconds(figures.p90),
        }

    def shares(by_priority: dict[Priority, Share]) -> dict:
        return {p.value: {"met": s.met, "total": s.total} for p, s in by_priority.items()}

    return {
        "period": {
            "first_day": report.period.first_day.isoformat(),
            "last_day": report.period.last_day.isoformat(),
        },
        "line": report.line,
        "tickets": {"opened": report.opened, "resolved": report.resolved, "closed": report.closed},
        "questions": {
            "asked": report.questions,
            "deflected": report.deflected,
            "deflection_rate": report.deflection_rate,
        },
        "first_response": times(report.first_response),
        "resolution": times(report.resolution),
        "sla": {
            "goal": report.sla_goal,
            "response": shares(report.sla_response),
            "resolution": shares(report.sla_resolution),
        },
        "csat": {
            "average": report.csat_average,
            "count": report.ratings,
            "scores": {str(score): report.csat.get(score, 0) for score in range(1, 6)},
        },
        "backlog": {
            "by_status": {s.value: n for s, n in report.backlog_by_status.items()},
            "by_line": dict(report.backlog_by_line),
        },
        "agents": [_agent_json(agent) for agent in report.agents],
        "days": [_day_json(day) for day in report.days],
        "incidents": {"opened": report.incidents[0], "tickets_linked": report.incidents[1]},
    }


def _agent_json(agent: AgentFigures) -> dict:
    return {
        "name": agent.name,
        "resolved": agent.resolved,
        "first_response_median_seconds": _seconds(agent.first_response.median),
        "csat_average": agent.csat_average,
        "ratings": agent.ratings,
    }


def _day_json(day: DayFigures) -> dict:
    return {
        "day": day.day.isoformat(),
        "opened": day.opened,
        "resolved": day.resolved,
        "closed": day.closed,
        "backlog": day.backlog,
        "sla_rate": day.sla.rate,
    }


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def _ratio(rate: float | None) -> float | str:
    """For a {rate:%} placeholder: the ratio, or a dash when there is none."""
    return rate if rate is not None else "—"


def _average(value: float | None) -> float | str:
    """A rating average to one decimal ("4.5", "4,5"), or a dash when nobody rated."""
    return round(value, 1) if value else "—"


def _share(share: Share, text: Text) -> str:
    if not share.total:
        return "—"
    return text("report.share", rate=_ratio(share.rate), met=share.met, total=share.total)


def _durations(text: Text, key: str, figures: Durations) -> str:
    return text(
        key,
        median=_duration(figures.median, text),
        p90=_duration(figures.p90, text),
        count=figures.count,
    )


def _duration(value: timedelta | None, text: Text) -> str:
    if value is None:
        return "—"
    minutes = round(value.total_seconds() / 60)
    if minutes < 1:
        return text("duration.seconds", seconds=round(value.total_seconds()))
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return text("duration.minutes", minutes=minutes)
    days, hours = divmod(hours, 24)
    if not days:
        return text("duration.hours", hours=hours, minutes=minutes)
    return text("duration.days", days=days, hours=hours)
