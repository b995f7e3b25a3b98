"""Messages held until their user says which open ticket they are about."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select

from core.domain_toolkit import HeldMessage
from core.messages import Attachment
from storage.mapping import attachments_to_json, held_message_from_row
from storage.models import held_messages
from storage.repository._sql import Repository


class HeldMessageRepository(Repository):
    """`core.store.HeldMessages` over SQL."""

    def add(
        self,
        user_id: int,
        text: str,
        attachments: Sequence[Attachment],
        message_id: str | None,
        now: datetime,
    ) -> int:
        """Hold one more; returns how many of the user's messages are held now."""
        self.conn.execute(
            insert(held_messages).values(
                user_id=user_id,
                text=text,
                attachments=attachments_to_json(attachments),
                message_id=message_id,
                held_at=now,
            )
        )
        count = select(func.count()).where(held_messages.c.user_id == user_id)
        return self.conn.execute(count).scalar_one()

    def take(self, user_id: int) -> list[HeldMessage]:
        """The user's held messages, oldest first, no longer held."""
        statement = (
            delete(held_messages)
            .where(held_messages.c.user_id == user_id)
            .returning(*held_messages.c)
        )
        return _in_order(self.conn.execute(statement))

    def take_due(self, held_before: datetime) -> list[HeldMessage]:
        """Every held message of the users whose oldest was held before `held_before`, oldest
        first, no longer held (a second process asking at once gets none of them)."""
        due_users = (
            select(held_messages.c.user_id)
            .group_by(held_messages.c.user_id)
            .having(func.min(held_messages.c.held_at) < held_before)
        )
        statement = (
            delete(held_messages)
            .where(held_messages.c.user_id.in_(due_users))
            .returning(*held_messages.c)
        )
        return _in_order(self.conn.execute(statement))


def _in_order(rows: Any) -> list[HeldMessage]:
    held = [held_message_from_row(row) for row in rows]
    return sorted(held, key=lambda message: message.id)  # RETURNING has no order
