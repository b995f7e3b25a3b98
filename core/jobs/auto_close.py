"""Auto-close of inactive tickets: after `remind_after` in status waiting the user gets a
reminder, after `resolve_after` the ticket is resolved with a note (the user may still reopen it
within the reopen window, as after any resolution); a ticket resolved for `close_resolved_after`
(the user neither confirmed nor reopened it) is closed and the user is asked for a rating.

`AutoClose.check` claims what is due and queues the messages in the same transaction; it is safe
to run in several processes at once (see `Tickets.lock_waiting_since`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain import Direction, Ticket, TicketStatus
from core.tickets import notices
from core.tickets.desk import TicketDesk
from core.work import UnitOfWork, Work

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AutoClosePolicy:
    """None turns a step off: `remind_after` None: no reminder, only the resolution;
    `resolve_after` None: waiting tickets wait; `close_resolved_after` None: resolved tickets
    stay resolved until the user or an agent closes them."""

    resolve_after: timedelta | None
    remind_after: timedelta | None = None
    close_resolved_after: timedelta | None = None

    def __post_init__(self) -> None:
        for name in ("resolve_after", "close_resolved_after"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise ValueError(f"{name} must be longer than zero")
        if self.remind_after is not None and not (
            self.resolve_after is not None and timedelta(0) < self.remind_after < self.resolve_after
        ):
            raise ValueError("remind_after must be between zero and resolve_after")


@dataclass(frozen=True)
class AutoCloseResult:
    reminded: tuple[int, ...] = ()  # ticket numbers
    resolved: tuple[int, ...] = ()
    closed: tuple[int, ...] = ()


@dataclass(eq=False)
class AutoClose:
    """Reminds and resolves tickets the user left waiting, closes resolved ones."""

    unit_of_work: UnitOfWork
    desk: TicketDesk
    policy: AutoClosePolicy

    async def check(self, now: datetime | None = None) -> AutoCloseResult:
        """Act on what is due at `now` (default: the clock)."""
        policy = self.policy
        async with self.unit_of_work(now) as work:
            tickets = work.tx.tickets
            # Closures first: a ticket resolved below is not closed in the same run.
            closed = []
            if policy.close_resolved_after is not None:
                due = work.now - policy.close_resolved_after
                for ticket in await tickets.lock_resolved_since(due):
                    closed.append(await self._close(work, ticket))
            # Resolutions before reminders: a ticket past both points (no checker ran in
            # between) is resolved without a reminder that would come too late to matter.
            resolved = []
            if policy.resolve_after is not None:
                for ticket in await tickets.lock_waiting_since(work.now - policy.resolve_after):
                    resolved.append(await self._resolve(work, ticket))
            reminded = []
            if policy.remind_after is not None:
                due = work.now - policy.remind_after
                for ticket in await tickets.claim_waiting_reminders(due, work.now):
                    reminded.append(await self._remind(work, ticket))
        if resolved or reminded or closed:
            log.info(
                "auto-close",
                extra={"reminded": len(reminded), "resolved": len(resolved), "closed": len(closed)},
            )
        return AutoCloseResult(
            tuple(t.number for t in reminded),
            tuple(t.number for t in resolved),
            tuple(t.number for t in closed),
        )

    async def _close(self, work: Work, ticket: Ticket) -> Ticket:
        days = notices.days(self.policy.close_resolved_after)  # type: ignore[arg-type]
        closed = await self._change(work, ticket, status=TicketStatus.CLOSED, closed_at=work.now)
        note = self.desk.tell.staff_text("staff.auto_closed", number=ticket.number, count=days)
        await work.tx.messages.add(ticket.id, None, Direction.SYSTEM, note, (), work.now)
        await self.desk.tell.closed(work, closed, "ticket.auto_closed", count=days)
        await self.desk.tell.staff(work, closed, note)
        return closed

    async def _remind(self, work: Work, ticket: Ticket) -> Ticket:
        left = notices.hours(self.policy.resolve_after - self.policy.remind_after)  # type: ignore[operator]
        await work.audit("ticket.waiting_reminder", "ticket", ticket.id)
        await self.desk.tell.user(work, ticket, "ticket.waiting_reminder", count=left)
        note = self.desk.tell.staff_text("staff.waiting_reminded", number=ticket.number)
        await self.desk.tell.staff(work, ticket, note)
        return ticket

    async def _resolve(self, work: Work, ticket: Ticket) -> Ticket:
        waited = notices.hours(self.policy.resolve_after)  # type: ignore[arg-type]
        resolved = await self._change(
            work, ticket, status=TicketStatus.RESOLVED, resolved_at=work.now
        )
        note = self.desk.tell.staff_text("staff.auto_resolved", number=ticket.number, count=waited)
        await work.tx.messages.add(ticket.id, None, Direction.SYSTEM, note, (), work.now)
        language = await self.desk.tell.owner_language(work, ticket)
        texts = self.desk.texts
        # Two durations, two plural texts: the reopen window is a sentence of its own.
        reopen = texts.get(
            language,
            "ticket.auto_resolved_reopen",
            count=notices.hours(self.desk.policy.reopen_window),
        )
        text = texts.get(
            language, "ticket.auto_resolved", number=ticket.number, count=waited, reopen=reopen
        )
        await work.send(notices.with_solved_buttons(texts, language, resolved, text))
        await self.desk.tell.staff(work, resolved, note)
        return resolved

    async def _change(self, work: Work, ticket: Ticket, **changes) -> Ticket:
        return await self.desk.apply(
            work, ticket, reason="auto_close", updated_at=work.now, **changes
        )
