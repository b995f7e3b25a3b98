"""Outbox lanes: the order of sends is kept per lane of a chat (a ticket's thread in a staff
chat, a thread, or the chat itself) rather than per chat, so one stuck thread holds up only
itself; and the sender that holds a lease is recorded, so a restarted sender frees its own."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"

PENDING_ONLY = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("lane", sa.String(160), nullable=False, server_default=""))
        batch.add_column(sa.Column("leased_by", sa.String(128), nullable=True))
    op.drop_index("ix_outbox_pending_chat", "outbox")
    _pending_index("ix_outbox_pending_lane", ["channel", "chat_id", "lane", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_lane", "outbox")
    _pending_index("ix_outbox_pending_chat", ["channel", "chat_id", "id"])
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("leased_by")
        batch.drop_column("lane")


def _pending_index(name: str, columns: list[str]) -> None:
    """An index over the pending rows only."""
    op.create_index(
        name, "outbox", columns, sqlite_where=PENDING_ONLY, postgresql_where=PENDING_ONLY
    )
