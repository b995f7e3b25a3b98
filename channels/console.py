"""The local terminal as a messenger: users and the staff chat in one transcript.

Input lines (one message each; write \\n for a line break, or paste several lines at once):

    How do I reset my password?       the user "you" writes to the bot
    alice> hello                      another user, "alice"
    [1]                               press button 1 under the bot's last message to you
    agent> ^4 Try this...             an agent replies to staff-chat message 4
    agent> #2 Try this...             an agent writes in ticket #2's thread
    admin> /faq_list                  an admin in the staff chat

Staff speakers are "agent" and "admin"; everybody else is a user in a private chat.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass
from typing import TextIO

from channels.parts import message_parts
from channels.settings import ChannelKind, Section
from core.messages import (
    Attachment,
    Button,
    ConversationRef,
    IncomingMessage,
    OutgoingMessage,
    Sender,
    SentMessage,
)
from core.ports import PermanentSendError, RateLimits

CHANNEL = "console"
STAFF_SPEAKERS = ("agent", "admin")
_SPEAKER = re.compile(r"^([a-z][a-z0-9_]{0,31})>\s?(.*)$", re.S)
_REPLY = re.compile(r"^\^(\d+)\s+(.*)$", re.S)
_THREAD = re.compile(r"^#(\d+)\s+(.*)$", re.S)
_PRESS = re.compile(r"^\[(\d+)\]$")


class ConsoleSettings(Section):
    enabled: bool = True

    @property
    def needs_http(self) -> bool:
        return False


# Not started by `helpdesk run`: the console is the terminal session of `helpdesk demo` (and of
# `helpdesk run` when no messenger is enabled), which builds its adapter itself.
KIND = ChannelKind(name=CHANNEL, settings=ConsoleSettings, build=None)


class ConsoleAdapter:
    """Prints what the bot sends; hands out message ids and opens a thread per staff ticket."""

    name = CHANNEL
    max_text_length = 4096
    max_file_size = 0  # the terminal shows file names only
    rate_limits = RateLimits(per_chat=1_000_000, overall=1_000_000)

    def __init__(self, out: TextIO, staff_chat_id: str = "staff") -> None:
        self.out = out
        self.staff_chat_id = staff_chat_id
        self._ids = itertools.count(1)
        self.buttons: dict[str, tuple[Button, ...]] = {}  # last buttons shown, per chat
        self.ticket_threads: dict[int, str] = {}

    async def download(self, attachment: Attachment) -> bytes:
        raise PermanentSendError("files typed in the console have no content")

    async def open_thread(self, message: OutgoingMessage) -> str | None:
        return None  # the console opens a thread with its first message

    def parts(self, message: OutgoingMessage) -> list[OutgoingMessage]:
        return message_parts(message, self.max_text_length)

    async def send(self, message: OutgoingMessage, idempotency_key: str) -> SentMessage:
        message_id = str(next(self._ids))
        conversation = message.conversation
        thread_id = conversation.thread_id
        opened_thread = None
        if message.to_staff and thread_id is None:
            thread_id = opened_thread = message_id
        if message.ticket_id is not None and thread_id is not None:
            self.ticket_threads.setdefault(message.ticket_id, thread_id)
        where = conversation.chat_id
        if thread_id is not None:
            where += (
                f" · thread #{message.ticket_id}" if message.ticket_id else f" · thread {thread_id}"
            )
        self.out.write(f"[{message_id}] bot → {where}:\n")
        for line in (message.text or "").splitlines() or [""]:
            self.out.write(f"    {line}\n")
        for attachment in message.attachments:
            self.out.write(
                f"    📎 {attachment.kind}: {attachment.file_name or attachment.file_id}\n"
            )
        flat = tuple(b for row in message.buttons for b in row)
        if flat:
            self.buttons[conversation.chat_id] = flat
            labels = "   ".join(f"[{i}] {b.label}" for i, b in enumerate(flat, 1))
            self.out.write(f"    {labels}\n")
        self.out.flush()
        return SentMessage(message_id, thread_id=opened_thread)


@dataclass
class ConsoleInput:
    """Turns typed lines into incoming messages, as a platform would deliver them."""

    adapter: ConsoleAdapter
    language_hint: str = "en"

    def __post_init__(self) -> None:
        self._updates = itertools.count(1)
        # Update ids must stay unique across runs on a persistent database (they de-duplicate).
        self._session = uuid.uuid4().hex[:8]

    def parse(self, line: str) -> IncomingMessage | None:
        line = line.rstrip("\n").replace("\\n", "\n")
        if not line.strip():
            return None
        speaker, text = "you", line
        if match := _SPEAKER.match(line):
            speaker, text = match.group(1), match.group(2)
        if speaker in STAFF_SPEAKERS:
            return self._staff_message(speaker, text)
        payload = None
        if match := _PRESS.match(text.strip()):
            buttons = self.adapter.buttons.get(speaker, ())
            index = int(match.group(1)) - 1
            if 0 <= index < len(buttons):
                payload, text = buttons[index].payload, ""
        return self._message(speaker, ConversationRef(CHANNEL, speaker), text, payload=payload)

    def _staff_message(self, speaker: str, text: str) -> IncomingMessage:
        reply_to = thread_id = None
        if match := _REPLY.match(text):
            reply_to, text = match.group(1), match.group(2)
        elif match := _THREAD.match(text):
            thread_id = self.adapter.ticket_threads.get(
                int(match.group(1)), f"missing-{match.group(1)}"
            )
            text = match.group(2)
        conversation = ConversationRef(CHANNEL, self.adapter.staff_chat_id, thread_id)
        return self._message(speaker, conversation, text, reply_to=reply_to, private=False)

    def _message(
        self,
        speaker: str,
        conversation: ConversationRef,
        text: str,
        *,
        payload: str | None = None,
        reply_to: str | None = None,
        private: bool = True,
    ) -> IncomingMessage:
        update = next(self._updates)
        return IncomingMessage(
            update_id=f"{self._session}-{update}",
            conversation=conversation,
            sender=Sender(speaker, speaker.capitalize(), self.language_hint),
            text=text,
            message_id=f"in{update}",
            reply_to_message_id=reply_to,
            button_payload=payload,
            is_private=private,
        )
