"""Albums: Telegram delivers every picture of an album as an update of its own (same
`media_group_id`), usually within milliseconds, without saying how many will come. The helpdesk
wants one message with all the files, so parts are collected for a short while first.

Polling (`PolledAlbums`): a batch is handed over up to the first album still young (first seen
less than `wait` seconds ago); the poller fetches again from there after the wait, so no offset
is confirmed for a part that was not handed over. Webhook (`WebhookAlbums`): the request of the
first part waits until no part came for `wait` seconds, hands the merged message over, and every
part's request answers with that outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from channels.telegram_updates import Received, merge_album

ALBUM_LIMIT = 10  # parts in a Telegram album: a full one is complete
_FORGET_AFTER = 300.0  # seconds: when an album's first sighting no longer matters

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
class _OpenAlbum:
    parts: list[Received]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    outcome: asyncio.Future = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class WebhookAlbums:
    def __init__(self, wait: float) -> None:
        self.wait = wait
        self._open: dict[AlbumKey, _OpenAlbum] = {}

    async def deliver(self, part: Received, handle: Callable[[Received], Awaitable[None]]) -> None:
        """Returns once the album this part belongs to was handled; raises if it was not."""
        key = part.album
        assert key is not None
        album = self._open.get(key)
        if album is not None:
            album.parts.append(part)
            album.arrived.set()
            await _outcome_of(album)
            return
        album = _OpenAlbum([part])
        self._open[key] = album
        try:
            try:
                await self._until_quiet(album)
            finally:
                self._open.pop(key, None)
            await handle(_merged(album.parts))
        except Exception as error:
            album.outcome.set_exception(error)
            album.outcome.exception()  # marks it retrieved; the raise below reports it
            raise
        except BaseException:
            album.outcome.cancel()
            raise
        album.outcome.set_result(None)

    async def _until_quiet(self, album: _OpenAlbum) -> None:
        while len(album.parts) < ALBUM_LIMIT:
            album.arrived.clear()
            try:
                await asyncio.wait_for(album.arrived.wait(), self.wait)
            except TimeoutError:
                return


async def _outcome_of(album: _OpenAlbum) -> None:
    try:
        await asyncio.shield(album.outcome)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if album.outcome.cancelled() and task is not None and not task.cancelling():
            raise RuntimeError("the album's delivery was interrupted") from None
        raise
