"""The Callback API endpoint: VK POSTs each event as JSON (with our secret inside) and retries
until it reads "ok". We answer "ok" only after the event was handled; a wrong secret gets 403
and changes nothing."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from core import telemetry

log = logging.getLogger(__name__)

Deliver = Callable[[Sequence[dict[str, Any]]], Awaitable[None]]


class VkCallbackEndpoint:
    def __init__(
        self, group_id: int, confirmation_code: str, secret: str, channel: str = "vk"
    ) -> None:
        self.group_id = group_id
        self.channel = channel
        self.confirmation_code = confirmation_code
        self.secret = secret
        self._deliver: Deliver | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def open(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def close(self) -> None:
        """Refuse new events (VK retries them later) and finish the ones being handled."""
        self._deliver = None
        await self._idle.wait()

    async def handle(self, request: web.Request) -> web.Response:
        try:
            event = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if not isinstance(event, dict):
            return web.Response(status=400, text="not an event")
        if event.get("group_id") != self.group_id:
            log.warning(
                "vk callback for another community", extra={"vk_group": event.get("group_id")}
            )
            return web.Response(status=403, text="wrong community")
        if event.get("type") == "confirmation":
            return web.Response(text=self.confirmation_code)
        if not _same(event.get("secret"), self.secret):
            log.warning(
                "vk callback with a wrong secret refused", extra={"vk_type": event.get("type")}
            )
            return web.Response(status=403, text="wrong secret")
        telemetry.count("channel_contact", channel=self.channel)  # VK reached us
        deliver = self._deliver
        if deliver is None:
            return web.Response(status=503, text="not accepting events")
        self._in_flight += 1
        self._idle.clear()
        try:
            await deliver([event])
        except Exception as error:  # noqa: BLE001 - not "ok": VK delivers it again later
            log.warning(
                "vk callback event not handled, VK will retry",
                extra={"error": repr(error), "update_id": event.get("event_id")},
            )
            return web.Response(status=500, text="retry later")
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
        return web.Response(text="ok")


def _same(given: Any, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())
