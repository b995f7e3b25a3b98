"""Incidents and the tickets linked to them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, update

from core.domain_toolkit import Incident
from storage.mapping import incident_from_row
from storage.models import incident_tickets, incidents
from storage.repository._sql import Repository, insert_for


class IncidentRepository(Repository):
    """`core.store.Incidents` over SQL."""

    def create(self, title: str, description: str, by: str, now: datetime) -> Incident:
        values = {
            "title": title,
            "description": description,
            "created_by": by,
            "created_at": now,
            "last_update": "",
        }
        row = self.conn.execute(insert(incidents).values(values).returning(*incidents.c)).one()
        return incident_from_row(row)

    def get(self, incident_id: int) -> Incident | None:
        row = self.conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
        return incident_from_row(row) if row is not None else None

    def open(self) -> list[Incident]:
        statement = (
            select(incidents).where(incidents.c.resolved_at.is_(None)).order_by(incidents.c.id)
        )
        return [incident_from_row(row) for row in self.conn.execute(statement)]

    def link(self, incident_id: int, ticket_ids: Sequence[int], now: datetime) -> int:
        """Link these tickets (again is harmless); returns how many were new."""
        new = sorted(set(ticket_ids) - set(self.tickets(incident_id)))
        if not new:
            return 0
        rows = [{"incident_id": incident_id, "ticket_id": t, "linked_at": now} for t in new]
        statement = insert_for(self.conn.dialect.name, incident_tickets).on_conflict_do_nothing()
        self.conn.execute(statement, rows)  # (a row linked meanwhile by another process: kept)
        return len(new)

    def tickets(self, incident_id: int) -> list[int]:
        statement = (
            select(incident_tickets.c.ticket_id)
            .where(incident_tickets.c.incident_id == incident_id)
            .order_by(incident_tickets.c.ticket_id)
        )
        return list(self.conn.execute(statement).scalars())

    def set_update(self, incident_id: int, text: str) -> None:
        self.conn.execute(
            update(incidents).where(incidents.c.id == incident_id).values(last_update=text)
        )

    def resolve(self, incident_id: int, text: str, now: datetime) -> bool:
        """True for the one caller that resolved it."""
        statement = (
            update(incidents)
            .where(incidents.c.id == incident_id, incidents.c.resolved_at.is_(None))
            .values(resolved_at=now, last_update=text)
        )
        return self.conn.execute(statement).rowcount == 1

    def counts(self, since: datetime, until: datetime) -> tuple[int, int]:
        """(incidents opened in [since, until), tickets linked to them)."""
        opened = select(incidents.c.id).where(
            incidents.c.created_at >= since, incidents.c.created_at < until
        )
        made = self.conn.execute(select(func.count()).select_from(opened.subquery())).scalar_one()
        linked = self.conn.execute(
            select(func.count()).where(incident_tickets.c.incident_id.in_(opened))
        ).scalar_one()
        return made, linked
