"""Telegram's text rules, as far as a fake needs them: the HTML parse mode (strict about `<`, as
the real parser is: an unescaped `<` in user text fails with "can't parse entities"), lengths
counted in UTF-16 code units, and the limits of texts and captions."""

from __future__ import annotations

import html
import re
from typing import Any

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024

_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_CHAR_REFERENCE = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


class EntityParseError(ValueError):
    """The text is not valid for its parse_mode; str() is Telegram's description suffix."""


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Visible text and entities of `text`. Only HTML is validated; Markdown modes pass through
    unchanged (the fake does not model their escaping rules)."""
    if parse_mode is not None and parse_mode.lower() == "html":
        return parse_html(text)
    return text, []


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    plain: list[str] = []
    entities: list[dict[str, Any]] = []
    open_tags: list[tuple[str, int, dict[str, Any]]] = []  # (tag, utf16 offset, extra)
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&":
            match = _CHAR_REFERENCE.match(text, i)
            decoded = html.unescape(match.group(0)) if match else "&"
            if match and decoded != match.group(0):
                plain.append(decoded)
                i = match.end()
                continue
            plain.append("&")  # a lone & is tolerated, like Telegram does
            i += 1
            continue
        if char != "<":
            plain.append(char)
            i += 1
            continue
        byte_offset = len(text[:i].encode())
        end = text.find(">", i)
        if end < 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset}")
        inner = text[i + 1 : end]
        offset = utf16_length("".join(plain))
        if inner.startswith("/"):
            tag = inner[1:].strip().lower()
            if not open_tags:
                raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset}")
            open_tag, start, extra = open_tags.pop()
            if tag != open_tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {byte_offset}, expected "</{open_tag}>", '
                    f'found "</{tag}>"'
                )
            if offset > start:
                entities.append(
                    {"type": _ENTITY_TYPES[open_tag], "offset": start, "length": offset - start}
                    | extra
                )
        else:
            name = re.split(r"\s", inner, maxsplit=1)[0].lower() if inner[:1].strip() else ""
            if name not in _ENTITY_TYPES:
                raise EntityParseError(
                    f'Unsupported start tag "{name}" at byte offset {byte_offset}'
                )
            extra: dict[str, Any] = {}
            if name == "a":
                href = _HREF.search(inner)
                extra["url"] = next(g for g in href.groups() if g is not None) if href else ""
            open_tags.append((name, offset, extra))
        i = end + 1
    if open_tags:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{open_tags[-1][0]}"'
        )
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(plain), entities


def command_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command entity Telegram adds to a message starting with /command."""
    match = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_length(match.group(0))}]
