"""Staged parts: deliveries that together make one message (a Telegram album), kept until the
whole is handled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, delete, exists, select

from storage.models import processed_updates, staged_parts
from storage.repository._sql import Repository, insert_for, per_dialect

_stage = per_dialect(lambda dialect: insert_for(dialect, staged_parts).on_conflict_do_nothing())

# A part is pending until a handled delivery records its update id (the engine records every
# part of the message it handled, in the same transaction).
_PENDING = (
    select(staged_parts.c.update_id, staged_parts.c.payload)
    .where(
        staged_parts.c.channel == bindparam("channel"),
        staged_parts.c.group_key == bindparam("group_key"),
        ~exists().where(
            and_(
                processed_updates.c.channel == staged_parts.c.channel,
                processed_updates.c.update_id == staged_parts.c.update_id,
            )
        ),
    )
    .order_by(staged_parts.c.staged_at, staged_parts.c.update_id)
)


class StagedPartRepository(Repository):
    """`core.store.StagedParts` over SQL."""

    def stage(self, channel: str, group: str, update_id: str, payload: str, now: datetime) -> None:
        params = {
            "channel": channel,
            "update_id": update_id,
            "group_key": group,
            "payload": payload,
            "staged_at": now,
        }
        self.conn.execute(_stage(self.conn), params)

    def pending(self, channel: str, group: str) -> list[tuple[str, str]]:
        rows = self.conn.execute(_PENDING, {"channel": channel, "group_key": group})
        return [(row.update_id, row.payload) for row in rows]

    def prune(self, before: datetime) -> int:
        statement = delete(staged_parts).where(staged_parts.c.staged_at < before)
        return self.conn.execute(statement).rowcount
