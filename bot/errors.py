"""What the person at the terminal should fix, in one line, for the errors a command meets
outside the program: a database that is not there, a file that cannot be written."""

from __future__ import annotations

import errno
import sqlite3

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core.store import StoreUnavailable
from knowledge.io import KnowledgeFileError

_CONNECTION_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}
)


def what_to_fix(error: BaseException, database: str) -> str | None:
    """One line naming the problem and its remedy; None for an error that is a bug (its
    traceback is what a report needs). `database`: the URL without its password."""
    if isinstance(error, KnowledgeFileError):
        return str(error)
    if isinstance(error, StoreUnavailable | DBAPIError | PoolTimeout | sqlite3.Error):
        return f"cannot use the database {database}: {_database_problem(error)}"
    if isinstance(error, OSError) and error.errno in _CONNECTION_ERRNOS:
        return f"cannot reach the database {database}: {error.strerror or error}; is it running?"
    if isinstance(error, OSError) and error.filename:
        return f"cannot create or open {error.filename}: {error.strerror}"
    return None


def _database_problem(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error.__cause__ or error
    code = getattr(cause, "sqlstate", None) or getattr(cause.__cause__, "sqlstate", None)
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    if code == "3D000":
        return f"{text}; create it (createdb NAME), then run `helpdesk db upgrade`"
    if code in ("28P01", "28000"):
        return f"{text}; check the user and password in [database] url"
    if isinstance(cause, OSError) and cause.errno in _CONNECTION_ERRNOS:
        return f"{text}; is the database server running and reachable?"
    if "unable to open database file" in text:
        return f"{text}; check that its directory exists and is writable"
    return text
