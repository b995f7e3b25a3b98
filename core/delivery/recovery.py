"""Items an earlier sender may have delivered without recording it (`OutboxItem.maybe_sent`: its
lease lapsed, or it crashed between a send and its record). Before a part of such an item is
sent again, the outbox asks an adapter that can find what it sent by its key
(`core.ports.SentMessageFinder`, Slack) and takes a part it finds as sent. Elsewhere the part
is sent again: VK drops the repeat by its random_id, other platforms may show it twice."""

from __future__ import annotations

import logging

from core.delivery import threads
from core.domain import OutboxItem
from core.messages import OutgoingMessage, SentMessage
from core.ports import ChannelAdapter, SentMessageFinder

log = logging.getLogger(__name__)


class Lookback:
    """One attempt at one item: asks before each part until a part is not found (the earlier
    sender sent the parts in order, so none after it went either)."""

    def __init__(self, adapter: ChannelAdapter, item: OutboxItem) -> None:
        self._item = item
        self._finder = (
            adapter if item.maybe_sent and isinstance(adapter, SentMessageFinder) else None
        )

    async def sent(self, part: OutgoingMessage, index: int) -> SentMessage | None:
        """What the platform already has of part `index` (`part` as it would be sent now)."""
        if self._finder is None:
            return None
        found = await self._finder.find_sent(part, self._item.created_at)
        merged = threads.plain_staff_message(self._item)
        for key, sent in found.items():
            if carried(key, self._item.id, index, merged=merged):
                log.info(
                    "outbox part found delivered already: not sent again",
                    extra={"outbox_id": self._item.id, "part": index, "key": key},
                )
                return sent
        self._finder = None
        return None


def carried(key: str, item_id: int, index: int, *, merged: bool = False) -> bool:
    """Whether the send with idempotency key `key` carried part `index` of item `item_id`: its
    own key ("123.1"), or, with `merged` (the item is of the kind that travels merged), a merged
    message's ("121-125.0": the items of one lane from 121 to 125 in one message of one part,
    found in that lane's thread). An item that may have been sent is never
    merged again (`threads.mergeable`), so no later merge can take it for another range."""
    items, _, part = key.rpartition(".")
    first, _, last = items.partition("-")
    try:
        if part != str(index):
            return False
        if not last:
            return int(first) == item_id
        return merged and index == 0 and int(first) <= item_id <= int(last)
    except ValueError:  # not a key of ours
        return False
