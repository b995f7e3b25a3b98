"""Sentence vectors of the knowledge base's wordings, kept so a restart re-encodes nothing."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "sentence_vectors",
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("model", "text_hash"),
    )


def downgrade() -> None:
    op.drop_table("sentence_vectors")
