"""Canned replies (/macro): a name, its texts by language."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.create_table(
        "macros",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("texts", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("macros")
