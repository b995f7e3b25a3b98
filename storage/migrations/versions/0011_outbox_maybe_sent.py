"""Outbox items that may have been delivered already: a claim ended without a recorded outcome
(its lease lapsed, or its sender was restarted), so the next sender asks the platform first
where it can (core.ports.SentMessageFinder) instead of sending again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("maybe_sent", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("maybe_sent")
