"""Agents on duty: `/duty on|off` in a support line's staff chat; with automatic assignment on,
each new ticket of that line (and each ticket escalated into it) goes to one of them,
round-robin or to the least loaded."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.commands import Command
from core.domain import Role
from core.router import Place, Router
from core.tickets.desk import TicketDesk
from core.turn import Turn

log = logging.getLogger(__name__)


@dataclass(eq=False)
class DutyCommands:
    """`/duty on|off` puts the speaker on or off duty for the line of the staff chat it is typed
    in; `/duty` alone shows who is on duty there."""

    desk: TicketDesk

    def register(self, router: Router) -> None:
        router.add("duty", self.duty, role=Role.AGENT, place=Place.STAFF, help="help.staff.duty")

    async def duty(self, turn: Turn, command: Command) -> None:
        text = self.desk.tell.staff_text
        line = self.desk.lines.of_chat(turn.message.conversation)
        if line is None:  # not reachable from the staff flow, kept for safety
            return
        word = command.args.strip().lower()
        if word in ("on", "off"):
            changed = await turn.tx.duty.set(turn.user.id, line.name, word == "on", turn.now)
            await turn.audit(f"duty.{word}", "line", line.name)
            key = f"staff.duty_{word}" if changed else f"staff.duty_already_{word}"
            await turn.reply(text(key, name=turn.user.name, line=line.name))
            if word == "on" and changed and self.desk.auto_assign is None:
                await turn.reply(text("staff.duty_manual"))
            return
        if word:
            await turn.reply(text("staff.usage.duty"))
            return
        names = []
        for user_id in await turn.tx.duty.on_duty(line.name):
            user = await turn.tx.users.get(user_id)
            if user is not None:
                names.append(user.name)
        if not names:
            await turn.reply(text("staff.duty_nobody", line=line.name))
        else:
            await turn.reply(text("staff.duty_list", line=line.name, names=", ".join(names)))
