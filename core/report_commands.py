"""/stats [period] in a staff chat: the report as text and the chart as a picture. Supervisors
(and admins) see every line; agents the line of the staff chat they asked in."""

from __future__ import annotations

import asyncio
import logging
from datetime import tzinfo

from core.commands import Command
from core.domain import Role
from core.messages import Attachment, ConversationRef, OutgoingMessage
from core.report_chart import render_chart
from core.report_format import render_report
from core.reports import Report, build_report, parse_period
from core.roles import Roles
from core.router import Place, Router
from core.tickets import TicketDesk
from core.turn import Turn

log = logging.getLogger(__name__)


class ReportCommands:
    def __init__(self, desk: TicketDesk, roles: Roles, zone: tzinfo) -> None:
        self.desk = desk
        self.roles = roles
        self.zone = zone

    def register(self, router: Router) -> None:
        router.add("stats", self.stats, role=Role.AGENT, place=Place.STAFF, help="help.staff.stats")

    async def stats(self, turn: Turn, command: Command) -> None:
        text = self.desk.staff_text
        held = await self.roles.held(turn, in_staff_chat=True)
        period = parse_period(command.args, turn.now, self.zone)
        if period is None:
            await turn.reply(text("staff.usage.stats"))
            return
        here = self.desk.lines.of_chat(turn.message.conversation)
        line = None if Role.SUPERVISOR in held or here is None else here.name
        report = await build_report(turn.tx, period, self.desk.lines, turn.now, line)
        await turn.reply(render_report(report, text))
        in_group = not turn.message.is_private
        await turn.send(
            await self.chart_message(
                report,
                turn.message.conversation,
                reply_to_message_id=turn.message.message_id if in_group else None,
            )
        )
        log.info(
            "report sent",
            extra={"first_day": str(period.first_day), "days": len(period.days), "line": line},
        )

    async def chart_message(
        self,
        report: Report,
        conversation: ConversationRef,
        reply_to_message_id: str | None = None,
    ) -> OutgoingMessage:
        text = self.desk.staff_text
        # ~0.1-0.2 s of CPU: off the event loop so other chats' turns and sends go on (the
        # figure has no shared state, see core.report_chart).
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
