"""Satisfaction ratings of closed tickets (one per ticket)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update

from core.domain import TicketRating
from storage.mapping import rating_from_row
from storage.models import ticket_ratings
from storage.repository._sql import Repository, insert_for, per_dialect

_add_rating = per_dialect(
    lambda dialect: (
        insert_for(dialect, ticket_ratings)
        .on_conflict_do_nothing(index_elements=["ticket_id"])
        .returning(*ticket_ratings.c)
    )
)
_RATING_OF = select(ticket_ratings).where(ticket_ratings.c.ticket_id == bindparam("of_ticket"))
_SET_COMMENT = (
    update(ticket_ratings)
    .where(ticket_ratings.c.ticket_id == bindparam("of_ticket"))
    .values(comment=bindparam("new_comment"))
    .returning(*ticket_ratings.c)
)


class RatingRepository(Repository):
    """`core.store.Ratings` over SQL."""

    def add(
        self,
        ticket_id: int,
        user_id: int,
        agent_id: int | None,
        score: int,
        comment: str | None,
        now: datetime,
    ) -> TicketRating | None:
        """None when the ticket already has a rating (the first one stays)."""
        if not 1 <= score <= 5:
            raise ValueError(f"a rating is 1..5, got {score}")
        row = self.conn.execute(
            _add_rating(self.conn),
            {
                "ticket_id": ticket_id,
                "user_id": user_id,
                "agent_id": agent_id,
                "score": score,
                "comment": comment,
                "created_at": now,
            },
        ).first()
        return rating_from_row(row) if row is not None else None

    def get(self, ticket_id: int) -> TicketRating | None:
        row = self.conn.execute(_RATING_OF, {"of_ticket": ticket_id}).first()
        return rating_from_row(row) if row is not None else None

    def set_comment(self, ticket_id: int, comment: str) -> TicketRating:
        row = self.conn.execute(
            _SET_COMMENT, {"of_ticket": ticket_id, "new_comment": comment}
        ).first()
        if row is None:
            raise KeyError(f"ticket {ticket_id} has no rating")
        return rating_from_row(row)

    def list(
        self, *, agent_id: int | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[TicketRating]:
        statement = select(ticket_ratings).order_by(
            ticket_ratings.c.created_at.desc(), ticket_ratings.c.ticket_id.desc()
        )
        if agent_id is not None:
            statement = statement.where(ticket_ratings.c.agent_id == agent_id)
        if since is not None:
            statement = statement.where(ticket_ratings.c.created_at >= since)
        return [rating_from_row(row) for row in self.conn.execute(statement.limit(limit))]
