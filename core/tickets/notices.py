"""How tickets are shown: the staff thread's title and header, the announcement of a new ticket,
the history a new support line sees, and the user's messages that carry buttons. Pure
functions of a ticket and the text catalogs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial

from core.commands import command_text
from core.domain import Direction, Ticket, TicketMessage, User
from core.i18n import Texts
from core.messages import Attachment, Button, OutgoingMessage
from core.text import shorten

Text = Callable[..., str]  # a catalog lookup in one language: text(key, **params)

RATING_SCORES = (1, 2, 3, 4, 5)
HISTORY_MESSAGES = 6  # the latest messages a new support line is shown
HISTORY_TEXT_LENGTH = 300
_HISTORY_KEYS = {
    Direction.FROM_USER: "staff.history.user",
    Direction.TO_USER: "staff.history.agent",
    Direction.NOTE: "staff.history.note",
}


def thread_title(ticket: Ticket, owner: User | None) -> str:
    name = owner.name if owner else "?"
    return shorten(f"#{ticket.number} {name}: {ticket.subject}", 120)


def header(text: Text, ticket: Ticket, assignee: User | None) -> str:
    return text(
        "staff.ticket_header",
        number=ticket.number,
        status=text(f"staff.status.{ticket.status.value}"),
        priority=text(f"priority.{ticket.priority.value}"),
        category=ticket.category or "—",
        assignee=assignee.name if assignee else text("staff.nobody"),
    )


def announcement(
    text: Text, ticket: Ticket, user: User, body: str, follows_up: Ticket | None
) -> str:
    """The first message of a ticket's thread."""
    announced = text(
        "staff.ticket_announcement",
        number=ticket.number,
        name=user.name,
        channel=user.channel,
        language=user.language or "?",
        priority=text(f"priority.{ticket.priority.value}"),
        category=ticket.category or "—",
        text=body or "—",
    )
    if follows_up is None:
        return announced
    return text("staff.follows_up", previous=follows_up.number) + "\n" + announced


def history(text: Text, messages: Sequence[TicketMessage]) -> str:
    """The latest exchanges of a ticket, for the staff of the line it moves to."""
    shown = [
        m for m in messages if m.direction in _HISTORY_KEYS and (m.text.strip() or m.attachments)
    ][-HISTORY_MESSAGES:]
    if not shown:
        return "—"
    return "\n".join(
        text(
            _HISTORY_KEYS[m.direction],
            text=shorten(m.text, HISTORY_TEXT_LENGTH) if m.text.strip() else "📎",
        )
        for m in shown
    )


def closed(
    texts: Texts, language: str, ticket: Ticket, key: str, rated: bool, **params: object
) -> OutgoingMessage:
    """The owner hears the ticket is closed and, in the same message, is asked to rate the help
    with buttons 1-5, unless the ticket was rated already (closed again after a reopening)."""
    body = texts.get(language, key, number=ticket.number, **params)
    buttons: tuple[tuple[Button, ...], ...] = ()
    if not rated:
        body += "\n\n" + texts.get(language, "csat.question", number=ticket.number)
        buttons = (
            tuple(
                Button(
                    texts.get(language, "button.rate", score=score),
                    command_text("rate", ticket.number, score),
                )
                for score in RATING_SCORES
            ),
        )
    return OutgoingMessage(
        conversation=ticket.conversation, text=body, buttons=buttons, ticket_id=ticket.id
    )


def with_solved_buttons(texts: Texts, language: str, ticket: Ticket, body: str) -> OutgoingMessage:
    """A resolution the owner may confirm (close) or refuse (reopen)."""
    label = partial(texts.get, language)
    buttons = (
        (
            Button(label("button.confirm_solved"), command_text("close", ticket.number)),
            Button(label("button.not_solved"), command_text("reopen", ticket.number)),
        ),
    )
    return OutgoingMessage(
        conversation=ticket.conversation, text=body, buttons=buttons, ticket_id=ticket.id
    )


def file_too_large(text: Text, attachment: Attachment, limit: int) -> str:
    return text(
        "file.too_large",
        name=attachment.file_name or attachment.kind,
        size=_megabytes(text, attachment.size or 0),
        limit=_megabytes(text, limit),
    )


def snapshot(ticket: Ticket) -> dict:
    """The ticket as the audit log keeps it on creation."""
    # Field by field: dataclasses.asdict deep-copies, a noticeable cost on every new ticket.
    data = {f.name: getattr(ticket, f.name) for f in _TICKET_FIELDS}
    data["conversation"] = dataclasses.asdict(ticket.conversation)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


# Timers are set after creation and audited as their own events.
_TICKET_FIELDS = tuple(f for f in dataclasses.fields(Ticket) if f.name != "sla")


def hours(duration: timedelta) -> int | float:
    """A duration as the count of a plural text ("72 hours"): whole when it is whole."""
    return _whole(duration / timedelta(hours=1))


def days(duration: timedelta) -> int | float:
    return _whole(duration / timedelta(days=1))


def _whole(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _megabytes(text: Text, size: int) -> str:
    return text("file.megabytes", megabytes=round(size / 1_048_576, 1))
