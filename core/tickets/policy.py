"""How tickets are run: the reopen window, whether the staff chat needs the agent role, and the
rules that give a new ticket its first priority (keywords, the user's group) and category."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from core.domain import Priority, Ticket, TicketStatus
from core.tickets.business_hours import BusinessCalendar

PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)


class AutoAssign(StrEnum):
    ROUND_ROBIN = "round_robin"  # the agent on duty who got a ticket longest ago
    LEAST_LOADED = "least_loaded"  # the fewest active tickets, then round-robin


@dataclass(frozen=True)
class KeywordRule:
    """`value` (a priority or a category) applies when any keyword occurs in the text. A keyword
    matches at the start of a word, case-insensitively, so "outage" also matches "outages" and
    "срочн" matches "срочно"; a keyword may be several words."""

    keywords: tuple[str, ...]
    value: str

    def matches(self, text: str) -> bool:
        return any(_keyword_pattern(k).search(text) for k in self.keywords if k.strip())


@dataclass(frozen=True)
class UserGroupRule:
    """Tickets of these people ("channel", "user id") start at least at `priority`."""

    name: str
    members: frozenset[tuple[str, str]]
    priority: Priority


@dataclass(frozen=True)
class TicketPolicy:
    # A user writing to a resolved ticket within this time reopens it; later, a new ticket is
    # opened and linked to the resolved one.
    reopen_window: timedelta = timedelta(hours=72)
    # False: everyone in the staff chat acts as an agent (answers, /take, /close ...);
    # True: only holders of the agent role (or higher) do, the others are refused and audited.
    require_agent_role: bool = False
    priority_rules: tuple[KeywordRule, ...] = ()
    category_rules: tuple[KeywordRule, ...] = ()
    default_priority: Priority = field(default=Priority.NORMAL)
    user_groups: tuple[UserGroupRule, ...] = ()
    # A user whose ticket opens outside these hours is told when the team is back; None: not.
    open_hours: BusinessCalendar | None = None

    def back_at(self, now: datetime) -> datetime | None:
        """When the team is back, in the calendar's zone, if it is away at `now`."""
        if self.open_hours is None:
            return None
        opening = self.open_hours.next_opening(now)
        return opening.astimezone(self.open_hours.zone) if opening else None

    def initial_priority(self, text: str, user: tuple[str, str] | None = None) -> Priority:
        """The highest priority among the keyword rules matching `text` and the groups of
        `user` ("channel", "user id"), else the default."""
        matched = [Priority(r.value) for r in self.priority_rules if r.matches(text)]
        matched += [g.priority for g in self.user_groups if user in g.members]
        return max(matched, key=PRIORITY_ORDER.index) if matched else self.default_priority

    def may_reopen(self, ticket: Ticket, now: datetime) -> bool:
        """A resolved ticket the user may still reopen by writing (the reopen window)."""
        resolved_at = ticket.resolved_at or ticket.updated_at
        return ticket.status == TicketStatus.RESOLVED and now - resolved_at <= self.reopen_window

    def category_for(self, text: str) -> str | None:
        """The category of the first rule that matches."""
        return next((r.value for r in self.category_rules if r.matches(text)), None)


@cache
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    words = (re.escape(word) for word in keyword.split())
    return re.compile(r"(?<!\w)" + r"\s+".join(words), re.IGNORECASE)


def waiting_marks(ticket: Ticket, status: TicketStatus, now: datetime) -> dict:
    """The auto-close clock (core.jobs.auto_close) starts when the ticket starts waiting for the
    user and is cleared when it stops (the user answered, an agent changed the status)."""
    if status == TicketStatus.WAITING and ticket.status != TicketStatus.WAITING:
        return {"waiting_since": now, "waiting_reminded_at": None}
    if status != TicketStatus.WAITING and ticket.waiting_since is not None:
        return {"waiting_since": None, "waiting_reminded_at": None}
    return {}
