"""The question log: every user question the knowledge base was asked, and its outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select, update

from core.domain import NewQuestion, QuestionOutcome, QuestionRecord
from storage.mapping import question_from_row
from storage.models import questions
from storage.repository._sql import Repository

_INSERT = insert(questions).returning(questions.c.id)
_SET_TICKET = (
    update(questions)
    .where(questions.c.id == bindparam("question_id"))
    .values(outcome=QuestionOutcome.TICKET.value, ticket_id=bindparam("to_ticket"))
)


class QuestionRepository(Repository):
    """`core.store.Questions` over SQL."""

    def log(self, question: NewQuestion) -> int:
        return self.conn.execute(
            _INSERT,
            {
                "user_id": question.user_id,
                "text": question.text,
                "language": question.language,
                "outcome": QuestionOutcome(question.outcome).value,
                "entry_id": question.entry_id,
                "confidence": question.confidence,
                "ticket_id": question.ticket_id,
                "created_at": question.asked_at,
            },
        ).scalar_one()

    def set_ticket(self, question_id: int, ticket_id: int) -> None:
        self.conn.execute(_SET_TICKET, {"question_id": question_id, "to_ticket": ticket_id})

    def list(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        outcome: QuestionOutcome | None = None,
    ) -> list[QuestionRecord]:
        statement = select(questions).order_by(questions.c.id)
        if since is not None:
            statement = statement.where(questions.c.created_at >= since)
        if until is not None:
            statement = statement.where(questions.c.created_at < until)
        if outcome is not None:
            statement = statement.where(questions.c.outcome == QuestionOutcome(outcome).value)
        return [question_from_row(row) for row in self.conn.execute(statement)]
