"""Database tables (SQLAlchemy 2 declarative models).

The repository works with these tables through Core statements (`insert(UserRow)`,
`select(TicketRow)`): rows are turned into the frozen records of `core.domain` right away, so no ORM
identity map or lazy loading is ever involved. Enums are stored as their string values, JSON and
timestamps with portable types; every timestamp is UTC (see `storage.types.UtcDateTime`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import BigId, Json, UtcDateTime

# Named constraints: Alembic needs names to alter SQLite tables (batch mode) and to drop them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PENDING_ONLY = text("status = 'pending'")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserRow(Base):
    """A person on one channel; the same human on two messengers is two users."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    language: Mapped[str | None] = mapped_column(String(16))
    # The private chat where the bot reaches this user.
    chat_channel: Mapped[str | None] = mapped_column(String(32))
    chat_id: Mapped[str | None] = mapped_column(String(128))
    chat_thread_id: Mapped[str | None] = mapped_column(String(128))
    # Conversation state between two messages (a small JSON object).
    state: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The last ban given (storage.mapping.ban_to_json); checked with every message, so kept here.
    ban: Mapped[dict[str, Any] | None] = mapped_column(Json)
    announcements_off: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # find_active_ticket / list_user_tickets: a user's tickets by status, newest first.
        Index("ix_tickets_user_status", "user_id", "status", "id"),
        Index("ix_tickets_status", "status"),
        # Reports: the tickets created, resolved or closed in a period.
        Index("ix_tickets_created", "created_at"),
        Index("ix_tickets_updated", "updated_at", "id"),
        Index("ix_tickets_resolved", "resolved_at"),
        Index("ix_tickets_closed", "closed_at"),
        # Ticket numbers are shown to people: never reuse one, even after a delete.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    conversation_channel: Mapped[str] = mapped_column(String(32))
    conversation_chat_id: Mapped[str] = mapped_column(String(128))
    conversation_thread_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The resolved ticket this one follows up (written to after its reopen window).
    previous_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    # SLA: the warning points and deadlines (None: no target for the ticket's priority), when
    # each warning / breach was claimed (the record for reports), and the pause while waiting
    # for the user (business seconds already paused, and since when the current pause runs).
    response_warn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    response_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    response_warned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    response_breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolution_warn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolution_warned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolution_breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sla_paused_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sla_paused_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # Auto-close: since when the ticket waits for the user, when the reminder was claimed.
    waiting_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    waiting_reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The support line the ticket is in (a name from the config); None: the first line.
    line: Mapped[str | None] = mapped_column(String(32))


