"""A chat-like driver for engine tests: users and agents "say" things, the outbox is drained into
an in-memory recording channel, and the test reads what each side received."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.engine import EngineConfig, build_engine, build_jobs
from channels.memory import Delivery, RecordingAdapter
from core.conversation.ingest import Ingest
from core.delivery.outbox import OutboxConfig, OutboxSender
from core.domain import FaqDraft
from core.knowledge_base import KnowledgeBase
from core.messages import Attachment, ConversationRef, IncomingMessage, Sender
from core.ports import ChannelAdapter, Matcher
from core.store import Store
from knowledge.matcher import FuzzyMatcher

CHANNEL = "memory"
STAFF_CHAT = "staff"
ADMIN = "boss"
AGENT = "agent1"


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


SAMPLE_FAQ = [
    FaqDraft(
        question="How do I reset my password?",
        answer="Click 'Forgot password?' on the sign-in page.",
        language="en",
        variants=("forgot my password", "password recovery"),
        category="access",
    ),
    FaqDraft(
        question="Как сбросить пароль?",
        answer="Нажмите «Забыли пароль?» на странице входа.",
        language="ru",
        variants=("забыл пароль",),
        category="access",
    ),
    FaqDraft(
        question="What are your support hours?",
        answer="We answer on weekdays from 9:00 to 18:00.",
        language="en",
        variants=("when are you open",),
        category="general",
    ),
]


class Harness:
    def __init__(
        self,
        store: Store,
        clock: FakeClock | None = None,
        matcher: Matcher | None = None,
        more_adapters: Mapping[str, ChannelAdapter] | None = None,
        **engine_options,
    ) -> None:
        """`more_adapters`: further channels the outbox sends to (the webhook adapter)."""
        self.store = store
        self.clock = clock or FakeClock()
        self.adapter = RecordingAdapter(CHANNEL)
        self.sender = OutboxSender(
            store,
            {CHANNEL: self.adapter, **(more_adapters or {})},
            OutboxConfig(backoff_base=1, backoff_max=60),
            self.clock,
        )
        options = dict(
            staff_chat=ConversationRef(CHANNEL, STAFF_CHAT),
            answer_threshold=0.75,
            suggest_threshold=0.45,
            bootstrap_roles={(CHANNEL, ADMIN): frozenset({"admin"})},
        )
        options.update(engine_options)
        self.knowledge = KnowledgeBase(matcher if matcher is not None else FuzzyMatcher())
        config = EngineConfig(**options)
        self.engine = build_engine(config, store, self.knowledge, self.clock)
        self.jobs = build_jobs(self.engine, config)
        self.ingest = Ingest(self.engine, lanes=2, batch_size=16)
        self._updates = itertools.count(1)
        self._messages = itertools.count(1000)

    async def seed(self, drafts: list[FaqDraft] = SAMPLE_FAQ) -> list[int]:
        async with self.store.transaction() as tx:
            ids = [(await tx.faq.create(d, self.clock())).id for d in drafts]
        await self.engine.load_state()
        return ids

    # -- building messages

    def user_message(
        self,
        text: str = "",
        user: str = "u1",
        *,
        payload: str | None = None,
        language: str | None = "en",
        update_id: str | None = None,
        attachments: tuple[Attachment, ...] = (),
        reply_to: str | None = None,
    ) -> IncomingMessage:
        return IncomingMessage(
            update_id=update_id or f"u{next(self._updates)}",
            conversation=ConversationRef(CHANNEL, f"chat-{user}"),
            sender=Sender(user, user.capitalize(), language),
            text=text,
            message_id=str(next(self._messages)),
            button_payload=payload,
            attachments=attachments,
            reply_to_message_id=reply_to,
        )

    def staff_message(
        self,
        text: str,
        *,
        agent: str = AGENT,
        reply_to: str | None = None,
        thread: str | None = None,
        chat: str = STAFF_CHAT,
    ) -> IncomingMessage:
        return IncomingMessage(
            update_id=f"s{next(self._updates)}",
            conversation=ConversationRef(CHANNEL, chat, thread),
            sender=Sender(agent, agent.capitalize(), "en"),
            text=text,
            message_id=str(next(self._messages)),
            reply_to_message_id=reply_to,
            is_private=False,
        )

    # -- acting

    async def deliver(self, message: IncomingMessage) -> None:
        await self.engine.handle(message)
        await self.flush()

    async def user_says(self, text: str = "", user: str = "u1", **options) -> None:
        await self.deliver(self.user_message(text, user, **options))

    async def press(self, label: str, user: str = "u1") -> None:
        """Press the button with that label under the last message to the user that had buttons."""
        for delivery in reversed(self.adapter.to_chat(f"chat-{user}")):
            for row in delivery.message.buttons:
                for button in row:
                    if button.label == label:
                        await self.user_says(user=user, payload=button.payload)
                        return
        raise AssertionError(f"no button {label!r} was shown to {user}")

    async def agent_replies(self, text: str, ticket: int, *, agent: str = AGENT) -> None:
        """Reply in the ticket's thread in the staff chat (as the thread's anchor recorded)."""
        await self.deliver(self.staff_message(text, agent=agent, thread=self.thread_of(ticket)))

    async def staff_chat_moves_to(self, chat: str) -> None:
        """The staff chat got a new id, as when Telegram upgrades a group (migrate_to_chat_id)."""
        await self.deliver(
            IncomingMessage(
                update_id=f"s{next(self._updates)}",
                conversation=ConversationRef(CHANNEL, STAFF_CHAT),
                sender=Sender("system"),
                is_private=False,
                migrated_to_chat_id=chat,
            )
        )

    async def flush(self) -> None:
        while await self.sender.deliver_due():
            pass

    # -- reading

    def to_user(self, user: str = "u1") -> list[str]:
        return self.adapter.texts_to(f"chat-{user}")

    def last_to_user(self, user: str = "u1") -> Delivery:
        return self.adapter.to_chat(f"chat-{user}")[-1]

    def to_staff(self) -> list[Delivery]:
        return self.adapter.to_chat(STAFF_CHAT)

    def thread_of(self, ticket: int) -> str:
        for delivery in self.to_staff():
            if (
                delivery.message.ticket_id == ticket
                and delivery.message.conversation.thread_id is None
            ):
                return delivery.message_id
        raise AssertionError(f"ticket #{ticket} was never announced")
