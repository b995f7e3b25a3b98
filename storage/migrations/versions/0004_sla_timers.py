"""SLA timers: warning points, deadlines, warning/breach records and the waiting pause."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

TIMESTAMP_COLUMNS = (
    "response_warn_at",
    "response_due_at",
    "response_warned_at",
    "response_breached_at",
    "resolution_warn_at",
    "resolution_due_at",
    "resolution_warned_at",
    "resolution_breached_at",
    "sla_paused_since",
)


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (no batch mode: SQLite adds nullable columns in place).
    for name in TIMESTAMP_COLUMNS:
        op.add_column("tickets", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "tickets",
        sa.Column("sla_paused_seconds", sa.Float(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    for name in ("sla_paused_seconds", *reversed(TIMESTAMP_COLUMNS)):
        op.drop_column("tickets", name)  # SQLite >= 3.35
