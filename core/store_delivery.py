"""Storage ports of delivery: the outbox and the message links (core/delivery/), part of
`core.store.Transaction`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.domain import MessageLink, OutboxItem
from core.domain_toolkit import ChatBacklog
from core.messages import OutgoingMessage


class MessageLinks(Protocol):
    """Platform messages that belong to a ticket: how an agent's reply finds its ticket."""

    async def add(self, link: MessageLink) -> None:
        """Idempotent: the same (channel, chat_id, message_id) stored twice is kept once."""

    async def add_many(self, links: Sequence[MessageLink]) -> None: ...

    async def find_ticket(self, channel: str, chat_id: str, message_id: str) -> int | None: ...

    async def copies_of(self, source: str) -> list[MessageLink]:
        """The messages that relay the agent's message `source` ("channel:chat_id:id")."""

    async def find_anchor(self, ticket_id: int, channel: str, chat_id: str) -> MessageLink | None:
        """The newest anchor link of the ticket in that chat."""

    async def find_anchors(
        self, keys: Sequence[tuple[int, str, str]]
    ) -> dict[tuple[int, str, str], MessageLink]:
        """The newest anchor link of each (ticket id, channel, chat id), in one round trip;
        keys without one are left out."""

    async def drop_anchor(self, ticket_id: int, channel: str, chat_id: str) -> int:
        """Forget the ticket's anchors in that chat (its thread was deleted; the next staff
        message opens a new one; replies to old messages still map); returns how many."""

    async def move_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        """A chat changed its id: re-point links, pending outbox items and the chat alias."""

    async def chat_aliases(self, channel: str) -> dict[str, str]:
        """Old chat id -> current chat id, for chats that moved."""


class Outbox(Protocol):
    """Replies saved first and sent by the outbox sender (core.delivery.outbox)."""

    async def enqueue(self, message: OutgoingMessage, now: datetime) -> int: ...

    async def enqueue_many(self, messages: Sequence[OutgoingMessage], now: datetime) -> None:
        """Queue several messages in order, in one round trip."""

    async def claim_due(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        per_lane: int = 1,
        owner: str = "",
    ) -> list[OutboxItem]:
        """Pending items that may be sent now, from at most `limit` lanes: for each lane of a
        chat (channel, chat_id, `OutgoingMessage.lane`) its oldest pending items in order, at
        most `per_lane`, up to the first one that is not due or is leased by another sender.
        The returned items are leased to `owner` until `lease_until`. An item whose earlier
        lease lapsed (its sender recorded no outcome) is marked `maybe_sent`."""

    async def release_held_by(self, owner: str) -> int:
        """Free every lease `owner` holds (a restarted sender's leftovers), marking the items
        `maybe_sent` (the crash may have come after a send); returns how many."""

    async def extend(self, item_ids: Sequence[int], owner: str, lease_until: datetime) -> int:
        """Lengthen `owner`'s leases of these items (a send that takes long keeps its items);
        returns how many it still held."""

    # What follows records a send. With the sender's name as `owner` it changes an item only
    # while that sender holds its lease: one that lost it cannot overwrite the new holder.

    async def release(self, item_ids: Sequence[int], owner: str | None = None) -> None:
        """Give claimed, still pending items back without counting an attempt (untouched:
        `maybe_sent` stays as it was)."""

    async def mark_progress(
        self, item_id: int, parts_sent: int, owner: str | None = None
    ) -> None: ...

    async def mark_sent_many(
        self, items: Sequence[tuple[int, int]], now: datetime, owner: str | None = None
    ) -> None:
        """Mark these (item id, parts sent) sent, in one round trip (no longer `maybe_sent`).
        `mark_failed` clears `maybe_sent` too; `mark_progress` and `schedule_retry` keep it: the
        parts not sent yet may still be on the platform."""

    async def schedule_retry(
        self,
        item_id: int,
        attempts: int,
        next_attempt_at: datetime,
        error: str,
        owner: str | None = None,
        maybe_sent: bool = False,
    ) -> None:
        """Keep the item pending, release its lease, try again at `next_attempt_at`.
        `maybe_sent`: the failure left it unknown whether the platform took the message (a
        timeout, a dropped connection): the item is marked so (a mark never cleared here)."""

    async def mark_failed(
        self, item_id: int, attempts: int, error: str, owner: str | None = None
    ) -> None: ...

    async def get(self, item_id: int) -> OutboxItem | None: ...

    async def count_pending(self) -> int: ...

    async def oldest_pending(self) -> datetime | None:
        """When the oldest item still to be sent was queued; None when none is."""

    async def backlog_by_chat(self, channel: str) -> list[ChatBacklog]:
        """Per chat of `channel` that has items: pending, failed, the newest error of an item
        not sent, the newest send."""

    async def prune(self, before: datetime) -> int:
        """Delete sent and failed items created before `before` (housekeeping)."""
