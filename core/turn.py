"""A turn: the unit of work of one incoming message, with its speaker and their language."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from core.domain import Role, User
from core.messages import Button, IncomingMessage, OutgoingMessage
from core.work import Work


@dataclass(kw_only=True)
class Turn(Work):
    message: IncomingMessage
    user: User
    language: str
    # Text that opens the next reply to the speaker (the greeting on first contact): one message
    # instead of two. Sent alone by `finish` when no reply followed.
    preface: str | None = None
    roles: frozenset[Role] | None = None  # the speaker's roles, once read (core.roles)

    def __post_init__(self) -> None:
        self.actor = f"{self.user.channel}:{self.user.external_id}"

    @classmethod
    def within(
        cls,
        work: Work,
        message: IncomingMessage,
        user: User,
        language: str,
        now: datetime | None = None,
    ) -> Turn:
        """The turn of one message inside `work` (its transaction, outbox and after-commit
        actions); `now`: the message's own moment, when not the unit's."""
        return cls(
            tx=work.tx,
            now=now or work.now,
            texts=work.texts,
            outbox=work.outbox,
            faq_counts=work.faq_counts,
            after_commit=work.after_commit,
            message=message,
            user=user,
            language=language,
        )

    def t(self, key: str, **params: object) -> str:
        return self.texts.get(self.language, key, **params)

    async def send(self, message: OutgoingMessage) -> None:
        if self.preface is not None and message.conversation == self.message.conversation:
            text = f"{self.preface}\n\n{message.text}" if message.text else self.preface
            message = dataclasses.replace(message, text=text)
            self.preface = None
        await super().send(message)

    async def finish(self) -> None:
        """End of the turn: a preface that no reply took along goes out on its own."""
        if self.preface is not None:
            await self.reply("")

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
