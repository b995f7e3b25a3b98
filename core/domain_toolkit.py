"""Domain records of the operator's toolkit (incidents, announcements, held messages, canned
replies); `core.domain` exports them too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.messages import Attachment, ConversationRef


@dataclass(frozen=True)
class Incident:
    """One problem behind many tickets (an outage): its tickets are told and resolved together,
    and users asking about it hear its status at once (core/staff/incidents.py)."""

    id: int
    title: str
    description: str  # what users' questions are matched against, with the title
    by: str
    created_at: datetime
    last_update: str = ""
    resolved_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class Announcement:
    """A message from the admins to many users (core/staff/announcements.py)."""

    id: int
    text: str
    audience: str  # "all", "open" (users with open tickets), a channel, or "line:NAME"
    by: str  # who wrote it: "channel:external_id"
    chat: ConversationRef  # where it was written: the preview, progress and final count go there
    created_at: datetime
    started_at: datetime | None = None  # confirmed and queued
    finished_at: datetime | None = None  # nothing of it is pending any more
    total: int = 0


@dataclass(frozen=True)
class HeldMessage:
    """A user's message waiting for them to say which of their open tickets it is about."""

    id: int
    user_id: int
    text: str
    attachments: tuple[Attachment, ...]
    message_id: str | None  # the platform's id of the user's message
    held_at: datetime


@dataclass(frozen=True)
class Macro:
    """A canned reply: a text per language, with placeholders ({name}, {ticket}, {agent})."""

    name: str
    texts: dict[str, str]  # language -> text; "" for every language
    by: str  # who last saved it: "channel:external_id"
    updated_at: datetime


@dataclass(frozen=True)
class ChatBacklog:
    """One chat's outbox items (a webhook endpoint's events): what waits, what failed for good,
    the newest error, the newest delivery."""

    chat_id: str
    pending: int
    failed: int
    last_error: str | None
    last_sent_at: datetime | None


@dataclass(frozen=True)
class ApiToken:
    """A named token of the HTTP API and what it may do (core/api/scopes.py). The secret
    itself is shown once, when it is made; only its hash is stored."""

    id: int
    name: str
    scopes: frozenset[str]
    created_at: datetime
