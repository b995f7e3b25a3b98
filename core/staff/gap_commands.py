"""Closing knowledge gaps from the staff chat.

- `/gaps [days]` (supervisors, admins): the questions that ended in a ticket in the last days
  (default 30), grouped by similarity, biggest group first (see core.reports.gaps).
- `/faq_learn [ID]` (admins), in a ticket's thread: the user's first message becomes the
  question and the agent's last answer the answer of a new FAQ entry; with an entry ID, the
  user's question becomes another wording of that entry instead. Outside a thread the ticket
  number comes first: `/faq_learn N [ID]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from core.commands import Command
from core.domain import Direction, FaqDraft, QuestionOutcome, Role, Ticket
from core.reports.gaps import group_gaps
from core.router import Place, Router
from core.staff.admin_commands import AdminCommands
from core.text import shorten
from core.tickets.desk import TicketDesk
from core.turn import Turn

DEFAULT_DAYS = 30
MAX_DAYS = 366
GAPS_SHOWN = 10
TICKETS_SHOWN = 5
EXAMPLE_LENGTH = 120


@dataclass(eq=False)
class GapCommands:
    desk: TicketDesk
    admin: AdminCommands

    def register(self, router: Router) -> None:
        router.add(
            "gaps", self._gaps, role=Role.SUPERVISOR, place=Place.STAFF, help="help.staff.gaps"
        )
        router.add(
            "faq_learn",
            self._faq_learn,
            role=Role.ADMIN,
            place=Place.STAFF,
            ticket=True,
            usage="staff.usage.faq_learn",
            help="help.staff.faq_learn",
        )

    async def _gaps(self, turn: Turn, command: Command) -> None:
        text = self.desk.tell.staff_text
        days = command.int_arg() if command.args else DEFAULT_DAYS
        if days is None or not 1 <= days <= MAX_DAYS or len(command.words) > 1:
            await turn.reply(text("staff.usage.gaps", limit=MAX_DAYS))
            return
        questions = await turn.tx.questions.list(
            since=turn.now - timedelta(days=days), outcome=QuestionOutcome.TICKET
        )
        gaps = group_gaps(questions, self.admin.knowledge.terms, GAPS_SHOWN)
        if not gaps:
            await turn.reply(text("staff.gaps_none", count=days))
            return
        lines = [text("staff.gaps_header", count=days, questions=len(questions))]
        for rank, gap in enumerate(gaps, 1):
            lines.append(
                text(
                    "staff.gaps_line",
                    rank=rank,
                    questions=gap.count,
                    example=shorten(gap.example, EXAMPLE_LENGTH),
                    languages="/".join(gap.languages),
                    tickets=_tickets(text, gap.ticket_ids),
                )
            )
        lines.append(text("staff.gaps_hint"))
        await turn.reply("\n".join(lines))

    async def _faq_learn(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        text = self.desk.tell.staff_text
        words = command.words
        entry_word = words[0].lstrip("#") if words else None
        if len(words) > 1 or (entry_word and not entry_word.isdigit()):
            await turn.reply(text("staff.usage.faq_learn"))
            return
        messages = await turn.tx.messages.list(ticket.id)
        question = next(
            (m.text.strip() for m in messages
             if m.direction == Direction.FROM_USER and m.text.strip()),
            None,
        )  # fmt: skip
        answer = next(
            (m.text.strip() for m in reversed(messages)
             if m.direction == Direction.TO_USER and m.text.strip()),
            None,
        )  # fmt: skip
        if question is None:
            await turn.reply(text("staff.faq_learn_no_question", number=ticket.number))
            return
        if entry_word:
            entry = await turn.tx.faq.get(int(entry_word)) if len(entry_word) < 10 else None
            if entry is None:
                await turn.reply(text("staff.faq_learn_no_entry", id=entry_word))
                return
            await self.admin.add_variant(turn, entry, question)
            await turn.reply(text("staff.faq_learn_variant", id=entry.id, number=ticket.number))
            return
        if answer is None:
            await turn.reply(text("staff.faq_learn_no_answer", number=ticket.number))
            return
        owner = await turn.tx.users.get(ticket.user_id)
        draft = FaqDraft(
            question=question,
            answer=answer,
            language=(owner.language if owner else None) or self.desk.staff_language,
            category=ticket.category,
        )
        entry = await self.admin.create_entry(turn, draft)
        await turn.reply(text("staff.faq_learn_created", id=entry.id, number=ticket.number))


def _tickets(text: Callable[..., str], ticket_ids: tuple[int, ...]) -> str:
    """How many tickets, and the first few of them."""
    if not ticket_ids:
        return "—"
    shown = ticket_ids[:TICKETS_SHOWN]
    numbers = ", ".join(text("staff.gaps_ticket_number", number=n) for n in shown)
    return text("staff.gaps_tickets", count=len(ticket_ids), numbers=numbers)
