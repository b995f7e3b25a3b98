"""Database URLs: what the operator writes, and the driver the store actually uses."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url

_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}
_POSTGRES_DRIVERS = {
    "postgres",
    "postgresql",
    "postgresql+asyncpg",
    "postgresql+psycopg",
    "postgresql+psycopg2",
}


def parse_database_url(url: str | URL) -> URL:
    """Accept the usual spellings (`sqlite:///helpdesk.sqlite3`, `postgresql://user@host/db`) and
    return the URL with the async driver the store uses: aiosqlite or asyncpg."""
    parsed = make_url(url)
    if parsed.drivername in _SQLITE_DRIVERS:
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername in _POSTGRES_DRIVERS:
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///path/to/file.sqlite3 or postgresql://user:password@host/database"
    )


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)
