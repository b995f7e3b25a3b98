"""Outbound webhooks: the outbox's adapter that posts ticket events (`core.tickets.events`) to
the endpoints of the config, signed like Slack signs its requests.

Each request carries the event as its JSON body and two headers:
- `X-Helpdesk-Timestamp`: Unix seconds when it was sent;
- `X-Helpdesk-Signature`: `v1=` and the hex HMAC-SHA256, keyed with the endpoint's secret, of
  `v1:{timestamp}:{body}`.
A receiver recomputes the signature over the raw body, compares it in constant time, and
refuses timestamps older than a few minutes (replays). Delivery is at least once: a receiver
de-duplicates by the event's `id`. A 2xx answer is success; 429 and 408 (with Retry-After, if
given), 5xx and network errors are retried by the outbox with backoff, the endpoint's later
events waiting behind (order is kept); any other 4xx fails the event for good (`/webhooks`
shows it)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from core.messages import Attachment, OutgoingMessage, SentMessage
from core.ports import PermanentSendError, RateLimits, RetryAfter, TransientSendError
from core.tickets.events import WEBHOOK_CHANNEL

TIMEOUT = aiohttp.ClientTimeout(total=15)
DEFAULT_RETRY_AFTER = 5.0  # seconds, when a 429 names none


@dataclass(frozen=True)
class WebhookTarget:
    name: str
    url: str
    secret: str


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Helpdesk-Signature` value of `body` sent at `timestamp`."""
    signed = b"v1:" + timestamp.encode() + b":" + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class WebhookChannel:
    name = WEBHOOK_CHANNEL
    max_file_size = 0
    rate_limits = RateLimits(per_chat=1_000_000, overall=1_000_000)  # endpoints set no pace

    def __init__(self, targets: Mapping[str, WebhookTarget]) -> None:
        self.targets = dict(targets)
        self._session: aiohttp.ClientSession | None = None

    def parts(self, message: OutgoingMessage) -> list[OutgoingMessage]:
        return [message]  # an event is one JSON document: never split

    async def open_thread(self, message: OutgoingMessage) -> str | None:
        return None

    async def send(self, message: OutgoingMessage, idempotency_key: str) -> SentMessage:
        target = self.targets.get(message.conversation.chat_id)
        if target is None:  # removed from the config while its events waited
            raise PermanentSendError(f"no webhook {message.conversation.chat_id!r} configured")
        body = message.text.encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "helpdesk-webhooks",
            "X-Helpdesk-Timestamp": timestamp,
            "X-Helpdesk-Signature": signature(target.secret, timestamp, body),
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        try:
            async with self._session.post(target.url, data=body, headers=headers) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After", "")
                reason = f"{target.name}: HTTP {status} {(await response.text())[:200]}"
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TransientSendError(f"{target.name}: {type(error).__name__}: {error}") from error
        if 200 <= status < 300:
            return SentMessage(idempotency_key)
        if status in (408, 429):
            seconds = float(retry_after) if retry_after.isdigit() else DEFAULT_RETRY_AFTER
            raise RetryAfter(seconds, reason)
        if status >= 500:
            raise TransientSendError(reason)
        raise PermanentSendError(reason)

    async def download(self, attachment: Attachment) -> bytes:
        raise PermanentSendError("webhooks carry no files")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
