"""Plain-text helpers shared by the engine and the outbox sender."""

from __future__ import annotations

import re

# Break points tried in order: paragraph, line, sentence, word.
_BREAKS = ("\n\n", "\n", ". ", " ")


def utf16_len(text: str) -> int:
    """Length as messengers count it (Telegram limits are in UTF-16 code units: an emoji is 2)."""
    return len(text.encode("utf-16-le")) // 2


def _longest_prefix(text: str, limit: int) -> int:
    """Number of characters of `text` whose UTF-16 length fits in `limit`."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into parts of at most `limit` UTF-16 units, preferring paragraph, line,
    sentence and word boundaries; a single word longer than `limit` is cut hard."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        fit = _longest_prefix(rest, limit)
        cut = fit
        for mark in _BREAKS:
            at = rest.rfind(mark, 0, fit)
            if at >= fit // 2:
                cut = at + len(mark.rstrip(" ")) if mark == ". " else at
                break
        cut = max(cut, 1)
        chunk = rest[:cut].rstrip()
        if chunk:
            parts.append(chunk)
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, for subjects and button labels."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: max(limit - 1, 1)].rstrip() + "…"


# C0 control characters except tab/newline/carriage return (PostgreSQL refuses NUL, and none of
# them means anything in a chat), and UTF-16 surrogates standing alone (not text at all).
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean(text: str) -> str:
    """`text` as every database and platform takes it: control characters dropped, a lone
    surrogate replaced by U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", _UNPRINTABLE.sub("", text))
