"""The whole helpdesk running in the test's event loop, around real channel adapters: engine,
ingest, and the outbox sender polling in the background, as `helpdesk run` wires them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.engine import EngineConfig, build_engine
from core.conversation.channel_memory import StoredChannelMemory
from core.conversation.engine import ConversationEngine
from core.conversation.ingest import Ingest
from core.delivery.outbox import OutboxConfig, OutboxSender
from core.domain import FaqDraft, Ticket
from core.knowledge_base import KnowledgeBase
from core.messages import ConversationRef
from core.ports import Channel
from core.store import Store
from core.work import utc_now
from knowledge.matcher import FuzzyMatcher
from tests.harness import SAMPLE_FAQ

# Fast retries so fault-injection tests finish quickly; retry_after from a fake is still honoured.
TEST_OUTBOX = OutboxConfig(poll_interval=0.02, backoff_base=0.05, backoff_max=0.5, max_attempts=20)


@dataclass
class RunningHelpdesk:
    store: Store
    engine: ConversationEngine
    sender: OutboxSender
    ingest: Ingest

    async def settle(self, within: float = 10.0) -> None:
        """Wait until the outbox has nothing pending (every reply delivered or failed)."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            async with self.store.transaction() as tx:
                if await tx.outbox.count_pending() == 0:
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("outbox did not drain in time")
            await asyncio.sleep(0.02)

    async def ticket(self, number: int) -> Ticket | None:
        async with self.store.transaction() as tx:
            return await tx.tickets.get(number)


@asynccontextmanager
async def running_helpdesk(
    store: Store,
    channels: Mapping[str, Channel],
    staff_chat: ConversationRef,
    *,
    faq: list[FaqDraft] = SAMPLE_FAQ,
    admins: tuple[tuple[str, str], ...] = (),
    outbox: OutboxConfig = TEST_OUTBOX,
    lanes: int = 1,
    **engine_options,
) -> AsyncIterator[RunningHelpdesk]:
    """`lanes`: parallel ingest workers (PostgreSQL gains from several); `engine_options`:
    further EngineConfig fields (support lines, auto-assignment ...)."""
    sender = OutboxSender(store, channels, outbox, utc_now)
    config = EngineConfig(
        staff_chat=staff_chat,
        answer_threshold=0.75,
        suggest_threshold=0.45,
        bootstrap_roles={key: frozenset({"admin"}) for key in admins},
        max_file_sizes={name: c.max_file_size for name, c in channels.items()},
        **engine_options,
    )
    engine = build_engine(config, store, KnowledgeBase(FuzzyMatcher()), on_committed=sender.wake)
    async with store.transaction() as tx:
        for draft in faq:
            await tx.faq.create(draft, utc_now())
    await engine.load_state()
    stop = asyncio.Event()
    sender_task = asyncio.create_task(sender.run(stop))
    ingest = Ingest(engine, lanes=lanes)
    try:
        async with ingest:
            for channel in channels.values():
                await channel.start(ingest.submit, StoredChannelMemory(store, utc_now))
            try:
                yield RunningHelpdesk(store, engine, sender, ingest)
            finally:
                for channel in channels.values():
                    await channel.stop()
    finally:
        stop.set()
        await sender_task
        for channel in channels.values():  # their HTTP sessions, as `helpdesk run` does
            close = getattr(channel, "close", None)
            if close is not None:
                await close()
