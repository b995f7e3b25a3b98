"""Roles and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select

from core.domain import AuditRecord
from storage.mapping import audit_from_row
from storage.models import audit_log, processed_updates, roles
from storage.repository._sql import insert_for, per_dialect

_ROLES_OF = select(roles.c.role).where(
    roles.c.channel == bindparam("channel"), roles.c.external_id == bindparam("external_id")
)
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


def get_roles(conn: Connection, channel: str, external_id: str) -> set[str]:
    params = {"channel": channel, "external_id": external_id}
    return set(conn.execute(_ROLES_OF, params).scalars())


def grant_role(conn: Connection, channel: str, external_id: str, role: str, now: datetime) -> bool:
    params = {"channel": channel, "external_id": external_id, "role": role, "granted_at": now}
    return conn.execute(_grant_role(conn), params).rowcount == 1


def revoke_role(conn: Connection, channel: str, external_id: str, role: str) -> bool:
    params = {"channel": channel, "external_id": external_id, "role": role}
    return conn.execute(_REVOKE_ROLE, params).rowcount > 0


def list_roles(conn: Connection) -> list[tuple[str, str, str]]:
    return [(row.channel, row.external_id, row.role) for row in conn.execute(_ALL_ROLES)]


_INSERT_AUDIT = insert(audit_log)


def audit(
    conn: Connection,
    actor: str | None,
    action: str,
    object_type: str,
    object_id: str,
    before: dict | None,
    after: dict | None,
    now: datetime,
) -> None:
    conn.execute(
        _INSERT_AUDIT,
        {
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "before": before,
            "after": after,
            "at": now,
        },
    )


def list_audit(conn: Connection, object_type: str | None, limit: int) -> list[AuditRecord]:
    statement = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if object_type is not None:
        statement = statement.where(audit_log.c.object_type == object_type)
    return [audit_from_row(row) for row in conn.execute(statement)]


def prune_processed_updates(conn: Connection, before: datetime) -> int:
    """Forget deliveries received before `before` (platforms stop redelivering long before)."""
    statement = delete(processed_updates).where(processed_updates.c.received_at < before)
    return conn.execute(statement).rowcount
