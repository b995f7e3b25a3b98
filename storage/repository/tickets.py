"""Tickets, their messages, and the platform messages linked to them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, case, func, insert, select, update

from core.domain import (
    ACTIVE_STATUSES,
    Direction,
    NewTicket,
    Priority,
    SlaEvent,
    Ticket,
    TicketFilter,
    TicketMessage,
    TicketStatus,
)
from core.messages import Attachment
from storage.mapping import (
    attachments_to_json,
    ticket_from_row,
    ticket_message_from_row,
)
from storage.models import message_links, ticket_messages, tickets
from storage.repository._sql import Repository

_INSERT_TICKET = insert(tickets).returning(*tickets.c)
_TICKET_BY_ID = select(tickets).where(tickets.c.id == bindparam("ticket_id"))
_ACTIVE_TICKET = (
    select(tickets)
    .where(
        tickets.c.user_id == bindparam("user_id"),
        tickets.c.status.in_(sorted(status.value for status in ACTIVE_STATUSES)),
    )
    .order_by(tickets.c.id.desc())
    .limit(1)
)
# Active tickets first, then a resolved one (which the user may still reopen), newest first.
_CURRENT_TICKET = (
    select(tickets)
    .where(
        tickets.c.user_id == bindparam("user_id"),
        tickets.c.status.in_(
            sorted({s.value for s in ACTIVE_STATUSES} | {TicketStatus.RESOLVED.value})
        ),
    )
    .order_by(
        case((tickets.c.status == TicketStatus.RESOLVED.value, 1), else_=0), tickets.c.id.desc()
    )
    .limit(1)
)
# The SLA timer columns (see core.domain.TicketSla).
SLA_FIELDS = tuple(
    c.name for c in tickets.c if c.name.startswith(("response_", "resolution_", "sla_"))
)
# SET columns come from the parameters given at execution.
_UPDATE_TICKET = update(tickets).where(tickets.c.id == bindparam("ticket_id")).returning(*tickets.c)
UPDATABLE_TICKET_FIELDS = frozenset(
    {
        "status",
        "priority",
        "category",
        "subject",
        "assignee_id",
        "updated_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        *SLA_FIELDS,
        "waiting_since",
        "waiting_reminded_at",
        "line",
    }
)
# The ticket a platform message belongs to (a reply to it, or its thread): one round trip.
_TICKET_OF_MESSAGE = (
    select(tickets)
    .join(message_links, message_links.c.ticket_id == tickets.c.id)
    .where(
        message_links.c.channel == bindparam("channel"),
        message_links.c.chat_id == bindparam("chat_id"),
        message_links.c.message_id == bindparam("message_id"),
    )
)


_INSERT_TICKET_MESSAGE = insert(ticket_messages).returning(ticket_messages.c.id)
_TICKET_MESSAGES = (
    select(ticket_messages)
    .where(ticket_messages.c.ticket_id == bindparam("ticket_id"))
    .order_by(ticket_messages.c.id)
)


# -- SLA timers

# Timers run only while someone owes the user an answer: not while waiting for the user (the
# pause is added to the deadlines when the wait ends), not once resolved or closed.
_TIMED_STATUSES = (TicketStatus.NEW.value, TicketStatus.OPEN.value)
# (event, point that must have passed, marker that must still be empty). Breaches come first so
# that a ticket whose deadline passed while no monitor ran gets only the breach alert (claiming
# a breach fills in the warning marker too).
_SLA_CLAIMS = (
    (SlaEvent.RESPONSE_BREACH, "response_due_at", "response_breached_at", "response_warned_at"),
    (
        SlaEvent.RESOLUTION_BREACH,
        "resolution_due_at",
        "resolution_breached_at",
        "resolution_warned_at",
    ),
    (SlaEvent.RESPONSE_WARNING, "response_warn_at", "response_warned_at", None),
    (SlaEvent.RESOLUTION_WARNING, "resolution_warn_at", "resolution_warned_at", None),
)


# -- auto-close: reminders, resolutions and closures claimed by a guarded UPDATE


def _lock(conn: Connection, *condition: ColumnElement[bool]) -> list[Ticket]:
    """Every ticket meeting `condition`, by id, locked until the transaction ends; SKIP LOCKED
    (PostgreSQL) lets a second checker pass over rows the first holds, and the first one's
    changes take them out of the condition (SQLite serializes writers anyway)."""
    statement = (
        select(tickets).where(*condition).order_by(tickets.c.id).with_for_update(skip_locked=True)
    )
    return [ticket_from_row(row) for row in conn.execute(statement)]


def _claim(conn: Connection, condition: tuple[ColumnElement[bool], ...], **values) -> list[Ticket]:
    """Set `values` on every ticket meeting `condition` and return them, by id. The condition
    guards the UPDATE itself, so a ticket is claimed once even by two checkers at once; SKIP
    LOCKED (PostgreSQL) lets a second checker pass over rows the first is claiming."""
    candidates = (
        select(tickets.c.id)
        .where(*condition)
        .order_by(tickets.c.id)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(tickets)
        .where(tickets.c.id.in_(candidates), *condition)
        .values(**values)
        .returning(*tickets.c)
    )
    rows = conn.execute(statement).all()
    return [ticket_from_row(row) for row in sorted(rows, key=lambda r: r.id)]


class TicketRepository(Repository):
    """`core.store.Tickets` over SQL."""

    def create(self, new: NewTicket) -> Ticket:
        row = self.conn.execute(
            _INSERT_TICKET,
            {
                "user_id": new.user_id,
                "conversation_channel": new.conversation.channel,
                "conversation_chat_id": new.conversation.chat_id,
                "conversation_thread_id": new.conversation.thread_id,
                "status": TicketStatus.NEW.value,
                "priority": Priority(new.priority).value,
                "category": new.category,
                "subject": new.subject,
                "assignee_id": None,
                "created_at": new.created_at,
                "updated_at": new.created_at,
                "previous_ticket_id": new.previous_ticket_id,
                "line": new.line,
            },
        ).one()
        return ticket_from_row(row)

    def get(self, ticket_id: int) -> Ticket | None:
        row = self.conn.execute(_TICKET_BY_ID, {"ticket_id": ticket_id}).first()
        return ticket_from_row(row) if row is not None else None

    def linked_to(self, channel: str, chat_id: str, message_id: str) -> Ticket | None:
        row = self.conn.execute(
            _TICKET_OF_MESSAGE, {"channel": channel, "chat_id": chat_id, "message_id": message_id}
        ).first()
        return ticket_from_row(row) if row is not None else None

    def find_active(self, user_id: int) -> Ticket | None:
        row = self.conn.execute(_ACTIVE_TICKET, {"user_id": user_id}).first()
        return ticket_from_row(row) if row is not None else None

    def find_current(self, user_id: int) -> Ticket | None:
        row = self.conn.execute(_CURRENT_TICKET, {"user_id": user_id}).first()
        return ticket_from_row(row) if row is not None else None

    def list_for_user(self, user_id: int, limit: int = 10) -> list[Ticket]:
        statement = (
            select(tickets)
            .where(tickets.c.user_id == user_id)
            .order_by(tickets.c.id.desc())
            .limit(limit)
        )
        return [ticket_from_row(row) for row in self.conn.execute(statement)]

    def active(self) -> list[Ticket]:
        """Every active ticket (new, open, waiting), by id."""
        statement = (
            select(tickets).where(tickets.c.status.in_(_ACTIVE_STATUSES)).order_by(tickets.c.id)
        )
        return [ticket_from_row(row) for row in self.conn.execute(statement)]

    def page(
        self, where: TicketFilter, after: tuple[datetime, int] | None, limit: int
    ) -> list[Ticket]:
        conditions: list[ColumnElement[bool]] = []
        if where.statuses:
            conditions.append(tickets.c.status.in_(sorted(s.value for s in where.statuses)))
        if where.lines:
            named = sorted(line for line in where.lines if line is not None)
            in_line = tickets.c.line.in_(named)
            first = None in where.lines  # the first line's tickets have no line recorded
            conditions.append(in_line | tickets.c.line.is_(None) if first else in_line)
        if where.assignee_id is not None:
            conditions.append(tickets.c.assignee_id == where.assignee_id)
        if where.priority is not None:
            conditions.append(tickets.c.priority == where.priority.value)
        if where.updated_since is not None:
            conditions.append(tickets.c.updated_at >= where.updated_since)
        if after is not None:
            moment, ticket_id = after
            conditions.append(
                (tickets.c.updated_at > moment)
                | ((tickets.c.updated_at == moment) & (tickets.c.id > ticket_id))
            )
        statement = (
            select(tickets)
            .where(*conditions)
            .order_by(tickets.c.updated_at, tickets.c.id)
            .limit(limit)
        )
        return [ticket_from_row(row) for row in self.conn.execute(statement)]

    def search(self, words: str, limit: int) -> list[Ticket]:
        """Tickets whose subject or any message contains `words` (any case), newest first."""
        needle = words.lower()
        said = select(ticket_messages.c.ticket_id).where(
            func.lower(ticket_messages.c.text).contains(needle, autoescape=True)
        )
        statement = (
            select(tickets)
            .where(
                func.lower(tickets.c.subject).contains(needle, autoescape=True)
                | tickets.c.id.in_(said)
            )
            .order_by(tickets.c.id.desc())
            .limit(limit)
        )
        return [ticket_from_row(row) for row in self.conn.execute(statement)]

    def update(self, ticket_id: int, **changes: Any) -> Ticket:
        unknown = set(changes) - UPDATABLE_TICKET_FIELDS
        if unknown:
            raise ValueError(f"cannot update ticket field(s): {', '.join(sorted(unknown))}")
        if not changes:
            ticket = self.get(ticket_id)
            if ticket is None:
                raise KeyError(f"no ticket {ticket_id}")
            return ticket
        values = dict(changes)
        if "status" in values:
            values["status"] = TicketStatus(values["status"]).value
        if "priority" in values:
            values["priority"] = Priority(values["priority"]).value
        row = self.conn.execute(_UPDATE_TICKET, {"ticket_id": ticket_id, **values}).first()
        if row is None:
            raise KeyError(f"no ticket {ticket_id}")
        return ticket_from_row(row)

    def count_by_status(self) -> dict[TicketStatus, int]:
        """Every status is present, with 0 when no ticket has it."""
        counts = dict.fromkeys(TicketStatus, 0)
        statement = select(tickets.c.status, func.count()).group_by(tickets.c.status)
        for status, count in self.conn.execute(statement):
            counts[TicketStatus(status)] = count
        return counts

    def claim_sla_events(self, now: datetime) -> list[tuple[SlaEvent, Ticket]]:
        """Mark every passed, unannounced warning point / deadline as announced at `now` and return
        them. A claim is one UPDATE guarded by "marker IS NULL", and on PostgreSQL the candidate
        rows are locked with SKIP LOCKED, so two monitors running at once never claim one event
        twice (SQLite serializes writers anyway)."""
        claimed: list[tuple[SlaEvent, Ticket]] = []
        for event, point, marker, also_mark in _SLA_CLAIMS:
            condition: list[ColumnElement[bool]] = [
                tickets.c.status.in_(_TIMED_STATUSES),
                tickets.c[point] <= now,
                tickets.c[marker].is_(None),
            ]
            if point.startswith("response"):
                condition.append(tickets.c.first_response_at.is_(None))
            candidates = (
                select(tickets.c.id)
                .where(*condition)
                .order_by(tickets.c.id)
                .with_for_update(skip_locked=True)
            )
            values: dict[str, Any] = {marker: now}
            if also_mark is not None:
                values[also_mark] = func.coalesce(tickets.c[also_mark], now)
            statement = (
                update(tickets)
                .where(tickets.c.id.in_(candidates), *condition)
                .values(values)
                .returning(*tickets.c)
            )
            rows = self.conn.execute(statement).all()
            claimed += [(event, ticket_from_row(row)) for row in sorted(rows, key=lambda r: r.id)]
        return claimed

    def claim_waiting_reminders(self, since_before: datetime, now: datetime) -> list[Ticket]:
        """Mark every ticket waiting for the user since `since_before` or earlier and
        not yet reminded as reminded at `now`, and return them."""
        condition = (
            tickets.c.status == TicketStatus.WAITING.value,
            tickets.c.waiting_since <= since_before,
            tickets.c.waiting_reminded_at.is_(None),
        )
        return _claim(self.conn, condition, waiting_reminded_at=now)

    def lock_waiting_since(self, waiting_since_before: datetime) -> list[Ticket]:
        return _lock(
            self.conn,
            tickets.c.status == TicketStatus.WAITING.value,
            tickets.c.waiting_since <= waiting_since_before,
        )

    def lock_resolved_since(self, resolved_before: datetime) -> list[Ticket]:
        return _lock(
            self.conn,
            tickets.c.status == TicketStatus.RESOLVED.value,
            tickets.c.resolved_at <= resolved_before,
        )


class TicketMessageRepository(Repository):
    """`core.store.TicketMessages` over SQL."""

    def add(
        self,
        ticket_id: int,
        author_user_id: int | None,
        direction: Direction,
        text: str,
        attachments: Sequence[Attachment],
        now: datetime,
    ) -> TicketMessage:
        message_id = self.conn.execute(
            _INSERT_TICKET_MESSAGE,
            {
                "ticket_id": ticket_id,
                "author_user_id": author_user_id,
                "direction": Direction(direction).value,
                "text": text,
                "attachments": attachments_to_json(attachments),
                "created_at": now,
            },
        ).scalar_one()
        return TicketMessage(
            id=message_id,
            ticket_id=ticket_id,
            author_user_id=author_user_id,
            direction=Direction(direction),
            text=text,
            attachments=tuple(attachments),
            created_at=now,
        )

    def list(self, ticket_id: int) -> list[TicketMessage]:
        rows = self.conn.execute(_TICKET_MESSAGES, {"ticket_id": ticket_id})
        return [ticket_message_from_row(row) for row in rows]


_ACTIVE_STATUSES = [status.value for status in ACTIVE_STATUSES]
