"""Opening a store: `open_store("sqlite:///data/helpdesk.sqlite3")` or
`open_store("postgresql://user:password@host/helpdesk")`."""

from __future__ import annotations

from sqlalchemy.engine import URL

from storage.migrate import upgrade_database, upgrade_on_connection
from storage.store import SqlStore, StoreOptions
from storage.urls import is_sqlite, parse_database_url, sqlite_file


async def open_store(
    url: str | URL, *, migrate: bool = True, options: StoreOptions = StoreOptions()
) -> SqlStore:
    """Connect to the database and, unless `migrate` is False, bring its schema up to date first
    (a fresh SQLite file and its directory are created). Close the store when done."""
    database_url = parse_database_url(url)
    in_memory = is_sqlite(database_url) and sqlite_file(database_url) is None
    if migrate and not in_memory:
        await upgrade_database(database_url)
    store = SqlStore(database_url, options)
    try:
        if migrate and in_memory:
            # Only the store's own connection sees an in-memory database.
            await store.run_sync(upgrade_on_connection)
        await store.check_connection()  # fail at start-up, not at the first message
    except BaseException:
        await store.close()
        raise
    return store
