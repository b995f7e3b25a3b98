"""The interfaces the core depends on besides storage (see `core.store`): `knowledge/` and
`channels/` implement them; `bot/` wires the implementations together. Nothing here knows a
messenger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from core.domain import (
    FaqEntry,
    Match,
)
from core.messages import (
    Attachment,
    IncomingMessage,
    OutgoingMessage,
    SentMessage,
)

# ---------------------------------------------------------------------------------------------
# Knowledge base


class SentenceVectorCache(Protocol):
    """The sentence vectors a matcher reads, by text. Filled ahead of an index change (from the
    database, or encoded in a worker thread), so the change never encodes in the event loop."""

    model: str  # the encoder's name and version: vectors of another one are not used

    def wanted(self, entries: Sequence[FaqEntry]) -> list[str]:
        """The wordings and answers of these entries whose vectors are not here yet."""

    def encode(self, texts: Sequence[str]) -> dict[str, bytes]:
        """Slow (milliseconds per text), and safe to run in a worker thread."""

    def add(self, vectors: Mapping[str, bytes]) -> None: ...


class Matcher(Protocol):
    """Ranks knowledge-base entries for a question. Kept in memory; rebuilt or patched when the
    knowledge base changes."""

    # (answer, suggest): the confidence thresholds this matcher was tuned for (config defaults).
    default_thresholds: tuple[float, float]
    # Where it reads sentence vectors (the semantic matcher); None: it reads none.
    vectors: SentenceVectorCache | None
    # The confidence from which a new ticket takes the nearest entry's category (below it the
    # keyword rules decide, else none: a wrong category misroutes more than a missing one).
    category_confidence: float

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

    async def open_thread(self, message: OutgoingMessage) -> str | None:
        """For a ticket's announcement in a staff chat on a platform where threads exist before
        their first message (Telegram forum topics): open it now and return its id, so the
        outbox links it to the ticket before anything is sent into it. None elsewhere."""

    async def send(self, message: OutgoingMessage, idempotency_key: str) -> SentMessage:
        """Deliver one of `parts(message)`. Attachments from this platform carry `file_id`;
        from another platform they arrive with `content` filled in. The same `idempotency_key`
        may come again after a crash: platforms that can de-duplicate (VK's random_id) should
        use it. Raise a SendError subclass when it did not happen."""

    async def download(self, attachment: Attachment) -> bytes:
        """The bytes of a file received on this platform (to carry it to another one)."""


@runtime_checkable
class SentMessageFinder(Protocol):
    """Adapters that can find a message they sent by its key (`send`'s idempotency_key): Slack,
    whose messages carry it in their metadata. An optional capability of a ChannelAdapter: for
    an item an earlier sender may have delivered without recording it (`OutboxItem.maybe_sent`:
    its lease lapsed, or it crashed), the outbox looks here before sending each part again."""

    async def find_sent(
        self, message: OutgoingMessage, since: datetime | None
    ) -> Mapping[str, SentMessage]:
        """The messages this adapter sent into `message`'s place (its thread, else its chat)
        from `since` on (None: whenever), by the idempotency key each was sent with, each as
        `send` would have reported it for `message`. A bounded look (one request, at the newest
        messages): what is not found is sent again. A message whose send did not finish for
        sure (Slack: a text whose files were still to follow) is left out. Raises a SendError
        subclass as `send` does."""


@runtime_checkable
class ThreadAddresses(Protocol):
    """Adapters whose platform gives messages in a chat an address staff can open (Telegram
    supergroup topics, Slack permalinks): /queue links each ticket's thread with it."""

    def thread_url(self, chat_id: str, thread_id: str) -> str | None:
        """The address of that thread (or message) in that chat; None if it has none."""


InboundHandler = Callable[[IncomingMessage], Awaitable[None]]


class ChannelMemory(Protocol):
    """What a channel keeps in the database between runs and across processes."""

    async def load(self, channel: str, name: str) -> str | None:
        """A position saved by `save` (VK's long poll `ts`); None if none was."""

    async def save(self, channel: str, name: str, value: str) -> None:
        """Keep where intake stands, once what came before it is committed."""

    async def stage(self, channel: str, group: str, update_id: str, payload: str) -> None:
        """Keep one delivery of a message the platform splits (an album's part) until the
        whole is handled; `payload` is the delivery as received."""

    async def pending(self, channel: str, group: str) -> list[tuple[str, str]]:
        """(update_id, payload) of the group's staged parts not handled yet, in staging
        order: a part handled by any process (its update id recorded) is no longer pending."""


class Channel(ChannelAdapter, Protocol):
    """A messenger connection: receives updates (polling, socket or webhook) and sends."""

    async def start(self, on_message: InboundHandler, memory: ChannelMemory | None = None) -> None:
        """Begin receiving. `on_message` returns once the message is safely committed; a
        delivery should be acknowledged to the platform only after that. A channel that polls
        from a position of its own, or stages parts of a message, keeps them in `memory`
        (None: in this process's memory only)."""

    async def stop(self) -> None:
        """Stop receiving; work already handed to `on_message` is finished."""

    def web_routes(self) -> list[tuple[str, str, Callable]]:
        """(method, path, aiohttp handler) for webhook/callback modes; empty otherwise."""
