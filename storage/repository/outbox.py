"""The outbox: messages written by the core inside its transaction, delivered later by a sender.

Per lane of a chat (a ticket's thread in a staff chat, a thread, the chat itself: see
`OutgoingMessage.lane`) the queue is strictly ordered: only the oldest pending item of a lane
(its head) may be sent, so a message that waits for a retry holds back the ones after it in its
lane, and nothing else. Senders lease what they claim (`locked_until`, `leased_by`); an expired
lease (a crashed sender) makes the item claimable again, and a restarted sender frees its own
leases at once. Either way the item is marked `maybe_sent`: the sender that lost it may have
delivered it without recording that, so the next one looks on the platform first where it can.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)

from core.domain import OutboxItem, OutboxStatus
from core.domain_toolkit import ChatBacklog
from core.messages import OutgoingMessage
from storage.mapping import outbox_item_from_row, outgoing_payload
from storage.models import outbox
from storage.repository._sql import Repository

logger = logging.getLogger(__name__)

PENDING = OutboxStatus.PENDING.value
FAILED = OutboxStatus.FAILED.value

_INSERT = insert(outbox).returning(outbox.c.id)


def _row(message: OutgoingMessage, now: datetime) -> dict:
    conversation = message.conversation
    return {
        "channel": conversation.channel,
        "chat_id": conversation.chat_id,
        "thread_id": conversation.thread_id,
        "lane": message.lane,
        "text": message.text,
        "ticket_id": message.ticket_id,
        "announcement_id": message.announcement_id,
        "payload": outgoing_payload(message),
        "status": PENDING,
        "attempts": 0,
        "parts_sent": 0,
        "next_attempt_at": now,
        "locked_until": None,
        "leased_by": None,
        "maybe_sent": False,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
    }


# Claiming an item whose lease is still set (it lapsed: the holder never recorded an outcome)
# marks it: the holder may have delivered it. In an UPDATE, columns read their old values.
_LAPSED = or_(outbox.c.maybe_sent, outbox.c.locked_until.is_not(None))


def _build_claim_heads():
    older = outbox.alias("older")
    has_older_pending = exists().where(
        older.c.status == PENDING,
        older.c.channel == outbox.c.channel,
        older.c.chat_id == outbox.c.chat_id,
        older.c.lane == outbox.c.lane,
        older.c.id < outbox.c.id,
    )
    claimable = (
        outbox.c.status == PENDING,
        outbox.c.next_attempt_at <= bindparam("now"),
        or_(outbox.c.locked_until.is_(None), outbox.c.locked_until <= bindparam("now")),
    )
    heads = (
        select(outbox.c.id)
        .where(*claimable, ~has_older_pending)
        .order_by(outbox.c.id)
        .limit(bindparam("claim_limit"))
        # PostgreSQL: a second sender skips rows being claimed right now instead of waiting;
        # its own NOT EXISTS still sees them pending, so it never takes the next item of that
        # lane. SQLite ignores this: its write transactions are serialized.
        .with_for_update(skip_locked=True)
        # Evaluated once. As `id IN (subquery)` PostgreSQL may re-run the subquery while
        # updating; rows this statement already updated are then skipped by FOR UPDATE and the
        # LIMIT window slides on, claiming far more than `limit` rows.
        .cte("claimed_heads")
        .prefix_with("MATERIALIZED")
    )
    return (
        update(outbox)
        .where(outbox.c.id == heads.c.id)
        .values(
            locked_until=bindparam("lease_until"), leased_by=bindparam("owner"), maybe_sent=_LAPSED
        )
        .returning(*outbox.c)
    )


_CLAIM_HEADS = _build_claim_heads()

# The pending items that follow the claimed heads in their lanes, oldest first per lane.
_LANE = tuple_(outbox.c.channel, outbox.c.chat_id, outbox.c.lane)
_FOLLOWERS = (
    select(outbox)
    .where(
        outbox.c.status == PENDING,
        outbox.c.id.not_in(bindparam("head_ids", expanding=True)),
        _LANE.in_(bindparam("lanes", expanding=True)),
    )
    .order_by(outbox.c.channel, outbox.c.chat_id, outbox.c.lane, outbox.c.id)
)
_LEASE = (
    update(outbox)
    .where(outbox.c.id.in_(bindparam("item_ids", expanding=True)))
    .values(locked_until=bindparam("lease_until"), leased_by=bindparam("owner"), maybe_sent=_LAPSED)
)
# The sender crashed while holding these: what it did with them was never recorded.
_RELEASE_HELD_BY = (
    update(outbox)
    .where(outbox.c.leased_by == bindparam("owner"), outbox.c.status == PENDING)
    .values(locked_until=None, leased_by=None, maybe_sent=True)
)


_RELEASE = (
    update(outbox)
    .where(outbox.c.id.in_(bindparam("item_ids", expanding=True)), outbox.c.status == PENDING)
    .values(locked_until=None, leased_by=None)
)
_EXTEND = (
    update(outbox)
    .where(
        outbox.c.id.in_(bindparam("item_ids", expanding=True)),
        outbox.c.status == PENDING,
        outbox.c.leased_by == bindparam("holder"),
    )
    .values(locked_until=bindparam("lease_until"))
)
# Fencing: a sender records what it did only while it still holds the item's lease.
_HELD = outbox.c.leased_by == bindparam("holder")
_RELEASE_HELD = _RELEASE.where(_HELD)


# SET columns come from the parameters given at execution.
_UPDATE_ITEM = update(outbox).where(outbox.c.id == bindparam("item_id"))
_UPDATE_HELD_ITEM = _UPDATE_ITEM.where(_HELD)


def _update_item(conn: Connection, item_id: int, owner: str | None, **values: object) -> None:
    """`owner` None: unconditionally; else only while `owner` holds the lease."""
    if owner is None:
        statement, params = _UPDATE_ITEM, {"item_id": item_id, **values}
    else:
        statement, params = _UPDATE_HELD_ITEM, {"item_id": item_id, "holder": owner, **values}
    if conn.execute(statement, params).rowcount == 0:
        logger.warning(
            "outbox item not updated: gone, or its lease lost",
            extra={"outbox_id": item_id, "owner": owner},
        )


_MARK_SENT = (
    update(outbox)
    .where(outbox.c.id == bindparam("item_id"))
    .values(
        status=OutboxStatus.SENT.value,
        parts_sent=bindparam("parts"),
        sent_at=bindparam("now"),
        locked_until=None,
        leased_by=None,
        maybe_sent=False,
    )
)
_MARK_SENT_HELD = _MARK_SENT.where(_HELD)


_ITEM_BY_ID = select(outbox).where(outbox.c.id == bindparam("item_id"))
_COUNT_PENDING = select(func.count()).select_from(outbox).where(outbox.c.status == PENDING)
_OLDEST_PENDING = select(func.min(outbox.c.created_at)).where(outbox.c.status == PENDING)


class OutboxRepository(Repository):
    """`core.store.Outbox` over SQL."""

    def enqueue(self, message: OutgoingMessage, now: datetime) -> int:
        return self.conn.execute(_INSERT, _row(message, now)).scalar_one()

    def enqueue_many(self, messages: Sequence[OutgoingMessage], now: datetime) -> None:
        """One statement for all (executemany): a batch of messages costs one round trip."""
        if messages:
            self.conn.execute(insert(outbox), [_row(m, now) for m in messages])

    def claim_due(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        per_lane: int = 1,
        owner: str = "",
    ) -> list[OutboxItem]:
        """The claimable head of each lane (one indexed statement) and, with `per_lane` > 1,
        the items right behind each head while they are due and free, up to `per_lane`."""
        if limit <= 0:
            return []
        params = {"now": now, "lease_until": lease_until, "claim_limit": limit, "owner": owner}
        head_rows = self.conn.execute(_CLAIM_HEADS, params).all()
        heads = [outbox_item_from_row(row) for row in head_rows]
        if per_lane <= 1 or not heads:
            return sorted(heads, key=lambda item: item.id)  # RETURNING has no order
        lanes = sorted({(row.channel, row.chat_id, row.lane) for row in head_rows})
        rows = self.conn.execute(_FOLLOWERS, {"head_ids": [h.id for h in heads], "lanes": lanes})
        taken: dict[tuple[str, str, str], int] = {}
        stopped: set[tuple[str, str, str]] = set()
        followers = []
        for row in rows:
            lane = (row.channel, row.chat_id, row.lane)
            if lane in stopped or taken.get(lane, 1) >= per_lane:
                continue
            if row.next_attempt_at > now or (
                row.locked_until is not None and row.locked_until > now
            ):
                stopped.add(lane)  # the queue of this lane halts here
                continue
            taken[lane] = taken.get(lane, 1) + 1
            follower = outbox_item_from_row(row)
            if row.locked_until is not None:  # as _LEASE marks it
                follower = dataclasses.replace(follower, maybe_sent=True)
            followers.append(follower)
        if followers:
            ids = [f.id for f in followers]
            self.conn.execute(_LEASE, {"item_ids": ids, "lease_until": lease_until, "owner": owner})
        return sorted(heads + followers, key=lambda item: item.id)

    def release_held_by(self, owner: str) -> int:
        """Free the leases `owner` held: a sender restarted after a crash takes its claimed
        items back at once instead of waiting for the leases to expire. They are marked
        `maybe_sent`: the crash may have come after a send and before its record."""
        return self.conn.execute(_RELEASE_HELD_BY, {"owner": owner}).rowcount

    def release(self, item_ids: Sequence[int], owner: str | None = None) -> None:
        """Give claimed items back untouched (the sender did not get to them this round):
        `maybe_sent` stays as it was."""
        if not item_ids:
            return
        if owner is None:
            self.conn.execute(_RELEASE, {"item_ids": list(item_ids)})
        else:
            self.conn.execute(_RELEASE_HELD, {"item_ids": list(item_ids), "holder": owner})

    def extend(self, item_ids: Sequence[int], owner: str, lease_until: datetime) -> int:
        if not item_ids:
            return 0
        params = {"item_ids": list(item_ids), "holder": owner, "lease_until": lease_until}
        return self.conn.execute(_EXTEND, params).rowcount

    def mark_progress(self, item_id: int, parts_sent: int, owner: str | None = None) -> None:
        _update_item(self.conn, item_id, owner, parts_sent=parts_sent)

    def mark_sent_many(
        self, items: Sequence[tuple[int, int]], now: datetime, owner: str | None = None
    ) -> None:
        """(item id, parts sent) pairs, in one statement (executemany)."""
        if not items:
            return
        rows = [{"item_id": i, "parts": p, "now": now} for i, p in items]
        if owner is None:
            self.conn.execute(_MARK_SENT, rows)
        else:
            self.conn.execute(_MARK_SENT_HELD, [row | {"holder": owner} for row in rows])

    def schedule_retry(
        self,
        item_id: int,
        attempts: int,
        next_attempt_at: datetime,
        error: str,
        owner: str | None = None,
        maybe_sent: bool = False,
    ) -> None:
        marked = {"maybe_sent": True} if maybe_sent else {}
        _update_item(
            self.conn,
            item_id,
            owner,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            last_error=error,
            locked_until=None,
            leased_by=None,
            **marked,
        )

    def mark_failed(
        self, item_id: int, attempts: int, error: str, owner: str | None = None
    ) -> None:
        _update_item(
            self.conn,
            item_id,
            owner,
            status=OutboxStatus.FAILED.value,
            attempts=attempts,
            last_error=error,
            locked_until=None,
            leased_by=None,
            maybe_sent=False,
        )

    def get(self, item_id: int) -> OutboxItem | None:
        row = self.conn.execute(_ITEM_BY_ID, {"item_id": item_id}).first()
        return outbox_item_from_row(row) if row is not None else None

    def count_pending(self) -> int:
        return self.conn.execute(_COUNT_PENDING).scalar_one()

    def oldest_pending(self) -> datetime | None:
        return self.conn.execute(_OLDEST_PENDING).scalar_one_or_none()

    def backlog_by_chat(self, channel: str) -> list[ChatBacklog]:
        counts = self.conn.execute(
            select(
                outbox.c.chat_id,
                func.count().filter(outbox.c.status == PENDING).label("pending"),
                func.count().filter(outbox.c.status == FAILED).label("failed"),
                func.max(outbox.c.sent_at).label("last_sent_at"),
            )
            .where(outbox.c.channel == channel)
            .group_by(outbox.c.chat_id)
            .order_by(outbox.c.chat_id)
        ).all()
        found = []
        for row in counts:
            last_error = self.conn.execute(
                select(outbox.c.last_error)
                .where(
                    outbox.c.channel == channel,
                    outbox.c.chat_id == row.chat_id,
                    outbox.c.status != OutboxStatus.SENT.value,  # the trouble still there
                    outbox.c.last_error.is_not(None),
                )
                .order_by(outbox.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            found.append(
                ChatBacklog(row.chat_id, row.pending, row.failed, last_error, row.last_sent_at)
            )
        return found

    def prune(self, before: datetime) -> int:
        """Delete sent and failed items created before `before`; returns how many."""
        statement = delete(outbox).where(outbox.c.status != PENDING, outbox.c.created_at < before)
        return self.conn.execute(statement).rowcount
