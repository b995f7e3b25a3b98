"""Ticket events for other systems (outbound webhooks: a CRM hearing of its customer's ticket,
a dashboard). Each event is queued in the outbox in the unit of work of the change itself, once
for every endpoint that wants it, so it is sent if and only if the change committed; the outbox
retries it with backoff, keeps each endpoint's events in order, and a restart loses none.
`channels.webhook` posts them, signed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.domain import Direction, Priority, Ticket, TicketStatus
from core.messages import Attachment, ConversationRef, OutgoingMessage
from core.work import Work

WEBHOOK_CHANNEL = "webhook"  # the outbox's channel of every webhook delivery; chat: the endpoint

EVENT_TYPES = (
    "ticket.created",
    "ticket.message",  # from the user, or an agent's reply to them
    "ticket.status_changed",
    "ticket.assigned",
    "ticket.escalated",  # moved to another support line
    "ticket.priority_changed",
    "ticket.sla_warning",
    "ticket.sla_breach",
    "ticket.rated",
)
# Ticket fields whose change is an event of its own.
_CHANGES = (
    ("status", "ticket.status_changed"),
    ("assignee_id", "ticket.assigned"),
    ("line", "ticket.escalated"),
    ("priority", "ticket.priority_changed"),
)


@dataclass(frozen=True)
class Endpoint:
    name: str
    events: frozenset[str] = frozenset()  # empty: every event


class TicketEvents:
    def __init__(self, endpoints: Sequence[Endpoint] = ()) -> None:
        unknown = {e for endpoint in endpoints for e in endpoint.events} - set(EVENT_TYPES)
        if unknown:
            raise ValueError(f"unknown webhook events: {', '.join(sorted(unknown))}")
        self.endpoints = tuple(endpoints)

    async def emit(self, work: Work, event: str, ticket: Ticket, **data: Any) -> None:
        """Queue `event` about `ticket` (with `data`, JSON values) for every endpoint wanting it."""
        wanted = [e for e in self.endpoints if not e.events or event in e.events]
        if not wanted:
            return
        body = {
            "id": str(uuid.uuid4()),  # the same in every retry: receivers de-duplicate by it
            "type": event,
            "created_at": work.now.isoformat(),
            "actor": work.actor,  # "channel:id" of who did it; None: the helpdesk itself
            "ticket": ticket_json(ticket),
            **data,
        }
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        for endpoint in wanted:
            await work.send(OutgoingMessage(ConversationRef(WEBHOOK_CHANNEL, endpoint.name), text))

    async def changed(self, work: Work, before: Ticket, after: Ticket) -> None:
        """The events of a ticket's change: status, assignee, line, priority."""
        for name, event in _CHANGES:
            old, new = plain(getattr(before, name)), plain(getattr(after, name))
            if old != new:
                await self.emit(work, event, after, change={"from": old, "to": new})


def message_json(
    text: str, attachments: Sequence[Attachment], direction: Direction = Direction.FROM_USER
) -> dict[str, Any]:
    return {"direction": direction.value, "text": text, "attachments": len(attachments)}


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "number": ticket.number,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "category": ticket.category,
        "line": ticket.line,
        "subject": ticket.subject,
        "assignee_id": ticket.assignee_id,
        "user_id": ticket.user_id,
        "user_channel": ticket.conversation.channel,
        "user_chat_id": ticket.conversation.chat_id,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "first_response_at": _iso(ticket.first_response_at),
        "resolved_at": _iso(ticket.resolved_at),
        "closed_at": _iso(ticket.closed_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def plain(value: object) -> object:
    """A field's value as JSON and the audit log keep it (an enum's value)."""
    return value.value if isinstance(value, Priority | TicketStatus) else value
