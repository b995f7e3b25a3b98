"""Persistence: the `core.ports.Store` implementation over SQLite or PostgreSQL."""

from storage.database import SqlStore, open_store
from storage.migrate import upgrade_database
from storage.postgres import PostgresStore
from storage.sqlite import SqliteStore
from storage.transaction import SqlTransaction

__all__ = [
    "PostgresStore",
    "SqlStore",
    "SqlTransaction",
    "SqliteStore",
    "open_store",
    "upgrade_database",
]
