"""Each adapter splits a message at its own limit and in its own format (`parts`): attachments
on the first part, buttons on the last, no text lost."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from channels.console import ConsoleAdapter
from channels.memory import RecordingAdapter
from channels.parts import message_parts
from channels.slack import SlackChannel
from channels.slack_format import MAX_MESSAGE_TEXT, escape
from channels.telegram import TelegramChannel
from channels.vk import VkChannel
from core.messages import Attachment, Button, ConversationRef, OutgoingMessage
from core.ports import ChannelAdapter, PermanentSendError
from core.text import utf16_len

FILE = Attachment("document", file_id="f1", file_name="log.txt")
BUTTONS = ((Button("OK", "/ok"),),)


def adapters() -> dict[str, tuple[Callable[[], ChannelAdapter], int, Callable[[str], int]]]:
    """name -> (make the adapter, its limit, how the platform measures a part's text)."""
    return {
        "telegram": (lambda: TelegramChannel("123:abc"), 4096, utf16_len),
        "vk": (lambda: VkChannel("token", 1), 4096, utf16_len),
        "slack": (
            lambda: SlackChannel("xoxb-1", app_token="xapp-1"),
            MAX_MESSAGE_TEXT,
            lambda text: len(escape(text)),
        ),
        "console": (lambda: ConsoleAdapter(io.StringIO()), 4096, utf16_len),
        "memory": (lambda: RecordingAdapter("memory", max_text_length=300), 300, utf16_len),
    }


def message(text: str) -> OutgoingMessage:
    return OutgoingMessage(
        ConversationRef("x", "1"), text, buttons=BUTTONS, attachments=(FILE,), ticket_id=7
    )


@pytest.mark.parametrize("name", list(adapters()))
def test_a_long_message_is_split_at_the_adapters_own_limit(name: str) -> None:
    make, limit, measure = adapters()[name]
    adapter = make()
    words = " ".join(f"w{i}&🙂" for i in range(limit // 2))  # about 3.5 limits long

    parts = adapter.parts(message(words))

    assert len(parts) >= 3
    assert all(measure(part.text) <= limit for part in parts)
    assert " ".join(part.text for part in parts) == words
    assert [part.attachments for part in parts] == [(FILE,)] + [()] * (len(parts) - 1)
    assert [part.buttons for part in parts] == [()] * (len(parts) - 1) + [BUTTONS]
    assert all(part.ticket_id == 7 for part in parts)


@pytest.mark.parametrize("name", list(adapters()))
def test_a_message_that_fits_is_its_own_only_part(name: str) -> None:
    adapter = adapters()[name][0]()
    short = message("hello")

    assert adapter.parts(short) == [short]
    assert adapter.parts(message("")) == [message("")]


def test_slack_splits_by_the_escaped_length_where_others_count_characters() -> None:
    dense = " ".join(["&" * 20] * 430)[:9_000]  # 9,000 characters, 45,000 once escaped

    slack_parts = SlackChannel("xoxb-1", app_token="xapp-1").parts(message(dense))

    assert len(slack_parts) == 2
    assert all(len(escape(part.text)) <= MAX_MESSAGE_TEXT for part in slack_parts)
    assert len(message_parts(message(dense), MAX_MESSAGE_TEXT)) == 1  # the plain split: 1


async def test_slack_send_refuses_a_text_that_was_not_split() -> None:
    channel = SlackChannel("xoxb-1", app_token="xapp-1")
    too_long = OutgoingMessage(ConversationRef("slack", "C1"), "&" * 9_000)

    with pytest.raises(PermanentSendError, match="parts"):
        await channel.send(too_long, "1.0")
