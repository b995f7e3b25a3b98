"""SLA timers: per-priority first-response and resolution targets counted in business time.

`SlaPolicy` computes a ticket's warning points and deadlines (stored on the ticket, so a restart
loses no timer) and how they move when the ticket waits for the user or changes priority.
`SlaMonitor.check` claims the points that passed and queues the staff messages in the same
transaction; it is safe to run in several processes at once (see `Transaction.claim_sla_events`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.business_hours import BusinessCalendar
from core.domain import Priority, Role, SlaEvent, Ticket, TicketStatus
from core.escalation import move_ticket
from core.messages import OutgoingMessage
from core.roles import Roles
from core.store import AuditEntry, Store, Transaction

if TYPE_CHECKING:  # core.tickets imports this module
    from core.tickets import TicketDesk

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class SlaTarget:
    first_response: timedelta
    resolution: timedelta


@dataclass(frozen=True)
class SlaPolicy:
    """A priority without a target has no timers. `category_targets` (category, compared without
    regard to case -> priority -> target) override the priority's target for that category."""

    targets: Mapping[Priority, SlaTarget]
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    warn_at: float = 0.8  # share of the target after which the warning goes out
    category_targets: Mapping[str, Mapping[Priority, SlaTarget]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.warn_at < 1:
            raise ValueError("warn_at must be between 0 and 1")
        folded = {name.casefold(): targets for name, targets in self.category_targets.items()}
        object.__setattr__(self, "category_targets", folded)

    def target_for(self, priority: Priority, category: str | None) -> SlaTarget | None:
        by_category = self.category_targets.get(category.casefold()) if category else None
        if by_category and priority in by_category:
            return by_category[priority]
        return self.targets.get(priority)

    def schedule(self, ticket: Ticket, priority: Priority, paused_seconds: float) -> dict[str, Any]:
        """The warning points and deadlines (as update_ticket changes) for `priority` and the
        ticket's category, counted from the ticket's creation plus the business time it spent
        waiting for the user."""
        target = self.target_for(priority, ticket.category)
        paused = timedelta(seconds=paused_seconds)
        changes: dict[str, Any] = {}
        for name, duration in (
            ("response", target.first_response if target else None),
            ("resolution", target.resolution if target else None),
        ):
            warn = due = None
            if duration is not None:
                add = self.calendar.add_business_time
                warn = add(ticket.created_at, duration * self.warn_at + paused)
                due = add(ticket.created_at, duration + paused)
            changes[f"{name}_warn_at"] = warn
            changes[f"{name}_due_at"] = due
        return changes

    def on_open(self, ticket: Ticket) -> dict[str, Any]:
        return self.schedule(ticket, ticket.priority, 0.0)

    def on_change(self, before: Ticket, after: Ticket, now: datetime) -> dict[str, Any]:
        """Changes that follow a ticket update: the clock stops while the ticket waits for the
        user or is resolved/closed; when it runs again (the user answered, the ticket was
        reopened) that pause's business time moves the deadlines; a new priority or category
        brings new targets. A warning or breach already announced is kept unless its point
        moved into the future (it will be announced again when that comes)."""
        sla = after.sla
        changes: dict[str, Any] = {}
        paused_seconds = sla.paused_seconds
        entering = after.status in PAUSED_STATUSES and before.status not in PAUSED_STATUSES
        leaving = before.status in PAUSED_STATUSES and after.status not in PAUSED_STATUSES
        if entering and sla.paused_since is None:
            changes["sla_paused_since"] = now
        reschedule = after.priority != before.priority or after.category != before.category
        if leaving and sla.paused_since is not None:
            pause = self.calendar.business_time_between(sla.paused_since, now)
            paused_seconds += pause.total_seconds()
            changes["sla_paused_since"] = None
            changes["sla_paused_seconds"] = paused_seconds
            reschedule = True
        if reschedule:
            points = self.schedule(after, after.priority, paused_seconds)
            changes.update(points)
            for point, marker in (
                ("response_warn_at", "response_warned_at"),
                ("response_due_at", "response_breached_at"),
                ("resolution_warn_at", "resolution_warned_at"),
                ("resolution_due_at", "resolution_breached_at"),
            ):
                moment = points[point]
                if getattr(sla, marker) is not None and (moment is None or moment > now):
                    changes[marker] = None
        return changes


# The SLA clock does not run in these statuses.
PAUSED_STATUSES = frozenset({TicketStatus.WAITING, TicketStatus.RESOLVED, TicketStatus.CLOSED})

# The catalog key of each event's message in the ticket's thread.
_THREAD_TEXT = {
    SlaEvent.RESPONSE_WARNING: "sla.response_warning",
    SlaEvent.RESPONSE_BREACH: "sla.response_breach",
    SlaEvent.RESOLUTION_WARNING: "sla.resolution_warning",
    SlaEvent.RESOLUTION_BREACH: "sla.resolution_breach",
}
_DUE_FIELD = {
    SlaEvent.RESPONSE_WARNING: "response_due_at",
    SlaEvent.RESPONSE_BREACH: "response_due_at",
    SlaEvent.RESOLUTION_WARNING: "resolution_due_at",
    SlaEvent.RESOLUTION_BREACH: "resolution_due_at",
}
_BREACHES = frozenset({SlaEvent.RESPONSE_BREACH, SlaEvent.RESOLUTION_BREACH})


class SlaMonitor:
    """Announces passed warning points and deadlines. `desk` is the engine's TicketDesk (it
    knows the staff chat, which may move, and the staff language)."""

    def __init__(
        self,
        store: Store,
        desk: TicketDesk,
        policy: SlaPolicy,
        clock: Clock,
        on_committed: Callable[[], None] = lambda: None,
        *,
        roles: Roles | None = None,
        escalate_on_breach: bool = False,
    ) -> None:
        self.store = store
        self.desk = desk
        self.policy = policy
        self.clock = clock
        self.on_committed = on_committed
        self.roles = roles  # supervisors hear of breaches privately; None: nobody
        self.escalate_on_breach = escalate_on_breach

    async def check(self, now: datetime | None = None) -> list[tuple[SlaEvent, int]]:
        """Claim and announce what is due at `now` (default: the clock). Returns the
        (event, ticket number) pairs this call announced."""
        now = now or self.clock()
        async with self.store.transaction() as tx:
            events = await tx.tickets.claim_sla_events(now)
            messages: list[OutgoingMessage] = []
            escalated: set[int] = set()
            for event, ticket in events:
                messages += await self._messages(tx, event, ticket)
                await tx.audit.record(
                    AuditEntry(None, f"ticket.sla.{event.value}", "ticket", str(ticket.id), now)
                )
                if event in _BREACHES and ticket.id not in escalated:
                    messages += await self._breached(tx, ticket, now)
                    escalated.add(ticket.id)
            await tx.outbox.enqueue_many(messages, now)
        if events:
            log.info("sla events", extra={"count": len(events)})
            self.on_committed()
        return [(event, ticket.number) for event, ticket in events]

    async def _messages(
        self, tx: Transaction, event: SlaEvent, ticket: Ticket
    ) -> list[OutgoingMessage]:
        due = getattr(ticket.sla, _DUE_FIELD[event])
        local_due = due.astimezone(self.policy.calendar.zone).strftime("%Y-%m-%d %H:%M")
        params = {
            "number": ticket.number,
            "priority": self.desk.staff_text(f"priority.{ticket.priority.value}"),
            "due": local_due,
        }
        thread_text = self.desk.staff_text(_THREAD_TEXT[event], **params)
        # The ticket's thread may be muted or buried: the event also shows in the main chat.
        alert = self.desk.staff_text(_THREAD_TEXT[event] + "_alert", **params)
        messages = [
            await self.desk.staff_message(tx, ticket, thread_text),
            OutgoingMessage(conversation=self.desk.staff_chat_of(ticket), text=alert),
        ]
        if event in _BREACHES:
            messages += await self._to_supervisors(tx, event, ticket, params)
        return messages

    async def _to_supervisors(
        self, tx: Transaction, event: SlaEvent, ticket: Ticket, params: dict
    ) -> list[OutgoingMessage]:
        """The breach alert in each supervisor's private chat with the bot (known once they
        have written to it), in their language."""
        if self.roles is None:
            return []
        texts = self.desk.texts
        messages = []
        for (channel, external_id), held in sorted((await self.roles.holders(tx)).items()):
            if Role.SUPERVISOR not in held:
                continue
            person = await tx.users.find(channel, external_id)
            if person is None or person.chat is None:
                log.info(
                    "supervisor not reachable privately",
                    extra={"supervisor": f"{channel}:{external_id}"},
                )
                continue
            language = person.language or texts.default_language
            priority = texts.get(language, f"priority.{ticket.priority.value}")
            text = texts.get(
                language, _THREAD_TEXT[event] + "_alert", **{**params, "priority": priority}
            )
            messages.append(OutgoingMessage(conversation=person.chat, text=text))
        return messages

    async def _breached(self, tx: Transaction, ticket: Ticket, now: datetime):
        """With escalation on breach: the ticket moves to the next line up, if any."""
        if not self.escalate_on_breach:
            return []
        current = await tx.tickets.get(ticket.id) or ticket
        target = self.desk.lines.above(self.desk.lines.of_ticket(current))
        if target is None or not current.status.is_active:
            return []
        _, messages = await move_ticket(
            self.desk,
            tx,
            current,
            target,
            actor=None,
            by=self.desk.staff_text("staff.by_sla"),
            reason=self.desk.staff_text("staff.reason_sla_breach"),
            now=now,
        )
        return messages
