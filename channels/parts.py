"""How a message becomes the messages a platform sends: the shared rule adapters call from their
`parts()` (see `core.ports.ChannelAdapter.parts`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from core.messages import OutgoingMessage
from core.text import split_text


def message_parts(
    message: OutgoingMessage,
    limit: int,
    split: Callable[[str, int], list[str]] = split_text,
) -> list[OutgoingMessage]:
    """`message` as parts of at most `limit` by `split` (by default `core.text.split_text`:
    UTF-16 units, at paragraph, line, sentence or word boundaries); the attachments go with the
    first part, the buttons with the last. A message that fits is its own only part."""
    texts = split(message.text, limit)
    if len(texts) == 1 and texts[0] == message.text:
        return [message]
    last = len(texts) - 1
    return [
        dataclasses.replace(
            message,
            text=text,
            attachments=message.attachments if index == 0 else (),
            buttons=message.buttons if index == last else (),
            edit_of=message.edit_of if index == 0 else None,  # the rest follows as new messages
        )
        for index, text in enumerate(texts)
    ]
