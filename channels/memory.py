"""An in-memory channel: records everything sent to it and can be told to fail.

Used by the engine tests and the throughput benchmark; it behaves like a platform that opens a
thread for every staff announcement (as Slack does), so thread routing is exercised too."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from channels.parts import message_parts
from core.messages import Attachment, OutgoingMessage, SentMessage
from core.ports import PermanentSendError, RateLimits


@dataclass(frozen=True)
class Delivery:
    message: OutgoingMessage
    message_id: str
    idempotency_key: str


class RecordingAdapter:
    max_file_size = 20 * 1024 * 1024
    rate_limits = RateLimits(per_chat=1_000_000, overall=1_000_000)  # no pacing in memory

    def __init__(self, name: str = "memory", max_text_length: int = 4096) -> None:
        self.name = name
        self.max_text_length = max_text_length
        self.files: dict[str, bytes] = {}  # file_id -> content, for download()
        self.deliveries: list[Delivery] = []
        self.failures: list[Exception] = []  # raised by the next sends, in order
        self.blocked_chats: dict[str, Exception] = {}  # every send to these chats raises
        self._next_id: dict[str, int] = defaultdict(int)

    async def open_thread(self, message: OutgoingMessage) -> str | None:
        return None  # like Slack: the first message is the thread

    def parts(self, message: OutgoingMessage) -> list[OutgoingMessage]:
        return message_parts(message, self.max_text_length)

    async def send(self, message: OutgoingMessage, idempotency_key: str) -> SentMessage:
        chat_id = message.conversation.chat_id
        if chat_id in self.blocked_chats:
            raise self.blocked_chats[chat_id]
        if self.failures:
            raise self.failures.pop(0)
        self._next_id[chat_id] += 1
        message_id = str(self._next_id[chat_id])
        self.deliveries.append(Delivery(message, message_id, idempotency_key))
        opens_thread = message.to_staff and message.conversation.thread_id is None
        return SentMessage(message_id, thread_id=message_id if opens_thread else None)

    async def download(self, attachment: Attachment) -> bytes:
        if attachment.file_id not in self.files:
            raise PermanentSendError(f"no such file: {attachment.file_id}")
        return self.files[attachment.file_id]

    def to_chat(self, chat_id: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.message.conversation.chat_id == chat_id]

    def texts_to(self, chat_id: str) -> list[str]:
        return [d.message.text for d in self.to_chat(chat_id)]
