"""Announcements and their progress (their copies are outbox items)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update

from core.domain import REFUSED, OutboxStatus
from core.domain_toolkit import Announcement
from core.messages import ConversationRef
from storage.mapping import announcement_from_row
from storage.models import announcements, outbox
from storage.repository._sql import Repository


class AnnouncementRepository(Repository):
    """`core.store.Announcements` over SQL."""

    def create(
        self, text: str, audience: str, by: str, chat: ConversationRef, now: datetime
    ) -> Announcement:
        values = {
            "text": text,
            "audience": audience,
            "created_by": by,
            "chat_channel": chat.channel,
            "chat_id": chat.chat_id,
            "chat_thread_id": chat.thread_id,
            "created_at": now,
            "total": 0,
        }
        row = self.conn.execute(insert(announcements).values(values).returning(*announcements.c))
        return announcement_from_row(row.one())

    def get(self, announcement_id: int) -> Announcement | None:
        statement = select(announcements).where(announcements.c.id == announcement_id)
        row = self.conn.execute(statement).first()
        return announcement_from_row(row) if row is not None else None

    def start(self, announcement_id: int, total: int, now: datetime) -> bool:
        """Mark it confirmed; False when it was already (a second press sends nothing)."""
        statement = (
            update(announcements)
            .where(announcements.c.id == announcement_id, announcements.c.started_at.is_(None))
            .values(started_at=now, total=total)
        )
        return self.conn.execute(statement).rowcount == 1

    def running(self) -> list[Announcement]:
        statement = (
            select(announcements)
            .where(announcements.c.started_at.is_not(None), announcements.c.finished_at.is_(None))
            .order_by(announcements.c.id)
        )
        return [announcement_from_row(row) for row in self.conn.execute(statement)]

    def finish(self, announcement_id: int, now: datetime) -> bool:
        """True for the one caller that finished it (two processes may check at once)."""
        statement = (
            update(announcements)
            .where(announcements.c.id == announcement_id, announcements.c.finished_at.is_(None))
            .values(finished_at=now)
        )
        return self.conn.execute(statement).rowcount == 1

    def progress(self, announcement_id: int) -> dict[str, int]:
        """How many copies are "sent", "pending", "refused" (blocked, gone) and "failed"."""
        refused = outbox.c.last_error.startswith(REFUSED)
        statement = (
            select(outbox.c.status, refused.label("refused"), func.count())
            .where(outbox.c.announcement_id == announcement_id)
            .group_by(outbox.c.status, refused)
        )
        counts = dict.fromkeys(("sent", "pending", "refused", "failed"), 0)
        for status, was_refused, count in self.conn.execute(statement):
            if status == OutboxStatus.FAILED.value:
                counts["refused" if was_refused else "failed"] += count
            else:
                counts[status] += count
        return counts
