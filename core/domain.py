"""Domain records the core works with. Storage returns these; they carry no database state."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from core.messages import Attachment, ConversationRef, OutgoingMessage


class TicketStatus(StrEnum):
    NEW = "new"  # nobody has answered yet
    OPEN = "open"  # an agent is on it
    WAITING = "waiting"  # waiting for the user
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset({TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.WAITING})


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Direction(StrEnum):
    """Who a ticket message is from / for."""

    FROM_USER = "from_user"
    TO_USER = "to_user"  # an agent's reply relayed to the user
    NOTE = "note"  # internal note, never shown to the user
    SYSTEM = "system"  # status changes and other events


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


# How the error of an outbox item the platform refused for good (the user blocked the bot, the
# chat is gone) begins: counted apart from failures that ran out of attempts.
REFUSED = "refused: "


@dataclass(frozen=True)
class User:
    id: int
    channel: str
    external_id: str
    display_name: str
    language: str | None  # chosen by the user (/lang) or taken from the platform hint
    chat: ConversationRef | None  # the private chat where the bot reaches this user
    created_at: datetime
    # Conversation state between two messages (e.g. the question that awaits "didn't help").
    state: dict | None = None
    ban: Ban | None = None  # the last ban given; see `banned_at`
    announcements_off: bool = False  # the user asked not to get announcements

    @property
    def name(self) -> str:
        """How people see this user: the display name, else the platform id."""
        return self.display_name or self.external_id

    @property
    def reference(self) -> str:
        """How staff name this user in commands: "channel:external_id"."""
        return f"{self.channel}:{self.external_id}"

    def banned_at(self, now: datetime) -> Ban | None:
        """The ban in force at `now`, if any."""
        if self.ban is None or (self.ban.until is not None and self.ban.until <= now):
            return None
        return self.ban


@dataclass(frozen=True)
class Ban:
    """A user barred from support. A plain ban gets one polite notice and nothing else; a
    shadow ban notices nothing: the messages are kept on the user's ticket without a word to
    the staff chat."""

    shadow: bool
    since: datetime
    until: datetime | None  # None: until lifted
    reason: str
    by: str  # who banned: "channel:external_id"
    notified: bool = False  # the plain ban's one notice was sent


@dataclass(frozen=True)
class Ticket:
    id: int  # also the human-friendly number shown as #id
    user_id: int
    conversation: ConversationRef  # where the user's side of the conversation lives
    status: TicketStatus
    priority: Priority
    category: str | None
    subject: str
    assignee_id: int | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    # The resolved ticket this one follows up (the user wrote after the reopen window).
    previous_ticket_id: int | None = None
    sla: TicketSla = field(default_factory=lambda: TicketSla())
    # Since when the ticket waits for the user, and when the user was reminded
    # (core.jobs.auto_close).
    waiting_since: datetime | None = None
    waiting_reminded_at: datetime | None = None
    # The support line the ticket is in (a line name from the config); None: the first line.
    line: str | None = None

    @property
    def number(self) -> int:
        return self.id


@dataclass(frozen=True)
class TicketSla:
    """A ticket's SLA timers (see core.tickets.sla_policy). `*_warn_at` / `*_due_at`: when the
    warning is due and the deadline (None: no target); `*_warned_at` / `*_breached_at`: when a
    monitor claimed that event (the record for reports); the pause while waiting for the user."""

    response_warn_at: datetime | None = None
    response_due_at: datetime | None = None
    response_warned_at: datetime | None = None
    response_breached_at: datetime | None = None
    resolution_warn_at: datetime | None = None
    resolution_due_at: datetime | None = None
    resolution_warned_at: datetime | None = None
    resolution_breached_at: datetime | None = None
    paused_since: datetime | None = None
    paused_seconds: float = 0.0


class SlaEvent(StrEnum):
    """What the SLA monitor announces: a warning point or a deadline passed."""

    RESPONSE_WARNING = "response_warning"
    RESPONSE_BREACH = "response_breach"
    RESOLUTION_WARNING = "resolution_warning"
    RESOLUTION_BREACH = "resolution_breach"


class QuestionOutcome(StrEnum):
    """How the bot dealt with a user's question (the question log)."""

    ANSWERED = "answered"  # an article, confidently
    SUGGESTED = "suggested"  # the closest articles to pick from
    TICKET = "ticket"  # a person has to help