class TicketRatingRow(Base):
    """A user's satisfaction rating of a closed ticket: one per ticket."""

    __tablename__ = "ticket_ratings"
    __table_args__ = (
        Index("ix_ticket_ratings_agent", "agent_id", "created_at"),
        Index("ix_ticket_ratings_created", "created_at"),  # reports: the ratings of a period
    )

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Who the rating counts for (the assignee, else the last agent who answered).
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TicketMessageRow(Base):
    __tablename__ = "ticket_messages"
    __table_args__ = (Index("ix_ticket_messages_ticket", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    direction: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MessageLinkRow(Base):
    """A platform message that belongs to a ticket (how staff replies find their ticket)."""

    __tablename__ = "message_links"
    __table_args__ = (
        UniqueConstraint("channel", "chat_id", "message_id"),
        Index("ix_message_links_ticket", "ticket_id", "channel", "chat_id"),
        Index("ix_message_links_source", "source"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    message_id: Mapped[str] = mapped_column(String(128))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    thread_id: Mapped[str | None] = mapped_column(String(128))
    is_anchor: Mapped[bool] = mapped_column(Boolean, default=False)
    # The agent's message this copy relays ("channel:chat_id:message_id"): its edits follow.
    source: Mapped[str | None] = mapped_column(String(300))


class FaqEntryRow(Base):
    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    helpful: Mapped[int] = mapped_column(Integer, default=0)
    unhelpful: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    variants: Mapped[list[FaqVariantRow]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", passive_deletes=True
    )


class FaqVariantRow(Base):
    """Another wording of an FAQ question. Admin variants are approved when added; learned ones
    wait as candidates until an admin approves or rejects them. Only approved ones are matched."""

    __tablename__ = "faq_variants"
    __table_args__ = (Index("ix_faq_variants_entry", "entry_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("faq_entries.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="admin")  # admin | learned
    # approved | candidate | rejected
    status: Mapped[str] = mapped_column(String(16), default="approved")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    entry: Mapped[FaqEntryRow] = relationship(back_populates="variants")


class ProcessedUpdateRow(Base):
    """Platform deliveries already handled (the de-duplication key of incoming updates)."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OutboxRow(Base):
    """A message waiting to be sent (or already sent / given up on)."""

    __tablename__ = "outbox"
    __table_args__ = (
        # The head of each lane's queue (Outbox.claim_due), over pending rows only.
        Index(
            "ix_outbox_pending_lane",
            "channel",
            "chat_id",
            "lane",
            "id",
            sqlite_where=PENDING_ONLY,
            postgresql_where=PENDING_ONLY,
        ),
        # Due pending rows.
        Index(
            "ix_outbox_pending_due",
            "next_attempt_at",
            sqlite_where=PENDING_ONLY,
            postgresql_where=PENDING_ONLY,
        ),
        # An announcement's copies, counted for its progress.
        Index("ix_outbox_announcement", "announcement_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    thread_id: Mapped[str | None] = mapped_column(String(128))
    # The order of sends is kept per lane of a chat (OutgoingMessage.lane).
    lane: Mapped[str] = mapped_column(String(160), default="", server_default="")
    text: Mapped[str] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    # The rest of the OutgoingMessage: buttons, attachments, reply_to_message_id, to_staff,
    # thread_title, extra (see storage.mapping).
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    leased_by: Mapped[str | None] = mapped_column(String(128))  # the sender holding the lease
    # A claim ended without a recorded outcome: the platform may have the message already.
    maybe_sent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    announcement_id: Mapped[int | None] = mapped_column(Integer)  # a copy of that announcement
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RoleRow(Base):
    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("channel", "external_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_type", "object_type", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor: Mapped[str | None] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(128))
    before: Mapped[dict[str, Any] | None] = mapped_column(Json)
    after: Mapped[dict[str, Any] | None] = mapped_column(Json)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class CounterRow(Base):
    """Named counters, e.g. `faq_revision`. A missing row reads as 0."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class QuestionRow(Base):
    """A user's question and how the bot dealt with it: answered, suggested articles or opened a
    ticket (and which ticket it led to). Reports count deflection from it; /gaps groups the
    questions that ended in a ticket."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_created", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))  # answered | suggested | ticket
    entry_id: Mapped[int | None] = mapped_column(Integer)  # the article answered / suggested first
    confidence: Mapped[float | None] = mapped_column(Float)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DutyRow(Base):
    """An agent on duty for a support line: new tickets of that line are assigned to the agents
    on duty (round-robin or least-loaded)."""

    __tablename__ = "agent_duty"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    line: Mapped[str] = mapped_column(String(32), primary_key=True)
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    # When this agent last got a ticket automatically (round-robin picks the longest ago).
    last_assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class IncidentRow(Base):
    """One problem behind many tickets (core.domain.Incident)."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_update: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class IncidentTicketRow(Base):
    """A ticket linked to an incident."""

    __tablename__ = "incident_tickets"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AnnouncementRow(Base):
    """A message from the admins to many users (core.domain.Announcement)."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    chat_channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    chat_thread_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    total: Mapped[int] = mapped_column(Integer, default=0)


class HeldMessageRow(Base):
    """A user's message waiting for the choice of one of their open tickets (core.domain)."""

    __tablename__ = "held_messages"
    __table_args__ = (
        Index("ix_held_messages_user", "user_id", "id"),
        Index("ix_held_messages_held_at", "held_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(Json)
    message_id: Mapped[str | None] = mapped_column(String(128))
    held_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MacroRow(Base):
    """A canned reply (core.domain.Macro): its texts by language, as JSON."""

    __tablename__ = "macros"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    texts: Mapped[dict[str, Any]] = mapped_column(Json)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ApiTokenRow(Base):
    """A named token of the HTTP API: only the SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ChatAliasRow(Base):
    """A chat that changed its id (a Telegram group upgraded to a supergroup)."""

    __tablename__ = "chat_aliases"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    old_chat_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    new_chat_id: Mapped[str] = mapped_column(String(128))


class ChannelPositionRow(Base):
    """Where a channel's intake stands on its platform, so a restart resumes there."""

    __tablename__ = "channel_positions"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StagedPartRow(Base):
    """One delivery of a message the platform splits into several (a Telegram album's part),
    kept until the whole is handled: a part that reached another process joins it."""

    __tablename__ = "staged_parts"
    __table_args__ = (Index("ix_staged_parts_group", "channel", "group_key"),)

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(256))
    payload: Mapped[str] = mapped_column(Text)  # the platform's own delivery, as received
    staged_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SentenceVectorRow(Base):
    """A wording's sentence vector, by the encoder that made it and the text's SHA-256: a
    restart re-encodes nothing that did not change."""

    __tablename__ = "sentence_vectors"

    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


FAQ_REVISION = "faq_revision"


def _table(model: type[Base]) -> Table:
    return model.__table__  # type: ignore[return-value]


# Core handles of the tables, for the repository's statements.
users = _table(UserRow)
tickets = _table(TicketRow)
ticket_messages = _table(TicketMessageRow)
ticket_ratings = _table(TicketRatingRow)
message_links = _table(MessageLinkRow)
faq_entries = _table(FaqEntryRow)
faq_variants = _table(FaqVariantRow)
processed_updates = _table(ProcessedUpdateRow)
outbox = _table(OutboxRow)
roles = _table(RoleRow)
audit_log = _table(AuditRow)
counters = _table(CounterRow)
chat_aliases = _table(ChatAliasRow)
channel_positions = _table(ChannelPositionRow)
staged_parts = _table(StagedPartRow)
api_tokens = _table(ApiTokenRow)
sentence_vectors = _table(SentenceVectorRow)
questions = _table(QuestionRow)
agent_duty = _table(DutyRow)
macros = _table(MacroRow)
held_messages = _table(HeldMessageRow)
announcements = _table(AnnouncementRow)
incidents = _table(IncidentRow)
incident_tickets = _table(IncidentTicketRow)
