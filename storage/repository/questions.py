"""The question log: every user question the knowledge base was asked, and its outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from core.domain import QuestionOutcome, QuestionRecord
from storage.mapping import question_from_row
from storage.models import questions

_INSERT = insert(questions).returning(questions.c.id)
_SET_TICKET = (
    update(questions)
    .where(questions.c.id == bindparam("question_id"))
    .values(outcome=QuestionOutcome.TICKET.value, ticket_id=bindparam("to_ticket"))
)


def log_question(
    conn: Connection,
    user_id: int,
    text: str,
    language: str | None,
    outcome: QuestionOutcome,
    entry_id: int | None,
    confidence: float | None,
    ticket_id: int | None,
    now: datetime,
) -> int:
    return conn.execute(
        _INSERT,
        {
            "user_id": user_id,
            "text": text,
            "language": language,
            "outcome": QuestionOutcome(outcome).value,
            "entry_id": entry_id,
            "confidence": confidence,
            "ticket_id": ticket_id,
            "created_at": now,
        },
    ).scalar_one()


def set_question_ticket(conn: Connection, question_id: int, ticket_id: int) -> None:
    conn.execute(_SET_TICKET, {"question_id": question_id, "to_ticket": ticket_id})


def list_questions(
    conn: Connection,
    since: datetime | None,
    until: datetime | None,
    outcome: QuestionOutcome | None,
) -> list[QuestionRecord]:
    statement = select(questions).order_by(questions.c.id)
    if since is not None:
        statement = statement.where(questions.c.created_at >= since)
    if until is not None:
        statement = statement.where(questions.c.created_at < until)
    if outcome is not None:
        statement = statement.where(questions.c.outcome == QuestionOutcome(outcome).value)
    return [question_from_row(row) for row in conn.execute(statement)]
