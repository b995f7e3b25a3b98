"""Normalized messages exchanged between channel adapters and the core.

Adapters turn platform updates into `IncomingMessage` and render `OutgoingMessage`; the core never
sees a platform object. Texts are plain: adapters escape them for their platform's markup.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime

_DATA_URL_PREFIX = "data:"


@dataclass(frozen=True)
class ConversationRef:
    """Where a message lives: a chat on one channel, optionally a thread/topic inside it."""

    channel: str
    chat_id: str
    thread_id: str | None = None

    def without_thread(self) -> ConversationRef:
        return ConversationRef(self.channel, self.chat_id)


@dataclass(frozen=True)
class Sender:
    external_id: str
    display_name: str = ""
    language_hint: str | None = None
    username: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file carried with a message. `file_id` is the platform's own id (re-sendable on the same
    platform); `url` is where an adapter can download the bytes from."""

    kind: str  # photo, document, voice, video, audio, sticker, other
    file_id: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    url: str | None = None
    channel: str | None = None  # the platform the file_id belongs to
    # The bytes, only while a file is carried to another platform (never stored).
    content: bytes | None = field(default=None, repr=False, compare=False)

    @classmethod
    def generated(cls, kind: str, file_name: str, mime_type: str, content: bytes) -> Attachment:
        """A file the bot made (a report chart): its bytes travel inside a data: URL, so the
        outbox keeps them until the message is sent."""
        encoded = base64.b64encode(content).decode("ascii")
        return cls(
            kind=kind,
            file_name=file_name,
            mime_type=mime_type,
            size=len(content),
            url=f"{_DATA_URL_PREFIX}{mime_type};base64,{encoded}",
        )

    def inline_content(self) -> bytes | None:
        """The bytes of a generated file (see `generated`), else None."""
        if not (self.url and self.url.startswith(_DATA_URL_PREFIX)):
            return None
        return base64.b64decode(self.url.partition(",")[2])

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None and k != "content"}

    @classmethod
    def from_dict(cls, data: dict) -> Attachment:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k != "content"})


@dataclass(frozen=True)
class IncomingMessage:
    """One platform delivery, normalized. `update_id` is unique per channel and is the
    de-duplication key: the same delivery seen twice has its effect once."""

    update_id: str
    conversation: ConversationRef
    sender: Sender
    text: str = ""
    message_id: str | None = None
    reply_to_message_id: str | None = None
    button_payload: str | None = None
    attachments: tuple[Attachment, ...] = ()
    is_private: bool = True
    received_at: datetime | None = None
    # A service message: this chat moved to a new id (a Telegram group upgraded to a supergroup).
    migrated_to_chat_id: str | None = None
    # The sender edited their message `message_id`: `text` is what it says now.
    edited: bool = False
    # The sender deleted their message `message_id`: `text` is what it said.
    deleted: bool = False
    # Further deliveries this message merges (an album's later parts): handled with it, or
    # not at all if any of them was handled already.
    merged_update_ids: tuple[str, ...] = ()

    @property
    def source(self) -> str | None:
        """How a copy of this message names it (OutgoingMessage.source): "channel:chat:id"."""
        if self.message_id is None:
            return None
        return f"{self.conversation.channel}:{self.conversation.chat_id}:{self.message_id}"

    @property
    def delivery_keys(self) -> list[tuple[str, str]]:
        """(channel, update_id) of every delivery this message is made of."""
        channel = self.conversation.channel
        return [(channel, u) for u in (self.update_id, *self.merged_update_ids)]

    @property
    def order_key(self) -> tuple[str, ...]:
        """Messages with the same key are handled strictly one at a time, in order: a person's
        messages, except in a group's threads (a staff chat's ticket topics and Slack threads),
        where each thread keeps its own order and threads go side by side, so that one agent
        answering many tickets is not one queue."""
        conversation = self.conversation
        if not self.is_private and conversation.thread_id is not None:
            return (conversation.channel, conversation.chat_id, conversation.thread_id)
        return (conversation.channel, self.sender.external_id)


@dataclass(frozen=True)
class Button:
    label: str
    payload: str  # the command the press stands for, e.g. "/helped 12"


@dataclass(frozen=True)
class OutgoingMessage:
    """A message the core wants delivered. Staff messages about a ticket carry `ticket_id` with
    `to_staff=True`: the outbox sender places them in the ticket's thread/reply chain."""

    conversation: ConversationRef
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachments: tuple[Attachment, ...] = ()
    reply_to_message_id: str | None = None
    ticket_id: int | None = None
    to_staff: bool = False
    # Short subject of the ticket, for adapters that title a thread/topic with it.
    thread_title: str | None = None
    announcement_id: int | None = None  # a copy of an announcement (its progress is counted)
    # The agent's message this relays ("channel:chat_id:message_id"), kept on the link of the
    # copy so that an edit of the original can edit the copy.
    source: str | None = None
    # Replace the text of this message (one the bot sent in this conversation) instead of
    # sending a new one; adapters that cannot edit it send the text as a new message.
    edit_of: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def lane(self) -> str:
        """Where this message keeps its order within its chat: a ticket's thread in a staff
        chat, a thread, or the chat itself (""). One lane's trouble never holds up another."""
        if self.to_staff and self.ticket_id is not None:
            return f"ticket:{self.ticket_id}"
        if self.conversation.thread_id:
            return f"thread:{self.conversation.thread_id}"
        return ""


@dataclass(frozen=True)
class SentMessage:
    """What an adapter reports after delivering one message (or one part of a split one)."""

    message_id: str  # the message that stands for it all (replies are expected to it)
    thread_id: str | None = None
    # The other messages it took (the photos of an album, a text sent apart from its files):
    # linked to the ticket too, so a reply to any of them finds it.
    other_ids: tuple[str, ...] = ()
