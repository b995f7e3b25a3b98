"""`SqlTransaction`: the `core.ports.Transaction` implementation.

Every method hands one repository function (plain synchronous SQLAlchemy Core code, see
`storage.repository`) to the unit of work of its backend, which runs it on the transaction's
connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Connection

from core.domain import (
    AuditRecord,
    Direction,
    FaqDraft,
    FaqEntry,
    LearnedVariant,
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
from core.messages import Attachment, ConversationRef, OutgoingMessage
from storage.repository import (
    admin,
    chats,
    duty,
    faq,
    learned,
    outbox,
    questions,
    ratings,
    reports,
    tickets,
    users,
)

P = ParamSpec("P")
R = TypeVar("R")


class UnitOfWork(Protocol):
    """A database transaction in progress on one connection."""

    async def run(self, fn: Callable[Concatenate[Connection, P], R], *args: P.args) -> R:
        """Run `fn(connection, *args)` inside the transaction."""

    def savepoint(self) -> AbstractAsyncContextManager[None]: ...


class SqlTransaction:
    """One unit of work; valid only inside `async with store.transaction()`."""

    def __init__(self, unit: UnitOfWork) -> None:
        self._unit = unit

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A nested unit: on an exception inside it only its own changes are rolled back (the
        exception still propagates). Lets a caller that handles several messages in one
        transaction keep the others when one fails."""
        return self._unit.savepoint()

    async def run_sync(self, fn: Callable[Concatenate[Connection, P], R], *args: P.args) -> R:
        """Run `fn(connection, *args)`, synchronous SQLAlchemy code, inside this transaction:
        for tools and tests that need SQL the methods below do not offer."""
        return await self._unit.run(fn, *args)

    async def _run(self, fn: Callable[..., R], *args: Any) -> R:
        return await self._unit.run(fn, *args)

    # -- de-duplication

    async def claim_update(self, channel: str, update_id: str, now: datetime) -> bool:
        return await self._run(users.claim_update, channel, update_id, now)

    async def claim_updates(
        self, keys: Sequence[tuple[str, str]], now: datetime
    ) -> set[tuple[str, str]]:
        return await self._run(users.claim_updates, keys, now)

    async def prune_processed_updates(self, before: datetime) -> int:
        """Forget deliveries recorded before `before`."""
        return await self._run(admin.prune_processed_updates, before)

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
        """An empty display name keeps the stored one; a stored language of None is filled in
        from the hint."""
        return await self._run(
            users.upsert_user, channel, external_id, display_name, language_hint, chat, now
        )

    async def get_user(self, user_id: int) -> User | None:
        return await self._run(users.get_user, user_id)

    async def find_user(self, channel: str, external_id: str) -> User | None:
        return await self._run(users.find_user, channel, external_id)

    async def set_user_language(self, user_id: int, language: str) -> None:
        """KeyError when there is no such user."""
        await self._run(users.set_user_language, user_id, language)

    async def set_user_state(self, user_id: int, state: dict | None) -> None:
        """KeyError when there is no such user; `state` must be JSON-serializable."""
        await self._run(users.set_user_state, user_id, state)

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
        return await self._run(
            tickets.create_ticket,
            user_id,
            conversation,
            subject,
            category,
            priority,
            now,
            previous_ticket_id,
            line,
        )

    async def get_ticket(self, ticket_id: int) -> Ticket | None:
        return await self._run(tickets.get_ticket, ticket_id)

    async def find_active_ticket(self, user_id: int) -> Ticket | None:
        return await self._run(tickets.find_active_ticket, user_id)

    async def find_current_ticket(self, user_id: int) -> Ticket | None:
        return await self._run(tickets.find_current_ticket, user_id)

    async def list_user_tickets(self, user_id: int, limit: int = 10) -> list[Ticket]:
        return await self._run(tickets.list_user_tickets, user_id, limit)

    async def update_ticket(self, ticket_id: int, **changes: Any) -> Ticket:
        """KeyError when there is no such ticket, ValueError for a field that cannot change."""
        return await self._run(tickets.update_ticket, ticket_id, changes)

    async def add_ticket_message(
        self,
        ticket_id: int,
        author_user_id: int | None,
        direction: Direction,
        text: str,
        attachments: Sequence[Attachment],
        now: datetime,
    ) -> TicketMessage:
        return await self._run(
            tickets.add_ticket_message, ticket_id, author_user_id, direction, text, attachments, now
        )

    async def list_ticket_messages(self, ticket_id: int) -> list[TicketMessage]:
        return await self._run(tickets.list_ticket_messages, ticket_id)

    async def claim_sla_events(self, now: datetime) -> list[tuple[SlaEvent, Ticket]]:
        return await self._run(tickets.claim_sla_events, now)

    async def claim_waiting_reminders(
        self, waiting_since_before: datetime, now: datetime
    ) -> list[Ticket]:
        return await self._run(tickets.claim_waiting_reminders, waiting_since_before, now)

    async def claim_waiting_resolutions(
        self, waiting_since_before: datetime, now: datetime
    ) -> list[Ticket]:
        return await self._run(tickets.claim_waiting_resolutions, waiting_since_before, now)

    async def claim_resolved_closures(
        self, resolved_before: datetime, now: datetime
    ) -> list[Ticket]:
        return await self._run(tickets.claim_resolved_closures, resolved_before, now)

    async def count_tickets_by_status(self) -> dict[TicketStatus, int]:
        """Every status is a key (0 when no ticket has it)."""
        return await self._run(tickets.count_tickets_by_status)

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
        return await self._run(
            ratings.add_rating, ticket_id, user_id, agent_id, score, comment, now
        )

    async def get_rating(self, ticket_id: int) -> TicketRating | None:
        return await self._run(ratings.get_rating, ticket_id)

    async def set_rating_comment(self, ticket_id: int, comment: str) -> TicketRating:
        return await self._run(ratings.set_rating_comment, ticket_id, comment)

    async def list_ratings(
        self, *, agent_id: int | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[TicketRating]:
        return await self._run(ratings.list_ratings, agent_id, since, limit)

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
        return await self._run(
            questions.log_question,
            user_id,
            text,
            language,
            outcome,
            entry_id,
            confidence,
            ticket_id,
            now,
        )

    async def set_question_ticket(self, question_id: int, ticket_id: int) -> None:
        await self._run(questions.set_question_ticket, question_id, ticket_id)

    async def list_questions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        outcome: QuestionOutcome | None = None,
    ) -> list[QuestionRecord]:
        return await self._run(questions.list_questions, since, until, outcome)

    # -- reports

    async def list_tickets_touched(self, since: datetime, until: datetime) -> list[Ticket]:
        return await self._run(reports.list_tickets_touched, since, until)

    async def count_backlog(self) -> list[tuple[TicketStatus, str | None, int]]:
        return await self._run(reports.count_backlog)

    async def list_ratings_between(self, since: datetime, until: datetime) -> list[TicketRating]:
        return await self._run(reports.list_ratings_between, since, until)

    # -- agents on duty

    async def set_duty(self, user_id: int, line: str, on: bool, now: datetime) -> bool:
        return await self._run(duty.set_duty, user_id, line, on, now)

    async def list_on_duty(self, line: str) -> list[int]:
        return await self._run(duty.list_on_duty, line)

    async def pick_on_duty(self, line: str, least_loaded: bool, now: datetime) -> int | None:
        return await self._run(duty.pick_on_duty, line, least_loaded, now)

    # -- message links

    async def add_message_link(self, link: MessageLink) -> None:
        await self._run(tickets.add_message_link, link)

    async def find_linked_ticket(self, channel: str, chat_id: str, message_id: str) -> int | None:
        return await self._run(tickets.find_linked_ticket, channel, chat_id, message_id)

    async def find_anchor(self, ticket_id: int, channel: str, chat_id: str) -> MessageLink | None:
        return await self._run(tickets.find_anchor, ticket_id, channel, chat_id)

    async def drop_anchor(self, ticket_id: int, channel: str, chat_id: str) -> int:
        """The ticket's thread in that chat is gone (ThreadGone): its anchors there become plain
        links; the next staff message opens a new thread. Returns how many were anchors."""
        return await self._run(tickets.drop_anchor, ticket_id, channel, chat_id)

    async def move_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        await self._run(chats.move_chat, channel, old_chat_id, new_chat_id)

    async def chat_aliases(self, channel: str) -> dict[str, str]:
        return await self._run(chats.chat_aliases_of, channel)

    # -- outbox

    async def enqueue(self, message: OutgoingMessage, now: datetime) -> int:
        """`message.extra` must be JSON-serializable."""
        return await self._run(outbox.enqueue, message, now)

    async def enqueue_many(self, messages: Sequence[OutgoingMessage], now: datetime) -> None:
        await self._run(outbox.enqueue_many, messages, now)

    async def claim_due_outbox(
        self, now: datetime, lease_until: datetime, limit: int, per_chat: int = 1
    ) -> list[OutboxItem]:
        """Oldest first."""
        return await self._run(outbox.claim_due_outbox, now, lease_until, limit, per_chat)

    async def release_outbox(self, item_ids: Sequence[int]) -> None:
        await self._run(outbox.release_outbox, item_ids)

    async def mark_outbox_progress(self, item_id: int, parts_sent: int) -> None:
        await self._run(outbox.mark_outbox_progress, item_id, parts_sent)

    async def mark_outbox_sent(self, item_id: int, parts_sent: int, now: datetime) -> None:
        await self._run(outbox.mark_outbox_sent, item_id, parts_sent, now)

    async def mark_outbox_sent_many(self, items: Sequence[tuple[int, int]], now: datetime) -> None:
        await self._run(outbox.mark_outbox_sent_many, items, now)

    async def schedule_outbox_retry(
        self, item_id: int, attempts: int, next_attempt_at: datetime, error: str
    ) -> None:
        await self._run(outbox.schedule_outbox_retry, item_id, attempts, next_attempt_at, error)

    async def mark_outbox_failed(self, item_id: int, attempts: int, error: str) -> None:
        await self._run(outbox.mark_outbox_failed, item_id, attempts, error)

    async def get_outbox_item(self, item_id: int) -> OutboxItem | None:
        return await self._run(outbox.get_outbox_item, item_id)

    async def count_pending_outbox(self) -> int:
        return await self._run(outbox.count_pending_outbox)

    async def prune_outbox(self, before: datetime) -> int:
        """Delete sent/failed items created before `before`."""
        return await self._run(outbox.prune_outbox, before)

    # -- knowledge base

    async def list_faq(self, *, include_disabled: bool = True) -> list[FaqEntry]:
        return await self._run(faq.list_faq, include_disabled)

    async def get_faq(self, entry_id: int) -> FaqEntry | None:
        return await self._run(faq.get_faq, entry_id)

    async def create_faq(self, draft: FaqDraft, now: datetime) -> FaqEntry:
        """Empty and repeated variants (and one equal to the question) are dropped."""
        return await self._run(faq.create_faq, draft, now)

    async def update_faq(self, entry_id: int, draft: FaqDraft, now: datetime) -> FaqEntry:
        """KeyError when there is no such entry."""
        return await self._run(faq.update_faq, entry_id, draft, now)

    async def add_faq_variant(self, entry_id: int, text: str, now: datetime) -> FaqEntry:
        """KeyError when there is no such entry; a wording it already has changes nothing."""
        return await self._run(faq.add_faq_variant, entry_id, text, now)

    async def delete_faq(self, entry_id: int) -> bool:
        return await self._run(faq.delete_faq, entry_id)

    async def add_learned_variant(self, entry_id: int, text: str, now: datetime) -> int | None:
        return await self._run(learned.add_learned_variant, entry_id, text, now)

    async def list_learned_candidates(self, limit: int = 20) -> list[LearnedVariant]:
        return await self._run(learned.list_learned_candidates, limit)

    async def review_learned_variant(self, variant_id: int, approve: bool) -> int | None:
        return await self._run(learned.review_learned_variant, variant_id, approve)

    async def count_faq_event(self, entry_id: int, counter: str, by: int = 1) -> None:
        """ValueError for an unknown counter. Does not change the revision."""
        await self._run(faq.count_faq_event, entry_id, counter, by)

    async def faq_revision(self) -> int:
        return await self._run(faq.faq_revision)

    # -- roles

    async def get_roles(self, channel: str, external_id: str) -> set[str]:
        return await self._run(admin.get_roles, channel, external_id)

    async def grant_role(self, channel: str, external_id: str, role: str, now: datetime) -> bool:
        return await self._run(admin.grant_role, channel, external_id, role, now)

    async def revoke_role(self, channel: str, external_id: str, role: str) -> bool:
        return await self._run(admin.revoke_role, channel, external_id, role)

    async def list_roles(self) -> list[tuple[str, str, str]]:
        """Sorted by channel, external_id, role."""
        return await self._run(admin.list_roles)

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
    ) -> None:
        await self._run(admin.audit, actor, action, object_type, object_id, before, after, now)

    async def list_audit(
        self, object_type: str | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        return await self._run(admin.list_audit, object_type, limit)
