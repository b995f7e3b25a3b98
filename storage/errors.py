"""Which database errors are passing: the unit of work rolled back and may simply be tried again
(`core.store.StoreUnavailable`), as opposed to a bug or bad data that would fail the same way."""

from __future__ import annotations

import errno
import socket
import sqlite3

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# PostgreSQL error codes: serialization failure, deadlock, lock_timeout, statement_timeout,
# the server shutting down or starting, and every connection exception (class 08).
_TRANSIENT_SQLSTATES = frozenset(
    {"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "53300"}
)
# SQLite: another process held the write lock beyond the busy timeout.
_SQLITE_BUSY = ("database is locked", "database is busy")
# A database server that cannot be reached now; a missing file or directory is not passing.
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
        errno.EPIPE,
    }
)


def is_transient(error: BaseException) -> bool:
    if isinstance(error, PoolTimeout | ConnectionError | TimeoutError):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        cause = error.orig
        code = _sqlstate(cause)
        if code is not None and (code in _TRANSIENT_SQLSTATES or code.startswith("08")):
            return True
        if isinstance(cause, sqlite3.OperationalError) or "sqlite" in type(cause).__module__:
            return any(text in str(cause) for text in _SQLITE_BUSY)
        return _connection_lost(cause)
    if isinstance(error, socket.gaierror):
        return True  # the database's host name does not resolve yet (a container starting)
    return isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS


def _sqlstate(error: BaseException | None) -> str | None:
    """asyncpg's code, on the error SQLAlchemy wraps or on what that one wraps."""
    for candidate in (error, getattr(error, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str):
            return code
    return None


def _connection_lost(error: BaseException | None) -> bool:
    cause = getattr(error, "__cause__", None)
    names = {type(error).__name__, type(cause).__name__}
    return bool(names & {"ConnectionDoesNotExistError", "InterfaceError", "ConnectionResetError"})
