"""The operations of the HTTP API, in the name of a token: the same desk, validation and audit
as the staff commands, each request one unit of work. The token acts as a person of its own
("api:<name>" in the audit log and the staff chat); what the core would say back to that
person (a refusal, a file too large) is collected for the response instead of being sent."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from core.api.tokens import hash_secret
from core.domain import (
    Ban,
    FaqDraft,
    FaqEntry,
    Priority,
    Ticket,
    TicketFilter,
    TicketMessage,
    TicketStatus,
    User,
)
from core.domain_toolkit import ApiToken
from core.i18n import SUPPORTED_LANGUAGES
from core.messages import Button, ConversationRef, IncomingMessage, Sender
from core.reports.build import Report, build_report, parse_period
from core.roles import Roles
from core.staff.admin_commands import AdminCommands
from core.staff.ban_commands import BanCommands
from core.tickets.desk import TicketDesk
from core.turn import Turn
from core.work import UnitOfWork, Work

API_CHANNEL = "api"  # the channel of the people tokens act as
PAGE_LIMIT = 200
TEXT_LIMIT = 4000  # a reply or note: as long as a chat message may be


class ApiError(Exception):
    """A request the API refuses: the HTTP status, a machine-readable code, what went wrong."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.retry_after: float | None = None  # seconds, for a 429


@dataclass(kw_only=True)
class ApiTurn(Turn):
    """A token's request as a turn; `notices`: what the core said back to the token."""

    notices: list[str] = field(default_factory=list)

    async def reply(self, text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> None:
        self.notices.append(text)


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
class ApiService:
    unit_of_work: UnitOfWork
    desk: TicketDesk
    admin: AdminCommands
    bans: BanCommands
    roles: Roles
    zone: tzinfo
    reachable: Collection[str]  # the channels users can be reached on (tickets may open there)

    # -- tokens

    async def authenticate(self, secret: str) -> ApiToken | None:
        async with self.unit_of_work.store.transaction() as tx:
            return await tx.api_tokens.by_hash(hash_secret(secret))

    # -- tickets

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

    # -- knowledge base

    async def entries(self) -> list[FaqEntry]:
        async with self.unit_of_work() as work:
            return await work.tx.faq.list()

    async def entry(self, entry_id: int) -> FaqEntry:
        async with self.unit_of_work() as work:
            return await self._entry(work, entry_id)

    async def save_entry(self, token: ApiToken, entry_id: int | None, fields: dict) -> FaqEntry:
        """Create (no `entry_id`) or change an entry; `fields` as FaqDraft's, those left out
        keep their value (a new entry needs question and answer)."""
        async with self.unit_of_work() as work:
            turn = await self._token_turn(work, token)
            if entry_id is None:
                draft = _draft(None, fields)
                return await self.admin.create_entry(turn, draft)
            entry = await self._entry(work, entry_id)
            return await self.admin.update_entry(turn, entry, _draft(entry, fields))

    async def delete_entry(self, token: ApiToken, entry_id: int) -> None:
        async with self.unit_of_work() as work:
            entry = await self._entry(work, entry_id)
            await self.admin.delete_entry(await self._token_turn(work, token), entry)

    # -- users

    async def user(self, channel: str, external_id: str) -> tuple[User, list[Ticket]]:
        async with self.unit_of_work() as work:
            user = await self._user(work, channel, external_id)
            return user, await work.tx.tickets.list_for_user(user.id, limit=20)

    async def ban(
        self,
        token: ApiToken,
        person: tuple[str, str],
        shadow: bool,
        duration: timedelta | None,
        reason: str,
    ) -> Ban:
        async with self.unit_of_work() as work:
            user = await self._user(work, *person)
            ban = await self.bans.impose(await self._token_turn(work, token), user, shadow,
                                         duration, reason)  # fmt: skip
            if ban is None:
                raise ApiError(409, "staff_member", "staff members cannot be banned")
            return ban

    async def unban(self, token: ApiToken, person: tuple[str, str]) -> bool:
        async with self.unit_of_work() as work:
            user = await self._user(work, *person)
            return await self.bans.lift(await self._token_turn(work, token), user)

    # -- reports

    async def report(self, first: str, last: str, line: str | None) -> Report:
        async with self.unit_of_work() as work:
            period = parse_period(f"{first}..{last}", work.now, self.zone)
            if period is None:
                raise ApiError(400, "bad_period", "from and to are days YYYY-MM-DD, at most 366")
            name = self._line(line).name if line else None
            goal = self.desk.sla.goal if self.desk.sla else None
            return await build_report(work.tx, period, self.desk.lines, work.now, name, goal)

    # -- helpers

    async def _token_turn(self, work: Work, token: ApiToken) -> ApiTurn:
        """The turn of the person the token acts as (made on its first change)."""
        chat = ConversationRef(API_CHANNEL, token.name)
        person, _ = await work.tx.users.upsert(
            API_CHANNEL, token.name, token.name, None, None, work.now
        )
        return self._turn(work, person, chat)

    def _turn(self, work: Work, person: User, chat: ConversationRef) -> ApiTurn:
        message = IncomingMessage(
            update_id="", conversation=chat, sender=Sender(person.external_id), is_private=False
        )
        return ApiTurn(
            tx=work.tx, now=work.now, texts=work.texts, outbox=work.outbox,
            faq_counts=work.faq_counts, after_commit=work.after_commit, message=message,
            user=person, language=person.language or self.desk.staff_language,
        )  # fmt: skip

    async def _ticket(self, work: Work, number: int) -> Ticket:
        ticket = await work.tx.tickets.get(number)
        if ticket is None:
            raise ApiError(404, "ticket_not_found", f"no ticket {number}")
        return ticket

    async def _entry(self, work: Work, entry_id: int) -> FaqEntry:
        entry = await work.tx.faq.get(entry_id)
        if entry is None:
            raise ApiError(404, "entry_not_found", f"no knowledge-base entry {entry_id}")
        return entry

    async def _user(self, work: Work, channel: str, external_id: str) -> User:
        user = await work.tx.users.find(channel, external_id)
        if user is None or channel == API_CHANNEL:
            raise ApiError(404, "user_not_found", f"no user {channel}:{external_id}")
        return user

    def _line(self, name: str | None):
        line = self.desk.lines.named(name)
        if line is None:
            known = ", ".join(known.name for known in self.desk.lines)
            raise ApiError(422, "unknown_line", f"no support line {name!r} (known: {known})")
        return line


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


def _draft(entry: FaqEntry | None, fields: dict) -> FaqDraft:
    """What the bot command checks: a question and an answer, a language it speaks."""
    question = fields.get("question", entry.question if entry else "")
    answer = fields.get("answer", entry.answer if entry else "")
    language = fields.get("language", entry.language if entry else SUPPORTED_LANGUAGES[0])
    if not question.strip() or not answer.strip():
        raise ApiError(422, "empty", "an entry needs a question and an answer")
    if language not in SUPPORTED_LANGUAGES:
        raise ApiError(422, "bad_language", f"language is one of {', '.join(SUPPORTED_LANGUAGES)}")
    variants = fields.get("variants", entry.variants if entry else ())
    return FaqDraft(
        question=question.strip(),
        answer=answer.strip(),
        language=language,
        variants=tuple(v.strip() for v in variants if v.strip()),
        category=fields.get("category", entry.category if entry else None) or None,
        enabled=fields.get("enabled", entry.enabled if entry else True),
    )


def _encode_cursor(moment: datetime, ticket_id: int) -> str:
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{ticket_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        moment, _, ticket_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(moment), int(ticket_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise ApiError(400, "bad_cursor", "cursor is not one this API gave") from error
