"""Opening a store: `open_store("sqlite:///data/helpdesk.sqlite3")` or
`open_store("postgresql://user:password@host/helpdesk")`."""

from __future__ import annotations

from sqlalchemy.engine import URL

from storage.migrate import upgrade_database, upgrade_on_connection
from storage.postgres import PostgresStore
from storage.sqlite import SqliteStore
from storage.urls import is_sqlite, parse_database_url

SqlStore = SqliteStore | PostgresStore


async def open_store(url: str | URL, *, migrate: bool = True) -> SqlStore:
    """Connect to the database and, unless `migrate` is False, bring its schema up to date first
    (a fresh SQLite file and its directory are created). Close the store when done."""
    database_url = parse_database_url(url)
    if is_sqlite(database_url):
        sqlite_store = SqliteStore(database_url)
        await sqlite_store.start()
        if migrate:
            try:
                # On the store's own connection, so that an in-memory database works too.
                await sqlite_store.run_sync(upgrade_on_connection)
            except BaseException:
                await sqlite_store.close()
                raise
        return sqlite_store
    if migrate:
        await upgrade_database(database_url)
    return PostgresStore(database_url)
