"""The staff chat: agents answer tickets by replying to a ticket's message or writing in its
thread/topic. The ticket is always found through stored message links, never by parsing text."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from core.admin_commands import AdminCommands
from core.commands import Command, parse_command
from core.domain import Ticket
from core.staff_commands import TicketCommands
from core.tickets import TicketDesk
from core.turn import Turn

log = logging.getLogger(__name__)

NOTE_PREFIX = "//"


class StaffCommandGroup(Protocol):
    """A set of staff-chat commands with one handler. `ticket`: the ticket whose thread the
    command was typed in (or whose message it replies to), else None."""

    names: frozenset[str]

    async def handle(self, turn: Turn, command: Command, ticket: Ticket | None) -> None: ...


class StaffFlow:
    def __init__(
        self, desk: TicketDesk, admin: AdminCommands, groups: Sequence[StaffCommandGroup] = ()
    ) -> None:
        self.desk = desk
        self.admin = admin
        self.tickets = TicketCommands(desk, admin.roles, admin.knowledge)
        self.groups = (self.tickets, *groups)

    async def handle(self, turn: Turn) -> None:
        message = turn.message
        command = parse_command(message.button_payload or message.text)
        ticket = await self._ticket_in_context(turn)
        group = next((g for g in self.groups if command and command.name in g.names), None)
        if command is not None and command.name in self.admin.names:
            await self.admin.handle(turn, command)
        elif command is not None and group is not None:
            await group.handle(turn, command, ticket)
        elif command is not None and command.name in ("help", "start"):
            await turn.reply(self.desk.staff_text("staff.help"))
        elif ticket is None:
            return  # staff talking among themselves
        elif not await self.tickets.may_act_as_agent(turn, "reply"):
            return
        elif message.text.startswith(NOTE_PREFIX):
            await self.desk.add_note(turn, ticket, message.text[len(NOTE_PREFIX) :].strip())
        elif message.text.strip() or message.attachments:
            await self.desk.relay_agent_reply(turn, ticket, message.text, message.attachments)

    async def _ticket_in_context(self, turn: Turn) -> Ticket | None:
        """The ticket whose message was replied to, or whose thread/topic this is."""
        message = turn.message
        conversation = message.conversation
        for message_id in (message.reply_to_message_id, conversation.thread_id):
            if message_id is None:
                continue
            ticket_id = await turn.tx.links.find_ticket(
                conversation.channel, conversation.chat_id, message_id
            )
            if ticket_id is not None:
                return await turn.tx.tickets.get(ticket_id)
        return None
