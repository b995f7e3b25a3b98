"""The unit of work every change happens in: a user's message, an agent's command and a
scheduled job alike. It carries the open transaction, the clock reading, who acts (None: the
system), the replies to queue, and what to do once the transaction has committed.

Replies are saved in the outbox in the same transaction and sent later by the outbox sender
(core.delivery.outbox): nothing leaves before the change that caused it is committed.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.domain import AuditEntry
from core.i18n import Texts
from core.messages import ConversationRef, OutgoingMessage
from core.store import Store, Transaction

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(kw_only=True)
class Work:
    tx: Transaction
    now: datetime
    texts: Texts
    actor: str | None = None  # "channel:external_id" in the audit log; None: the system
    # Replies are queued here and written to the outbox together when the unit ends.
    outbox: list[OutgoingMessage] = field(default_factory=list)
    # FAQ statistics, likewise applied once per unit: popular articles are hot rows, and
    # updating them last, in id order, keeps their locks short and free of deadlocks.
    faq_counts: Counter[tuple[int, str]] = field(default_factory=Counter)
    # Run once the transaction committed (in order; a coroutine is awaited).
    after_commit: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)

    async def send(self, message: OutgoingMessage) -> None:
        self.outbox.append(message)

    async def send_to(self, conversation: ConversationRef, text: str, **fields) -> None:
        await self.send(OutgoingMessage(conversation=conversation, text=text, **fields))

    async def audit(
        self,
        action: str,
        object_type: str,
        object_id: object,
        before: dict | None = None,
        after: dict | None = None,
    ) -> None:
        """Record a change in the actor's name."""
        entry = AuditEntry(self.actor, action, object_type, str(object_id), self.now, before, after)
        await self.tx.audit.record(entry)

    def count_faq(self, entry_id: int, counter: str) -> None:
        self.faq_counts[(entry_id, counter)] += 1

    async def save(self) -> None:
        """Write what the unit queued (FAQ counters, then replies): the last step before the
        commit."""
        for (entry_id, counter), count in sorted(self.faq_counts.items()):
            await self.tx.faq.count_event(entry_id, counter, count)
        await self.tx.outbox.enqueue_many(self.outbox, self.now)


class UnitOfWork:
    """Opens units of work: `async with unit_of_work() as work: ...`. On a normal exit the
    queued replies are saved and the transaction commits; then the after-commit actions run
    and `on_committed` (waking the outbox sender) is called if anything was queued."""

    def __init__(
        self,
        store: Store,
        texts: Texts,
        clock: Clock,
        on_committed: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.texts = texts
        self.clock = clock
        self.on_committed = on_committed

    @asynccontextmanager
    async def __call__(self, now: datetime | None = None) -> AsyncIterator[Work]:
        async with self.store.transaction() as tx:
            work = Work(tx=tx, now=now or self.clock(), texts=self.texts)
            yield work
            await work.save()
        for action in work.after_commit:
            if inspect.isawaitable(done := action()):
                await done
        if work.outbox:
            self.on_committed()
