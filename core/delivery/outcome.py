"""What became of an outbox item in a round, and how that is stored."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from core.domain import MessageLink, OutboxItem
from core.store import Transaction

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one send attempt of an outbox item came to."""

    item: OutboxItem
    parts_sent: int
    merged: list[OutboxItem] = field(default_factory=list)  # sent along in item's message
    links: list[MessageLink] = field(default_factory=list)
    done: bool = False
    failed: bool = False
    thread_gone: bool = False
    attempts: int = 0
    retry_at: datetime | None = None
    error: str | None = None
    maybe_sent: bool = False  # the failure leaves it open whether the platform took it


async def record(tx: Transaction, outcome: Outcome, owner: str) -> None:
    """Store what became of an item that was not delivered (the delivered ones are marked
    together with the round's other deliveries)."""
    item = outcome.item
    if outcome.thread_gone:
        conversation = item.message.conversation
        await tx.links.drop_anchor(
            item.message.ticket_id, conversation.channel, conversation.chat_id
        )
    if outcome.done:
        return  # marked together with the round's other deliveries
    if outcome.parts_sent != item.parts_sent:
        await tx.outbox.mark_progress(item.id, outcome.parts_sent, owner)
    if outcome.failed:
        log.warning(
            "outbox item failed for good",
            extra={
                "outbox_id": item.id,
                "error": outcome.error,
                "channel": item.message.conversation.channel,
            },
        )
        error = outcome.error or "failed"
        await tx.outbox.mark_failed(item.id, outcome.attempts, error, owner)
    else:
        log.info(
            "outbox item will be retried",
            extra={
                "outbox_id": item.id,
                "error": outcome.error,
                "retry_at": outcome.retry_at.isoformat(),
            },
        )
        await tx.outbox.schedule_retry(
            item.id,
            outcome.attempts,
            outcome.retry_at,
            outcome.error or "retry",
            owner,
            maybe_sent=outcome.maybe_sent,
        )
