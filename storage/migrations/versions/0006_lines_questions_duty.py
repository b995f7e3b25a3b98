"""Support lines, the question log and agents on duty."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def _big_id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("tickets", sa.Column("line", sa.String(32), nullable=True))
    op.create_table(
        "questions",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_questions"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_questions_user_id_users"),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name="fk_questions_ticket_id_tickets",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_questions_created", "questions", ["created_at"])
    op.create_table(
        "agent_duty",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.String(32), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "line", name="pk_agent_duty"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_agent_duty_user_id_users"),
    )


def downgrade() -> None:
    op.drop_table("agent_duty")
    op.drop_table("questions")
    op.drop_column("tickets", "line")  # SQLite >= 3.35
