"""`SqlStore`: the `core.ports.Store` implementation, one class for both backends. Repository
functions (plain SQLAlchemy Core code, see `storage.repository`) run on the transaction's
connection.

PostgreSQL: SQLAlchemy's async engine over asyncpg; repositories run through
`AsyncConnection.run_sync`.

SQLite: ONE connection (SQLite has one writer anyway, so transactions of this process queue for
it instead of spinning on the busy timeout; other processes wait on the busy timeout), WAL with
synchronous=FULL (NORMAL on request, see `StoreOptions`), foreign keys, and BEGIN IMMEDIATE for
every transaction (a transaction that reads first and writes later would otherwise try to
upgrade its lock and fail with "database is locked" when another connection wrote in between).
The statements of a transaction run on the event loop's thread (`_SqliteConnection`): holding
the write lock, they wait for nothing, and each costs a fraction of a thread hop (aiosqlite
made four per statement). What can wait, BEGIN IMMEDIATE on the busy timeout and COMMIT on the
disk, runs on the connection's own worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from core.store import StoreUnavailable
from storage.errors import is_transient
from storage.transaction import SqlTransaction
from storage.urls import is_sqlite, sqlite_file

R = TypeVar("R")
C = TypeVar("C", Connection, AsyncConnection)

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
    _configure_sqlite(engine.sync_engine, options)
    return engine


def _configure_sqlite(engine: Engine, options: StoreOptions) -> None:
    @event.listens_for(engine, "connect")
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

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class _Unit(Generic[C]):
    """A transaction's connection, usable only until the transaction ends."""

    def __init__(self, connection: C) -> None:
        self._connection: C | None = connection

    def close(self) -> None:
        self._connection = None

    def _require_connection(self) -> C:
        if self._connection is None:
            raise RuntimeError("the transaction is over: use it only inside its `async with`")
        return self._connection


class _AsyncUnit(_Unit[AsyncConnection]):
    """A transaction on PostgreSQL: repositories run through `AsyncConnection.run_sync`."""

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


class _SyncUnit(_Unit[Connection]):
    """A transaction on `_SqliteConnection`: statements run right here, on the loop's thread."""

    async def run(self, fn: Callable[..., R], *args: Any) -> R:
        return fn(self._require_connection(), *args)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        with self._require_connection().begin_nested():
            yield


class _SqliteConnection:
    """This process's one SQLite connection. Transactions take turns (`_turn`); BEGIN IMMEDIATE
    and COMMIT run on the connection's own thread, one after another in order, so a commit
    still running when its transaction's task was cancelled finishes before the next BEGIN."""

    def __init__(self, url: URL, options: StoreOptions) -> None:
        self.engine = create_engine(
            url.set(drivername="sqlite"),
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            echo=options.echo,
        )
        _configure_sqlite(self.engine, options)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._turn = asyncio.Lock()
        self._connection: Connection | None = None

    async def _on_thread(self, fn: Callable[[], R]) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SyncUnit]:
        async with asyncio.timeout(POOL_TIMEOUT_S):
            await self._turn.acquire()
        try:
            if self._connection is None:
                self._connection = await self._on_thread(self.engine.connect)
            connection = self._connection
            await self._on_thread(lambda: _begin(connection))
            unit = _SyncUnit(connection)
            try:
                yield unit
            except BaseException:
                connection.rollback()
                raise
            finally:
                unit.close()
            await self._on_thread(lambda: _or_roll_back(connection, connection.commit))
        finally:
            self._turn.release()

    async def run_sync(self, fn: Callable[[Connection], R]) -> R:
        """`fn` in a transaction of its own, all of it on the connection's thread."""

        def whole() -> R:
            assert self._connection is not None
            with self._connection.begin():
                return fn(self._connection)

        async with self._turn:
            if self._connection is None:
                self._connection = await self._on_thread(self.engine.connect)
            return await self._on_thread(whole)

    async def close(self) -> None:
        async with self._turn:
            if self._connection is not None:
                await self._on_thread(self._connection.close)
                self._connection = None
            await self._on_thread(self.engine.dispose)
        self._thread.shutdown(wait=True)


def _begin(connection: Connection) -> None:
    if connection.in_transaction():  # left by a task cancelled while its BEGIN was running
        connection.rollback()
    _or_roll_back(connection, connection.begin)


def _or_roll_back(connection: Connection, step: Callable[[], object]) -> None:
    """BEGIN or COMMIT; if it fails (busy beyond the timeout, a disk error), the connection is
    left without a transaction for the next one."""
    try:
        step()
    except BaseException:
        if connection.in_transaction():
            connection.rollback()
        raise


class SqlStore:
    """`core.ports.Store` over SQLite or PostgreSQL. Create it with `open_store`."""

    def __init__(self, url: URL, options: StoreOptions = StoreOptions()) -> None:
        self.url = url
        self.dialect = url.get_backend_name()
        self.sqlite = _SqliteConnection(url, options) if is_sqlite(url) else None
        self.engine = create_engine_for(url, options) if self.sqlite is None else None
        self._closed = False

    def transaction(self) -> AbstractAsyncContextManager[SqlTransaction]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SqlTransaction]:
        if self._closed:
            raise RuntimeError("the store is closed")
        try:
            async with self._unit() as unit:
                yield SqlTransaction(unit)
        except StoreUnavailable:
            raise
        except Exception as error:
            if is_transient(error):
                raise StoreUnavailable(f"{type(error).__name__}: {error}") from error
            raise

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[_SyncUnit | _AsyncUnit]:
        if self.sqlite is not None:
            async with self.sqlite.transaction() as unit:
                yield unit
            return
        assert self.engine is not None
        async with self.engine.connect() as connection, connection.begin():
            unit = _AsyncUnit(connection)
            try:
                yield unit
            finally:
                unit.close()

    async def run_sync(self, fn: Callable[[Connection], R]) -> R:
        """Run `fn(connection)` in a transaction of its own (tools, tests, migrations of an
        in-memory database)."""
        if self.sqlite is not None:
            return await self.sqlite.run_sync(fn)
        assert self.engine is not None
        async with self.engine.begin() as connection:
            return await connection.run_sync(fn)

    async def check_connection(self) -> None:
        await self.run_sync(lambda connection: connection.execute(text("SELECT 1")))

    async def close(self) -> None:
        self._closed = True
        if self.sqlite is not None:
            await self.sqlite.close()
        if self.engine is not None:
            await self.engine.dispose()


def _lower(text: str | None) -> str | None:
    return text.lower() if isinstance(text, str) else text
