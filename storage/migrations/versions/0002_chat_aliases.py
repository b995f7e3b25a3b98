"""Chat aliases: chats that changed their id."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "chat_aliases",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("old_chat_id", sa.String(128), nullable=False),
        sa.Column("new_chat_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("channel", "old_chat_id"),
    )


def downgrade() -> None:
    op.drop_table("chat_aliases")
