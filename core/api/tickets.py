"""The HTTP API's ticket operations: pages of tickets, one with its messages, opening one for
a person, replies, notes and changes, each as the staff command would make it."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from core.api.acting import API_CHANNEL, Acting, ApiError, ApiTurn
from core.domain import Priority, Ticket, TicketFilter, TicketMessage, TicketStatus, User
from core.domain_toolkit import ApiToken
from core.messages import ConversationRef
from core.roles import Roles
from core.work import Work

PAGE_LIMIT = 200
TEXT_LIMIT = 4000  # a reply or note: as long as a chat message may be


@dataclass(frozen=True)
class TicketPage:
    tickets: list[Ticket]
    cursor: str | None  # where the next page starts; None: this was the last


@dataclass(frozen=True)
class TicketChanges:
    """A PATCH of a ticket; None leaves a field as it is (`assignee` "": unassign)."""

    status: TicketStatus | None = None
    priority: Priority | None = None
    category: str | None = None
    assignee: str | None = None  # "channel:id" of an agent
    line: str | None = None
    note: str = ""  # goes with a resolution or closing, and with a move as its reason


@dataclass(eq=False)
class TicketApi(Acting):
    roles: Roles
    reachable: Collection[str]  # the channels users can be reached on (tickets may open there)

    async def tickets(self, where: TicketFilter, cursor: str | None, limit: int) -> TicketPage:
        if not 1 <= limit <= PAGE_LIMIT:
            raise ApiError(400, "bad_limit", f"limit must be 1..{PAGE_LIMIT}")
        after = _decode_cursor(cursor) if cursor else None
        async with self.unit_of_work() as work:
            found = await work.tx.tickets.page(where, after, limit + 1)
        more = len(found) > limit
        found = found[:limit]
        last = found[-1] if more else None
        return TicketPage(found, _encode_cursor(last.updated_at, last.id) if last else None)

    async def ticket(self, number: int) -> tuple[Ticket, User | None, list[TicketMessage]]:
        async with self.unit_of_work() as work:
            ticket = await self._ticket(work, number)
            owner = await work.tx.users.get(ticket.user_id)
            return ticket, owner, await work.tx.messages.list(ticket.id)

    def line_filter(self, name: str) -> frozenset[str | None]:
        """The `lines` of a `TicketFilter` for one line's name (the first is stored as None)."""
        line = self._line(name)
        return (
            frozenset({None, line.name})
            if line == self.desk.lines.first
            else frozenset({line.name})
        )

    async def open_ticket(
        self,
        token: ApiToken,
        person: tuple[str, str],
        text: str,
        *,
        name: str = "",
        subject: str | None = None,
        priority: Priority | None = None,
        category: str | None = None,
        line: str | None = None,
    ) -> tuple[Ticket, list[str]]:
        """A ticket of `person` ("channel", "id"): someone who wrote to the bot before, or an
        e-mail address (who needs not have written: the mail channel can reach anyone)."""
        channel, external_id = person
        if channel not in self.reachable:
            raise ApiError(422, "channel_unavailable", f"no {channel!r} channel is running here")
        target = self._line(line) if line else None
        _text(text, "text")
        async with self.unit_of_work() as work:
            owner = await work.tx.users.find(channel, external_id)
            if owner is None and channel == "email":
                chat = ConversationRef(channel, external_id)
                owner, _ = await work.tx.users.upsert(
                    channel, external_id, name, None, chat, work.now
                )
            if owner is None or owner.chat is None:
                raise ApiError(404, "user_not_found", f"{channel}:{external_id} never wrote here")
            turn = self._turn(work, owner, owner.chat)
            turn.actor = f"{API_CHANNEL}:{token.name}"
            ticket = await self.desk.open(
                turn, text, category=category, subject=subject, priority=priority,
                line=None if target in (None, self.desk.lines.first) else target.name,
            )  # fmt: skip
            return ticket, turn.notices

    async def reply(self, token: ApiToken, number: int, text: str) -> tuple[Ticket, list[str]]:
        _text(text, "text")
        async with self.unit_of_work() as work:
            ticket = await self._ticket(work, number)
            if ticket.status == TicketStatus.CLOSED:
                raise ApiError(409, "ticket_closed", f"ticket {number} is closed; reopen it first")
            turn = await self._token_turn(work, token)
            ticket = await self.desk.relay_agent_reply(turn, ticket, text, ())
            return ticket, turn.notices

    async def note(self, token: ApiToken, number: int, text: str) -> Ticket:
        """An internal note: kept on the ticket and shown in its staff thread, never to the
        user."""
        _text(text, "text")
        async with self.unit_of_work() as work:
            ticket = await self._ticket(work, number)
            turn = await self._token_turn(work, token)
            await self.desk.add_note(turn, ticket, text)
            shown = self.desk.tell.staff_text("staff.api_note", name=turn.user.name, text=text)
            await self.desk.tell.staff(turn, ticket, shown)
            return ticket

    async def change(
        self, token: ApiToken, number: int, changes: TicketChanges
    ) -> tuple[Ticket, list[str]]:
        """Each change as the staff command would make it, in this order: line, assignee,
        priority, category, status."""
        target = self._line(changes.line) if changes.line else None
        async with self.unit_of_work() as work:
            ticket = await self._ticket(work, number)
            turn = await self._token_turn(work, token)
            desk = self.desk
            if target is not None and target != desk.lines.of_ticket(ticket):
                _active(ticket)
                ticket = await desk.move(
                    turn, ticket, target, by=turn.user.name, reason=changes.note
                )
            if changes.assignee is not None:
                ticket = await self._assign(turn, ticket, changes.assignee)
            if changes.priority is not None and changes.priority != ticket.priority:
                ticket = await desk.set_priority(turn, ticket, changes.priority)
            if changes.category is not None and changes.category != (ticket.category or ""):
                ticket = await desk.set_category(turn, ticket, changes.category or None)
            if changes.status is not None and changes.status != ticket.status:
                ticket = await self._set_status(turn, ticket, changes.status, changes.note)
            return ticket, turn.notices

    async def _assign(self, turn: ApiTurn, ticket: Ticket, assignee: str) -> Ticket:
        if assignee == "":
            return await self.desk.unassign(turn, ticket) if ticket.assignee_id else ticket
        channel, _, external_id = assignee.partition(":")
        agent = await turn.tx.users.find(channel, external_id)
        if agent is None or not await self.roles.of_identity(turn.tx, channel, external_id):
            raise ApiError(422, "not_an_agent", f"{assignee} is not an agent who wrote here")
        if agent.id == ticket.assignee_id:
            return ticket
        _active(ticket)
        return await self.desk.assign(turn, ticket, agent)

    async def _set_status(
        self, turn: ApiTurn, ticket: Ticket, status: TicketStatus, note: str
    ) -> Ticket:
        desk = self.desk
        if status == TicketStatus.CLOSED:
            return await desk.close(turn, ticket, by_user=False, note=note)
        if status == TicketStatus.RESOLVED:
            return await desk.resolve(turn, _active(ticket), note)
        if status == TicketStatus.WAITING:
            return await desk.wait_for_user(turn, _active(ticket), note)
        if status == TicketStatus.OPEN:
            if ticket.status in (TicketStatus.CLOSED, TicketStatus.RESOLVED):
                return await desk.reopen(turn, ticket)
            return await desk.apply(turn, ticket, status=status, updated_at=turn.now)
        raise ApiError(422, "bad_status", "a ticket cannot be made new again")

    async def _ticket(self, work: Work, number: int) -> Ticket:
        ticket = await work.tx.tickets.get(number)
        if ticket is None:
            raise ApiError(404, "ticket_not_found", f"no ticket {number}")
        return ticket


def _active(ticket: Ticket) -> Ticket:
    if not ticket.status.is_active:
        raise ApiError(409, "ticket_not_active", f"ticket {ticket.number} is {ticket.status}")
    return ticket


def _text(text: str, name: str) -> str:
    if not text.strip():
        raise ApiError(422, "empty", f"{name} must not be empty")
    if len(text) > TEXT_LIMIT:
        raise ApiError(422, "too_long", f"{name} is longer than {TEXT_LIMIT} characters")
    return text


def _encode_cursor(moment: datetime, ticket_id: int) -> str:
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{ticket_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        moment, _, ticket_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(moment), int(ticket_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise ApiError(400, "bad_cursor", "cursor is not one this API gave") from error
