"""The outbox sender: delivers what the engine queued, through the channel adapters. Each round
claims the due head of every lane (a ticket's thread, a chat: order holds per lane), sends them,
and records the results in one transaction: the platform message ids become message links (how
an agent's reply finds its ticket), failures are retried with backoff or after the platform's
"retry after", and one that can never be delivered is marked failed without holding up others.
A crash loses nothing: unsent rows are sent after a restart. What a crashed sender may have
delivered without recording it is looked up first where the platform allows (`recovery`)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import telemetry
from core.delivery import threads
from core.delivery.files import carry
from core.delivery.leases import Leases
from core.delivery.outcome import Outcome, record
from core.delivery.ratelimit import RateLimiter
from core.delivery.recovery import Lookback
from core.domain import REFUSED, MessageLink, OutboxItem
from core.messages import OutgoingMessage
from core.ports import ChannelAdapter, PermanentSendError, RateLimits, RetryAfter, ThreadGone
from core.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxConfig:
    poll_interval: float = 1.0
    max_attempts: int = 12
    backoff_base: float = 1.0
    backoff_max: float = 600.0
    lease_seconds: float = 60.0
    batch_size: int = 100
    concurrency: int = 100  # sends in flight at once (per-chat platform limits still apply)
    # Items of one lane (a ticket's thread, a chat) claimed in one round, in order (fewer rounds
    # when replies queue up).
    per_lane_batch: int = 50
    # Who holds the leases this sender takes: a restarted sender frees its own at once. Give
    # each process on one database its own name (bot.app uses [engine] instance).
    owner: str = "outbox"
    # After a partial round, wait this long for more replies to gather: under load, fewer and
    # bigger rounds leave the database to the engine (SQLite has one writer).
    linger: float = 0.02
    # Into a chat paced this slowly (seconds per message: Telegram groups 3, Slack and VK 1) a
    # ticket thread's queued staff messages travel merged, within one part of the platform.
    merge_when_paced: float = 0.5


class OutboxSender:
    def __init__(
        self,
        store: Store,
        adapters: Mapping[str, ChannelAdapter],
        config: OutboxConfig,
        clock: Callable[[], datetime],
        pacer: Callable[[RateLimits], RateLimiter] = RateLimiter,  # tests: a virtual clock
    ) -> None:
        self.store = store
        self.adapters = dict(adapters)
        self.config = config
        self.clock = clock
        self._wake = asyncio.Event()
        self._limiters = {name: pacer(a.rate_limits) for name, a in self.adapters.items()}
        self._in_flight = asyncio.Semaphore(config.concurrency)
        self.leases = Leases(store, config.owner, config.lease_seconds, clock)

    def wake(self) -> None:
        """Something was queued: do not wait for the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                delivered = await self.deliver_due()
            except Exception:  # noqa: BLE001 - e.g. database briefly unavailable: try again
                log.exception("outbox round failed")
                delivered = 0
            if delivered >= self.config.batch_size:
                continue
            if delivered:
                await asyncio.sleep(self.config.linger)
                continue
            self._wake.clear()
            waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
            await asyncio.wait(
                waiters, timeout=self.config.poll_interval, return_when="FIRST_COMPLETED"
            )
            for waiter in waiters:
                waiter.cancel()

    async def deliver_due(self) -> int:
        """One round; returns how many items were attempted."""
        await self.leases.free_leftovers()
        now = self.clock()
        lease_until = now + timedelta(seconds=self.config.lease_seconds)
        async with self.store.transaction() as tx:
            items = await tx.outbox.claim_due(
                now,
                lease_until,
                self.config.batch_size,
                self.config.per_lane_batch,
                self.config.owner,
            )
            keys = list(filter(None, map(threads.anchor_key, items)))
            anchors: dict[tuple, MessageLink | None] = dict.fromkeys(keys)
            anchors.update(await tx.links.find_anchors(keys))
        if not items:
            return 0
        chats: dict[tuple[str, str], list[OutboxItem]] = defaultdict(list)
        for item in items:  # claimed oldest first: each lane's queue is in order
            conversation = item.message.conversation
            chats[(conversation.channel, conversation.chat_id)].append(item)
        await self._open_threads(items, anchors)
        async with self.leases.kept([item.id for item in items]):
            results = await asyncio.gather(
                *(self._deliver_chat(q, anchors) for q in chats.values())
            )
        outcomes = [outcome for attempted, _ in results for outcome in attempted]
        owner = self.config.owner
        async with self.store.transaction() as tx:
            now = self.clock()
            # Every message id of the round in one statement: how agents' replies find tickets.
            await tx.links.add_many([link for outcome in outcomes for link in outcome.links])
            for outcome in outcomes:
                await record(tx, outcome, self.config.owner)
            sent = [(o.item.id, o.parts_sent) for o in outcomes if o.done]
            sent += [(m.id, 1) for o in outcomes if o.done for m in o.merged]
            await tx.outbox.mark_sent_many(sent, now, owner)
            await tx.outbox.release([item.id for _, left in results for item in left], owner)
        for outcome in outcomes:
            if outcome.done:
                channel = outcome.item.message.conversation.channel
                telemetry.count("message_out", channel=channel)
        return len(outcomes)

    async def _open_threads(
        self, items: list[OutboxItem], anchors: dict[tuple, MessageLink | None]
    ) -> None:
        """The threads this round's announcements go into, where the platform opens them ahead
        (`_open_thread`), all linked to their tickets in one transaction before any is used."""
        heads: dict[tuple, OutboxItem] = {}
        for item in items:
            key = threads.anchor_key(item)
            if key is not None and anchors.get(key) is None:
                heads.setdefault(key, item)
        if not heads:
            return
        opened = await asyncio.gather(
            *(self._thread_of(item) for item in heads.values()), return_exceptions=True
        )
        links = [link for link in opened if isinstance(link, MessageLink)]
        if links:
            async with self.store.transaction() as tx:
                await tx.links.add_many(links)
            for link in links:
                anchors[(link.ticket_id, link.channel, link.chat_id)] = link

    async def _thread_of(self, item: OutboxItem) -> MessageLink | None:
        adapter = self.adapters.get(item.message.conversation.channel)
        return await self._open_thread(adapter, item.message, record=False) if adapter else None

    async def _deliver_chat(
        self, items: list[OutboxItem], anchors: dict[tuple, MessageLink | None]
    ) -> tuple[list[Outcome], list[OutboxItem]]:
        """Send one chat's claimed items, each lane (a ticket's thread, ...) in order; a lane
        stops at its first item that did not go out. Into a chat the platform paces, the lanes
        take turns and the chat stops before an item the pacing would make wait (the next round
        takes it, so a slow chat never holds up the others); into an unpaced one they go side
        by side. Returns (outcomes, items left untouched)."""
        lanes: dict[str, deque[OutboxItem]] = defaultdict(deque)
        for item in items:
            lanes[item.message.lane].append(item)
        if not self._paced(items[0]):
            results = await asyncio.gather(
                *(self._deliver_lane(q, anchors) for q in lanes.values())
            )
            return [o for done, _ in results for o in done], [
                i for _, rest in results for i in rest
            ]
        outcomes: list[Outcome] = []
        left: list[OutboxItem] = []
        while lanes:
            for lane, queue in list(lanes.items()):
                if outcomes and self._must_wait(queue[0]):
                    left += [item for rest in lanes.values() for item in rest]
                    return outcomes, left
                outcome = await self._send_next(self._merged_head(queue), anchors)
                outcomes.append(outcome)
                if not outcome.done:
                    left += outcome.merged + list(queue)
                    queue.clear()
                if not queue:
                    del lanes[lane]
        return outcomes, left

    async def _deliver_lane(
        self, queue: deque[OutboxItem], anchors: dict[tuple, MessageLink | None]
    ) -> tuple[list[Outcome], list[OutboxItem]]:
        outcomes: list[Outcome] = []
        while queue:
            outcome = await self._send_next((queue.popleft(), []), anchors)
            outcomes.append(outcome)
            if not outcome.done:
                return outcomes, list(queue)
        return outcomes, []

    def _paced(self, item: OutboxItem) -> bool:
        """Whether the platform paces this chat slowly (see `merge_when_paced`)."""
        limiter = self._limiters.get(item.message.conversation.channel)
        chat = item.message.conversation.chat_id
        return limiter is not None and limiter.spacing(chat) >= self.config.merge_when_paced

    def _merged_head(self, queue: deque[OutboxItem]) -> tuple[OutboxItem, list[OutboxItem]]:
        """The lane's next item and, into a slowly paced chat, the plain staff messages right
        behind it that fit into the same one-part message."""
        head = queue.popleft()
        adapter = self.adapters.get(head.message.conversation.channel)
        if adapter is None or not threads.mergeable(head):
            return head, []
        merged: list[OutboxItem] = []
        text = head.message.text
        while queue and threads.mergeable(queue[0]):
            longer = text + threads.MERGE_SEPARATOR + queue[0].message.text
            if len(adapter.parts(dataclasses.replace(head.message, text=longer))) > 1:
                break
            text = longer
            merged.append(queue.popleft())
        return head, merged

    async def _send_next(
        self,
        next_items: tuple[OutboxItem, list[OutboxItem]],
        anchors: dict[tuple, MessageLink | None],
    ) -> Outcome:
        item, merged = next_items
        key = threads.anchor_key(item)
        outcome = await self._bounded(item, anchors.get(key) if key else None, merged)
        for link in outcome.links:  # a new thread: the ticket's next items go into it
            if link.is_anchor:
                anchors[(link.ticket_id, link.channel, link.chat_id)] = link
        return outcome

    def _must_wait(self, item: OutboxItem) -> bool:
        limiter = self._limiters.get(item.message.conversation.channel)
        return limiter is not None and limiter.wait_time(item.message.conversation.chat_id) > 0

    async def _bounded(
        self, item: OutboxItem, anchor: MessageLink | None, merged: list[OutboxItem]
    ) -> Outcome:
        async with self._in_flight:
            return await self._attempt(item, anchor, merged)

    async def _attempt(
        self, item: OutboxItem, anchor: MessageLink | None, merged: Sequence[OutboxItem] = ()
    ) -> Outcome:
        outcome = Outcome(item, item.parts_sent, merged=list(merged), attempts=item.attempts)
        message = threads.placed(item.message, anchor)
        # A merged message is a message of its own: a platform that de-duplicates by key (VK)
        # must not take it for an earlier send of its first item alone.
        key = f"{item.id}-{merged[-1].id}" if merged else str(item.id)
        if merged:
            texts = [item.message.text, *(other.message.text for other in merged)]
            message = dataclasses.replace(message, text=threads.MERGE_SEPARATOR.join(texts))
        adapter = self.adapters.get(message.conversation.channel)
        if adapter is None:
            outcome.failed, outcome.error = True, f"no adapter for {message.conversation.channel!r}"
            return outcome
        try:
            if anchor is None and (anchor := await self._open_thread(adapter, item.message)):
                outcome.links.append(anchor)
                message = threads.placed(message, anchor)
            if item.parts_sent == 0 and message.attachments:
                message = dataclasses.replace(
                    message, attachments=await carry(message.attachments, adapter, self.adapters)
                )
            await self._send_parts(adapter, message, item, outcome, anchor, key)
            outcome.done = True
        except ThreadGone as error:
            # Counted as an attempt, so a platform that keeps refusing cannot loop forever.
            outcome.thread_gone, outcome.error = True, str(error) or "thread gone"
            outcome.attempts += 1
            outcome.retry_at = self.clock()
            outcome.failed = outcome.attempts >= self.config.max_attempts
        except RetryAfter as error:
            # The platform's own pacing is not a failure: it does not use up attempts.
            outcome.retry_at = self.clock() + timedelta(seconds=error.seconds)
            outcome.error = str(error)
        except PermanentSendError as error:
            # "refused": the addressee will never take it (blocked the bot, gone); counted apart
            # from failures that ran out of attempts (an announcement's progress).
            outcome.failed, outcome.error = True, f"{REFUSED}{error or type(error).__name__}"
            outcome.attempts += 1
        except Exception as error:  # noqa: BLE001 - transient by default: retry with backoff
            outcome.attempts += 1
            outcome.error = f"{type(error).__name__}: {error}"
            # A timeout or a dropped connection may come after the platform took the message.
            outcome.maybe_sent = True
            if outcome.attempts >= self.config.max_attempts:
                outcome.failed = True
            else:
                outcome.retry_at = self.clock() + timedelta(seconds=self._backoff(outcome.attempts))
        return outcome

    async def _open_thread(
        self, adapter: ChannelAdapter, message: OutgoingMessage, record: bool = True
    ) -> MessageLink | None:
        """A ticket's thread the platform opens before its first message (Telegram forum
        topics), linked to the ticket at once: an agent may write there before the announcement
        is in it, and a retry after a crash goes into it instead of opening another."""
        if not message.to_staff or message.ticket_id is None:
            return None
        thread = await adapter.open_thread(message)
        if thread is None:
            return None
        chat = message.conversation
        anchor = MessageLink(chat.channel, chat.chat_id, thread, message.ticket_id, thread, True)
        if record:
            async with self.store.transaction() as tx:
                await tx.links.add(anchor)
        return anchor

    async def _send_parts(
        self,
        adapter: ChannelAdapter,
        message: OutgoingMessage,
        item: OutboxItem,
        outcome: Outcome,
        anchor: MessageLink | None,
        key: str,
    ) -> None:
        """The parts not sent yet, in order; each delivered part is recorded on `outcome`. Of
        an item that may have been sent already, a part the platform is found to have is
        taken as sent (`recovery`)."""
        limiter = self._limiters[adapter.name]
        lookback = Lookback(adapter, item)
        # The adapter splits at its own limit and format; the same text always gives the
        # same parts, so a retry resumes with the part after the last one sent.
        parts = adapter.parts(message)
        for index in range(item.parts_sent, len(parts)):
            sent = await lookback.sent(parts[index], index)
            if sent is None:
                await limiter.acquire(message.conversation.chat_id)
                sent = await adapter.send(parts[index], idempotency_key=f"{key}.{index}")
            outcome.parts_sent = index + 1
            outcome.links += threads.links(message, sent, is_first=anchor is None and index == 0)
            if sent.thread_id and message.conversation.thread_id is None:
                # The part opened a thread (a ticket's announcement): the rest goes into it.
                thread = dataclasses.replace(message.conversation, thread_id=sent.thread_id)
                message = dataclasses.replace(message, conversation=thread)
                parts = adapter.parts(message)

    def _backoff(self, attempts: int) -> float:
        delay = min(self.config.backoff_max, self.config.backoff_base * 2 ** (attempts - 1))
        return delay * random.uniform(1.0, 1.25)  # spread retries, never sooner than asked
