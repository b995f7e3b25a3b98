"""Albums: Telegram delivers every picture of an album as an update of its own (same
`media_group_id`), usually within milliseconds, without saying how many will come. The helpdesk
wants one message with all the files, so parts are collected for a short while first.

Polling (`PolledAlbums`): a batch is handed over up to the first album still young (first seen
less than `wait` seconds ago); the poller fetches again from there after the wait, so no offset
is confirmed for a part that was not handed over. Webhook (`WebhookAlbums`): parts are staged in
the database, since behind one webhook address they may reach different processes; a request
answers once its part was handled as part of the album.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from channels.telegram_updates import Received, merge_album
from core.conversation.channel_memory import ProcessMemory
from core.ports import ChannelMemory

ALBUM_LIMIT = 10  # parts in a Telegram album: a full one is complete
_FORGET_AFTER = 300.0  # seconds: when an album's first sighting no longer matters
_REMEMBER_HANDLED = 1000  # update ids of parts handed over here, for a memory that cannot tell

AlbumKey = tuple[str, str]


def _merged(parts: Sequence[Received]) -> Received:
    return merge_album(sorted(parts, key=lambda p: int(p.message.update_id)))


@dataclass(frozen=True)
class Arrangement:
    ready: list[Received]  # hand these over now, in update order
    resume_at: int | None  # update_id to fetch again from (a young album); None: all taken
    wait: float  # seconds until the young albums may be handed over


class PolledAlbums:
    def __init__(self, wait: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.wait = wait
        self._clock = clock
        self._first_seen: dict[AlbumKey, float] = {}

    def arrange(self, batch: Sequence[tuple[int, Received | None]]) -> Arrangement:
        """Split a fetched batch ((update_id, converted or None), in update order)."""
        now = self._clock()
        parts: dict[AlbumKey, list[tuple[int, Received]]] = {}
        for update_id, received in batch:
            if received is not None and received.album is not None:
                parts.setdefault(received.album, []).append((update_id, received))
                self._first_seen.setdefault(received.album, now)
        young = {
            key
            for key, found in parts.items()
            if len(found) < ALBUM_LIMIT and now - self._first_seen[key] < self.wait
        }
        resume_at = _hold_point(parts, young)
        ready: list[Received] = []
        handed: set[AlbumKey] = set()
        for update_id, received in batch:
            if resume_at is not None and update_id >= resume_at:
                break
            if received is None:
                continue
            if received.album is None:
                ready.append(received)
            elif received.album not in handed:
                handed.add(received.album)
                ready.append(_merged([r for _, r in parts[received.album]]))
        wait = min((self.wait - (now - self._first_seen[k]) for k in young), default=0.0)
        self._forget(now)
        return Arrangement(ready, resume_at, max(wait, 0.0))

    def _forget(self, now: float) -> None:
        stale = [k for k, seen in self._first_seen.items() if now - seen > _FORGET_AFTER]
        for key in stale:
            del self._first_seen[key]


def _hold_point(
    parts: dict[AlbumKey, list[tuple[int, Received]]], young: set[AlbumKey]
) -> int | None:
    """The first update not to hand over yet: the first part of a young album, moved back to
    the start of any album that would otherwise be cut in two by it."""
    hold = min((parts[key][0][0] for key in young), default=None)
    moved = hold is not None
    while moved:
        moved = False
        for found in parts.values():
            first, last = found[0][0], found[-1][0]
            if first < hold <= last:
                hold, moved = first, True
    return hold


@dataclass
class _Watch:
    """One album's requests in this process: one of them watches the album at a time."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    requests: int = 0


class WebhookAlbums:
    """Each part's request stages the part in the channel's memory (the database: parts that
    reach different processes behind one webhook address meet there), then waits until no part
    came for `wait` seconds and hands over the album's parts not handled yet as one message.
    The engine records every part's update id with it, so a part handed over by any process is
    no longer pending, and two processes handing over the same album have one effect. Within a
    process one request per album watches at a time; the others find their part handled."""

    def __init__(self, wait: float, channel: str, read: Callable[[str], Received | None]) -> None:
        self.wait = wait
        self.channel = channel
        self.memory: ChannelMemory = ProcessMemory()
        self._read = read  # a staged payload back into a part
        self._watches: dict[AlbumKey, _Watch] = {}
        self._handled: deque[str] = deque(maxlen=_REMEMBER_HANDLED)  # here, for ProcessMemory

    async def deliver(
        self, part: Received, payload: str, handle: Callable[[Received], Awaitable[None]]
    ) -> None:
        """Returns once the album this part belongs to was handled; raises if it was not."""
        assert part.album is not None
        group = ":".join(part.album)
        await self.memory.stage(self.channel, group, part.message.update_id, payload)
        watch = self._watches.setdefault(part.album, _Watch())
        watch.requests += 1
        try:
            async with watch.lock:
                await self._until_handled(part.message.update_id, group, handle)
        finally:
            watch.requests -= 1
            if not watch.requests:
                del self._watches[part.album]

    async def _until_handled(
        self, update_id: str, group: str, handle: Callable[[Received], Awaitable[None]]
    ) -> None:
        loop = asyncio.get_running_loop()
        seen: set[str] = set()
        changed_at = loop.time()
        while True:
            staged = await self.memory.pending(self.channel, group)
            pending = [(u, payload) for u, payload in staged if u not in self._handled]
            ids = {u for u, _ in pending}
            if update_id not in ids:
                return  # handled, here or by another process
            if ids != seen:
                seen, changed_at = ids, loop.time()
            if len(ids) >= ALBUM_LIMIT or loop.time() - changed_at >= self.wait:
                parts = [p for p in map(self._read, (payload for _, payload in pending)) if p]
                await handle(_merged(parts))
                self._handled.extend(ids)
                return
            await asyncio.sleep(self.wait / 4)