@dataclass(frozen=True)
class QuestionRecord:
    """One logged user question. `ticket_id`: the ticket it ended in, if any (also set when
    the user opened one after an answer or suggestions did not help)."""

    id: int
    user_id: int
    text: str
    language: str | None
    outcome: QuestionOutcome
    entry_id: int | None
    confidence: float | None
    ticket_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class TicketRating:
    """The user's satisfaction with a closed ticket (1-5), one per ticket. `agent_id` is who
    the rating counts for: the assignee, else the last agent who answered."""

    ticket_id: int
    user_id: int
    agent_id: int | None
    score: int
    comment: str | None
    created_at: datetime


@dataclass(frozen=True)
class TicketMessage:
    id: int
    ticket_id: int
    author_user_id: int | None
    direction: Direction
    text: str
    attachments: tuple[Attachment, ...]
    created_at: datetime


@dataclass(frozen=True)
class FaqEntry:
    id: int
    question: str
    answer: str
    language: str  # "ru" or "en"
    variants: tuple[str, ...] = ()  # other wordings an admin gave
    category: str | None = None
    enabled: bool = True
    hits: int = 0
    helpful: int = 0
    unhelpful: int = 0
    # Users' wordings this entry answered, approved by an admin (see LearnedVariant).
    learned: tuple[str, ...] = ()

    @property
    def phrasings(self) -> tuple[str, ...]:
        """Every wording the matcher should recognise for this entry."""
        return (self.question, *self.variants, *self.learned)

    def as_record(self) -> dict:
        """The entry as the audit log keeps it (plain JSON values)."""
        return {
            **dataclasses.asdict(self),
            "variants": [*self.variants],
            "learned": [*self.learned],
        }


@dataclass(frozen=True)
class FaqDraft:
    """An entry as an admin or an import file describes it, before it has an id."""

    question: str
    answer: str
    language: str
    variants: tuple[str, ...] = ()
    category: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class LearnedVariant:
    """A user's wording that an article answered, waiting for an admin's review."""

    id: int
    entry_id: int
    text: str
    created_at: datetime


@dataclass(frozen=True)
class MessageLink:
    """A platform message that belongs to a ticket. The anchor is the ticket's announcement in a
    staff chat: replies and thread messages are attached to it."""

    channel: str
    chat_id: str
    message_id: str
    ticket_id: int
    thread_id: str | None = None
    is_anchor: bool = False
    source: str | None = None  # the agent's message this one relays (OutgoingMessage.source)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    message: OutgoingMessage
    status: OutboxStatus
    attempts: int
    parts_sent: int
    next_attempt_at: datetime
    last_error: str | None = None
    # An earlier claim ended without a recorded outcome (its lease lapsed, or its sender was
    # restarted): the parts from `parts_sent` on may be on the platform already.
    maybe_sent: bool = False
    created_at: datetime | None = None  # queued: nothing of it was sent before


@dataclass(frozen=True)
class AuditRecord:
    id: int
    actor: str | None  # "channel:external_id" of who did it, None for the system
    action: str
    object_type: str
    object_id: str
    before: dict | None
    after: dict | None
    at: datetime


@dataclass(frozen=True)
class Match:
    """One knowledge-base candidate for a question. `confidence` is in 0..1 and calibrated: the
    engine compares it with its answer / suggest thresholds."""

    entry_id: int
    confidence: float
    question: str
    details: dict = field(default_factory=dict)
    # The next entry scores so close to this one that the user should choose between the two.
    close_second: bool = False


# -- what the storage ports take (core.store)


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets a list shows (the HTTP API); every field given must match. `lines`: line
    names, None standing for the first line (tickets with no line recorded)."""

    statuses: frozenset[TicketStatus] = frozenset()
    lines: frozenset[str | None] = frozenset()
    assignee_id: int | None = None
    priority: Priority | None = None
    updated_since: datetime | None = None


@dataclass(frozen=True)
class NewTicket:
    """A ticket to create, in status new. `previous_ticket_id` links the ticket it follows up;
    `line`: the support line (None: the first)."""

    user_id: int
    conversation: ConversationRef
    subject: str
    category: str | None
    priority: Priority
    created_at: datetime
    previous_ticket_id: int | None = None
    line: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One audited change. `actor`: "channel:external_id" of who did it, None for the system."""

    actor: str | None
    action: str
    object_type: str
    object_id: str
    at: datetime
    before: dict | None = None
    after: dict | None = None


@dataclass(frozen=True)
class NewQuestion:
    """A user's question and how the bot dealt with it."""

    user_id: int
    text: str
    language: str | None
    outcome: QuestionOutcome
    entry_id: int | None
    confidence: float | None
    asked_at: datetime
    ticket_id: int | None = None
