"""The report chart: tickets opened and closed per day (bars) over the share of SLA targets met
per day (a line), as a PNG. Rendered off-screen with matplotlib's Agg canvas (no display, no
global pyplot state, safe in a server)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass

from core.messages import Attachment, ConversationRef, OutgoingMessage
from core.reports.build import Report

OPENED_COLOR = "#1f77b4"
CLOSED_COLOR = "#2ca02c"
SLA_COLOR = "#d62728"
SIZE_INCHES = (8.0, 6.0)
DPI = 100


@dataclass(frozen=True)
class ChartSeries:
    """What the chart plots, one value per day."""

    days: list[str]
    opened: list[int]
    closed: list[int]
    sla_percent: list[float | None]  # None: no target decided that day


def chart_series(report: Report) -> ChartSeries:
    return ChartSeries(
        days=[d.day.strftime("%m-%d") for d in report.days],
        opened=[d.opened for d in report.days],
        closed=[d.closed for d in report.days],
        sla_percent=[d.sla.rate * 100 if d.sla.rate is not None else None for d in report.days],
    )


def render_chart(report: Report, text: Callable[..., str]) -> bytes:
    """PNG bytes; `text(key)` gives the titles and legends in the staff language."""
    # Imported here: matplotlib is big, and only reports need it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    series = chart_series(report)
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(figure)
    volume, sla = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    positions = list(range(len(series.days)))
    width = 0.4
    volume.bar(
        [p - width / 2 for p in positions],
        series.opened,
        width,
        color=OPENED_COLOR,
        label=text("chart.opened"),
    )
    volume.bar(
        [p + width / 2 for p in positions],
        series.closed,
        width,
        color=CLOSED_COLOR,
        label=text("chart.closed"),
    )
    volume.set_title(text("chart.volume"))
    volume.yaxis.set_major_locator(MaxNLocator(integer=True))
    volume.legend(loc="upper left")
    measured = [(p, v) for p, v in zip(positions, series.sla_percent, strict=True) if v is not None]
    if measured:
        sla.plot(
            [p for p, _ in measured],
            [v for _, v in measured],
            color=SLA_COLOR,
            marker="o",
            linewidth=2,
        )
    sla.set_ylim(0, 105)
    sla.set_title(text("chart.sla"))
    sla.set_ylabel("%")
    step = max(1, len(positions) // 15)  # at most ~15 day labels
    sla.set_xticks(positions[::step], series.days[::step], rotation=45)
    figure.suptitle(
        f"{report.period.first_day.isoformat()} – {report.period.last_day.isoformat()}"
        + (f" · {report.line}" if report.line else "")
    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


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
        "report.chart_caption",
        first=report.period.first_day.isoformat(),
        last=report.period.last_day.isoformat(),
    )
    return OutgoingMessage(
        conversation=conversation,
        text=caption,
        attachments=(Attachment.generated("photo", "stats.png", "image/png", png),),
        reply_to_message_id=reply_to_message_id,
    )
