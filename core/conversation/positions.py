"""Channel positions kept in the store (`core.ports.Positions`)."""

from __future__ import annotations

from dataclasses import dataclass

from core.store import Store
from core.work import Clock


@dataclass(eq=False)
class StoredPositions:
    store: Store
    clock: Clock

    async def load(self, channel: str, name: str) -> str | None:
        async with self.store.transaction() as tx:
            return await tx.positions.get(channel, name)

    async def save(self, channel: str, name: str, value: str) -> None:
        async with self.store.transaction() as tx:
            await tx.positions.set(channel, name, value, self.clock())
