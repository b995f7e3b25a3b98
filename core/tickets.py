"""Ticket operations shared by the user side and the staff side. Each one records the change
(ticket, message, audit) and queues the notifications both sides should see."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from core.domain import Direction, Priority, Ticket, TicketStatus, User
from core.i18n import Texts
from core.messages import Attachment, ConversationRef, OutgoingMessage
from core.text import shorten
from core.turn import Turn

SUBJECT_LENGTH = 80


class TicketDesk:
    def __init__(
        self,
        staff_chat: ConversationRef,
        texts: Texts,
        staff_language: str,
        max_file_sizes: Mapping[str, int] | None = None,
    ) -> None:
        self.staff_chat = staff_chat
        self.texts = texts
        self.staff_language = staff_language
        self.max_file_sizes = dict(max_file_sizes or {})  # per channel, bytes

    def staff_text(self, key: str, **params: object) -> str:
        return self.texts.get(self.staff_language, key, **params)

    async def notify_staff(self, turn: Turn, ticket: Ticket, text: str, **fields) -> None:
        """A message in the ticket's thread / reply chain in the staff chat. Each carries the
        thread title: if the thread is gone, whichever message comes next opens a new one."""
        owner = await self._owner(turn, ticket)
        await turn.send(
            OutgoingMessage(
                conversation=self.staff_chat,
                text=text,
                ticket_id=ticket.id,
                to_staff=True,
                thread_title=_thread_title(ticket, owner),
                **fields,
            )
        )

    async def notify_user(self, turn: Turn, ticket: Ticket, key: str, **params: object) -> None:
        """A message to the ticket's owner in the owner's language (the speaker may be an agent)."""
        language = await self._owner_language(turn, ticket)
        text = self.texts.get(language, key, number=ticket.number, **params)
        await turn.send(
            OutgoingMessage(conversation=ticket.conversation, text=text, ticket_id=ticket.id)
        )

    async def open(
        self,
        turn: Turn,
        text: str,
        attachments: Sequence[Attachment] = (),
        category: str | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> Ticket:
        user = turn.user
        subject = (
            shorten(text, SUBJECT_LENGTH) if text.strip() else self.staff_text("ticket.no_subject")
        )
        conversation = turn.message.conversation.without_thread()
        ticket = await turn.tx.create_ticket(
            user.id, conversation, subject, category, priority, turn.now
        )
        await turn.tx.add_ticket_message(
            ticket.id, user.id, Direction.FROM_USER, text, attachments, turn.now
        )
        await turn.tx.audit(
            turn.actor, "ticket.create", "ticket", str(ticket.id), None, _snapshot(ticket), turn.now
        )
        await self.notify_user(turn, ticket, "ticket.opened")
        await self.notify_staff(
            turn,
            ticket,
            self.staff_text(
                "staff.ticket_announcement",
                number=ticket.number,
                name=user.display_name or user.external_id,
                channel=user.channel,
                language=user.language or "?",
                priority=ticket.priority.value,
                category=ticket.category or "—",
                text=text or "—",
            ),
            attachments=await self._carriable(turn, attachments, self.staff_chat.channel),
        )
        return ticket

    async def add_user_message(
        self, turn: Turn, ticket: Ticket, text: str, attachments: Sequence[Attachment]
    ) -> None:
        await turn.tx.add_ticket_message(
            ticket.id, turn.user.id, Direction.FROM_USER, text, attachments, turn.now
        )
        changes = {"updated_at": turn.now}
        if ticket.status == TicketStatus.WAITING:
            changes["status"] = TicketStatus.OPEN
        await self._update(turn, ticket, **changes)
        await self.notify_staff(
            turn,
            ticket,
            self.staff_text(
                "staff.user_message",
                number=ticket.number,
                name=turn.user.display_name or turn.user.external_id,
                text=text or "—",
            ),
            attachments=await self._carriable(turn, attachments, self.staff_chat.channel),
        )

    async def relay_agent_reply(
        self, turn: Turn, ticket: Ticket, text: str, attachments: Sequence[Attachment]
    ) -> None:
        await turn.tx.add_ticket_message(
            ticket.id, turn.user.id, Direction.TO_USER, text, attachments, turn.now
        )
        changes: dict = {"updated_at": turn.now}
        if ticket.first_response_at is None:
            changes["first_response_at"] = turn.now
        if ticket.status == TicketStatus.NEW:
            changes["status"] = TicketStatus.OPEN
        await self._update(turn, ticket, **changes)
        owner_language = await self._owner_language(turn, ticket)
        await turn.send(
            OutgoingMessage(
                conversation=ticket.conversation,
                text=self.texts.get(
                    owner_language, "user.agent_reply", number=ticket.number, text=text
                ),
                attachments=await self._carriable(turn, attachments, ticket.conversation.channel),
                ticket_id=ticket.id,
            )
        )

    async def add_note(self, turn: Turn, ticket: Ticket, text: str) -> None:
        await turn.tx.add_ticket_message(
            ticket.id, turn.user.id, Direction.NOTE, text, (), turn.now
        )

    async def close(self, turn: Turn, ticket: Ticket, *, by_user: bool, note: str = "") -> Ticket:
        changes: dict = {
            "status": TicketStatus.CLOSED,
            "closed_at": turn.now,
            "updated_at": turn.now,
        }
        if ticket.resolved_at is None:
            changes["resolved_at"] = turn.now
        closed = await self._update(turn, ticket, **changes)
        await turn.tx.add_ticket_message(
            ticket.id, turn.user.id, Direction.SYSTEM, note or "closed", (), turn.now
        )
        if by_user:
            await self.notify_user(turn, closed, "ticket.closed_by_user")
            await self.notify_staff(
                turn, closed, self.staff_text("staff.closed_by_user", number=closed.number)
            )
        else:
            key = "ticket.closed_by_agent_with_note" if note else "ticket.closed_by_agent"
            await self.notify_user(turn, closed, key, note=note)
            await self.notify_staff(
                turn,
                closed,
                self.staff_text(
                    "staff.closed_by_agent",
                    number=closed.number,
                    name=turn.user.display_name or turn.user.external_id,
                ),
            )
        return closed

    async def reopen(self, turn: Turn, ticket: Ticket) -> Ticket:
        reopened = await self._update(
            turn,
            ticket,
            status=TicketStatus.OPEN,
            closed_at=None,
            resolved_at=None,
            updated_at=turn.now,
        )
        await turn.tx.add_ticket_message(
            ticket.id, turn.user.id, Direction.SYSTEM, "reopened", (), turn.now
        )
        await self.notify_user(turn, reopened, "ticket.reopened")
        await self.notify_staff(
            turn,
            reopened,
            self.staff_text(
                "staff.reopened",
                number=reopened.number,
                name=turn.user.display_name or turn.user.external_id,
            ),
        )
        return reopened

    async def _carriable(
        self, turn: Turn, attachments: Sequence[Attachment], channel: str
    ) -> tuple[Attachment, ...]:
        """The files the other side's platform can take; the sender hears about the others
        (the ticket keeps their record either way)."""
        limit = self.max_file_sizes.get(channel)
        carried = []
        for attachment in attachments:
            if limit is not None and attachment.size is not None and attachment.size > limit:
                await turn.reply(
                    turn.t(
                        "file.too_large",
                        name=attachment.file_name or attachment.kind,
                        size=_megabytes(attachment.size),
                        limit=_megabytes(limit),
                    )
                )
            else:
                carried.append(attachment)
        return tuple(carried)

    async def _owner(self, turn: Turn, ticket: Ticket) -> User | None:
        if turn.user.id == ticket.user_id:
            return turn.user
        return await turn.tx.get_user(ticket.user_id)

    async def _owner_language(self, turn: Turn, ticket: Ticket) -> str:
        owner = await self._owner(turn, ticket)
        return (owner.language if owner else None) or self.texts.default_language

    async def _update(self, turn: Turn, ticket: Ticket, **changes) -> Ticket:
        updated = await turn.tx.update_ticket(ticket.id, **changes)
        if updated.status != ticket.status:
            await turn.tx.audit(
                turn.actor,
                "ticket.status",
                "ticket",
                str(ticket.id),
                {"status": ticket.status.value},
                {"status": updated.status.value},
                turn.now,
            )
        return updated


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"


def _thread_title(ticket: Ticket, owner: User | None) -> str:
    name = (owner.display_name or owner.external_id) if owner else "?"
    return shorten(f"#{ticket.number} {name}: {ticket.subject}", 120)


def _snapshot(ticket: Ticket) -> dict:
    data = dataclasses.asdict(ticket)
    data["conversation"] = dataclasses.asdict(ticket.conversation)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}
