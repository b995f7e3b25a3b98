"""Which of a user's open tickets a message is about, when they have more than one (/new opens
another while one is open).

A reply to a message of one of their tickets goes to that ticket. Any other message is held
and the user is asked, with a button per ticket; pressing one (`/to N`) adds what was held to
that ticket. If they do not choose within CHOICE_WAIT, a scheduled check (`HeldMessagesJob`)
adds it to the newest ticket: nothing waits for long, nothing is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from core.commands import Command, command_text
from core.domain import Direction, Ticket, TicketStatus, User
from core.domain_toolkit import HeldMessage
from core.messages import Attachment, Button, IncomingMessage, Sender
from core.text import shorten
from core.tickets.desk import TicketDesk
from core.turn import Turn
from core.work import UnitOfWork, Work

log = logging.getLogger(__name__)

CHOICE_WAIT = timedelta(minutes=2)
CHOICES_SHOWN = 5  # the newest open tickets offered as buttons
SUBJECT_IN_LABEL = 28  # "#1234 · " and the subject stay within 40 characters (VK)
RECENT_TICKETS = 20


async def recent_tickets(turn: Turn | Work, user_id: int) -> list[Ticket]:
    """The user's newest tickets, newest first: enough to find every open one."""
    return await turn.tx.tickets.list_for_user(user_id, limit=RECENT_TICKETS)


async def open_tickets(turn: Turn | Work, user_id: int) -> list[Ticket]:
    """The user's active tickets, newest first."""
    return [ticket for ticket in await recent_tickets(turn, user_id) if ticket.status.is_active]


def current_ticket(recent: Sequence[Ticket]) -> Ticket | None:
    """`Tickets.find_current` over `recent_tickets`: the newest active ticket, else the newest
    resolved one (which the user may still reopen)."""
    for wanted in (lambda t: t.status.is_active, lambda t: t.status == TicketStatus.RESOLVED):
        found = next((ticket for ticket in recent if wanted(ticket)), None)
        if found is not None:
            return found
    return None


