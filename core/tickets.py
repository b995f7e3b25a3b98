"""Ticket operations shared by the user side and the staff side. Each one records the change
(ticket, message, audit) and queues the notifications both sides should see."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime

from core.commands import command_text
from core.domain import Direction, Priority, Ticket, TicketStatus, User
from core.duty import Duty
from core.i18n import Texts
from core.lines import SupportLines
from core.messages import Attachment, Button, ConversationRef, OutgoingMessage
from core.sla import SlaPolicy
from core.store import AuditEntry, NewTicket, Transaction
from core.text import shorten
from core.ticket_policy import TicketPolicy
from core.turn import Turn

SUBJECT_LENGTH = 80
RATING_SCORES = (1, 2, 3, 4, 5)
# Fields whose every change is in the audit log (as "ticket.<name>").
AUDITED_FIELDS = {
    "status": "ticket.status",
    "assignee_id": "ticket.assignee",
    "priority": "ticket.priority",
    "category": "ticket.category",
    "line": "ticket.line",
}


class TicketDesk:
    def __init__(
        self,
        lines: SupportLines,
        texts: Texts,
        staff_language: str,
        max_file_sizes: Mapping[str, int] | None = None,
        policy: TicketPolicy | None = None,
        sla: SlaPolicy | None = None,
    ) -> None:
        self.sla = sla  # None: no SLA timers
        self.lines = lines
        # Automatic assignment to agents on duty (core.duty); None: tickets wait for /take.
        self.duty: Duty | None = None
        self.texts = texts
        self.staff_language = staff_language
        self.max_file_sizes = dict(max_file_sizes or {})  # per channel, bytes
        self.policy = policy or TicketPolicy()

    def staff_text(self, key: str, **params: object) -> str:
        return self.texts.get(self.staff_language, key, **params)

    @property
    def staff_chat(self) -> ConversationRef:
        """The first line's staff chat."""
        return self.lines.first.chat

    def staff_chat_of(self, ticket: Ticket) -> ConversationRef:
        """The staff chat of the ticket's support line."""
        return self.lines.of_ticket(ticket).chat

    async def notify_staff(self, turn: Turn, ticket: Ticket, text: str, **fields) -> None:
        """A message in the ticket's thread / reply chain in the staff chat. Each carries the
        thread title: if the thread is gone, whichever message comes next opens a new one."""
        owner = await self._owner(turn, ticket)
        await turn.send(
            OutgoingMessage(
                conversation=self.staff_chat_of(ticket),
                text=text,
                ticket_id=ticket.id,
                to_staff=True,
                thread_title=_thread_title(ticket, owner),
                **fields,
            )
        )

    async def staff_message(self, tx: Transaction, ticket: Ticket, text: str) -> OutgoingMessage:
        """What `notify_staff` sends, for callers without a turn (the SLA monitor)."""
        owner = await tx.users.get(ticket.user_id)
        return OutgoingMessage(
            conversation=self.staff_chat_of(ticket),
            text=text,
            ticket_id=ticket.id,
            to_staff=True,
            thread_title=_thread_title(ticket, owner),
        )

    async def user_message(
        self, tx: Transaction, ticket: Ticket, key: str, **params: object
    ) -> OutgoingMessage:
        """What `notify_user` sends, for callers without a turn (auto-close)."""
        owner = await tx.users.get(ticket.user_id)
        language = (owner.language if owner else None) or self.texts.default_language
        text = self.texts.get(language, key, number=ticket.number, **params)
        return OutgoingMessage(conversation=ticket.conversation, text=text, ticket_id=ticket.id)

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
        priority: Priority | None = None,
        follows_up: Ticket | None = None,
    ) -> Ticket:
        """Priority and category not given come from the policy's keyword rules; a follow-up
        of a resolved ticket keeps that ticket's category when no rule gives one."""
        user = turn.user
        subject = (
            shorten(text, SUBJECT_LENGTH) if text.strip() else self.staff_text("ticket.no_subject")
        )
        if priority is None:
            priority = self.policy.initial_priority(text, (user.channel, user.external_id))
        category = category or self.policy.category_for(text)
        if category is None and follows_up is not None:
            category = follows_up.category
        conversation = turn.message.conversation.without_thread()
        ticket = await turn.tx.tickets.create(
            NewTicket(
                user.id,
                conversation,
                subject,
                category,
                priority,
                turn.now,
                previous_ticket_id=follows_up.id if follows_up else None,
            )
        )
        await turn.tx.messages.add(
            ticket.id, user.id, Direction.FROM_USER, text, attachments, turn.now
        )
        await turn.tx.audit.record(
            AuditEntry(
                turn.actor,
                "ticket.create",
                "ticket",
                str(ticket.id),
                turn.now,
                after=_snapshot(ticket),
            )
        )
        if self.sla is not None:
            ticket = await turn.tx.tickets.update(ticket.id, **self.sla.on_open(ticket))
        if follows_up is None:
            await self.notify_user(turn, ticket, "ticket.opened")
        else:
            await self.notify_user(
                turn, ticket, "ticket.follow_up_opened", previous=follows_up.number
            )
        announcement = self.staff_text(
            "staff.ticket_announcement",
            number=ticket.number,
            name=user.name,
            channel=user.channel,
            language=user.language or "?",
            priority=self.staff_text(f"priority.{ticket.priority.value}"),
            category=ticket.category or "—",
            text=text or "—",
        )
        if follows_up is not None:
            announcement = (
                self.staff_text("staff.follows_up", previous=follows_up.number)
                + "\n"
                + announcement
            )
        await self.notify_staff(
            turn,
            ticket,
            announcement,
            attachments=await self._carriable(
                turn, attachments, self.staff_chat_of(ticket).channel
            ),
        )
        if self.duty is not None:
            ticket, messages = await self.duty.assign(turn.tx, ticket, turn.now)
            for message in messages:
                await turn.send(message)
        return ticket

    async def add_user_message(
        self, turn: Turn, ticket: Ticket, text: str, attachments: Sequence[Attachment]
    ) -> None:
        await turn.tx.messages.add(
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
                name=turn.user.name,
                text=text or "—",
            ),
            attachments=await self._carriable(
                turn, attachments, self.staff_chat_of(ticket).channel
            ),
        )

    async def relay_agent_reply(
        self, turn: Turn, ticket: Ticket, text: str, attachments: Sequence[Attachment]
    ) -> None:
        await turn.tx.messages.add(
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
        await turn.tx.messages.add(ticket.id, turn.user.id, Direction.NOTE, text, (), turn.now)

    async def close(self, turn: Turn, ticket: Ticket, *, by_user: bool, note: str = "") -> Ticket:
        changes: dict = {
            "status": TicketStatus.CLOSED,
            "closed_at": turn.now,
            "updated_at": turn.now,
        }
        if ticket.resolved_at is None:
            changes["resolved_at"] = turn.now
        if not by_user and ticket.first_response_at is None:
            changes["first_response_at"] = turn.now  # the agent's closing note reaches the user
        closed = await self._update(turn, ticket, **changes)
        await turn.tx.messages.add(
            ticket.id, turn.user.id, Direction.SYSTEM, note or "closed", (), turn.now
        )
        if by_user:
            await self._tell_closed(turn, closed, "ticket.closed_by_user")
            await self.notify_staff(
                turn, closed, self.staff_text("staff.closed_by_user", number=closed.number)
            )
        else:
            key = "ticket.closed_by_agent_with_note" if note else "ticket.closed_by_agent"
            await self._tell_closed(turn, closed, key, note=note)
            await self.notify_staff(
                turn,
                closed,
                self.staff_text(
                    "staff.closed_by_agent",
                    number=closed.number,
                    name=turn.user.name,
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
        await turn.tx.messages.add(
            ticket.id, turn.user.id, Direction.SYSTEM, "reopened", (), turn.now
        )
        await self.notify_user(turn, reopened, "ticket.reopened")
        await self.notify_staff(
            turn,
            reopened,
            self.staff_text(
                "staff.reopened",
                number=reopened.number,
                name=turn.user.name,
            ),
        )
        return reopened

    # -- assignment, waiting, resolution, classification

    async def assign(self, turn: Turn, ticket: Ticket, agent: User) -> Ticket:
        """Give the ticket to `agent` (the speaker on /take). A new ticket becomes open: someone
        is on it. The user hears who took it."""
        changes: dict = {"assignee_id": agent.id, "updated_at": turn.now}
        if ticket.status == TicketStatus.NEW:
            changes["status"] = TicketStatus.OPEN
        assigned = await self._update(turn, ticket, **changes)
        await self.notify_user(turn, assigned, "ticket.taken", name=agent.name)
        key = "staff.taken" if agent.id == turn.user.id else "staff.assigned"
        await self.announce_change(
            turn, assigned, self.staff_text(key, name=agent.name, by=turn.user.name)
        )
        return assigned

    async def unassign(self, turn: Turn, ticket: Ticket) -> Ticket:
        unassigned = await self._update(turn, ticket, assignee_id=None, updated_at=turn.now)
        await self.announce_change(
            turn, unassigned, self.staff_text("staff.unassigned", by=turn.user.name)
        )
        return unassigned

    async def wait_for_user(self, turn: Turn, ticket: Ticket, text: str) -> Ticket:
        """The ball is in the user's court; `text` (a question to them) is relayed first. The
        user's next message makes the ticket open again."""
        if text:
            await self.relay_agent_reply(turn, ticket, text, ())
            ticket = await turn.tx.tickets.get(ticket.id) or ticket
        waiting = await self._update(turn, ticket, status=TicketStatus.WAITING, updated_at=turn.now)
        await self.announce_change(
            turn, waiting, self.staff_text("staff.waiting", by=turn.user.name)
        )
        return waiting

    async def resolve(self, turn: Turn, ticket: Ticket, note: str) -> Ticket:
        """Solved from the agent's side. The user may confirm (close) or say it is not solved
        (reopen); writing within the reopen window reopens it too."""
        changes: dict = {
            "status": TicketStatus.RESOLVED,
            "resolved_at": turn.now,
            "updated_at": turn.now,
        }
        if ticket.first_response_at is None:
            changes["first_response_at"] = turn.now  # the resolution reaches the user
        resolved = await self._update(turn, ticket, **changes)
        await turn.tx.messages.add(
            ticket.id, turn.user.id, Direction.SYSTEM, note or "resolved", (), turn.now
        )
        language = await self._owner_language(turn, resolved)
        hours = _hours(self.policy.reopen_window.total_seconds())
        key = "ticket.resolved_with_note" if note else "ticket.resolved"
        text = self.texts.get(language, key, number=resolved.number, note=note, hours=hours)
        buttons = (
            (
                Button(
                    self.texts.get(language, "button.confirm_solved"),
                    command_text("close", resolved.number),
                ),
                Button(
                    self.texts.get(language, "button.not_solved"),
                    command_text("reopen", resolved.number),
                ),
            ),
        )
        await turn.send(
            OutgoingMessage(
                conversation=resolved.conversation,
                text=text,
                buttons=buttons,
                ticket_id=resolved.id,
            )
        )
        await self.announce_change(
            turn, resolved, self.staff_text("staff.resolved", by=turn.user.name)
        )
        return resolved

    async def set_priority(self, turn: Turn, ticket: Ticket, priority: Priority) -> Ticket:
        changed = await self._update(turn, ticket, priority=priority, updated_at=turn.now)
        await self.announce_change(
            turn,
            changed,
            self.staff_text(
                "staff.priority_set",
                priority=self.staff_text(f"priority.{priority.value}"),
                by=turn.user.name,
            ),
        )
        return changed

    async def set_category(self, turn: Turn, ticket: Ticket, category: str | None) -> Ticket:
        changed = await self._update(turn, ticket, category=category, updated_at=turn.now)
        await self.announce_change(
            turn,
            changed,
            self.staff_text("staff.category_set", category=category or "—", by=turn.user.name),
        )
        return changed

    async def announce_change(self, turn: Turn, ticket: Ticket, event: str) -> None:
        """What changed, then the ticket's current header (status, priority, category,
        assignee): the newest header in the thread is always the ticket's state."""
        await self.notify_staff(turn, ticket, event + "\n" + await self.header(turn.tx, ticket))

    async def header(self, tx: Transaction, ticket: Ticket) -> str:
        assignee = await tx.users.get(ticket.assignee_id) if ticket.assignee_id else None
        return self.staff_text(
            "staff.ticket_header",
            number=ticket.number,
            status=self.staff_text(f"staff.status.{ticket.status.value}"),
            priority=self.staff_text(f"priority.{ticket.priority.value}"),
            category=ticket.category or "—",
            assignee=assignee.name if assignee else self.staff_text("staff.nobody"),
        )

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
        return await turn.tx.users.get(ticket.user_id)

    async def _owner_language(self, turn: Turn, ticket: Ticket) -> str:
        owner = await self._owner(turn, ticket)
        return (owner.language if owner else None) or self.texts.default_language

    async def _update(self, turn: Turn, ticket: Ticket, **changes) -> Ticket:
        return await self.apply(turn.tx, turn.actor, turn.now, ticket, **changes)

    async def apply(
        self,
        tx: Transaction,
        actor: str | None,
        now: datetime,
        ticket: Ticket,
        reason: str | None = None,
        **changes,
    ) -> Ticket:
        """Store `changes` with what follows from them (the auto-close and SLA clocks) and
        audit every change of an audited field in `actor`'s name (None: the system), with
        `reason` when given."""
        changes.update(_waiting_marks(ticket, changes.get("status", ticket.status), now))
        updated = await tx.tickets.update(ticket.id, **changes)
        if self.sla is not None:
            timers = self.sla.on_change(ticket, updated, now)
            if timers:
                updated = await tx.tickets.update(ticket.id, **timers)
        for name, action in AUDITED_FIELDS.items():
            before, after = getattr(ticket, name), getattr(updated, name)
            if before != after:
                await tx.audit.record(
                    AuditEntry(
                        actor,
                        action,
                        "ticket",
                        str(ticket.id),
                        now,
                        before={name: _plain(before)},
                        after={name: _plain(after)} | ({"reason": reason} if reason else {}),
                    )
                )
        return updated

    async def _tell_closed(self, turn: Turn, ticket: Ticket, key: str, **params: object) -> None:
        await turn.send(await self.closed_message(turn.tx, ticket, key, **params))

    async def closed_message(
        self, tx: Transaction, ticket: Ticket, key: str, **params: object
    ) -> OutgoingMessage:
        """Tell the owner the ticket is closed and, in the same message, ask them to rate the
        help with buttons 1-5: once per ticket (one closed again after a rating is not asked
        again)."""
        owner = await tx.users.get(ticket.user_id)
        language = (owner.language if owner else None) or self.texts.default_language
        text = self.texts.get(language, key, number=ticket.number, **params)
        buttons: tuple[tuple[Button, ...], ...] = ()
        if await tx.ratings.get(ticket.id) is None:
            text += "\n\n" + self.texts.get(language, "csat.question", number=ticket.number)
            buttons = (
                tuple(
                    Button(
                        self.texts.get(language, "button.rate", score=score),
                        command_text("rate", ticket.number, score),
                    )
                    for score in RATING_SCORES
                ),
            )
        return OutgoingMessage(
            conversation=ticket.conversation, text=text, buttons=buttons, ticket_id=ticket.id
        )


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g}"


def _plain(value: object) -> object:
    return value.value if isinstance(value, Priority | TicketStatus) else value


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"


def _thread_title(ticket: Ticket, owner: User | None) -> str:
    name = owner.name if owner else "?"
    return shorten(f"#{ticket.number} {name}: {ticket.subject}", 120)


def _snapshot(ticket: Ticket) -> dict:
    data = dataclasses.asdict(ticket)
    del data["sla"]  # timers are set after creation and audited as their own events
    data["conversation"] = dataclasses.asdict(ticket.conversation)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


def _waiting_marks(ticket: Ticket, status: TicketStatus, now: datetime) -> dict:
    """The auto-close clock (core.auto_close) starts when the ticket starts waiting for the user
    and is cleared when it stops (the user answered, an agent changed the status)."""
    if status == TicketStatus.WAITING and ticket.status != TicketStatus.WAITING:
        return {"waiting_since": now, "waiting_reminded_at": None}
    if status != TicketStatus.WAITING and ticket.waiting_since is not None:
        return {"waiting_since": None, "waiting_reminded_at": None}
    return {}
