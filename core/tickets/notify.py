"""Telling people about tickets: the ticket's thread in its line's staff chat, and the ticket's
owner in their own language, whoever acts (the owner, an agent, or a scheduled job)."""

from __future__ import annotations

from core.domain import Ticket, User
from core.i18n import Texts
from core.messages import Attachment, OutgoingMessage
from core.tickets import notices
from core.tickets.lines import SupportLines
from core.turn import Turn
from core.work import Work


class Notifier:
    def __init__(self, lines: SupportLines, texts: Texts, staff_language: str) -> None:
        self.lines = lines
        self.texts = texts
        self.staff_language = staff_language

    def staff_text(self, key: str, **params: object) -> str:
        return self.texts.get(self.staff_language, key, **params)

    async def staff(self, work: Work, ticket: Ticket, text: str, **fields) -> None:
        """A message in the ticket's thread / reply chain in its line's staff chat. Each carries
        the thread title: if the thread is gone, whichever message comes next opens a new one."""
        owner = await self.owner(work, ticket)
        await work.send(
            OutgoingMessage(
                conversation=self.lines.of_ticket(ticket).chat,
                text=text,
                ticket_id=ticket.id,
                to_staff=True,
                thread_title=notices.thread_title(ticket, owner),
                **fields,
            )
        )

    async def user(
        self,
        work: Work,
        ticket: Ticket,
        key: str | tuple[str, ...],
        attachments: tuple[Attachment, ...] = (),
        source: str | None = None,
        **params: object,
    ) -> None:
        """A message to the ticket's owner in the owner's language (the speaker may be an agent
        or nobody: a scheduled job). Several keys: their texts as paragraphs of one message."""
        text = await self.user_text(work, ticket, key, **params)
        await work.send(
            OutgoingMessage(
                conversation=ticket.conversation,
                text=text,
                attachments=attachments,
                ticket_id=ticket.id,
                source=source,
            )
        )

    async def user_text(
        self, work: Work, ticket: Ticket, key: str | tuple[str, ...], **params: object
    ) -> str:
        """What `user` sends: the text(s) of `key` in the owner's language, with the number."""
        language = await self.owner_language(work, ticket)
        keys = (key,) if isinstance(key, str) else key
        return "\n\n".join(
            self.texts.get(language, one, number=ticket.number, **params) for one in keys
        )

    async def closed(self, work: Work, ticket: Ticket, key: str, **params: object) -> None:
        """Tell the owner the ticket is closed and, once per ticket, ask for a rating."""
        language = await self.owner_language(work, ticket)
        rated = await work.tx.ratings.get(ticket.id) is not None
        await work.send(notices.closed(self.texts, language, ticket, key, rated, **params))

    async def change(self, work: Work, ticket: Ticket, event: str) -> None:
        """What changed, then the ticket's current header (status, priority, category,
        assignee): the newest header in the thread is always the ticket's state."""
        await self.staff(work, ticket, event + "\n" + await self.header(work, ticket))

    async def header(self, work: Work, ticket: Ticket) -> str:
        assignee = await work.tx.users.get(ticket.assignee_id) if ticket.assignee_id else None
        return notices.header(self.staff_text, ticket, assignee)

    async def owner_language(self, work: Work, ticket: Ticket) -> str:
        owner = await self.owner(work, ticket)
        return (owner.language if owner else None) or self.texts.default_language

    async def owner(self, work: Work, ticket: Ticket) -> User | None:
        if isinstance(work, Turn) and work.user.id == ticket.user_id:
            return work.user
        return await work.tx.users.get(ticket.user_id)
