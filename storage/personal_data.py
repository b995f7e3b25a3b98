"""A person's data (`helpdesk user export|erase CHANNEL:ID`): everything the helpdesk keeps of
one user identity, as JSON, and its erasure.

Erasure keeps the shape of the records (tickets, their timeline, ratings, the question log) so
that reports stay right, and removes what says who the person is or what they wrote: the name,
the chat, the conversation state and ban; the text and files of every message on their tickets
(the agents' replies quote them too) and the tickets' subjects; rating comments; their logged
questions; their held messages; unsent messages to them; and their name as the actor of audit
entries, with what those entries recorded. The identity's id on the platform is replaced, so a
later message from them starts afresh. What the messengers themselves keep (the chats, the
staff chat's copies) is out of the helpdesk's reach."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from core.domain import OutboxStatus
from storage.models import (
    audit_log,
    held_messages,
    outbox,
    questions,
    ticket_messages,
    ticket_ratings,
    tickets,
    users,
)

ERASED = "[erased]"


def _user(connection: Connection, channel: str, external_id: str) -> Any:
    return connection.execute(
        select(users).where(users.c.channel == channel, users.c.external_id == external_id)
    ).first()


def _rows(connection: Connection, statement: Any) -> list[dict[str, Any]]:
    return [_plain(dict(row._mapping)) for row in connection.execute(statement)]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def export_user(connection: Connection, channel: str, external_id: str) -> dict[str, Any] | None:
    """Everything kept of that identity; None when the helpdesk does not know it."""
    user = _user(connection, channel, external_id)
    if user is None:
        return None
    own_tickets = select(tickets.c.id).where(tickets.c.user_id == user.id)
    actor = f"{channel}:{external_id}"
    return {
        "user": _plain(dict(user._mapping)),
        "tickets": _rows(connection, select(tickets).where(tickets.c.user_id == user.id)),
        "messages": _rows(
            connection,
            select(ticket_messages)
            .where(ticket_messages.c.ticket_id.in_(own_tickets))
            .order_by(ticket_messages.c.id),
        ),
        "ratings": _rows(
            connection, select(ticket_ratings).where(ticket_ratings.c.user_id == user.id)
        ),
        "questions": _rows(connection, select(questions).where(questions.c.user_id == user.id)),
        "held_messages": _rows(
            connection, select(held_messages).where(held_messages.c.user_id == user.id)
        ),
        "audit": _rows(connection, select(audit_log).where(audit_log.c.actor == actor)),
    }


def erase_user(
    connection: Connection, channel: str, external_id: str, now: datetime
) -> dict[str, int] | None:
    """Erase that identity's personal data (see the module's text); how many records of each
    kind changed. None when the helpdesk does not know it. Audited as "user.erased"."""
    user = _user(connection, channel, external_id)
    if user is None:
        return None
    own_tickets = select(tickets.c.id).where(tickets.c.user_id == user.id).scalar_subquery()
    actor = f"{channel}:{external_id}"
    counts = {
        "tickets": connection.execute(
            update(tickets).where(tickets.c.user_id == user.id).values(subject=ERASED)
        ).rowcount,
        "messages": connection.execute(
            update(ticket_messages)
            .where(ticket_messages.c.ticket_id.in_(own_tickets))
            .values(text=ERASED, attachments=[])
        ).rowcount,
        "ratings": connection.execute(
            update(ticket_ratings).where(ticket_ratings.c.user_id == user.id).values(comment=None)
        ).rowcount,
        "questions": connection.execute(
            update(questions).where(questions.c.user_id == user.id).values(text=ERASED)
        ).rowcount,
        "held_messages": connection.execute(
            delete(held_messages).where(held_messages.c.user_id == user.id)
        ).rowcount,
        "unsent_messages": connection.execute(
            delete(outbox).where(
                outbox.c.status == OutboxStatus.PENDING.value,
                or_(
                    outbox.c.ticket_id.in_(own_tickets),
                    (outbox.c.channel == user.chat_channel) & (outbox.c.chat_id == user.chat_id),
                ),
            )
        ).rowcount,
        "audit": connection.execute(
            update(audit_log)
            .where(audit_log.c.actor == actor)
            .values(actor=ERASED, before=None, after=None)
        ).rowcount,
    }
    connection.execute(
        update(users)
        .where(users.c.id == user.id)
        .values(
            external_id=f"erased-{user.id}",
            display_name="",
            chat_channel=None,
            chat_id=None,
            chat_thread_id=None,
            state=None,
            ban=None,
        )
    )
    connection.execute(
        insert(audit_log).values(
            actor=None,
            action="user.erased",
            object_type="user",
            object_id=str(user.id),
            before=None,
            after=counts,
            at=now,
        )
    )
    return counts
