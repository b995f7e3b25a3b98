"""Named tokens of the HTTP API (`helpdesk api-token create`): a hash of each secret, its
scopes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # The API lists tickets changed since a moment, in the order they changed.
    op.create_index("ix_tickets_updated", "tickets", ["updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_tickets_updated", "tickets")
    op.drop_table("api_tokens")
