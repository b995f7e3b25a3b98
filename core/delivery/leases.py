"""The outbox sender's leases on what it claimed: kept while a slow round runs, and freed at
once when a sender restarts after a crash instead of holding its threads up until they expire."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from core.store import Store

log = logging.getLogger(__name__)


class Leases:
    def __init__(
        self, store: Store, owner: str, lease_seconds: float, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.clock = clock
        self._leftovers_freed = False

    async def free_leftovers(self) -> int:
        """What this sender (by its name) had claimed before a crash is free again; once."""
        if self._leftovers_freed:
            return 0
        async with self.store.transaction() as tx:
            freed = await tx.outbox.release_held_by(self.owner)
        if freed:
            log.warning("outbox leases of a previous run freed", extra={"items": freed})
        self._leftovers_freed = True
        return freed

    @asynccontextmanager
    async def kept(self, item_ids: list[int]) -> AsyncIterator[None]:
        """While a round runs longer than a third of the lease (slow uploads, the platform's
        pacing), its leases are lengthened, so no other sender takes its items meanwhile."""

        async def keep() -> None:
            while True:
                await asyncio.sleep(self.lease_seconds / 3)
                until = self.clock() + timedelta(seconds=self.lease_seconds)
                try:
                    async with self.store.transaction() as tx:
                        await tx.outbox.extend(item_ids, self.owner, until)
                except Exception:  # noqa: BLE001 - the database is away: try at the next beat
                    log.warning("outbox leases could not be extended", exc_info=True)

        keeper = asyncio.create_task(keep())
        try:
            yield
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
