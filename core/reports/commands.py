"""/stats [period] in a staff chat: the report as text and the chart as a picture. Supervisors
(and admins) see every line; agents the line of the staff chat they asked in."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import tzinfo

from core.commands import Command
from core.domain import Role
from core.reports.build import build_report, parse_period
from core.reports.chart import chart_message
from core.reports.format import render_report
from core.roles import Roles
from core.router import Place, Router
from core.tickets.desk import TicketDesk
from core.turn import Turn

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ReportCommands:
    desk: TicketDesk
    roles: Roles
    zone: tzinfo

    def register(self, router: Router) -> None:
        router.add("stats", self.stats, role=Role.AGENT, place=Place.STAFF, help="help.staff.stats")

    async def stats(self, turn: Turn, command: Command) -> None:
        text = self.desk.tell.staff_text
        held = await self.roles.held(turn, in_staff_chat=True)
        period = parse_period(command.args, turn.now, self.zone)
        if period is None:
            await turn.reply(text("staff.usage.stats"))
            return
        here = self.desk.lines.of_chat(turn.message.conversation)
        line = None if Role.SUPERVISOR in held or here is None else here.name
        goal = self.desk.sla.goal if self.desk.sla else None
        report = await build_report(turn.tx, period, self.desk.lines, turn.now, line, goal)
        await turn.reply(render_report(report, text))
        in_group = not turn.message.is_private
        await turn.send(
            await chart_message(
                report,
                text,
                turn.message.conversation,
                reply_to_message_id=turn.message.message_id if in_group else None,
            )
        )
        log.info(
            "report sent",
            extra={"first_day": str(period.first_day), "days": len(period.days), "line": line},
        )
