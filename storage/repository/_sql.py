"""Helpers shared by the repository modules."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

# INSERT ... ON CONFLICT is dialect-specific in SQLAlchemy, but the two dialects spell it alike.
_DIALECT_INSERTS: dict[str, Callable[[Table], Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def insert_for(dialect_name: str, table: Table) -> Any:
    """An INSERT that has `.on_conflict_do_nothing()` / `.on_conflict_do_update()`."""
    return _DIALECT_INSERTS[dialect_name](table)


def per_dialect(build: Callable[[str], Any]) -> Callable[[Connection], Any]:
    """Memoize a statement that depends on the dialect: `build(dialect_name)` runs once each."""
    cached = cache(build)

    def statement_for(conn: Connection) -> Any:
        return cached(conn.dialect.name)

    return statement_for


class Repository:
    """Base of the repository classes: synchronous SQLAlchemy Core code on the transaction's
    connection. `storage.transaction` runs each method through the async connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
