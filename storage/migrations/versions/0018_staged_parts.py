"""Staged parts: the deliveries of a message the platform splits (a Telegram album), kept until
the whole is handled, so parts that reach different processes still become one message."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"


def upgrade() -> None:
    op.create_table(
        "staged_parts",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("update_id", sa.String(128), nullable=False),
        sa.Column("group_key", sa.String(256), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("staged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "update_id"),
    )
    op.create_index("ix_staged_parts_group", "staged_parts", ["channel", "group_key"])


def downgrade() -> None:
    op.drop_index("ix_staged_parts_group", "staged_parts")
    op.drop_table("staged_parts")
