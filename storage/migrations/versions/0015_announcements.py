"""Announcements: the message and its audience, each copy in the outbox marked with it (for the
progress count), and the users' choice not to get them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("audience", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("chat_channel", sa.String(32), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("chat_thread_id", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("announcement_id", sa.Integer(), nullable=True))
    op.create_index("ix_outbox_announcement", "outbox", ["announcement_id", "status"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("announcements_off", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("announcements_off")
    op.drop_index("ix_outbox_announcement", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("announcement_id")
    op.drop_table("announcements")
