"""What every operation of the HTTP API shares: the token acts as a person of its own
("api:<name>" in the audit log and the staff chat), through a turn whose replies (a refusal, a
file too large) are collected for the response instead of being sent; a refusal is an
`ApiError` with a status and a machine-readable code."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.domain import User
from core.domain_toolkit import ApiToken
from core.messages import Button, ConversationRef, IncomingMessage, Sender
from core.tickets.desk import TicketDesk
from core.tickets.lines import SupportLine
from core.turn import Turn
from core.work import UnitOfWork, Work

API_CHANNEL = "api"  # the channel of the people tokens act as


class ApiError(Exception):
    """A request the API refuses: the HTTP status, a machine-readable code, what went wrong."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.retry_after: float | None = None  # seconds, for a 429


@dataclass(kw_only=True)
class ApiTurn(Turn):
    """A token's request as a turn; `notices`: what the core said back to the token."""

    notices: list[str] = field(default_factory=list)

    async def reply(self, text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> None:
        self.notices.append(text)


@dataclass(eq=False)
class Acting:
    """The base of the API's operation groups: their unit of work and desk, and the turn of a
    token."""

    unit_of_work: UnitOfWork
    desk: TicketDesk

    async def _token_turn(self, work: Work, token: ApiToken) -> ApiTurn:
        """The turn of the person the token acts as (made on its first change)."""
        chat = ConversationRef(API_CHANNEL, token.name)
        person, _ = await work.tx.users.upsert(
            API_CHANNEL, token.name, token.name, None, None, work.now
        )
        return self._turn(work, person, chat)

    def _turn(self, work: Work, person: User, chat: ConversationRef) -> ApiTurn:
        message = IncomingMessage(
            update_id="", conversation=chat, sender=Sender(person.external_id), is_private=False
        )
        return ApiTurn(
            tx=work.tx, now=work.now, texts=work.texts, outbox=work.outbox,
            faq_counts=work.faq_counts, after_commit=work.after_commit, message=message,
            user=person, language=person.language or self.desk.staff_language,
        )  # fmt: skip

    def _line(self, name: str | None) -> SupportLine:
        line = self.desk.lines.named(name)
        if line is None:
            known = ", ".join(known.name for known in self.desk.lines)
            raise ApiError(422, "unknown_line", f"no support line {name!r} (known: {known})")
        return line
