"""Writing first: `/write channel:id text` in a staff chat opens a ticket for a user the bot knows
and sends them the text as the agent's reply; the conversation then goes on as any ticket's.

A bot may write only to people who wrote to it before (Telegram and VK forbid a bot to start a
private chat; on Slack the bot knows nobody else's direct-message channel): for anyone else the
agent is told so, and nothing is opened.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.commands import Command
from core.domain import NewTicket, Role
from core.roles import parse_identity
from core.router import Place, Router
from core.text import shorten
from core.tickets import notices
from core.tickets.desk import SUBJECT_LENGTH, TicketDesk
from core.turn import Turn


@dataclass(eq=False)
class WriteCommands:
    desk: TicketDesk

    def register(self, router: Router) -> None:
        router.add("write", self.write, role=Role.AGENT, place=Place.STAFF, help="help.staff.write")

    async def write(self, turn: Turn, command: Command) -> None:
        text = self.desk.tell.staff_text
        reference, _, message = command.args.partition(" ")
        identity = parse_identity(reference)
        if identity is None or not message.strip():
            await turn.reply(text("staff.usage.write"))
            return
        user = await turn.tx.users.find(*identity)
        if user is None or user.chat is None:
            await turn.reply(text("staff.write_unknown", who=reference, channel=identity[0]))
            return
        line = self.desk.lines.of_chat(turn.message.conversation)
        ticket = await turn.tx.tickets.create(
            NewTicket(
                user_id=user.id,
                conversation=user.chat,
                subject=shorten(message.strip(), SUBJECT_LENGTH),
                category=None,
                priority=self.desk.policy.default_priority,
                created_at=turn.now,
                line=line.name if line and line is not self.desk.lines.first else None,
            )
        )
        await turn.audit("ticket.create", "ticket", ticket.id, after=notices.snapshot(ticket))
        opened = text(
            "staff.written_first", number=ticket.number, name=user.name, who=user.reference,
            agent=turn.user.name, text=message.strip(),
        )  # fmt: skip
        await self.desk.tell.staff(turn, ticket, opened)
        ticket = await self.desk.relay_agent_reply(turn, ticket, message.strip(), ())
        # The writer holds it (audited); the user already knows who wrote.
        await self.desk.apply(turn, ticket, assignee_id=turn.user.id)
