"""Agents on duty per support line, and the pick of the next one for a new ticket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, func, select, update

from core.domain import ACTIVE_STATUSES
from storage.models import agent_duty, tickets
from storage.repository._sql import Repository, insert_for

_ACTIVE = sorted(status.value for status in ACTIVE_STATUSES)


class DutyRepository(Repository):
    """`core.store.DutyRoster` over SQL."""

    def set(self, user_id: int, line: str, on: bool, now: datetime) -> bool:
        """True when this changed something (the agent was not already on / off duty)."""
        if not on:
            result = self.conn.execute(
                delete(agent_duty).where(agent_duty.c.user_id == user_id, agent_duty.c.line == line)
            )
            return result.rowcount > 0
        statement = (
            insert_for(self.conn.dialect.name, agent_duty)
            .values(user_id=user_id, line=line, since=now, last_assigned_at=None)
            .on_conflict_do_nothing(index_elements=["user_id", "line"])
        )
        return self.conn.execute(statement).rowcount > 0

    def on_duty(self, line: str) -> list[int]:
        """The user ids on duty for `line`, longest on duty first."""
        statement = (
            select(agent_duty.c.user_id)
            .where(agent_duty.c.line == line)
            .order_by(agent_duty.c.since, agent_duty.c.user_id)
        )
        return list(self.conn.execute(statement).scalars())

    def pick(self, line: str, least_loaded: bool, now: datetime) -> int | None:
        """The agent on duty for `line` who gets the next new ticket, marked as just assigned (so
        round-robin moves on), or None when nobody is on duty. Round-robin: the one who got a ticket
        longest ago (never first); least-loaded: the fewest active tickets assigned, then the same
        order. The row lock taken by the update makes two processes picking at once queue up."""
        order = [
            agent_duty.c.last_assigned_at.is_not(None),
            agent_duty.c.last_assigned_at,
            agent_duty.c.since,
            agent_duty.c.user_id,
        ]
        if least_loaded:
            load = (
                select(func.count())
                .select_from(tickets)
                .where(
                    and_(
                        tickets.c.assignee_id == agent_duty.c.user_id,
                        tickets.c.status.in_(_ACTIVE),
                    )
                )
                .scalar_subquery()
            )
            order.insert(0, load)
        # Lock the line's duty rows first (PostgreSQL; SQLite transactions are serial anyway).
        self.conn.execute(
            select(agent_duty.c.user_id).where(agent_duty.c.line == line).with_for_update()
        )
        chosen = self.conn.execute(
            select(agent_duty.c.user_id).where(agent_duty.c.line == line).order_by(*order).limit(1)
        ).scalar()
        if chosen is None:
            return None
        self.conn.execute(
            update(agent_duty)
            .where(agent_duty.c.user_id == chosen, agent_duty.c.line == line)
            .values(last_assigned_at=now)
        )
        return chosen
