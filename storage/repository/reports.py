"""Reads for reports: the tickets a period touched, the backlog, the ratings of a period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select

from core.domain import ACTIVE_STATUSES, Ticket, TicketRating, TicketStatus
from storage.mapping import rating_from_row, ticket_from_row
from storage.models import ticket_ratings, tickets
from storage.repository._sql import Repository

_ACTIVE = sorted(status.value for status in ACTIVE_STATUSES)


def _within(column, since: datetime, until: datetime):
    return and_(column >= since, column < until)


class ReportRepository(Repository):
    """`core.store.ReportQueries` over SQL."""

    def tickets_touched(self, since: datetime, until: datetime) -> list[Ticket]:
        """Tickets created, resolved or closed in [since, until), oldest first."""
        statement = (
            select(tickets)
            .where(
                or_(
                    _within(tickets.c.created_at, since, until),
                    _within(tickets.c.resolved_at, since, until),
                    _within(tickets.c.closed_at, since, until),
                )
            )
            .order_by(tickets.c.id)
        )
        return [ticket_from_row(row) for row in self.conn.execute(statement)]

    def open_during(self, since: datetime, until: datetime) -> list[Ticket]:
        def not_before(column):
            return or_(column.is_(None), column >= since)

        statement = (
            select(tickets)
            .where(
                tickets.c.created_at < until,
                or_(
                    tickets.c.status.in_(_ACTIVE),
                    and_(not_before(tickets.c.resolved_at), not_before(tickets.c.closed_at)),
                ),
            )
            .order_by(tickets.c.id)
        )
        return [ticket_from_row(row) for row in self.conn.execute(statement)]

    def backlog(self) -> list[tuple[TicketStatus, str | None, int]]:
        """Active tickets now, counted by (status, line)."""
        statement = (
            select(tickets.c.status, tickets.c.line, func.count())
            .where(tickets.c.status.in_(_ACTIVE))
            .group_by(tickets.c.status, tickets.c.line)
        )
        return [
            (TicketStatus(status), line, count)
            for status, line, count in self.conn.execute(statement)
        ]

    def ratings_between(self, since: datetime, until: datetime) -> list[TicketRating]:
        statement = (
            select(ticket_ratings)
            .where(_within(ticket_ratings.c.created_at, since, until))
            .order_by(ticket_ratings.c.created_at, ticket_ratings.c.ticket_id)
        )
        return [rating_from_row(row) for row in self.conn.execute(statement)]
