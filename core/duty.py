"""Agents on duty: `/duty on|off` in a support line's staff chat; with automatic assignment on,
each new ticket of that line (and each ticket escalated into it) goes to one of them,
round-robin or to the least loaded."""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from core.commands import Command
from core.domain import Role, Ticket, TicketStatus
from core.messages import OutgoingMessage
from core.roles import Roles
from core.store import AuditEntry, Transaction
from core.turn import Turn

if TYPE_CHECKING:  # core.tickets holds a Duty
    from core.tickets import TicketDesk

log = logging.getLogger(__name__)


class AutoAssign(StrEnum):
    ROUND_ROBIN = "round_robin"  # the agent on duty who got a ticket longest ago
    LEAST_LOADED = "least_loaded"  # the fewest active tickets, then round-robin


class Duty:
    def __init__(self, desk: TicketDesk, mode: AutoAssign) -> None:
        self.desk = desk
        self.mode = mode

    async def assign(
        self, tx: Transaction, ticket: Ticket, now: datetime
    ) -> tuple[Ticket, list[OutgoingMessage]]:
        """Give the ticket to the next agent on duty in its line, if anyone is on duty.
        Returns the ticket as it is now and the messages to send (the user hears who took it)."""
        line = self.desk.lines.of_ticket(ticket)
        agent_id = await tx.duty.pick(line.name, self.mode == AutoAssign.LEAST_LOADED, now)
        agent = await tx.users.get(agent_id) if agent_id is not None else None
        if agent is None:
            return ticket, []
        changes: dict = {"assignee_id": agent.id, "updated_at": now}
        if ticket.status == TicketStatus.NEW:
            changes["status"] = TicketStatus.OPEN
        assigned = await self.desk.apply(tx, None, now, ticket, **changes)
        log.info(
            "ticket assigned to the agent on duty",
            extra={"ticket": ticket.id, "line": line.name, "agent": agent.id},
        )
        event = self.desk.staff_text("staff.auto_assigned", name=agent.name, line=line.name)
        header = await self.desk.header(tx, assigned)
        return assigned, [
            await self.desk.staff_message(tx, assigned, event + "\n" + header),
            await self.desk.user_message(tx, assigned, "ticket.taken", name=agent.name),
        ]


class DutyCommands:
    """`/duty on|off` puts the speaker on or off duty for the line of the staff chat it is typed
    in; `/duty` alone shows who is on duty there."""

    names = frozenset({"duty"})

    def __init__(self, desk: TicketDesk, roles: Roles) -> None:
        self.desk = desk
        self.roles = roles

    async def handle(self, turn: Turn, command: Command, ticket: Ticket | None) -> None:
        text = self.desk.staff_text
        if self.desk.policy.require_agent_role and not await self.roles.require(
            turn, Role.AGENT, "duty", text
        ):
            return
        line = self.desk.lines.of_chat(turn.message.conversation)
        if line is None:  # not reachable from the staff flow, kept for safety
            return
        word = command.args.strip().lower()
        if word in ("on", "off"):
            changed = await turn.tx.duty.set(turn.user.id, line.name, word == "on", turn.now)
            await turn.tx.audit.record(
                AuditEntry(turn.actor, f"duty.{word}", "line", line.name, turn.now)
            )
            key = f"staff.duty_{word}" if changed else f"staff.duty_already_{word}"
            await turn.reply(text(key, name=turn.user.name, line=line.name))
            if word == "on" and changed and self.desk.duty is None:
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
