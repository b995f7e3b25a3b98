"""Conversions between table rows and the records of `core.domain` / `core.messages`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row

from core.domain import (
    AuditRecord,
    Ban,
    Direction,
    FaqEntry,
    MessageLink,
    OutboxItem,
    OutboxStatus,
    Priority,
    QuestionOutcome,
    QuestionRecord,
    Ticket,
    TicketMessage,
    TicketRating,
    TicketSla,
    TicketStatus,
    User,
)
from core.domain_toolkit import Announcement, ApiToken, HeldMessage, Incident, Macro
from core.messages import Attachment, Button, ConversationRef, OutgoingMessage

T = TypeVar("T")


def _record(cls: type[T], row: Row[Any], **converted: Any) -> T:
    """A record whose fields are the row's columns of the same names, except `converted`."""
    columns = row._mapping
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: converted[name] if name in converted else columns[name] for name in names})


def user_from_row(row: Row[Any]) -> User:
    chat = None
    if row.chat_channel is not None and row.chat_id is not None:
        chat = ConversationRef(row.chat_channel, row.chat_id, row.chat_thread_id)
    return User(
        id=row.id,
        channel=row.channel,
        external_id=row.external_id,
        display_name=row.display_name,
        language=row.language,
        chat=chat,
        created_at=row.created_at,
        state=row.state,
        ban=ban_from_json(row.ban),
        announcements_off=bool(row.announcements_off),
    )


def ban_to_json(ban: Ban | None) -> dict[str, Any] | None:
    if ban is None:
        return None
    return {
        "shadow": ban.shadow,
        "since": ban.since.isoformat(),
        "until": ban.until.isoformat() if ban.until else None,
        "reason": ban.reason,
        "by": ban.by,
        "notified": ban.notified,
    }


def ban_from_json(data: dict[str, Any] | None) -> Ban | None:
    if not data:
        return None
    until = data.get("until")
    return Ban(
        shadow=bool(data["shadow"]),
        since=datetime.fromisoformat(data["since"]),
        until=datetime.fromisoformat(until) if until else None,
        reason=data.get("reason", ""),
        by=data.get("by", ""),
        notified=bool(data.get("notified")),
    )


def ticket_from_row(row: Row[Any]) -> Ticket:
    return Ticket(
        id=row.id,
        user_id=row.user_id,
        conversation=ConversationRef(
            row.conversation_channel, row.conversation_chat_id, row.conversation_thread_id
        ),
        status=TicketStatus(row.status),
        priority=Priority(row.priority),
        category=row.category,
        subject=row.subject,
        assignee_id=row.assignee_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        previous_ticket_id=row.previous_ticket_id,
        sla=TicketSla(
            response_warn_at=row.response_warn_at,
            response_due_at=row.response_due_at,
            response_warned_at=row.response_warned_at,
            response_breached_at=row.response_breached_at,
            resolution_warn_at=row.resolution_warn_at,
            resolution_due_at=row.resolution_due_at,
            resolution_warned_at=row.resolution_warned_at,
            resolution_breached_at=row.resolution_breached_at,
            paused_since=row.sla_paused_since,
            paused_seconds=row.sla_paused_seconds or 0.0,
        ),
        waiting_since=row.waiting_since,
        waiting_reminded_at=row.waiting_reminded_at,
        line=row.line,
    )


def rating_from_row(row: Row[Any]) -> TicketRating:
    return _record(TicketRating, row)


def attachments_to_json(attachments: Iterable[Attachment]) -> list[dict[str, Any]]:
    return [attachment.to_dict() for attachment in attachments]


def attachments_from_json(data: Sequence[dict[str, Any]] | None) -> tuple[Attachment, ...]:
    return tuple(Attachment.from_dict(item) for item in data or ())


def ticket_message_from_row(row: Row[Any]) -> TicketMessage:
    return _record(
        TicketMessage,
        row,
        direction=Direction(row.direction),
        attachments=attachments_from_json(row.attachments),
    )


