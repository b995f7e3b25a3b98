"""SLA targets and timers: per-priority (optionally per-category) first-response and
resolution targets counted in business time. `SlaPolicy` computes a ticket's warning points and
deadlines (stored on the ticket, so a restart loses no timer) and how they move when the ticket
waits for the user or changes priority. `core.jobs.sla_monitor` announces them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.domain import Priority, Ticket, TicketStatus
from core.tickets.business_hours import BusinessCalendar


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
    goal: float = 0.9  # the share of targets the team means to meet (the reports' target line)

    def __post_init__(self) -> None:
        if not 0 < self.warn_at < 1:
            raise ValueError("warn_at must be between 0 and 1")
        if not 0 < self.goal <= 1:
            raise ValueError("goal must be above 0 and at most 1")
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
