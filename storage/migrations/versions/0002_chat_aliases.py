"""Chat aliases: chats that changed their id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
