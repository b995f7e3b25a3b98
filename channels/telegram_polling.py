"""Long polling with getUpdates, confirming an offset only after its updates were committed.

aiogram's own polling hands updates to tasks and asks for the next batch at once, and that next
getUpdates is what tells Telegram to forget the previous batch: a crash in between would lose
it. This loop is the honest version: fetch a batch, hand it over, wait until the engine has
committed it, and only then ask for `offset = last + 1`. If the handing over fails (the database
is down), it waits and fetches the same offset again; the engine drops what it already has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import TelegramConflictError, TelegramRetryAfter
from aiogram.types import Update

from channels.telegram_albums import PolledAlbums
from channels.telegram_updates import ALLOWED_UPDATES, Received, convert_update
from core import telemetry

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = 30.0
_REQUEST_GRACE = 15  # seconds the HTTP request may take beyond the long-poll timeout

BatchHandler = Callable[[list[Received]], Awaitable[None]]


class UpdatePoller:
    def __init__(
        self,
        bot: Bot,
        channel: str,
        handle_batch: BatchHandler,
        *,
        timeout: int,
        albums: PolledAlbums,
        retry_delay: float,
    ) -> None:
        self.bot = bot
        self.channel = channel
        self.handle_batch = handle_batch
        self.timeout = timeout
        self.albums = albums
        self.retry_delay = retry_delay
        self._stop = asyncio.Event()
        self._offset: int | None = None
        self._failures = 0
        self._webhook_cleared = False

    def stop(self) -> None:
        """Ask `run` to return; a batch being handed over is finished first."""
        self._stop.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            if not self._webhook_cleared:
                await self._clear_webhook()
            updates = await self._fetch()
            if updates:
                await self._hand_over(updates)
        await self._confirm_last_batch()

    async def _fetch(self) -> list[Update] | None:
        """The next batch; None when stopping or after a failure (already waited for)."""
        request = asyncio.ensure_future(
            self.bot.get_updates(
                offset=self._offset,
                timeout=self.timeout,
                allowed_updates=ALLOWED_UPDATES,
                request_timeout=self.timeout + _REQUEST_GRACE,
            )
        )
        stopping = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({request, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not request.done():  # stopping: nothing fetched is lost, the offset stays unconfirmed
            request.cancel()
            await asyncio.gather(request, return_exceptions=True)
            return None
        try:
            updates = request.result()
        except TelegramRetryAfter as error:
            log.warning("getUpdates rate limited", extra={"retry_after": error.retry_after})
            await self._pause(float(error.retry_after))
        except TelegramConflictError as error:
            # Another instance polls with this token, or a webhook is set.
            log.error("getUpdates conflict", extra={"error": error.message})
            self._webhook_cleared = False
            await self._pause(self._next_delay())
        except Exception as error:  # noqa: BLE001 - network, 5xx, bad token: keep trying
            log.warning("getUpdates failed", extra={"error": f"{type(error).__name__}: {error}"})
            await self._pause(self._next_delay())
        else:
            telemetry.count("channel_contact", channel=self.channel)  # Telegram answered
            return updates
        return None

    async def _hand_over(self, updates: list[Update]) -> None:
        batch = [(update.update_id, self._convert(update)) for update in updates]
        arrangement = self.albums.arrange(batch)
        try:
            await self.handle_batch(arrangement.ready)
        except Exception:  # noqa: BLE001 - not committed: fetch the same offset again later
            log.exception(
                "updates not handled; fetching them again",
                extra={"first_update_id": updates[0].update_id, "count": len(updates)},
            )
            await self._pause(self._next_delay())
            return
        self._failures = 0
        if arrangement.resume_at is not None:
            self._offset = arrangement.resume_at
            await self._pause(arrangement.wait)  # let the rest of an album arrive
        else:
            self._offset = updates[-1].update_id + 1

    def _convert(self, update: Update) -> Received | None:
        try:
            return convert_update(update, self.channel)
        except Exception:  # noqa: BLE001 - one strange update must not stall the chat forever
            log.exception(
                "update could not be read; skipped", extra={"update_id": update.update_id}
            )
            return None

    async def _clear_webhook(self) -> None:
        """getUpdates does not work while a webhook is set (e.g. after switching modes)."""
        try:
            await self.bot.delete_webhook(drop_pending_updates=False)
        except Exception as error:  # noqa: BLE001 - getUpdates will say what is wrong
            log.warning("deleteWebhook failed", extra={"error": f"{type(error).__name__}: {error}"})
            return
        self._webhook_cleared = True

    async def _confirm_last_batch(self) -> None:
        """Tell Telegram the last committed batch is done, so a restart does not fetch it again
        (harmless if it does: the engine drops repeats). Asks for at most one update and takes
        none: its offset is not confirmed."""
        if self._offset is None:
            return
        try:
            await self.bot.get_updates(offset=self._offset, limit=1, timeout=0)
        except Exception as error:  # noqa: BLE001 - best effort
            log.info("could not confirm the last batch", extra={"error": str(error)})

    def _next_delay(self) -> float:
        self._failures += 1
        return min(MAX_RETRY_DELAY, self.retry_delay * 2 ** (self._failures - 1))

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            pass
