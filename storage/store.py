"""`SqlStore`: the `core.ports.Store` implementation, one class for both backends.

SQLAlchemy's async engine drives aiosqlite (SQLite) or asyncpg (PostgreSQL). Repository
functions (plain SQLAlchemy Core code, see `storage.repository`) run on the transaction's
connection through `AsyncConnection.run_sync`.

SQLite specifics: WAL with synchronous=FULL (NORMAL on request, see `StoreOptions`), a busy
timeout, foreign keys, and BEGIN IMMEDIATE
for every transaction (a transaction that reads first and writes later would otherwise try to
upgrade its lock and fail with "database is locked" when another connection wrote in between).
The pool holds ONE connection: SQLite has one writer anyway, so transactions of this process
queue for it instead of spinning on the busy timeout; other processes wait on the busy timeout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from core.store import StoreUnavailable
from storage.errors import is_transient
from storage.transaction import SqlTransaction
from storage.urls import is_sqlite, sqlite_file

R = TypeVar("R")

POOL_TIMEOUT_S = 60  # how long a transaction may wait for the SQLite connection


@dataclass(frozen=True)
class StoreOptions:
    echo: bool = False  # log every SQL statement (debugging)
    # SQLite: FULL makes every acknowledged commit survive a power loss; NORMAL is faster but
    # may lose the last commits (already acknowledged to the platform) when the machine loses
    # power. A crash of the process alone loses nothing either way.
    sqlite_synchronous: str = "FULL"
    sqlite_busy_timeout_seconds: float = 10.0  # waiting for another process's write lock
    # PostgreSQL: one held lock or a runaway query must not stall all intake; a timeout is a
    # passing failure (StoreUnavailable) and the work is tried again. 0: no timeout.
    statement_timeout_seconds: float = 30.0
    lock_timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.sqlite_synchronous.upper() not in ("FULL", "NORMAL"):
            raise ValueError("sqlite_synchronous must be FULL or NORMAL")


# A schema change may take long on a big database: no statement or lock timeout.
MIGRATION = StoreOptions(statement_timeout_seconds=0, lock_timeout_seconds=0)


def create_engine_for(url: URL, options: StoreOptions = StoreOptions()) -> AsyncEngine:
    echo = options.echo
    if not is_sqlite(url):
        # pre_ping: a connection broken by a server restart is replaced instead of failing a
        # transaction.
        settings = {
            "statement_timeout": str(int(options.statement_timeout_seconds * 1000)),
            "lock_timeout": str(int(options.lock_timeout_seconds * 1000)),
        }
        return create_async_engine(
            url, pool_pre_ping=True, echo=echo, connect_args={"server_settings": settings}
        )
    path = sqlite_file(url)
    if path is None:  # in memory: every connection would see another database
        engine = create_async_engine(url, poolclass=StaticPool, echo=echo)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, pool_size=1, max_overflow=0, pool_timeout=POOL_TIMEOUT_S, echo=echo
        )

    @event.listens_for(engine.sync_engine, "connect")
    def _configure_connection(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN from the driver: see below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(
                f"PRAGMA busy_timeout = {int(options.sqlite_busy_timeout_seconds * 1000)}"
            )
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {options.sqlite_synchronous.upper()}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()
        # SQLite's own lower() knows only ASCII; PostgreSQL's knows every script (/find).
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class _AsyncUnit:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection: AsyncConnection | None = connection

    def close(self) -> None:
        self._connection = None

    def _require_connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("the transaction is over: use it only inside its `async with`")
        return self._connection

    async def run(self, fn: Callable[..., R], *args: Any) -> R:
        return await self._require_connection().run_sync(fn, *args)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        nested = await self._require_connection().begin_nested()
        try:
            yield
        except BaseException:
            await nested.rollback()
            raise
        await nested.commit()


class SqlStore:
    """`core.ports.Store` over SQLite or PostgreSQL. Create it with `open_store`."""

    def __init__(self, url: URL, options: StoreOptions = StoreOptions()) -> None:
        self.url = url
        self.dialect = url.get_backend_name()
        self.engine = create_engine_for(url, options)
        self._closed = False

    def transaction(self) -> AbstractAsyncContextManager[SqlTransaction]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SqlTransaction]:
        if self._closed:
            raise RuntimeError("the store is closed")
        try:
            async with self.engine.connect() as connection, connection.begin():
                unit = _AsyncUnit(connection)
                try:
                    yield SqlTransaction(unit)
                finally:
                    unit.close()
        except StoreUnavailable:
            raise
        except Exception as error:
            if is_transient(error):
                raise StoreUnavailable(f"{type(error).__name__}: {error}") from error
            raise

    async def run_sync(self, fn: Callable[[Connection], R]) -> R:
        """Run `fn(connection)` in a transaction of its own (tools, tests, migrations of an
        in-memory database)."""
        async with self.engine.begin() as connection:
            return await connection.run_sync(fn)

    async def check_connection(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        self._closed = True
        await self.engine.dispose()


def _lower(text: str | None) -> str | None:
    return text.lower() if isinstance(text, str) else text