@dataclass(eq=False)
class TicketChoice:
    desk: TicketDesk

    async def route(
        self,
        turn: Turn,
        text: str,
        attachments: Sequence[Attachment],
        recent: Sequence[Ticket],
    ) -> bool:
        """Add the message to the open ticket it is about, or hold it and ask; False when the
        user has no open ticket (then it is a new question). `recent`: `recent_tickets`."""
        tickets = [ticket for ticket in recent if ticket.status.is_active]
        if not tickets:
            return False
        target = await self._replied_to(turn, tickets)
        if target is None and len(tickets) == 1:
            target = tickets[0]
        if target is not None:
            await self.desk.add_user_message(turn, target, text, attachments)
            return True
        held = await turn.tx.held.add(
            turn.user.id, text, attachments, turn.message.message_id, turn.now
        )
        if held == 1:  # asked once, however many messages follow before the choice
            await turn.reply(
                turn.t(
                    "user.which_ticket",
                    number=tickets[0].number,
                    count=int(CHOICE_WAIT.total_seconds() // 60),
                ),
                buttons=ticket_buttons(tickets, "to"),
            )
        return True

    async def edited(self, turn: Turn) -> None:
        """The user edited or deleted a message: the staff of their newest open ticket see the
        new wording, or that it was deleted (what it said stays on the ticket, never removed
        silently). An edit of a question the bot already answered needs nothing."""
        tickets = await open_tickets(turn, turn.user.id)
        text = turn.message.text.strip()
        if not tickets or not text:
            return
        ticket, deleted = tickets[0], turn.message.deleted
        if not deleted:
            await turn.tx.messages.add(
                ticket.id, turn.user.id, Direction.FROM_USER, text, (), turn.now
            )
        key = "staff.user_deleted" if deleted else "staff.user_edited"
        notice = self.desk.tell.staff_text(
            key, number=ticket.number, name=turn.user.name, text=text
        )
        await self.desk.tell.staff(turn, ticket, notice)

    async def choose(self, turn: Turn, command: Command) -> None:
        """/to N: what was held goes to ticket N."""
        number = command.int_arg()
        tickets = {t.number: t for t in await open_tickets(turn, turn.user.id)}
        if number not in tickets:
            await turn.reply(turn.t("user.ticket_not_found", number=number or "?"))
            return
        held = await turn.tx.held.take(turn.user.id)
        if not held:
            await turn.reply(turn.t("user.nothing_held"))
            return
        await self.add_held(turn, tickets[number], held)
        await turn.reply(turn.t("user.added_to", number=number))

    async def add_held(self, turn: Turn, ticket: Ticket, held: Sequence[HeldMessage]) -> None:
        for message in held:
            await self.desk.add_user_message(turn, ticket, message.text, message.attachments)

    async def _replied_to(self, turn: Turn, tickets: Sequence[Ticket]) -> Ticket | None:
        """The ticket whose message the user's message replies to, if one of these."""
        message = turn.message
        if message.reply_to_message_id is None:
            return None
        conversation = message.conversation
        ticket_id = await turn.tx.links.find_ticket(
            conversation.channel, conversation.chat_id, message.reply_to_message_id
        )
        return next((t for t in tickets if t.id == ticket_id), None)


@dataclass(eq=False)
class HeldMessagesJob:
    """Held messages whose user did not choose within CHOICE_WAIT go to their newest open
    ticket (or, if none is open any more, to the newest one, reopened as a message would)."""

    unit_of_work: UnitOfWork
    choice: TicketChoice

    async def check(self) -> int:
        async with self.unit_of_work() as work:
            held = await work.tx.held.take_due(work.now - CHOICE_WAIT)
            by_user: dict[int, list[HeldMessage]] = {}
            for message in held:
                by_user.setdefault(message.user_id, []).append(message)
            for user_id, messages in by_user.items():
                await self._to_newest(work, user_id, messages)
        if held:
            log.info("held messages added to the newest ticket", extra={"count": len(held)})
        return len(held)

    async def _to_newest(self, work: Work, user_id: int, messages: list[HeldMessage]) -> None:
        user = await work.tx.users.get(user_id)
        tickets = await open_tickets(work, user_id)
        if user is None or user.chat is None or not tickets:
            # Closed meanwhile: kept on the newest ticket's record, as the user wrote them.
            recent = await work.tx.tickets.list_for_user(user_id, limit=1)
            for message in messages if recent else ():
                await work.tx.messages.add(
                    recent[0].id, user_id, Direction.FROM_USER, message.text, message.attachments,
                    message.held_at,
                )  # fmt: skip
            return
        turn = _turn_of(work, user, messages[0])
        await self.choice.add_held(turn, tickets[0], messages)
        await turn.finish()


def ticket_buttons(tickets: Sequence[Ticket], command: str) -> tuple[tuple[Button, ...], ...]:
    """A button per ticket (the newest CHOICES_SHOWN), "#12 · subject", sending `/command 12`."""
    return tuple(
        (
            Button(
                f"#{t.number} · {shorten(t.subject, SUBJECT_IN_LABEL)}",
                command_text(command, t.number),
            ),
        )
        for t in tickets[:CHOICES_SHOWN]
    )


def _turn_of(work: Work, user: User, message: HeldMessage) -> Turn:
    """A turn for a held message, handled late in a scheduled check: replies (a file too large
    for the staff chat's platform) reach the user in their private chat."""
    assert user.chat is not None
    incoming = IncomingMessage(
        update_id=f"held-{message.id}",
        conversation=user.chat,
        sender=Sender(user.external_id, user.display_name, user.language),
        text=message.text,
        message_id=message.message_id,
        attachments=message.attachments,
    )
    return Turn.within(work, incoming, user, user.language or work.texts.default_language)
