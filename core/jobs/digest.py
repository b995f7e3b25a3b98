"""The daily digest: once a day, from `at` (local time), each support line's staff chat gets
yesterday's report for that line (with one line: the whole helpdesk) and its chart.

`DailyDigest.check` runs every minute from the scheduler. The day is claimed in the database in
the transaction that queues the messages, so a restart after the hour still sends it and two bot
processes send it once. The charts are rendered before that transaction (no lock held for
them); a process that loses the claim has rendered them for nothing, once a day."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from core.messages import OutgoingMessage
from core.reports.build import Period, build_report
from core.reports.chart import chart_message
from core.reports.format import render_report
from core.tickets.desk import TicketDesk
from core.work import UnitOfWork

log = logging.getLogger(__name__)

CLAIM_CHANNEL = "digest"  # the digest's days are claimed like platform deliveries


@dataclass(eq=False)
class DailyDigest:
    unit_of_work: UnitOfWork
    desk: TicketDesk
    at: time
    zone: tzinfo
    # The local day whose digest is known to be sent: no query until the next day.
    _settled: date | None = field(default=None, init=False)

    async def check(self, now: datetime | None = None) -> bool:
        """Send today's digest if it is time and nobody has yet. True when this call sent it."""
        now = now or self.unit_of_work.clock()
        local = now.astimezone(self.zone)
        today = local.date()
        if local.time() < self.at or self._settled == today:
            return False
        yesterday = today - timedelta(days=1)
        period = Period(yesterday, yesterday, self.zone)
        lines = self.desk.lines
        goal = self.desk.sla.goal if self.desk.sla else None
        async with self.unit_of_work(now) as work:
            reports = [
                await build_report(
                    work.tx, period, lines, now, line.name if len(lines) > 1 else None, goal
                )
                for line in lines
            ]
        messages: list[OutgoingMessage] = []
        title = self.desk.tell.staff_text("report.digest_title")
        for line, report in zip(lines, reports, strict=True):
            body = render_report(report, self.desk.tell.staff_text)
            messages.append(OutgoingMessage(conversation=line.chat, text=f"{title}\n{body}"))
            messages.append(await chart_message(report, self.desk.tell.staff_text, line.chat))
        async with self.unit_of_work(now) as work:
            claimed = await work.tx.updates.claim(CLAIM_CHANNEL, today.isoformat(), now)
            if claimed:
                work.outbox.extend(messages)
        # Sent here or elsewhere: nothing to do until tomorrow (no query every minute).
        self._settled = today
        if not claimed:
            return False
        log.info("daily digest sent", extra={"day": yesterday.isoformat(), "lines": len(lines)})
        return True
