"""Pieces of a VK send: the inline keyboard, the idempotent random_id, the reply reference and
the mapping of VK's failures onto the outbox's error types."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
from vkbottle import VKAPIError

from core.messages import Button
from core.ports import PermanentSendError, RetryAfter, SendError, TransientSendError
from core.text import shorten

log = logging.getLogger(__name__)

BUTTON_LABEL_LIMIT = 40
PAYLOAD_LIMIT = 255  # characters of a button's JSON payload
INLINE_ROWS_LIMIT = 6
INLINE_BUTTONS_LIMIT = 10

RATE_LIMIT_CODES = frozenset({6, 9})  # too many requests per second, flood control
TRANSIENT_CODES = frozenset({1, 10})  # unknown error, internal server error: "try again later"


class VkUnavailable(Exception):
    """VK answered with something that is not its JSON (an HTML error page of a front server)."""


def render_keyboard(rows: Sequence[Sequence[Button]]) -> str | None:
    """An inline keyboard of callback buttons (a press arrives as message_event with the
    payload {"command": ...}). VK allows 6 rows and 10 buttons inline; extra buttons are
    left out rather than failing the whole message."""
    buttons: list[list[dict[str, Any]]] = []
    count = 0
    for row in rows[:INLINE_ROWS_LIMIT]:
        rendered = []
        for button in row:
            if count == INLINE_BUTTONS_LIMIT:
                break
            payload = json.dumps({"command": button.payload}, ensure_ascii=False)
            if len(payload) > PAYLOAD_LIMIT:
                log.warning(
                    "vk button payload too long, button left out", extra={"payload": button.payload}
                )
                continue
            label = shorten(button.label, BUTTON_LABEL_LIMIT)
            rendered.append({"action": {"type": "callback", "label": label, "payload": payload}})
            count += 1
        if rendered:
            buttons.append(rendered)
    if sum(len(row) for row in rows) > count:
        log.warning("vk keyboard trimmed to the platform's limits", extra={"buttons": count})
    if not buttons:
        return None
    return json.dumps({"inline": True, "buttons": buttons}, ensure_ascii=False)


def random_id_for(idempotency_key: str, peer_id: int, text: str) -> int:
    """A stable, non-zero 31-bit random_id: VK drops a repeated (sender, random_id), so a resend
    after a crash is not delivered twice. The peer and the text are mixed in so that keys
    reused by a fresh database do not silence different messages."""
    digest = hashlib.blake2b(f"{idempotency_key}\x1f{peer_id}\x1f{text}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") & 0x7FFFFFFF or 1


def reply_params(peer_id: int, in_chat: bool, reply_to: str | None) -> dict[str, Any]:
    """Chats reference messages by conversation_message_id (a community sees no real ids
    there); private chats by message id."""
    if not reply_to or not reply_to.isdigit():
        return {}
    if in_chat:
        # Passed as a ready JSON string: vkbottle would turn a nested list into "1,2".
        forward = {"peer_id": peer_id, "conversation_message_ids": [int(reply_to)], "is_reply": 1}
        return {"forward": json.dumps(forward)}
    return {"reply_to": int(reply_to)}


def error_for_code(code: int, message: str) -> SendError:
    text = f"VK error {code}: {message}"
    if code in RATE_LIMIT_CODES:
        return RetryAfter(1.0, text)
    if code in TRANSIENT_CODES:
        return TransientSendError(text)
    # 901/902 (the user forbade messages / privacy), 7 and 917 (no access to the chat) and
    # invalid requests never succeed by retrying.
    return PermanentSendError(text)


def as_send_error(error: BaseException) -> BaseException:
    """What the outbox should see for a failure raised while talking to VK."""
    if isinstance(error, SendError):
        return error
    if isinstance(error, VKAPIError):
        return error_for_code(int(getattr(error, "code", 0) or 0), error.error_msg)
    if isinstance(error, aiohttp.ClientResponseError):
        if error.status == 429:
            return RetryAfter(1.0, f"HTTP {error.status}")
        if error.status >= 500:
            return TransientSendError(f"HTTP {error.status}")
        return PermanentSendError(f"HTTP {error.status}: {error.message}")
    if isinstance(error, aiohttp.ClientError | asyncio.TimeoutError | VkUnavailable | ValueError):
        # Connection problems, timeouts, error pages and half-answers: worth another try.
        return TransientSendError(f"{type(error).__name__}: {error}")
    return error
