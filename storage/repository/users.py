"""De-duplication of deliveries and users."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from core.domain import ACTIVE_STATUSES, Ban, User
from core.messages import ConversationRef
from storage.mapping import ban_to_json, user_from_row
from storage.models import processed_updates, tickets, users
from storage.repository._sql import Repository, insert_for, per_dialect

_claim_update = per_dialect(
    lambda dialect: insert_for(dialect, processed_updates).on_conflict_do_nothing()
)


_claim_updates_returning = per_dialect(
    lambda dialect: (
        insert_for(dialect, processed_updates)
        .on_conflict_do_nothing()
        .returning(processed_updates.c.channel, processed_updates.c.update_id)
    )
)


# FOR UPDATE serializes two PostgreSQL transactions on one user; SQLite ignores it (its write
# transactions are serialized already by BEGIN IMMEDIATE).
_USER_BY_KEY_FOR_UPDATE = (
    select(users)
    .where(users.c.channel == bindparam("channel"), users.c.external_id == bindparam("external_id"))
    .with_for_update()
)
_USER_BY_KEY = select(users).where(
    users.c.channel == bindparam("channel"), users.c.external_id == bindparam("external_id")
)
_USER_BY_ID = select(users).where(users.c.id == bindparam("user_id"))
_BANNED = select(users).where(users.c.ban.is_not(None)).order_by(users.c.id)
_insert_user = per_dialect(
    lambda dialect: (
        insert_for(dialect, users)
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(*users.c)
    )
)
# SET columns come from the parameters given at execution.
_UPDATE_USER = update(users).where(users.c.id == bindparam("user_id"))


class DeliveryRepository(Repository):
    """`core.store.Deliveries` over SQL."""

    def claim_many(self, keys: Sequence[tuple[str, str]], now: datetime) -> set[tuple[str, str]]:
        """Record many deliveries in one statement; returns the (channel, update_id) pairs that were
        new (repeats, also within `keys`, are left out)."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return set()
        rows = [{"channel": c, "update_id": u, "received_at": now} for c, u in unique]
        statement = _claim_updates_returning(self.conn).values(rows)
        return {(row.channel, row.update_id) for row in self.conn.execute(statement)}

    def claim(self, channel: str, update_id: str, now: datetime) -> bool:
        result = self.conn.execute(
            _claim_update(self.conn),
            {"channel": channel, "update_id": update_id, "received_at": now},
        )
        return result.rowcount == 1

    def release(self, keys: Sequence[tuple[str, str]]) -> None:
        for channel, update_id in keys:
            statement = delete(processed_updates).where(
                processed_updates.c.channel == channel, processed_updates.c.update_id == update_id
            )
            self.conn.execute(statement)

    def prune(self, before: datetime) -> int:
        """Forget deliveries received before `before` (platforms stop redelivering long before)."""
        statement = delete(processed_updates).where(processed_updates.c.received_at < before)
        return self.conn.execute(statement).rowcount


class UserRepository(Repository):
    """`core.store.Users` over SQL."""

    def upsert(
        self,
        channel: str,
        external_id: str,
        display_name: str,
        language_hint: str | None,
        chat: ConversationRef | None,
        now: datetime,
        lock: bool = True,
    ) -> tuple[User, bool]:
        """One SELECT for a known user whose details did not change (the common case)."""
        key = {"channel": channel, "external_id": external_id}
        row = self.conn.execute(_USER_BY_KEY_FOR_UPDATE if lock else _USER_BY_KEY, key).first()
        if row is None:
            values = {
                **key,
                "display_name": display_name,
                "language": language_hint,
                "chat_channel": chat.channel if chat else None,
                "chat_id": chat.chat_id if chat else None,
                "chat_thread_id": chat.thread_id if chat else None,
                "state": None,
                "created_at": now,
            }
            row = self.conn.execute(_insert_user(self.conn), values).first()
            if row is not None:
                return user_from_row(row), True
            # Another process inserted the user between our SELECT and INSERT: read (and lock)
            # its row.
            row = self.conn.execute(_USER_BY_KEY_FOR_UPDATE if lock else _USER_BY_KEY, key).one()

        user = user_from_row(row)
        changes: dict[str, Any] = {}
        if display_name and display_name != user.display_name:
            changes["display_name"] = display_name
        if user.language is None and language_hint:
            changes["language"] = language_hint
        if chat is not None and chat != user.chat:
            changes.update(
                chat_channel=chat.channel, chat_id=chat.chat_id, chat_thread_id=chat.thread_id
            )
        if not changes:
            return user, False
        self.conn.execute(_UPDATE_USER, {"user_id": user.id, **changes})
        return (
            dataclasses.replace(
                user,
                display_name=changes.get("display_name", user.display_name),
                language=changes.get("language", user.language),
                chat=chat if "chat_id" in changes else user.chat,
            ),
            False,
        )

    def get(self, user_id: int) -> User | None:
        row = self.conn.execute(_USER_BY_ID, {"user_id": user_id}).first()
        return user_from_row(row) if row is not None else None

    def find(self, channel: str, external_id: str) -> User | None:
        row = self.conn.execute(
            _USER_BY_KEY, {"channel": channel, "external_id": external_id}
        ).first()
        return user_from_row(row) if row is not None else None

    def set_language(self, user_id: int, language: str) -> None:
        result = self.conn.execute(_UPDATE_USER, {"user_id": user_id, "language": language})
        if result.rowcount == 0:
            raise KeyError(f"no user {user_id}")

    def set_state(self, user_id: int, state: dict | None) -> None:
        result = self.conn.execute(_UPDATE_USER, {"user_id": user_id, "state": state})
        if result.rowcount == 0:
            raise KeyError(f"no user {user_id}")

    def set_ban(self, user_id: int, ban: Ban | None) -> None:
        result = self.conn.execute(_UPDATE_USER, {"user_id": user_id, "ban": ban_to_json(ban)})
        if result.rowcount == 0:
            raise KeyError(f"no user {user_id}")

    def banned(self, now: datetime) -> list[User]:
        """Users with a ban in force at `now`, by id."""
        found = (user_from_row(row) for row in self.conn.execute(_BANNED))
        return [user for user in found if user.banned_at(now) is not None]

    def set_announcements(self, user_id: int, on: bool) -> None:
        result = self.conn.execute(_UPDATE_USER, {"user_id": user_id, "announcements_off": not on})
        if result.rowcount == 0:
            raise KeyError(f"no user {user_id}")

    def reachable(
        self,
        channel: str | None = None,
        with_open_tickets: bool = False,
        lines: Sequence[str | None] | None = None,
    ) -> list[User]:
        """Users the bot can write to in a private chat who did not opt out of announcements,
        by id: of one channel, with an open ticket, with a ticket in one of `lines` (None in
        it: tickets with no line recorded)."""
        statement = select(users).where(
            users.c.chat_id.is_not(None), users.c.announcements_off.is_(False)
        )
        if channel is not None:
            statement = statement.where(users.c.channel == channel)
        if with_open_tickets:
            active = [status.value for status in ACTIVE_STATUSES]
            statement = statement.where(
                users.c.id.in_(select(tickets.c.user_id).where(tickets.c.status.in_(active)))
            )
        if lines is not None:
            named = [line for line in lines if line is not None]
            in_lines = tickets.c.line.in_(named)
            if None in lines:
                in_lines = in_lines | tickets.c.line.is_(None)
            statement = statement.where(users.c.id.in_(select(tickets.c.user_id).where(in_lines)))
        return [user_from_row(row) for row in self.conn.execute(statement.order_by(users.c.id))]
