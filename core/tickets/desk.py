"""The ticket desk: every change to a ticket goes through it, from a user's message, an agent's
command or a scheduled job alike. Each operation records the change (ticket, message, audit)
and queues what both sides should see; `apply` is the one place a ticket's fields change."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from core.domain import AuditEntry, Direction, NewTicket, Priority, Ticket, TicketStatus, User
from core.i18n import Texts
from core.messages import Attachment, ConversationRef
from core.text import shorten
from core.tickets import notices
from core.tickets.events import TicketEvents, message_json, plain
from core.tickets.lines import SupportLine, SupportLines
from core.tickets.notify import Notifier
from core.tickets.policy import AutoAssign, TicketPolicy, waiting_marks
from core.tickets.sla_policy import SlaPolicy
from core.turn import Turn
from core.work import Work

log = logging.getLogger(__name__)

SUBJECT_LENGTH = 80
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
        auto_assign: AutoAssign | None = None,
        events: TicketEvents | None = None,
    ) -> None:
        self.lines = lines
        self.texts = texts
        self.staff_language = staff_language
        self.max_file_sizes = dict(max_file_sizes or {})  # per channel, bytes
        self.policy = policy or TicketPolicy()
        self.sla = sla  # None: no SLA timers
        self.auto_assign = auto_assign  # None: new tickets wait for /take or /assign
        self.events = events or TicketEvents()  # for other systems (outbound webhooks)
        self.tell = Notifier(lines, texts, staff_language)

    @property
    def staff_chat(self) -> ConversationRef:
        """The first line's staff chat."""
        return self.lines.first.chat

    # -- the one place a ticket changes

    async def apply(
        self,
        work: Work,
        ticket: Ticket,
        *,
        reason: str | None = None,
        by_system: bool = False,
        **changes,
    ) -> Ticket:
        """Store `changes` with what follows from them (the auto-close and SLA clocks) and
        audit every change of an audited field in the actor's name (the system's when
        `by_system`: an automatic step inside someone's turn), with `reason` if given."""
        changes.update(waiting_marks(ticket, changes.get("status", ticket.status), work.now))
        updated = await work.tx.tickets.update(ticket.id, **changes)
        if self.sla is not None:
            timers = self.sla.on_change(ticket, updated, work.now)
            if timers:
                updated = await work.tx.tickets.update(ticket.id, **timers)
        for name, action in AUDITED_FIELDS.items():
            before, after = plain(getattr(ticket, name)), plain(getattr(updated, name))
            if before != after:
                extra = {"reason": reason} if reason else {}
                entry = AuditEntry(
                    None if by_system else work.actor,
                    action,
                    "ticket",
                    str(ticket.id),
                    work.now,
                    before={name: before},
                    after={name: after} | extra,
                )
                await work.tx.audit.record(entry)
        await self.events.changed(work, ticket, updated)
        return updated

    # -- opening and talking

    async def open(
        self,
        turn: Turn,
        text: str,
        attachments: Sequence[Attachment] = (),
        category: str | None = None,
        follows_up: Ticket | None = None,
        *,
        subject: str | None = None,
        priority: Priority | None = None,
        line: str | None = None,
    ) -> Ticket:
        """Priority and category come from the policy's keyword rules (those given win); a
        follow-up of a resolved ticket keeps that ticket's category when no rule gives one.
        `line`: the support line to open it in (None: the first)."""
        user = turn.user
        subject = shorten((subject or text).strip(), SUBJECT_LENGTH) or self.tell.staff_text(
            "ticket.no_subject"
        )
        category = category or self.policy.category_for(text)
        if category is None and follows_up is not None:
            category = follows_up.category
        ticket = await turn.tx.tickets.create(
            NewTicket(
                user_id=user.id,
                conversation=turn.message.conversation.without_thread(),
                subject=subject,
                category=category,
                priority=priority
                or self.policy.initial_priority(text, (user.channel, user.external_id)),
                created_at=turn.now,
                previous_ticket_id=follows_up.id if follows_up else None,
                line=line,
            )
        )
        await turn.tx.messages.add(
            ticket.id, user.id, Direction.FROM_USER, text, attachments, turn.now
        )
        await turn.audit("ticket.create", "ticket", ticket.id, after=notices.snapshot(ticket))
        await self.events.emit(
            turn, "ticket.created", ticket, message=message_json(text, attachments)
        )
        if self.sla is not None:
            ticket = await turn.tx.tickets.update(ticket.id, **self.sla.on_open(ticket))
        opened = "ticket.opened" if follows_up is None else "ticket.follow_up_opened"
        previous = follows_up.number if follows_up else None
        back = self.policy.back_at(turn.now)
        keys = (opened,) if back is None else (opened, "ticket.out_of_hours")
        await self.tell.user(turn, ticket, keys, previous=previous, back=back)
        announcement = notices.announcement(self.tell.staff_text, ticket, user, text, follows_up)
        staff_channel = self.lines.of_ticket(ticket).chat.channel
        carried = await _carriable(turn, attachments, self.max_file_sizes.get(staff_channel))
        await self.tell.staff(turn, ticket, announcement, attachments=carried)
        return await self.assign_on_duty(turn, ticket)

    async def add_user_message(
        self, turn: Turn, ticket: Ticket, text: str, attachments: Sequence[Attachment]
    ) -> None:
        await self._said(turn, ticket, Direction.FROM_USER, text, attachments)
        relayed = self.tell.staff_text(
            "staff.user_message", number=ticket.number, name=turn.user.name, text=text or "—"
        )
        staff_channel = self.lines.of_ticket(ticket).chat.channel
        carried = await _carriable(turn, attachments, self.max_file_sizes.get(staff_channel))
        await self.tell.staff(turn, ticket, relayed, attachments=carried)

    async def relay_agent_reply(
        self,
        turn: Turn,
        ticket: Ticket,
        text: str,
        attachments: Sequence[Attachment],
        key: str = "user.agent_reply",  # "user.agent_correction": an agent edited a reply
    ) -> Ticket:
        """The agent's message (the turn's) reaches the user; its copy remembers it, so that an
        edit of it can edit the copy (core/staff/chat.py)."""
        updated = await self._said(turn, ticket, Direction.TO_USER, text, attachments)
        carried = await _carriable(
            turn, attachments, self.max_file_sizes.get(ticket.conversation.channel)
        )
        await self.tell.user(turn, ticket, key, carried, turn.message.source, text=text)
        return updated

    async def _said(
        self,
        turn: Turn,
        ticket: Ticket,
        direction: Direction,
        text: str,
        attachments: Sequence[Attachment],
    ) -> Ticket:
        """Keep what was said on the ticket, with what follows: the user's answer opens a
        ticket that waited for them; the first answer to the user stops the response clock."""
        await turn.tx.messages.add(ticket.id, turn.user.id, direction, text, attachments, turn.now)
        said = message_json(text, attachments, direction)
        await self.events.emit(turn, "ticket.message", ticket, message=said)
        changes: dict = {"updated_at": turn.now}
        if direction == Direction.FROM_USER and ticket.status == TicketStatus.WAITING:
            changes["status"] = TicketStatus.OPEN
        if direction == Direction.TO_USER:
            if ticket.first_response_at is None:
                changes["first_response_at"] = turn.now
            if ticket.status == TicketStatus.NEW:
                changes["status"] = TicketStatus.OPEN
        return await self.apply(turn, ticket, **changes)

    async def add_note(self, turn: Turn, ticket: Ticket, text: str) -> None:
        await turn.tx.messages.add(ticket.id, turn.user.id, Direction.NOTE, text, (), turn.now)

    # -- the lifecycle

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
        closed = await self.apply(turn, ticket, **changes)
        await self._system_note(turn, ticket, note or "closed")
        if by_user:
            await self.tell.closed(turn, closed, "ticket.closed_by_user")
            event = self.tell.staff_text("staff.closed_by_user", number=closed.number)
        else:
            key = "ticket.closed_by_agent_with_note" if note else "ticket.closed_by_agent"
            await self.tell.closed(turn, closed, key, note=note)
            event = self.tell.staff_text(
                "staff.closed_by_agent", number=closed.number, name=turn.user.name
            )
        await self.tell.staff(turn, closed, event)
        return closed

    async def reopen(self, turn: Turn, ticket: Ticket) -> Ticket:
        reopened = await self.apply(
            turn,
            ticket,
            status=TicketStatus.OPEN,
            closed_at=None,
            resolved_at=None,
            updated_at=turn.now,
        )
        await self._system_note(turn, ticket, "reopened")
        await self.tell.user(turn, reopened, "ticket.reopened")
        event = self.tell.staff_text("staff.reopened", number=reopened.number, name=turn.user.name)
        await self.tell.staff(turn, reopened, event)
        return reopened

    async def wait_for_user(self, turn: Turn, ticket: Ticket, text: str) -> Ticket:
        """The ball is in the user's court; `text` (a question to them) is relayed first. The
        user's next message makes the ticket open again."""
        if text:
            ticket = await self.relay_agent_reply(turn, ticket, text, ())
        waiting = await self.apply(turn, ticket, status=TicketStatus.WAITING, updated_at=turn.now)
        event = self.tell.staff_text("staff.waiting", by=turn.user.name)
        await self.tell.change(turn, waiting, event)
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
        resolved = await self.apply(turn, ticket, **changes)
        await self._system_note(turn, ticket, note or "resolved")
        language = await self.tell.owner_language(turn, resolved)
        hours = notices.hours(self.policy.reopen_window)
        key = "ticket.resolved_with_note" if note else "ticket.resolved"
        text = self.texts.get(language, key, number=resolved.number, note=note, count=hours)
        await turn.send(notices.with_solved_buttons(self.texts, language, resolved, text))
        await self.tell.change(
            turn, resolved, self.tell.staff_text("staff.resolved", by=turn.user.name)
        )
        return resolved

    async def _system_note(self, work: Work, ticket: Ticket, text: str) -> None:
        author = work.user.id if isinstance(work, Turn) else None
        await work.tx.messages.add(ticket.id, author, Direction.SYSTEM, text, (), work.now)

    # -- assignment and classification

    async def assign(self, turn: Turn, ticket: Ticket, agent: User) -> Ticket:
        """Give the ticket to `agent` (the speaker on /take). A new ticket becomes open: someone
        is on it. The user hears who took it."""
        assigned = await self._give(turn, ticket, agent)
        await self.tell.user(turn, assigned, "ticket.taken", name=agent.name)
        key = "staff.taken" if agent.id == turn.user.id else "staff.assigned"
        event = self.tell.staff_text(key, name=agent.name, by=turn.user.name)
        await self.tell.change(turn, assigned, event)
        return assigned

    async def assign_on_duty(self, work: Work, ticket: Ticket) -> Ticket:
        """With automatic assignment on: give the ticket to the next agent on duty in its line,
        if anyone is on duty there."""
        if self.auto_assign is None:
            return ticket
        line = self.lines.of_ticket(ticket)
        least_loaded = self.auto_assign == AutoAssign.LEAST_LOADED
        agent_id = await work.tx.duty.pick(line.name, least_loaded, work.now)
        agent = await work.tx.users.get(agent_id) if agent_id is not None else None
        if agent is None:
            return ticket
        assigned = await self._give(work, ticket, agent, by_system=True)
        log.info(
            "ticket assigned to the agent on duty",
            extra={"ticket": ticket.id, "line": line.name, "agent": agent.id},
        )
        event = self.tell.staff_text("staff.auto_assigned", name=agent.name, line=line.name)
        await self.tell.change(work, assigned, event)
        await self.tell.user(work, assigned, "ticket.taken", name=agent.name)
        return assigned

    async def _give(
        self, work: Work, ticket: Ticket, agent: User, by_system: bool = False
    ) -> Ticket:
        changes: dict = {"assignee_id": agent.id, "updated_at": work.now}
        if ticket.status == TicketStatus.NEW:
            changes["status"] = TicketStatus.OPEN
        return await self.apply(work, ticket, by_system=by_system, **changes)

    async def unassign(self, turn: Turn, ticket: Ticket) -> Ticket:
        unassigned = await self.apply(turn, ticket, assignee_id=None, updated_at=turn.now)
        event = self.tell.staff_text("staff.unassigned", by=turn.user.name)
        await self.tell.change(turn, unassigned, event)
        return unassigned

    async def set_priority(self, turn: Turn, ticket: Ticket, priority: Priority) -> Ticket:
        changed = await self.apply(turn, ticket, priority=priority, updated_at=turn.now)
        label = self.tell.staff_text(f"priority.{priority.value}")
        event = self.tell.staff_text("staff.priority_set", priority=label, by=turn.user.name)
        await self.tell.change(turn, changed, event)
        return changed

    async def set_category(self, turn: Turn, ticket: Ticket, category: str | None) -> Ticket:
        changed = await self.apply(turn, ticket, category=category, updated_at=turn.now)
        event = self.tell.staff_text(
            "staff.category_set", category=category or "—", by=turn.user.name
        )
        await self.tell.change(turn, changed, event)
        return changed

    # -- support lines

    async def move(
        self, work: Work, ticket: Ticket, target: SupportLine, *, by: str, reason: str
    ) -> Ticket:
        """Put `ticket` in line `target`, unassigned (the new line picks it up, or its agents on
        duty get it): the new line's chat gets it with its recent history, the old thread says
        where it went, the user notices nothing."""
        source = self.lines.of_ticket(ticket)
        upward = self.lines.rank(target) > self.lines.rank(source)
        moved = await self.apply(
            work, ticket, line=target.name, assignee_id=None, updated_at=work.now
        )
        params = {"number": ticket.number, "by": by, "reason": reason or "—"}
        left_key = "staff.line_left" if upward else "staff.line_left_down"
        # `ticket` is still in the old line: this goes to the old thread.
        await self.tell.staff(
            work, ticket, self.tell.staff_text(left_key, line=target.name, **params)
        )
        owner = await self.tell.owner(work, ticket)
        history = notices.history(self.tell.staff_text, await work.tx.messages.list(ticket.id))
        arrived = self.tell.staff_text(
            "staff.line_arrived" if upward else "staff.line_arrived_down",
            line=source.name,
            name=owner.name if owner else "?",
            channel=owner.channel if owner else "?",
            header=await self.tell.header(work, moved),
            history=history,
            **params,
        )
        await self.tell.staff(work, moved, arrived)
        log.info(
            "ticket moved to another line",
            extra={"ticket": ticket.id, "from": source.name, "to": target.name},
        )
        return await self.assign_on_duty(work, moved)


async def _carriable(
    turn: Turn, attachments: Sequence[Attachment], limit: int | None
) -> tuple[Attachment, ...]:
    """The files the other side's platform can take (`limit`: its largest, in bytes); the
    sender hears about the others (the ticket keeps their record either way)."""
    carried = []
    for attachment in attachments:
        if limit is not None and attachment.size is not None and attachment.size > limit:
            await turn.reply(notices.file_too_large(turn.t, attachment, limit))
        else:
            carried.append(attachment)
    return tuple(carried)
