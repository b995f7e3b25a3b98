"""The storage ports: what the core asks of a database, one small protocol per aggregate,
reached from a unit of work (`Transaction`) as `tx.tickets.create(...)`. `storage/` implements
each once (a repository class, `storage.repository`); the contract tests hold it to the port on
every backend. A new storage operation: the method here, its implementation, its test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from core.domain import (
    AuditEntry,
    AuditRecord,
    Ban,
    Direction,
    FaqDraft,
    FaqEntry,
    LearnedVariant,
    NewQuestion,
    NewTicket,
    QuestionOutcome,
    QuestionRecord,
    SlaEvent,
    Ticket,
    TicketFilter,
    TicketMessage,
    TicketRating,
    TicketStatus,
    User,
)
from core.messages import Attachment, ConversationRef
from core.store_delivery import MessageLinks, Outbox  # noqa: E402
from core.store_toolkit import (  # noqa: E402
    Announcements,
    ApiTokens,
    HeldMessages,
    Incidents,
    Macros,
)

# ---------------------------------------------------------------------------------------------
# One protocol per aggregate


class Deliveries(Protocol):
    """Deliveries already handled: a repeated one has no second effect."""

    async def claim(self, channel: str, update_id: str, now: datetime) -> bool:
        """Record a delivery; False when it was already recorded (a repeat)."""

    async def claim_many(
        self, keys: Sequence[tuple[str, str]], now: datetime
    ) -> set[tuple[str, str]]:
        """`claim` for many (channel, update_id) at once; returns the new ones."""

    async def release(self, keys: Sequence[tuple[str, str]]) -> None:
        """Forget these (channel, update_id) claims of the current transaction: what they
        belong to was not handled after all (an album part another process handled first)."""

    async def prune(self, before: datetime) -> int:
        """Forget deliveries recorded before `before` (housekeeping); returns how many."""


class Users(Protocol):
    async def upsert(
        self,
        channel: str,
        external_id: str,
        display_name: str,
        language_hint: str | None,
        chat: ConversationRef | None,
        now: datetime,
        lock: bool = True,
    ) -> tuple[User, bool]:
        """Find or create the user, locked until the transaction ends unless `lock` is false
        (two processes never handle one user at once; staff in a staff chat are not locked:
        their messages in different tickets' threads go side by side); (user, created). The
        stored language stays (None takes the hint); the display name (unless empty) and the
        private chat (if given) are refreshed."""

    async def get(self, user_id: int) -> User | None: ...

    async def find(self, channel: str, external_id: str) -> User | None: ...

    async def set_language(self, user_id: int, language: str) -> None: ...

    async def set_state(self, user_id: int, state: dict | None) -> None:
        """Replace the user's conversation state (a small JSON object; None clears it)."""

    async def set_ban(self, user_id: int, ban: Ban | None) -> None:
        """Give, change (e.g. mark notified) or lift (None) the user's ban."""

    async def banned(self, now: datetime) -> list[User]:
        """Users with a ban in force at `now`, by id."""

    async def set_announcements(self, user_id: int, on: bool) -> None:
        """Whether the user gets announcements (/announcements on|off)."""

    async def reachable(
        self,
        channel: str | None = None,
        with_open_tickets: bool = False,
        lines: Sequence[str | None] | None = None,
    ) -> list[User]:
        """Users the bot can write to in a private chat who did not opt out of announcements,
        by id: of one channel, with an open ticket, with a ticket in one of `lines` (None in
        it: tickets with no line recorded)."""


class Tickets(Protocol):
    async def create(self, new: NewTicket) -> Ticket: ...

    async def get(self, ticket_id: int) -> Ticket | None: ...

    async def linked_to(self, channel: str, chat_id: str, message_id: str) -> Ticket | None:
        """The ticket that platform message is linked to (`MessageLinks.find_ticket`'s ticket,
        read in one round trip)."""

    async def find_active(self, user_id: int) -> Ticket | None:
        """The user's newest ticket in status new/open/waiting."""

    async def find_current(self, user_id: int) -> Ticket | None:
        """The user's newest active ticket (new/open/waiting), else their newest resolved one
        (which the user may still reopen), else None."""

    async def list_for_user(self, user_id: int, limit: int = 10) -> list[Ticket]:
        """Newest first."""

    async def active(self) -> list[Ticket]:
        """Every active ticket (new, open, waiting), by id."""

    async def page(
        self, where: TicketFilter, after: tuple[datetime, int] | None, limit: int
    ) -> list[Ticket]:
        """Up to `limit` tickets matching `where`, by (updated_at, id), those after `after`."""

    async def search(self, words: str, limit: int) -> list[Ticket]:
        """Tickets whose subject or any message contains `words` (any case, any script), newest
        first."""

    async def update(self, ticket_id: int, **changes: Any) -> Ticket:
        """Change any of the ticket's fields (the SLA ones as `sla_paused_since` etc.). Only
        `TicketDesk.apply` calls it, so that what follows from a change happens everywhere."""

    async def count_by_status(self) -> dict[TicketStatus, int]:
        """Every status is present, with 0 when no ticket has it."""

    # -- due work, for the scheduled jobs. Each returned ticket is locked until the transaction
    # ends and skipped by a second process asking at the same time (SKIP LOCKED; SQLite
    # serializes writers anyway), so two processes never act on one ticket twice.

    async def claim_sla_events(self, now: datetime) -> list[tuple[SlaEvent, Ticket]]:
        """Every SLA warning point / deadline passed by `now` and not yet announced, its marker
        set to `now` (timers run while new or open). Breaches first; a breach also fills the
        warning marker, so no late warning follows it."""

    async def claim_waiting_reminders(self, since_before: datetime, now: datetime) -> list[Ticket]:
        """Tickets waiting for the user since `since_before` or earlier and not yet reminded,
        marked reminded at `now`."""

    async def lock_waiting_since(self, waiting_since_before: datetime) -> list[Ticket]:
        """Tickets waiting for the user since `waiting_since_before` or earlier, by id."""

    async def lock_resolved_since(self, resolved_before: datetime) -> list[Ticket]:
        """Tickets resolved at `resolved_before` or earlier, by id."""


class TicketMessages(Protocol):
    """What was said on a ticket, both ways, with notes and system events."""

    async def add(
        self,
        ticket_id: int,
        author_user_id: int | None,
        direction: Direction,
        text: str,
        attachments: Sequence[Attachment],
        now: datetime,
    ) -> TicketMessage: ...

    async def list(self, ticket_id: int) -> list[TicketMessage]:
        """Oldest first."""


class Ratings(Protocol):
    async def add(
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

    async def get(self, ticket_id: int) -> TicketRating | None: ...

    async def set_comment(self, ticket_id: int, comment: str) -> TicketRating:
        """KeyError when the ticket has no rating."""

    async def list(
        self, *, agent_id: int | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[TicketRating]:
        """Newest first; only one agent's / only those given at or after `since` when set."""


class Questions(Protocol):
    """The question log: what the knowledge base was asked and how it went."""

    async def log(self, question: NewQuestion) -> int:
        """Returns the record's id."""

    async def set_ticket(self, question_id: int, ticket_id: int) -> None:
        """The question ended in `ticket_id` after all (the answer did not help)."""

    async def list(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        outcome: QuestionOutcome | None = None,
    ) -> list[QuestionRecord]:
        """Oldest first; created in [since, until) and with that outcome when given."""


class ReportQueries(Protocol):
    async def tickets_touched(self, since: datetime, until: datetime) -> list[Ticket]:
        """Tickets created, resolved or closed in [since, until), oldest first."""

    async def backlog(self) -> list[tuple[TicketStatus, str | None, int]]:
        """Active tickets now, counted by (status, line); line None is the first line."""

    async def open_during(self, since: datetime, until: datetime) -> list[Ticket]:
        """Tickets open at some moment of [since, until): created before `until`, and active
        now or resolved and closed no earlier than `since`; oldest first."""

    async def ratings_between(self, since: datetime, until: datetime) -> list[TicketRating]:
        """Ratings given in [since, until), oldest first."""


class DutyRoster(Protocol):
    """Agents on duty per support line."""

    async def set(self, user_id: int, line: str, on: bool, now: datetime) -> bool:
        """Put the agent on / off duty for `line`; False when they already were."""

    async def on_duty(self, line: str) -> list[int]:
        """User ids on duty for `line`, longest on duty first."""

    async def pick(self, line: str, least_loaded: bool, now: datetime) -> int | None:
        """The on-duty agent of `line` for the next ticket (round-robin: served longest ago;
        least-loaded: fewest active tickets first), marked served at `now`; None: nobody.
        Two processes picking at once pick in turn."""


class Faq(Protocol):
    """The knowledge base's entries."""

    async def list(self, *, include_disabled: bool = True) -> list[FaqEntry]:
        """Ordered by id."""

    async def get(self, entry_id: int) -> FaqEntry | None: ...

    async def create(self, draft: FaqDraft, now: datetime) -> FaqEntry: ...

    async def update(self, entry_id: int, draft: FaqDraft, now: datetime) -> FaqEntry:
        """Replace question, answer, language, category, enabled and the variants."""

    async def add_variant(self, entry_id: int, text: str, now: datetime) -> FaqEntry: ...

    async def delete(self, entry_id: int) -> bool: ...

    async def count_event(self, entry_id: int, counter: str, by: int = 1) -> None:
        """Increment one of the counters: hits, helpful, unhelpful."""

    async def revision(self) -> int:
        """A number that grows with every change to the knowledge base (other processes use it
        to notice that their in-memory index is stale)."""


class LearnedWordings(Protocol):
    """Users' wordings kept as candidate variants of an entry until an admin reviews them."""

    async def add(self, entry_id: int, text: str, now: datetime) -> int | None:
        """Not used by the matcher until approved. None when it is empty, too long or already
        known for the entry."""

    async def candidates(self, limit: int = 20) -> list[LearnedVariant]:
        """Oldest first."""

    async def review(self, variant_id: int, approve: bool) -> int | None:
        """Approve or reject a candidate; its entry's id, or None if there is no such one."""


class RoleGrants(Protocol):
    """Roles granted by /grant (the bootstrap roles of the config are not stored)."""

    async def grant(self, channel: str, external_id: str, role: str, now: datetime) -> bool:
        """False when the role was already there."""

    async def revoke(self, channel: str, external_id: str, role: str) -> bool:
        """False when there was nothing to revoke."""

    async def list(self) -> list[tuple[str, str, str]]:
        """(channel, external_id, role) rows."""


class AuditLog(Protocol):
    async def record(self, entry: AuditEntry) -> None: ...

    async def list(self, object_type: str | None = None, limit: int = 100) -> list[AuditRecord]:
        """Newest first."""


class ChannelPositions(Protocol):
    """Where a channel's intake stands on its platform (VK's long poll `ts`), so that a restart
    resumes there instead of skipping what came while the bot was down."""

    async def get(self, channel: str, name: str) -> str | None: ...

    async def set(self, channel: str, name: str, value: str, now: datetime) -> None: ...


class StagedParts(Protocol):
    """Deliveries that together make one message (a Telegram album's parts, each delivered on
    its own, maybe to another process behind the same webhook address), kept until the whole
    is handled. A part is pending until `Deliveries` records its update id."""

    async def stage(
        self, channel: str, group: str, update_id: str, payload: str, now: datetime
    ) -> None:
        """Keep one part (the platform's delivery as received); a part kept already stays."""

    async def pending(self, channel: str, group: str) -> list[tuple[str, str]]:
        """(update_id, payload) of the group's parts not handled yet, in staging order."""

    async def prune(self, before: datetime) -> int:
        """Forget parts staged before `before` (housekeeping); returns how many."""


class SentenceVectors(Protocol):
    """The sentence vectors of the knowledge base's wordings, by the encoder that made them
    (`model`: its name and version) and the text: a restart re-encodes nothing that did not
    change. A vector is the encoder's own bytes; only the matcher reads them."""

    async def load(self, model: str, texts: Sequence[str]) -> dict[str, bytes]:
        """The vectors stored for these texts (texts without one are left out)."""

    async def save(self, model: str, vectors: Mapping[str, bytes]) -> None:
        """Keep these; a text already stored keeps its vector."""


# ---------------------------------------------------------------------------------------------
# The unit of work


class StoreUnavailable(Exception):
    """The database could not do the work now (connection lost, busy, a lock or statement
    timeout, a serialization failure or deadlock). Nothing of the unit of work was committed;
    trying again later is right. Every other error is a bug or bad data."""


class Transaction(Protocol):
    """One unit of work. Everything done through it commits together or not at all."""

    updates: Deliveries
    users: Users
    tickets: Tickets
    messages: TicketMessages
    ratings: Ratings
    questions: Questions
    reports: ReportQueries
    duty: DutyRoster
    macros: Macros
    held: HeldMessages
    announcements: Announcements
    incidents: Incidents
    links: MessageLinks
    outbox: Outbox
    faq: Faq
    learned: LearnedWordings
    roles: RoleGrants
    audit: AuditLog
    positions: ChannelPositions
    staged: StagedParts
    vectors: SentenceVectors
    api_tokens: ApiTokens


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Begin a unit of work; commit on normal exit, roll back on an exception."""

    async def close(self) -> None: ...
