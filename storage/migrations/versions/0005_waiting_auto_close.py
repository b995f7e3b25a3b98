"""Auto-close: since when a ticket waits for the user and when the user was reminded.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("waiting_since", "waiting_reminded_at")


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (SQLite adds nullable columns in place).
    for name in COLUMNS:
        op.add_column("tickets", sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column("tickets", name)  # SQLite >= 3.35
