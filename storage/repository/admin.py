"""Roles and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select

from core.domain import AuditEntry, AuditRecord
from storage.mapping import audit_from_row
from storage.models import audit_log, roles
from storage.repository._sql import Repository, insert_for, per_dialect

_grant_role = per_dialect(
    lambda dialect: insert_for(dialect, roles).on_conflict_do_nothing(
        index_elements=["channel", "external_id", "role"]
    )
)
_REVOKE_ROLE = delete(roles).where(
    roles.c.channel == bindparam("channel"),
    roles.c.external_id == bindparam("external_id"),
    roles.c.role == bindparam("role"),
)
_ALL_ROLES = select(roles.c.channel, roles.c.external_id, roles.c.role).order_by(
    roles.c.channel, roles.c.external_id, roles.c.role
)


_INSERT_AUDIT = insert(audit_log)


class RoleRepository(Repository):
    """`core.store.RoleGrants` over SQL."""

    def grant(self, channel: str, external_id: str, role: str, now: datetime) -> bool:
        params = {"channel": channel, "external_id": external_id, "role": role, "granted_at": now}
        return self.conn.execute(_grant_role(self.conn), params).rowcount == 1

    def revoke(self, channel: str, external_id: str, role: str) -> bool:
        params = {"channel": channel, "external_id": external_id, "role": role}
        return self.conn.execute(_REVOKE_ROLE, params).rowcount > 0

    def list(self) -> list[tuple[str, str, str]]:
        return [(row.channel, row.external_id, row.role) for row in self.conn.execute(_ALL_ROLES)]


class AuditRepository(Repository):
    """`core.store.AuditLog` over SQL."""

    def record(self, entry: AuditEntry) -> None:
        self.conn.execute(
            _INSERT_AUDIT,
            {
                "actor": entry.actor,
                "action": entry.action,
                "object_type": entry.object_type,
                "object_id": entry.object_id,
                "before": entry.before,
                "after": entry.after,
                "at": entry.at,
            },
        )

    def list(self, object_type: str | None = None, limit: int = 100) -> list[AuditRecord]:
        statement = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if object_type is not None:
            statement = statement.where(audit_log.c.object_type == object_type)
        return [audit_from_row(row) for row in self.conn.execute(statement)]
