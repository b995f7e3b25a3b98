"""Indexes for reports: tickets by creation, resolution and closing time, ratings by time."""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_index("ix_tickets_created", "tickets", ["created_at"])
    op.create_index("ix_tickets_resolved", "tickets", ["resolved_at"])
    op.create_index("ix_tickets_closed", "tickets", ["closed_at"])
    op.create_index("ix_ticket_ratings_created", "ticket_ratings", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_ratings_created", "ticket_ratings")
    op.drop_index("ix_tickets_closed", "tickets")
    op.drop_index("ix_tickets_resolved", "tickets")
    op.drop_index("ix_tickets_created", "tickets")
