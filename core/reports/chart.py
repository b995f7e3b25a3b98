"""The report chart, as a PNG: tickets opened, resolved and closed per day (bars) with the open
backlog at each day's end (a line), over the share of SLA targets met per day against the
team's goal (a dashed line), or a note saying why there is no SLA figure. Rendered off-screen
with matplotlib's Agg canvas (no display, no global pyplot state, safe in a server)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass

from core.messages import Attachment, ConversationRef, OutgoingMessage
from core.reports.build import Report

OPENED_COLOR = "#1f77b4"
RESOLVED_COLOR = "#98df8a"
CLOSED_COLOR = "#2ca02c"
BACKLOG_COLOR = "#ff7f0e"
SLA_COLOR = "#d62728"
GOAL_COLOR = "#7f7f7f"
NOTE_COLOR = "#555555"
SIZE_INCHES = (9.0, 6.5)
DPI = 100
BAR_WIDTH = 0.27


@dataclass(frozen=True)
class ChartSeries:
    """What the chart plots, one value per day."""

    days: list[str]
    opened: list[int]
    resolved: list[int]
    closed: list[int]
    backlog: list[int]
    sla_percent: list[float | None]  # None: no target decided that day


def chart_series(report: Report) -> ChartSeries:
    return ChartSeries(
        days=[d.day.strftime("%m-%d") for d in report.days],
        opened=[d.opened for d in report.days],
        resolved=[d.resolved for d in report.days],
        closed=[d.closed for d in report.days],
        backlog=[d.backlog for d in report.days],
        sla_percent=[d.sla.rate * 100 if d.sla.rate is not None else None for d in report.days],
    )


def render_chart(report: Report, text: Callable[..., str]) -> bytes:
    """PNG bytes; `text(key, **values)` gives the titles and legends in the staff language."""
    # Imported here: matplotlib is big, and only reports need it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = chart_series(report)
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(figure)
    volume, sla = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    positions = list(range(len(series.days)))
    _draw_volume(volume, positions, series, text)
    _draw_sla(sla, positions, series, report.sla_goal, text)
    step = max(1, len(positions) // 15)  # at most ~15 day labels
    sla.set_xticks(positions[::step], series.days[::step], rotation=45)
    where = text("chart.line", name=report.line) if report.line else text("chart.all_lines")
    first, last = report.period.first_day, report.period.last_day
    figure.suptitle(text("chart.title", first=first, last=last, where=where), fontweight="bold")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw_volume(axes, positions: list[int], series: ChartSeries, text: Callable[..., str]):
    from matplotlib.ticker import MaxNLocator

    for offset, values, color, key in (
        (-BAR_WIDTH, series.opened, OPENED_COLOR, "chart.opened"),
        (0.0, series.resolved, RESOLVED_COLOR, "chart.resolved"),
        (BAR_WIDTH, series.closed, CLOSED_COLOR, "chart.closed"),
    ):
        axes.bar([p + offset for p in positions], values, BAR_WIDTH, color=color, label=text(key))
    axes.plot(
        positions,
        series.backlog,
        color=BACKLOG_COLOR,
        marker=".",
        linewidth=2,
        label=text("chart.backlog"),
    )
    axes.set_title(text("chart.volume"))
    tallest = max([*series.opened, *series.resolved, *series.closed, *series.backlog, 1])
    axes.set_ylim(0, tallest * 1.3)  # room for the legend above the bars
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper left", ncols=4, fontsize="small")


def _draw_sla(
    axes,
    positions: list[int],
    series: ChartSeries,
    goal: float | None,
    text: Callable[..., str],
) -> None:
    axes.set_ylim(0, 105)
    axes.set_ylabel("%")
    measured = [(p, v) for p, v in zip(positions, series.sla_percent, strict=True) if v is not None]
    title = text("chart.sla")
    if goal is None and measured:  # targets set while the timers were on
        title += " · " + text("chart.sla_off_now")
    axes.set_title(title)
    note = None
    if not measured:
        note = text("chart.sla_off") if goal is None else text("chart.sla_none")
    if goal is not None:
        axes.axhline(
            goal * 100,
            color=GOAL_COLOR,
            linestyle="--",
            linewidth=1.5,
            label=text("chart.goal", goal=goal),
        )
    if measured:
        axes.plot(
            [p for p, _ in measured],
            [v for _, v in measured],
            color=SLA_COLOR,
            marker="o",
            linewidth=2,
            label=text("chart.sla_met"),
        )
        axes.legend(loc="lower left", fontsize="small")
    if note is not None:
        # An empty panel reads as "all is well" or as a bug: say why it is empty.
        axes.text(
            0.5, 0.5, note, transform=axes.transAxes, ha="center", va="center",
            color=NOTE_COLOR, wrap=True,
        )  # fmt: skip
    axes.grid(axis="y", alpha=0.3)


async def chart_message(
    report: Report,
    text: Callable[..., str],
    conversation: ConversationRef,
    reply_to_message_id: str | None = None,
) -> OutgoingMessage:
    """The chart as a picture with its caption (`text`: the staff catalog lookup)."""
    # ~0.1-0.2 s of CPU: off the event loop so other chats' turns and sends go on (the figure
    # has no shared state, see render_chart).
    png = await asyncio.to_thread(render_chart, report, text)
    caption = text(
        "report.chart_caption", first=report.period.first_day, last=report.period.last_day
    )
    return OutgoingMessage(
        conversation=conversation,
        text=caption,
        attachments=(Attachment.generated("photo", "stats.png", "image/png", png),),
        reply_to_message_id=reply_to_message_id,
    )
