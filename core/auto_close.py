"""Auto-close of inactive tickets: after `remind_after` in status waiting the user gets a
reminder, after `resolve_after` the ticket is resolved with a note (the user may still reopen it
within the reopen window, as after any resolution); a ticket resolved for `close_resolved_after`
(the user neither confirmed nor reopened it) is closed and the user is asked for a rating.

`AutoClose.check` claims what is due and queues the messages in the same transaction; it is safe
to run in several processes at once (see `Transaction.claim_waiting_reminders`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.commands import command_text
from core.domain import Direction, Ticket, TicketStatus
from core.messages import Button, OutgoingMessage
from core.store import AuditEntry, Store, Transaction

if TYPE_CHECKING:
    from core.tickets import TicketDesk

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


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


class AutoClose:
    """Reminds and resolves tickets the user left waiting. `desk` is the engine's TicketDesk."""

    def __init__(
        self,
        store: Store,
        desk: TicketDesk,
        policy: AutoClosePolicy,
        clock: Clock,
        on_committed: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.desk = desk
        self.policy = policy
        self.clock = clock
        self.on_committed = on_committed

    async def check(self, now: datetime | None = None) -> AutoCloseResult:
        """Claim and act on what is due at `now` (default: the clock)."""
        now = now or self.clock()
        policy = self.policy
        async with self.store.transaction() as tx:
            messages: list[OutgoingMessage] = []
            # Closures first: a ticket resolved below is not closed in the same run.
            closed: list[Ticket] = []
            if policy.close_resolved_after is not None:
                due = await tx.tickets.lock_resolved_since(now - policy.close_resolved_after)
                closed = [
                    await self._change(tx, t, now, status=TicketStatus.CLOSED, closed_at=now)
                    for t in due
                ]
            for ticket in closed:
                messages += await self._close(tx, ticket, now)
            # Resolutions before reminders: a ticket past both points (no checker ran in
            # between) is resolved without a reminder that would come too late to matter.
            resolved: list[Ticket] = []
            if policy.resolve_after is not None:
                due = await tx.tickets.lock_waiting_since(now - policy.resolve_after)
                resolved = [
                    await self._change(tx, t, now, status=TicketStatus.RESOLVED, resolved_at=now)
                    for t in due
                ]
            for ticket in resolved:
                messages += await self._resolve(tx, ticket, now)
            reminded: list[Ticket] = []
            if policy.remind_after is not None:
                reminded = await tx.tickets.claim_waiting_reminders(now - policy.remind_after, now)
            for ticket in reminded:
                messages += await self._remind(tx, ticket, now)
            await tx.outbox.enqueue_many(messages, now)
        if resolved or reminded or closed:
            log.info(
                "auto-close",
                extra={"reminded": len(reminded), "resolved": len(resolved), "closed": len(closed)},
            )
            self.on_committed()
        return AutoCloseResult(
            tuple(t.number for t in reminded),
            tuple(t.number for t in resolved),
            tuple(t.number for t in closed),
        )

    async def _close(self, tx: Transaction, ticket: Ticket, now: datetime) -> list[OutgoingMessage]:
        days = _days(self.policy.close_resolved_after)  # type: ignore[arg-type]
        note = self.desk.staff_text("staff.auto_closed", number=ticket.number, days=days)
        await tx.messages.add(ticket.id, None, Direction.SYSTEM, note, (), now)
        return [
            await self.desk.closed_message(tx, ticket, "ticket.auto_closed", days=days),
            await self.desk.staff_message(tx, ticket, note),
        ]

    async def _remind(
        self, tx: Transaction, ticket: Ticket, now: datetime
    ) -> list[OutgoingMessage]:
        left = _hours(self.policy.resolve_after - self.policy.remind_after)  # type: ignore[operator]
        await tx.audit.record(
            AuditEntry(None, "ticket.waiting_reminder", "ticket", str(ticket.id), now)
        )
        return [
            await self.desk.user_message(tx, ticket, "ticket.waiting_reminder", hours=left),
            await self.desk.staff_message(
                tx, ticket, self.desk.staff_text("staff.waiting_reminded", number=ticket.number)
            ),
        ]

    async def _resolve(
        self, tx: Transaction, ticket: Ticket, now: datetime
    ) -> list[OutgoingMessage]:
        waited = _hours(self.policy.resolve_after)  # type: ignore[arg-type]
        note = self.desk.staff_text("staff.auto_resolved", number=ticket.number, hours=waited)
        await tx.messages.add(ticket.id, None, Direction.SYSTEM, note, (), now)
        reopen = _hours(self.desk.policy.reopen_window)
        language = await self._language(tx, ticket)
        text = self.desk.texts.get(
            language, "ticket.auto_resolved", number=ticket.number, hours=waited, reopen=reopen
        )
        buttons = (
            (
                Button(
                    self.desk.texts.get(language, "button.confirm_solved"),
                    command_text("close", ticket.number),
                ),
                Button(
                    self.desk.texts.get(language, "button.not_solved"),
                    command_text("reopen", ticket.number),
                ),
            ),
        )
        return [
            OutgoingMessage(
                conversation=ticket.conversation, text=text, buttons=buttons, ticket_id=ticket.id
            ),
            await self.desk.staff_message(tx, ticket, note),
        ]

    async def _change(self, tx: Transaction, ticket: Ticket, now: datetime, **changes) -> Ticket:
        return await self.desk.apply(
            tx, None, now, ticket, reason="auto_close", updated_at=now, **changes
        )

    async def _language(self, tx: Transaction, ticket: Ticket) -> str:
        owner = await tx.users.get(ticket.user_id)
        return (owner.language if owner else None) or self.desk.texts.default_language


def _days(duration: timedelta) -> str:
    return f"{duration.total_seconds() / 86400:g}"


def _hours(duration: timedelta | float) -> str:
    seconds = duration.total_seconds() if isinstance(duration, timedelta) else duration
    return f"{seconds / 3600:g}"
