"""Message links remember the agent's message a copy relays, so an edit of it edits the copy."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    with op.batch_alter_table("message_links") as batch:
        batch.add_column(sa.Column("source", sa.String(300), nullable=True))
    op.create_index("ix_message_links_source", "message_links", ["source"])


def downgrade() -> None:
    op.drop_index("ix_message_links_source", "message_links")
    with op.batch_alter_table("message_links") as batch:
        batch.drop_column("source")
