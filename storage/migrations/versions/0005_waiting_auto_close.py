"""Auto-close: since when a ticket waits for the user and when the user was reminded."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

COLUMNS = ("waiting_since", "waiting_reminded_at")


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (SQLite adds nullable columns in place).
    for name in COLUMNS:
        op.add_column("tickets", sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column("tickets", name)  # SQLite >= 3.35
