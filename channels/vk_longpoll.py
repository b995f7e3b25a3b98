"""A Bots Long Poll loop of our own (vkbottle's BotPolling writes ./.vkbottle/ into the working
directory and hands events to handlers as tasks, i.e. confirms them before they are handled).

The position `ts` moves past a batch only after every event of it was handled: a crash or a
database outage means the batch is fetched again, and the core drops the repeats by event_id.
The position is kept in `memory` after each handled batch, so a restart (even a clean one)
resumes where the last run stopped: what users wrote while the bot was down arrives. VK keeps
the history for a while; older than that it answers `failed: 1` and the gap is logged and
counted (`history_lost`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from vkbottle import API

from core import telemetry
from core.ports import ChannelMemory

log = logging.getLogger(__name__)

Deliver = Callable[[Sequence[dict[str, Any]]], Awaitable[None]]


@dataclass
class _Server:
    url: str
    key: str
    ts: str


class VkLongPoll:
    def __init__(
        self,
        api: API,
        group_id: int,
        deliver: Deliver,
        *,
        wait: int = 25,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        memory: ChannelMemory | None = None,
        channel: str = "vk",
    ) -> None:
        self.api = api
        self.group_id = group_id
        self.deliver = deliver
        self.wait = wait
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.memory = memory
        self.channel = channel
        self.history_lost = 0  # times VK said events were gone before we could fetch them
        self._server: _Server | None = None
        self._saved_ts: str | None = None
        self._failures = 0

    async def run(self, stopping: asyncio.Event) -> None:
        """Poll until `stopping` is set. A batch being handled is finished first."""
        while not stopping.is_set():
            try:
                answer = await self._poll_unless(stopping)
                if answer is None:
                    return
                telemetry.count("channel_contact", channel=self.channel)  # VK answered
                await self._digest(answer)
                self._failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - VK or the database is away: wait, retry
                self._failures += 1
                delay = min(self.backoff_max, self.backoff_base * 2 ** (self._failures - 1))
                log.warning(
                    "vk long poll round failed",
                    extra={"error": repr(error), "retry_in": delay, "failures": self._failures},
                )
                await _sleep_unless(stopping, delay)

    async def _poll_unless(self, stopping: asyncio.Event) -> dict[str, Any] | None:
        """One a_check request, abandoned (None) as soon as `stopping` is set."""
        poll = asyncio.ensure_future(self._poll())
        stop = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({poll, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not poll.done():
                poll.cancel()
                await asyncio.gather(poll, return_exceptions=True)
        return poll.result() if not poll.cancelled() else None

    @property
    def _position_name(self) -> str:
        return f"longpoll:{self.group_id}"

    async def _poll(self) -> dict[str, Any]:
        if self._server is None:
            self._server = await self._fetch_server()
            if self.memory is not None:
                stored = await self.memory.load(self.channel, self._position_name)
                if stored is not None:
                    self._server.ts = self._saved_ts = stored  # resume where the last run was
                else:
                    # The first run starts here: kept at once, so a crash before the first
                    # batch is handled does not restart from a later position.
                    await self._save(self._server.ts)
        server = self._server
        params = {"act": "a_check", "key": server.key, "ts": server.ts, "wait": str(self.wait)}
        timeout = aiohttp.ClientTimeout(total=self.wait + 15)
        answer = await self.api.http_client.request_json(
            server.url, method="POST", params=params, timeout=timeout
        )
        if not isinstance(answer, dict):
            raise ValueError(f"unexpected long poll answer: {answer!r}")
        return answer

    async def _digest(self, answer: dict[str, Any]) -> None:
        server = self._server
        assert server is not None
        failed = answer.get("failed")
        if failed == 1:
            # The history moved on: some events are gone for good; continue from the new ts.
            self.history_lost += 1
            log.error(
                "vk long poll history lost: events sent meanwhile cannot be fetched",
                extra={"ts": answer.get("ts"), "history_lost": self.history_lost},
            )
            server.ts = str(answer["ts"])
            await self._save(server.ts)
        elif failed in (2, 3):
            # The key expired (2) or the information was lost (3): a new key, but our ts, so
            # nothing is skipped.
            fresh = await self._fetch_server()
            server.url, server.key = fresh.url, fresh.key
        elif failed is not None:
            log.warning("vk long poll answered an unknown failure", extra={"failed": failed})
            self._server = None
        else:
            updates = answer.get("updates") or []
            if updates:
                await self.deliver(updates)
            server.ts = str(answer["ts"])
            await self._save(server.ts)

    async def _save(self, ts: str) -> None:
        """Keep the position once what came before it is handled (committed)."""
        if self.memory is not None and ts != self._saved_ts:
            await self.memory.save(self.channel, self._position_name, ts)
            self._saved_ts = ts

    async def _fetch_server(self) -> _Server:
        response = await self.api.request("groups.getLongPollServer", {"group_id": self.group_id})
        data = response["response"]
        return _Server(url=str(data["server"]), key=str(data["key"]), ts=str(data["ts"]))


async def _sleep_unless(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except TimeoutError:
        pass
