"""Slack text in both directions: plain text escaped for sending, Slack markup turned back into
plain text on receipt, and Block Kit layouts for messages with buttons.

Slack treats `&`, `<` and `>` as control characters in every text field, so those three (and
only those) are escaped. Messages go out with `mrkdwn: false` and sections use `plain_text`, so
`*`, `_`, `~` and backticks in a user's text are shown as typed, never as formatting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.messages import Button
from core.text import shorten, split_text

MAX_MESSAGE_TEXT = 40_000  # chat.postMessage truncates longer text
MAX_SECTION_TEXT = 3_000  # a section block's text
MAX_BUTTON_LABEL = 75
MAX_BUTTON_VALUE = 2_000
MAX_BUTTONS_PER_BLOCK = 25  # elements of one actions block
ACTION_ID_PREFIX = "helpdesk-"

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ESCAPABLE = re.compile("[&<>]")
# <https://x.y|label>, <mailto:a@b|a@b>, <@U123>, <@U123|ann>, <#C123|general>, <!here>,
# <!subteam^S1|@team>, <!date^...|fallback>
_SPECIAL = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def escape(text: str) -> str:
    return _ESCAPABLE.sub(lambda m: _ESCAPES[m.group()], text)


def unescape(text: str) -> str:
    """A received message's text as the person typed it: links and mentions become readable
    text, entities become characters again."""
    return _unescape_entities(_SPECIAL.sub(_special_to_text, text))


def _special_to_text(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("@"):  # user mention
        return f"@{label}" if label else target
    if target.startswith("#"):  # channel mention
        return f"#{label}" if label else target
    if target.startswith("!"):  # @here, @channel, user groups, dates
        if label:
            return label
        return "@" + target[1:].split("^", 1)[0]
    if target.startswith("mailto:"):
        return label or target.removeprefix("mailto:")
    if label and label not in target:  # a link with its own text: keep both
        return f"{label} ({target})"
    return target


def _unescape_entities(text: str) -> str:
    # &amp; last, so that "&amp;lt;" (a typed "&lt;") stays "&lt;"
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def split_escaped(text: str, limit: int) -> list[str]:
    """Split plain `text` into parts whose *escaped* length fits `limit` (escaping can make a
    text up to five times longer), at the same friendly boundaries as `core.text.split_text`."""
    parts: list[str] = []
    for part in split_text(text, limit):
        escaped_length = len(escape(part))
        if escaped_length <= limit:
            parts.append(part)
            continue
        # Scale the limit down by how much this part grows; a few rounds at most.
        smaller = max(1, limit * len(part) // escaped_length)
        while smaller > 1 and any(len(escape(p)) > limit for p in split_text(part, smaller)):
            smaller = max(1, smaller * 9 // 10)
        parts.extend(split_text(part, smaller))
    return parts


def button_label(label: str) -> str:
    """A label that fits Slack's 75 characters once escaped."""
    limit = MAX_BUTTON_LABEL
    shortened = shorten(label, limit)
    while len(escape(shortened)) > MAX_BUTTON_LABEL and limit > 1:
        limit -= 1
        shortened = shorten(label, limit)
    return escape(shortened)


def message_blocks(text: str, buttons: Sequence[Sequence[Button]]) -> list[dict]:
    """Sections with the text (each at most 3,000 characters escaped) and one actions block per
    row of buttons. Each button's value is its payload; action ids are unique in the message."""
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "plain_text", "text": escape(part), "emoji": True}}
        for part in split_escaped(text, MAX_SECTION_TEXT)
        if part.strip()
    ]
    for row_number, row in enumerate(buttons):
        for start in range(0, len(row), MAX_BUTTONS_PER_BLOCK):
            elements = [
                _button(button, f"{ACTION_ID_PREFIX}{row_number}-{start + index}")
                for index, button in enumerate(row[start : start + MAX_BUTTONS_PER_BLOCK])
            ]
            block_id = f"buttons-{row_number}-{start}"
            blocks.append({"type": "actions", "block_id": block_id, "elements": elements})
    return blocks


def _button(button: Button, action_id: str) -> dict:
    if len(button.payload) > MAX_BUTTON_VALUE:
        raise ValueError(f"button payload longer than {MAX_BUTTON_VALUE} characters")
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": button_label(button.label), "emoji": True},
        "value": button.payload,
    }
