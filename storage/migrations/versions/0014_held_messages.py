"""Held messages: a user with several open tickets is asked which one a message is about; the
message waits here until they choose (or a job gives it to the newest ticket)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    op.create_table(
        "held_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=True),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_held_messages_user", "held_messages", ["user_id", "id"])
    op.create_index("ix_held_messages_held_at", "held_messages", ["held_at"])


def downgrade() -> None:
    op.drop_table("held_messages")
