"""Storage ports of the operator's toolkit (core/staff/incidents.py, announcements.py,
macro_commands.py; core/conversation/ticket_choice.py) and of the HTTP API's tokens, part of
`core.store.Transaction`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.domain_toolkit import Announcement, ApiToken, HeldMessage, Incident, Macro
from core.messages import Attachment, ConversationRef


class Incidents(Protocol):
    """Problems behind many tickets, and the tickets linked to each."""

    async def create(self, title: str, description: str, by: str, now: datetime) -> Incident: ...

    async def get(self, incident_id: int) -> Incident | None: ...

    async def open(self) -> list[Incident]:
        """Not resolved, by id."""

    async def link(self, incident_id: int, ticket_ids: Sequence[int], now: datetime) -> int:
        """Link these tickets (again is harmless); returns how many were new."""

    async def tickets(self, incident_id: int) -> list[int]:
        """The linked tickets' ids, ascending."""

    async def set_update(self, incident_id: int, text: str) -> None: ...

    async def resolve(self, incident_id: int, text: str, now: datetime) -> bool:
        """True for the one caller that resolved it."""

    async def counts(self, since: datetime, until: datetime) -> tuple[int, int]:
        """(incidents opened in [since, until), tickets linked to them)."""


class Announcements(Protocol):
    """Messages from the admins to many users; their copies are outbox items."""

    async def create(
        self, text: str, audience: str, by: str, chat: ConversationRef, now: datetime
    ) -> Announcement: ...

    async def get(self, announcement_id: int) -> Announcement | None: ...

    async def start(self, announcement_id: int, total: int, now: datetime) -> bool:
        """Mark it confirmed; False when it was already (a second press sends nothing)."""

    async def running(self) -> list[Announcement]:
        """Confirmed and not finished, by id."""

    async def finish(self, announcement_id: int, now: datetime) -> bool:
        """True for the one caller that finished it."""

    async def progress(self, announcement_id: int) -> dict[str, int]:
        """How many copies are "sent", "pending", "refused" (blocked, gone) and "failed"."""


class HeldMessages(Protocol):
    """A user's messages waiting for them to say which of their open tickets they are about."""

    async def add(
        self,
        user_id: int,
        text: str,
        attachments: Sequence[Attachment],
        message_id: str | None,
        now: datetime,
    ) -> int:
        """Hold one more; returns how many of the user's messages are held now."""

    async def take(self, user_id: int) -> list[HeldMessage]:
        """The user's held messages, oldest first, no longer held."""

    async def take_due(self, held_before: datetime) -> list[HeldMessage]:
        """Every held message of the users whose oldest was held before `held_before`, oldest
        first, no longer held; two processes asking at once never both get one."""


class Macros(Protocol):
    """Canned replies, by name."""

    async def get(self, name: str) -> Macro | None: ...

    async def put(self, name: str, texts: dict[str, str], by: str, now: datetime) -> bool:
        """Save the macro; True when it is new, False when it replaced one."""

    async def delete(self, name: str) -> bool: ...

    async def list(self) -> list[Macro]:
        """By name."""


class ApiTokens(Protocol):
    """The HTTP API's named tokens, found by the hash of their secret."""

    async def create(
        self, name: str, token_hash: str, scopes: Sequence[str], now: datetime
    ) -> ApiToken | None:
        """None when a token of that name exists."""

    async def by_hash(self, token_hash: str) -> ApiToken | None: ...

    async def revoke(self, name: str) -> ApiToken | None:
        """Delete the token; the deleted one, or None when there was none of that name."""

    async def list(self) -> list[ApiToken]:
        """By name."""
