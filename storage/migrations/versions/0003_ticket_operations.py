"""Ticket operations: follow-up links between tickets and satisfaction ratings."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

PREVIOUS_TICKET_FK = "fk_tickets_previous_ticket_id_tickets"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot add a constraint to a table, but may add a column that carries one; the
        # batch (copy-and-move) alternative would rebuild `tickets` under its children's keys.
        op.execute(
            "ALTER TABLE tickets ADD COLUMN previous_ticket_id INTEGER "
            f"CONSTRAINT {PREVIOUS_TICKET_FK} REFERENCES tickets (id)"
        )
    else:
        op.add_column("tickets", sa.Column("previous_ticket_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            PREVIOUS_TICKET_FK, "tickets", "tickets", ["previous_ticket_id"], ["id"]
        )

    op.create_table(
        "ticket_ratings",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name="pk_ticket_ratings"),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name="fk_ticket_ratings_ticket_id_tickets",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_ticket_ratings_user_id_users"),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name="fk_ticket_ratings_agent_id_users"
        ),
    )
    op.create_index("ix_ticket_ratings_agent", "ticket_ratings", ["agent_id", "created_at"])


def downgrade() -> None:
    op.drop_table("ticket_ratings")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE tickets DROP COLUMN previous_ticket_id")  # SQLite >= 3.35
    else:
        op.drop_constraint(PREVIOUS_TICKET_FK, "tickets", type_="foreignkey")
        op.drop_column("tickets", "previous_ticket_id")
