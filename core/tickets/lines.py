"""Support lines (L1, L2, ...): each has its own staff chat, possibly on another messenger.
A ticket starts in the first line; /escalate moves it up, /deescalate back down."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from core.domain import Ticket
from core.messages import ConversationRef

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SupportLine:
    name: str
    chat: ConversationRef


class SupportLines:
    """The lines in escalation order; names are matched without regard to case."""

    def __init__(self, lines: Sequence[SupportLine]) -> None:
        if not lines:
            raise ValueError("at least one support line is needed")
        names = [line.name.casefold() for line in lines]
        chats = [(line.chat.channel, line.chat.chat_id) for line in lines]
        if len(set(names)) != len(names):
            raise ValueError("support line names must differ")
        if len(set(chats)) != len(chats):
            raise ValueError("each support line needs its own staff chat")
        self._lines = [SupportLine(line.name, line.chat.without_thread()) for line in lines]

    def __iter__(self):
        return iter(tuple(self._lines))

    def __len__(self) -> int:
        return len(self._lines)

    @property
    def first(self) -> SupportLine:
        return self._lines[0]

    def named(self, name: str | None) -> SupportLine | None:
        if name is None:
            return None
        wanted = name.strip().casefold()
        return next((line for line in self._lines if line.name.casefold() == wanted), None)

    def of_ticket(self, ticket: Ticket) -> SupportLine:
        """The ticket's line; one no longer in the config counts as the first line."""
        line = self.named(ticket.line) if ticket.line is not None else self.first
        if line is None:
            log.warning(
                "ticket in an unknown support line; using the first",
                extra={"ticket": ticket.id, "line": ticket.line},
            )
            return self.first
        return line

    def of_chat(self, conversation: ConversationRef) -> SupportLine | None:
        """The line whose staff chat this is (any thread in it), or None."""
        for line in self._lines:
            chat = line.chat
            if chat.channel == conversation.channel and chat.chat_id == conversation.chat_id:
                return line
        return None

    def above(self, line: SupportLine) -> SupportLine | None:
        """The next line up (escalation), or None at the top."""
        index = self._index(line)
        return self._lines[index + 1] if index + 1 < len(self._lines) else None

    def below(self, line: SupportLine) -> SupportLine | None:
        """The next line down (de-escalation), or None at the first line."""
        index = self._index(line)
        return self._lines[index - 1] if index > 0 else None

    def rank(self, line: SupportLine) -> int:
        return self._index(line)

    def move_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> bool:
        """A staff chat changed its id (a Telegram group became a supergroup): follow it."""
        for index, line in enumerate(self._lines):
            if line.chat == ConversationRef(channel, old_chat_id):
                log.warning(
                    "staff chat moved; update its chat_id in the config",
                    extra={
                        "line": line.name,
                        "channel": channel,
                        "old_chat_id": old_chat_id,
                        "new_chat_id": new_chat_id,
                    },
                )
                self._lines[index] = SupportLine(line.name, ConversationRef(channel, new_chat_id))
                return True
        return False

    def _index(self, line: SupportLine) -> int:
        return next(i for i, known in enumerate(self._lines) if known.name == line.name)
