"""Indexes for reports: tickets by creation, resolution and closing time, ratings by time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
