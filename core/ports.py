"""The interfaces the core depends on. `storage/`, `knowledge/` and `channels/` implement them;
`bot/` wires the implementations together. Nothing here knows a database or a messenger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.domain import (
    AuditRecord,
    Direction,
    FaqDraft,
    FaqEntry,
    LearnedVariant,
    Match,
    MessageLink,
    OutboxItem,
    Priority,
    QuestionOutcome,
    QuestionRecord,
    SlaEvent,
    Ticket,
    TicketMessage,
    TicketRating,
    TicketStatus,
    User,
)
from core.messages import (
    Attachment,
    ConversationRef,
    IncomingMessage,
    OutgoingMessage,
    SentMessage,
)

# ---------------------------------------------------------------------------------------------
# Storage


class Transaction(Protocol):
    """One unit of work. Everything done through it commits together or not at all."""

    # -- de-duplication
    async def claim_update(self, channel: str, update_id: str, now: datetime) -> bool:
        """Record a platform delivery; False when it was already recorded (a repeat)."""

    async def claim_updates(
        self, keys: Sequence[tuple[str, str]], now: datetime
    ) -> set[tuple[str, str]]:
        """`claim_update` for many (channel, update_id) at once; returns the new ones."""

    async def prune_processed_updates(self, before: datetime) -> int:
        """Forget deliveries recorded before `before` (housekeeping); returns how many."""

    # -- users
    async def upsert_user(
        self,
        channel: str,
        external_id: str,
        display_name: str,
        language_hint: str | None,
        chat: ConversationRef | None,
        now: datetime,
    ) -> tuple[User, bool]:
        """Find or create the user and lock its row until the transaction ends, so that two
        processes never handle the same user at once. Returns (user, created). Keeps the stored
        language; refreshes the display name and, when given, the private chat."""

    async def get_user(self, user_id: int) -> User | None: ...

    async def find_user(self, channel: str, external_id: str) -> User | None: ...

    async def set_user_language(self, user_id: int, language: str) -> None: ...

    async def set_user_state(self, user_id: int, state: dict | None) -> None:
        """Replace the user's conversation state (a small JSON object; None clears it)."""

    # -- tickets
    async def create_ticket(
        self,
        user_id: int,
        conversation: ConversationRef,
        subject: str,
        category: str | None,
        priority: Priority,
        now: datetime,
        previous_ticket_id: int | None = None,
        line: str | None = None,
    ) -> Ticket:
        """A new ticket in status new; `previous_ticket_id` links the ticket it follows up;
        `line`: the support line (None: the first)."""

    async def get_ticket(self, ticket_id: int) -> Ticket | None: ...

    async def find_active_ticket(self, user_id: int) -> Ticket | None:
        """The user's newest ticket in status new/open/waiting."""

    async def find_current_ticket(self, user_id: int) -> Ticket | None:
        """The user's newest active ticket (new/open/waiting), else their newest resolved one
        (which the user may still reopen), else None."""

    async def list_user_tickets(self, user_id: int, limit: int = 10) -> list[Ticket]:
        """Newest first."""

    async def update_ticket(self, ticket_id: int, **changes) -> Ticket:
        """Change any of: status, priority, category, subject, assignee_id, updated_at,
        first_response_at, resolved_at, closed_at, the SLA columns (the TicketSla fields,
        with `sla_paused_since` / `sla_paused_seconds` for the pause), waiting_since and
        waiting_reminded_at. Returns the updated ticket."""

    async def add_ticket_message(
        self,
        ticket_id: int,
        author_user_id: int | None,
        direction: Direction,
        text: str,
        attachments: Sequence[Attachment],
        now: datetime,
    ) -> TicketMessage: ...

    async def list_ticket_messages(self, ticket_id: int) -> list[TicketMessage]:
        """Oldest first."""

    async def claim_sla_events(self, now: datetime) -> list[tuple[SlaEvent, Ticket]]:
        """Claim every SLA warning point / deadline that has passed by `now` and was not yet
        announced (its marker is set to `now`), for tickets whose timers run (new or open; a
        response event only before the first response). Each event is claimed once, even by
        monitors in two processes at once. Breaches first; a breach also fills the warning
        marker, so no late warning follows it."""

    async def claim_waiting_reminders(
        self, waiting_since_before: datetime, now: datetime
    ) -> list[Ticket]:
        """Claim (mark reminded at `now`) every ticket waiting for the user since
        `waiting_since_before` or earlier that was not reminded yet; each once, even with
        checkers in two processes at once."""

    async def claim_waiting_resolutions(
        self, waiting_since_before: datetime, now: datetime
    ) -> list[Ticket]:
        """Resolve at `now` every ticket waiting for the user since `waiting_since_before` or
        earlier, returning them resolved; each once, even with checkers in two processes."""

    async def claim_resolved_closures(
        self, resolved_before: datetime, now: datetime
    ) -> list[Ticket]:
        """Close at `now` every ticket resolved at `resolved_before` or earlier, returning them
        closed; each once, even with checkers in two processes."""

    async def count_tickets_by_status(self) -> dict[TicketStatus, int]: ...

    # -- satisfaction ratings
    async def add_rating(
        self,
        ticket_id: int,
        user_id: int,
        agent_id: int | None,
        score: int,
        comment: str | None,
        now: datetime,
    ) -> TicketRating | None:
        """Store the ticket's rating (score 1..5, else ValueError); None when the ticket already
        has one (the first rating stays)."""

    async def get_rating(self, ticket_id: int) -> TicketRating | None: ...

    async def set_rating_comment(self, ticket_id: int, comment: str) -> TicketRating:
        """KeyError when the ticket has no rating."""

    async def list_ratings(
        self, *, agent_id: int | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[TicketRating]:
        """Newest first; only one agent's / only those given at or after `since` when set."""

    # -- the question log
    async def log_question(
        self,
        user_id: int,
        text: str,
        language: str | None,
        outcome: QuestionOutcome,
        entry_id: int | None,
        confidence: float | None,
        now: datetime,
        ticket_id: int | None = None,
    ) -> int:
        """Record a user's question and how the bot dealt with it; returns its id."""

    async def set_question_ticket(self, question_id: int, ticket_id: int) -> None:
        """The question ended in `ticket_id` after all (the answer did not help)."""

    async def list_questions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        outcome: QuestionOutcome | None = None,
    ) -> list[QuestionRecord]:
        """Oldest first; created in [since, until) and with that outcome when given."""

    # -- reports
    async def list_tickets_touched(self, since: datetime, until: datetime) -> list[Ticket]:
        """Tickets created, resolved or closed in [since, until), oldest first."""

    async def count_backlog(self) -> list[tuple[TicketStatus, str | None, int]]:
        """Active tickets now, counted by (status, line); line None is the first line."""

    async def list_ratings_between(self, since: datetime, until: datetime) -> list[TicketRating]:
        """Ratings given in [since, until), oldest first."""

    # -- agents on duty
    async def set_duty(self, user_id: int, line: str, on: bool, now: datetime) -> bool:
        """Put the agent on / off duty for `line`; False when they already were."""

    async def list_on_duty(self, line: str) -> list[int]:
        """User ids on duty for `line`, longest on duty first."""

    async def pick_on_duty(self, line: str, least_loaded: bool, now: datetime) -> int | None:
        """The on-duty agent of `line` who gets the next ticket (round-robin: the one served
        longest ago; least-loaded: fewest active assigned tickets first), marked as served at
        `now`; None when nobody is on duty. Two processes picking at once pick in turn."""

    # -- message links
    async def add_message_link(self, link: MessageLink) -> None:
        """Idempotent: the same (channel, chat_id, message_id) stored twice is kept once."""

    async def find_linked_ticket(
        self, channel: str, chat_id: str, message_id: str
    ) -> int | None: ...

    async def find_anchor(self, ticket_id: int, channel: str, chat_id: str) -> MessageLink | None:
        """The newest anchor link of the ticket in that chat."""

    async def drop_anchor(self, ticket_id: int, channel: str, chat_id: str) -> None:
        """Forget the ticket's anchor in that chat (its thread/topic was deleted): the next
        staff message opens a new one. Links stay, so replies to old messages still map."""

    async def move_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        """A chat changed its id: re-point message links, pending outbox items and the chat
        alias (see `chat_alias`)."""

    async def chat_aliases(self, channel: str) -> dict[str, str]:
        """Old chat id -> current chat id, for chats that moved."""

    # -- outbox
    async def enqueue(self, message: OutgoingMessage, now: datetime) -> int: ...

    async def enqueue_many(self, messages: Sequence[OutgoingMessage], now: datetime) -> None:
        """Queue several messages in order, in one round trip."""

    async def claim_due_outbox(
        self, now: datetime, lease_until: datetime, limit: int, per_chat: int = 1
    ) -> list[OutboxItem]:
        """Pending items that may be sent now, from at most `limit` chats: for each chat
        (channel, chat_id) its oldest pending items in order, at most `per_chat`, up to the
        first one that is not due or is leased by another sender. The returned items are leased
        until `lease_until`."""

    async def release_outbox(self, item_ids: Sequence[int]) -> None:
        """Give claimed, still pending items back without counting an attempt."""

    async def mark_outbox_progress(self, item_id: int, parts_sent: int) -> None: ...

    async def mark_outbox_sent(self, item_id: int, parts_sent: int, now: datetime) -> None: ...

    async def mark_outbox_sent_many(self, items: Sequence[tuple[int, int]], now: datetime) -> None:
        """`mark_outbox_sent` for many (item id, parts sent) at once."""

    async def schedule_outbox_retry(
        self, item_id: int, attempts: int, next_attempt_at: datetime, error: str
    ) -> None:
        """Keep the item pending, release its lease, try again at `next_attempt_at`."""

    async def mark_outbox_failed(self, item_id: int, attempts: int, error: str) -> None: ...

    async def get_outbox_item(self, item_id: int) -> OutboxItem | None: ...

    async def count_pending_outbox(self) -> int: ...

    async def prune_outbox(self, before: datetime) -> int:
        """Delete sent and failed items created before `before` (housekeeping)."""

    # -- knowledge base
    async def list_faq(self, *, include_disabled: bool = True) -> list[FaqEntry]:
        """Ordered by id."""

    async def get_faq(self, entry_id: int) -> FaqEntry | None: ...

    async def create_faq(self, draft: FaqDraft, now: datetime) -> FaqEntry: ...

    async def update_faq(self, entry_id: int, draft: FaqDraft, now: datetime) -> FaqEntry:
        """Replace question, answer, language, category, enabled and the variants."""

    async def add_faq_variant(self, entry_id: int, text: str, now: datetime) -> FaqEntry: ...

    async def delete_faq(self, entry_id: int) -> bool: ...

    async def add_learned_variant(self, entry_id: int, text: str, now: datetime) -> int | None:
        """Keep a user's wording as a candidate variant of the entry (not used by the matcher
        until approved). None when it is empty, too long or already known for the entry."""

    async def list_learned_candidates(self, limit: int = 20) -> list[LearnedVariant]:
        """Oldest first."""

    async def review_learned_variant(self, variant_id: int, approve: bool) -> int | None:
        """Approve or reject a candidate; its entry's id, or None if there is no such one."""

    async def count_faq_event(self, entry_id: int, counter: str, by: int = 1) -> None:
        """Increment one of the counters: hits, helpful, unhelpful."""

    async def faq_revision(self) -> int:
        """A number that grows with every change to the knowledge base (other processes use it
        to notice that their in-memory index is stale)."""

    # -- roles
    async def get_roles(self, channel: str, external_id: str) -> set[str]: ...

    async def grant_role(self, channel: str, external_id: str, role: str, now: datetime) -> bool:
        """False when the role was already there."""

    async def revoke_role(self, channel: str, external_id: str, role: str) -> bool:
        """False when there was nothing to revoke."""

    async def list_roles(self) -> list[tuple[str, str, str]]:
        """(channel, external_id, role) rows."""

    # -- audit
    async def audit(
        self,
        actor: str | None,
        action: str,
        object_type: str,
        object_id: str,
        before: dict | None,
        after: dict | None,
        now: datetime,
    ) -> None: ...

    async def list_audit(
        self, object_type: str | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        """Newest first."""


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Begin a unit of work; commit on normal exit, roll back on an exception."""

    async def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# Knowledge base


class Matcher(Protocol):
    """Ranks knowledge-base entries for a question. Kept in memory; rebuilt or patched when the
    knowledge base changes."""

    # (answer, suggest): the confidence thresholds this matcher was tuned for (config defaults).
    default_thresholds: tuple[float, float]

    def match(self, text: str, language: str | None = None, limit: int = 3) -> list[Match]:
        """Best candidates first, at most `limit`, one per entry."""

    def rebuild(self, entries: Sequence[FaqEntry]) -> None:
        """Replace the whole index (disabled entries are ignored)."""

    def upsert(self, entry: FaqEntry) -> None: ...

    def remove(self, entry_id: int) -> None: ...

    def terms(self, text: str) -> frozenset[str]:
        """The content words of `text` as the matcher compares them (normalized, stemmed, no
        stop words): what grouping questions by topic (/gaps) works on."""


# ---------------------------------------------------------------------------------------------
# Channels


class SendError(Exception):
    """Base of what an adapter raises when a send did not happen."""


class RetryAfter(SendError):
    """The platform asked us to wait (rate limit)."""

    def __init__(self, seconds: float, reason: str = "rate limited") -> None:
        super().__init__(f"{reason}; retry after {seconds:g}s")
        self.seconds = seconds


class TransientSendError(SendError):
    """Worth retrying later: timeouts, 5xx, connection errors."""


class PermanentSendError(SendError):
    """Will never succeed: the user blocked the bot, the chat is gone, the request is invalid."""


class ThreadGone(SendError):
    """The thread/topic the message was addressed to no longer exists; the sender drops the
    ticket's anchor in that chat and resends, which makes the adapter open a new one."""


@dataclass(frozen=True)
class RateLimits:
    """A platform's published sending limits: at most `per_chat` messages per `per_chat_window`
    seconds into one chat, and `overall` per second for the whole bot."""

    per_chat: int = 1
    per_chat_window: float = 1.0
    overall: int = 30
    # A stricter window for some chats, by chat id (Telegram groups: 20 per minute).
    extra_chat_limit: Callable[[str], tuple[int, float] | None] | None = None


class ChannelAdapter(Protocol):
    name: str  # the channel name used in ConversationRef.channel
    max_file_size: int  # bytes the platform accepts in one upload
    rate_limits: RateLimits

    def parts(self, message: OutgoingMessage) -> list[OutgoingMessage]:
        """The message as this platform sends it: the text split at the platform's limit and
        format, attachments on the first part, buttons on the last (at least one part). The
        same message must always give the same parts: the outbox resumes a half-sent message
        with the part after the last one sent."""

    async def send(self, message: OutgoingMessage, idempotency_key: str) -> SentMessage:
        """Deliver one of `parts(message)`. Attachments from this platform carry `file_id`;
        from another platform they arrive with `content` filled in. The same `idempotency_key`
        may come again after a crash: platforms that can de-duplicate (VK's random_id) should
        use it. Raise a SendError subclass when it did not happen."""

    async def download(self, attachment: Attachment) -> bytes:
        """The bytes of a file received on this platform (to carry it to another one)."""


InboundHandler = Callable[[IncomingMessage], Awaitable[None]]


class Channel(ChannelAdapter, Protocol):
    """A messenger connection: receives updates (polling, socket or webhook) and sends."""

    async def start(self, on_message: InboundHandler) -> None:
        """Begin receiving. `on_message` returns once the message is safely committed; a
        delivery should be acknowledged to the platform only after that."""

    async def stop(self) -> None:
        """Stop receiving; work already handed to `on_message` is finished."""

    def web_routes(self) -> list[tuple[str, str, Callable]]:
        """(method, path, aiohttp handler) for webhook/callback modes; empty otherwise."""
