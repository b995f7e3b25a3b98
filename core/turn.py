"""Everything one incoming message is handled with: the open transaction, the clock reading, the
speaker and their language, and what to do once the transaction has committed."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from core.domain import User
from core.i18n import Texts
from core.messages import Button, ConversationRef, IncomingMessage, OutgoingMessage
from core.store import Transaction


@dataclass
class Turn:
    tx: Transaction
    message: IncomingMessage
    now: datetime
    texts: Texts
    user: User
    language: str
    # Replies are queued here and written to the outbox together when the batch ends.
    outbox: list[OutgoingMessage] = field(default_factory=list)
    # FAQ statistics, likewise applied once per batch: popular articles are hot rows, and
    # updating them last, in id order, keeps their locks short and free of deadlocks.
    faq_counts: Counter[tuple[int, str]] = field(default_factory=Counter)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # Text that opens the next reply to the speaker (the greeting on first contact): one message
    # instead of two. Sent alone by `finish` when no reply followed.
    preface: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names the speaker."""
        return f"{self.user.channel}:{self.user.external_id}"

    def t(self, key: str, **params: object) -> str:
        return self.texts.get(self.language, key, **params)

    async def send(self, message: OutgoingMessage) -> None:
        if self.preface is not None and message.conversation == self.message.conversation:
            text = f"{self.preface}\n\n{message.text}" if message.text else self.preface
            message = dataclasses.replace(message, text=text)
            self.preface = None
        self.outbox.append(message)

    async def finish(self) -> None:
        """End of the turn: a preface that no reply took along goes out on its own."""
        if self.preface is not None:
            await self.reply("")

    def count_faq(self, entry_id: int, counter: str) -> None:
        self.faq_counts[(entry_id, counter)] += 1

    async def reply(self, text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> None:
        """Answer in the conversation the message came from (same thread)."""
        in_group = not self.message.is_private
        await self.send(
            OutgoingMessage(
                conversation=self.message.conversation,
                text=text,
                buttons=buttons,
                # In a group, answer the very message so the reply chain stays readable.
                reply_to_message_id=self.message.message_id if in_group else None,
            )
        )

    async def send_to(self, conversation: ConversationRef, text: str, **fields) -> None:
        await self.send(OutgoingMessage(conversation=conversation, text=text, **fields))