def message_link_from_row(row: Row[Any]) -> MessageLink:
    return _record(MessageLink, row, is_anchor=bool(row.is_anchor))


def faq_entry_from_row(
    row: Row[Any], variants: Sequence[str], learned: Sequence[str] = ()
) -> FaqEntry:
    return FaqEntry(
        id=row.id,
        question=row.question,
        answer=row.answer,
        language=row.language,
        variants=tuple(variants),
        category=row.category,
        enabled=bool(row.enabled),
        hits=row.hits,
        helpful=row.helpful,
        unhelpful=row.unhelpful,
        learned=tuple(learned),
    )


def audit_from_row(row: Row[Any]) -> AuditRecord:
    return _record(AuditRecord, row)


# -- outbox: the conversation and text have columns; the rest of the message is one JSON payload.


def outgoing_payload(message: OutgoingMessage) -> dict[str, Any]:
    """Everything of the message except conversation, text, ticket_id and announcement_id
    (own columns).
    Empty values are left out to keep rows small; `extra` must be JSON-serializable."""
    payload: dict[str, Any] = {}
    if message.buttons:
        payload["buttons"] = [
            [{"label": button.label, "payload": button.payload} for button in row]
            for row in message.buttons
        ]
    if message.attachments:
        payload["attachments"] = attachments_to_json(message.attachments)
    if message.reply_to_message_id is not None:
        payload["reply_to_message_id"] = message.reply_to_message_id
    if message.to_staff:
        payload["to_staff"] = True
    if message.thread_title is not None:
        payload["thread_title"] = message.thread_title
    if message.source is not None:
        payload["source"] = message.source
    if message.edit_of is not None:
        payload["edit_of"] = message.edit_of
    if message.extra:
        payload["extra"] = message.extra
    return payload


def outgoing_from_row(row: Row[Any]) -> OutgoingMessage:
    payload = row.payload or {}
    return OutgoingMessage(
        conversation=ConversationRef(row.channel, row.chat_id, row.thread_id),
        text=row.text,
        buttons=tuple(
            tuple(Button(label=b["label"], payload=b["payload"]) for b in button_row)
            for button_row in payload.get("buttons", ())
        ),
        attachments=attachments_from_json(payload.get("attachments")),
        reply_to_message_id=payload.get("reply_to_message_id"),
        ticket_id=row.ticket_id,
        to_staff=bool(payload.get("to_staff", False)),
        thread_title=payload.get("thread_title"),
        announcement_id=row.announcement_id,
        source=payload.get("source"),
        edit_of=payload.get("edit_of"),
        extra=dict(payload.get("extra", {})),
    )


def outbox_item_from_row(row: Row[Any]) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        message=outgoing_from_row(row),
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        parts_sent=row.parts_sent,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        maybe_sent=bool(row.maybe_sent),
        created_at=row.created_at,
    )


def question_from_row(row: Row[Any]) -> QuestionRecord:
    return _record(QuestionRecord, row, outcome=QuestionOutcome(row.outcome))


def incident_from_row(row: Row[Any]) -> Incident:
    return _record(Incident, row, by=row.created_by)


def announcement_from_row(row: Row[Any]) -> Announcement:
    chat = ConversationRef(row.chat_channel, row.chat_id, row.chat_thread_id)
    return _record(Announcement, row, by=row.created_by, chat=chat)


def held_message_from_row(row: Row[Any]) -> HeldMessage:
    return _record(HeldMessage, row, attachments=attachments_from_json(row.attachments))


def api_token_from_row(row: Row[Any]) -> ApiToken:
    return ApiToken(row.id, row.name, frozenset(row.scopes), row.created_at)


def macro_from_row(row: Row[Any]) -> Macro:
    return _record(Macro, row, texts=dict(row.texts), by=row.updated_by)
