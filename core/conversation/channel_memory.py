"""What channels keep in the store between runs and across processes
(`core.ports.ChannelMemory`)."""

from __future__ import annotations

from dataclasses import dataclass

from core.store import Store
from core.work import Clock


@dataclass(eq=False)
class StoredChannelMemory:
    store: Store
    clock: Clock

    async def load(self, channel: str, name: str) -> str | None:
        async with self.store.transaction() as tx:
            return await tx.positions.get(channel, name)

    async def save(self, channel: str, name: str, value: str) -> None:
        async with self.store.transaction() as tx:
            await tx.positions.set(channel, name, value, self.clock())

    async def stage(self, channel: str, group: str, update_id: str, payload: str) -> None:
        async with self.store.transaction() as tx:
            await tx.staged.stage(channel, group, update_id, payload, self.clock())

    async def pending(self, channel: str, group: str) -> list[tuple[str, str]]:
        async with self.store.transaction() as tx:
            return await tx.staged.pending(channel, group)


class ProcessMemory:
    """`core.ports.ChannelMemory` for a channel started without a database (tests, tools):
    forgotten when the process ends, seen by no other process."""

    def __init__(self) -> None:
        self._positions: dict[tuple[str, str], str] = {}
        self._parts: dict[tuple[str, str], dict[str, str]] = {}

    async def load(self, channel: str, name: str) -> str | None:
        return self._positions.get((channel, name))

    async def save(self, channel: str, name: str, value: str) -> None:
        self._positions[(channel, name)] = value

    async def stage(self, channel: str, group: str, update_id: str, payload: str) -> None:
        self._parts.setdefault((channel, group), {}).setdefault(update_id, payload)

    async def pending(self, channel: str, group: str) -> list[tuple[str, str]]:
        """Every part staged: this memory does not know what was handled (the caller does)."""
        return list(self._parts.get((channel, group), {}).items())
