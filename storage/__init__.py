"""Persistence: the `core.ports.Store` implementation over SQLite or PostgreSQL."""

from storage.database import open_store
from storage.migrate import upgrade_database
from storage.store import SqlStore
from storage.transaction import SqlTransaction

__all__ = ["SqlStore", "SqlTransaction", "open_store", "upgrade_database"]
