"""`helpdesk backup FILE`: a consistent copy of a SQLite database, taken while the bot runs.
SQLite's online backup copies the pages in steps: the bot's writers wait for at most one step,
and a page a writer changes during the copy is copied again, so the copy is the database as
of one moment. PostgreSQL has its own tools (pg_dump); this module does not replace them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import URL

from storage.urls import is_sqlite, sqlite_file

PAGES_PER_STEP = 1024  # about 4 MB: how long a writer of the running bot may wait


class BackupRefused(Exception):
    """This database cannot be backed up here; the message says what to use instead."""


def backup_sqlite(url: URL, target: Path) -> int:
    """Copy the database of `url` to `target` (which must not exist yet); returns its size in
    bytes once `PRAGMA integrity_check` found the copy sound."""
    if not is_sqlite(url):
        raise BackupRefused(
            "this is a PostgreSQL database: back it up with pg_dump "
            "(e.g. pg_dump --format=custom --file=helpdesk.dump DATABASE)"
        )
    source_path = sqlite_file(url)
    if source_path is None:
        raise BackupRefused("an in-memory database has nothing to back up")
    if not source_path.exists():
        raise BackupRefused(f"{source_path}: no such database file")
    if target.exists():
        raise BackupRefused(f"{target}: already exists; choose a new file")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy, pages=PAGES_PER_STEP)
        (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
    finally:
        copy.close()
        source.close()
    if verdict != "ok":
        target.unlink()
        raise BackupRefused(f"the copy failed its integrity check: {verdict}")
    return target.stat().st_size
