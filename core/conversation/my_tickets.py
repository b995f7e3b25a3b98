"""A user's own tickets: /status, /ticket N, /close [N], /reopen N (what "Not solved" sends)."""

from __future__ import annotations

from dataclasses import dataclass

from core.commands import Command
from core.conversation.ticket_choice import open_tickets, ticket_buttons
from core.domain import Ticket, TicketStatus
from core.text import shorten
from core.tickets.desk import TicketDesk
from core.turn import Turn

RECENT_TICKETS = 10
TICKET_HISTORY = 5


@dataclass(eq=False)
class MyTickets:
    desk: TicketDesk

    async def status(self, turn: Turn, command: Command) -> None:
        tickets = await turn.tx.tickets.list_for_user(turn.user.id, limit=RECENT_TICKETS)
        if not tickets:
            await turn.reply(turn.t("user.no_tickets"))
            return
        lines = [_ticket_line(turn, t) for t in tickets]
        await turn.reply(turn.t("user.status_header") + "\n" + "\n".join(lines))

    async def ticket(self, turn: Turn, command: Command) -> None:
        ticket = await self._own_ticket(turn, command, "user.usage.ticket")
        if ticket is None:
            return
        history = [
            m for m in await turn.tx.messages.list(ticket.id) if m.direction.value != "note"
        ][-TICKET_HISTORY:]
        lines = [
            turn.t(f"user.history.{m.direction.value}", text=shorten(m.text or "—", 200))
            for m in history
        ]
        await turn.reply(_ticket_line(turn, ticket) + "\n\n" + "\n".join(lines))

    async def close(self, turn: Turn, command: Command) -> None:
        if command.int_arg() is not None:
            ticket = await self._own_ticket(turn, command, "user.usage.ticket")
        else:
            several = await open_tickets(turn, turn.user.id)
            if len(several) > 1:  # which one: never the wrong one closed
                buttons = ticket_buttons(several, "close")
                await turn.reply(turn.t("user.which_to_close"), buttons=buttons)
                return
            ticket = await turn.tx.tickets.find_current(turn.user.id)
            if ticket is None:
                await turn.reply(turn.t("user.nothing_to_close"))
        if ticket is None:
            return
        if ticket.status == TicketStatus.CLOSED:
            await turn.reply(turn.t("user.already_closed", number=ticket.number))
            return
        await self.desk.close(turn, ticket, by_user=True)

    async def reopen(self, turn: Turn, command: Command) -> None:
        """ "Not solved" under a resolution: within the reopen window only."""
        ticket = await self._own_ticket(turn, command, "user.usage.reopen")
        if ticket is None:
            return
        if ticket.status.is_active:
            await turn.reply(turn.t("user.still_open", number=ticket.number))
        elif self.desk.policy.may_reopen(ticket, turn.now):
            await self.desk.reopen(turn, ticket)
        else:
            await turn.reply(turn.t("user.cannot_reopen", number=ticket.number))

    async def _own_ticket(self, turn: Turn, command: Command, usage: str) -> Ticket | None:
        """The user's ticket whose number comes first in the arguments (else the usage);
        someone else's looks exactly like a missing one."""
        number = command.int_arg()
        if number is None:
            await turn.reply(turn.t(usage))
            return None
        ticket = await turn.tx.tickets.get(number)
        if ticket is None or ticket.user_id != turn.user.id:
            await turn.reply(turn.t("user.ticket_not_found", number=number))
            return None
        return ticket


def _ticket_line(turn: Turn, ticket: Ticket) -> str:
    return turn.t(
        "user.ticket_line",
        number=ticket.number,
        status=turn.t(f"status.{ticket.status.value}"),
        subject=ticket.subject,
    )
