"""The SQLite backend.

Measured on the target machine (see DESIGN.md): SQLAlchemy's async layer over aiosqlite pays a
thread round trip for every cursor operation, several per statement, and managed about 220
seven-statement transactions per second. Here the store keeps ONE stdlib sqlite3 connection:

- BEGIN IMMEDIATE and COMMIT, the only steps that can wait (for another process's write lock,
  for the disk during a WAL checkpoint), run on a dedicated worker thread;
- the statements in between run directly on the event loop thread. They cannot wait for a lock:
  BEGIN IMMEDIATE already holds SQLite's write lock, and in WAL mode readers never block a
  writer. Each costs tens of microseconds, less than a thread hop.

Transactions of one process are serialized by an asyncio lock (SQLite has one writer anyway);
other processes are waited for by SQLite's busy timeout, on the worker thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from storage.transaction import SqlTransaction
from storage.urls import sqlite_file

logger = logging.getLogger(__name__)

R = TypeVar("R")

BUSY_TIMEOUT_MS = 10_000


def create_sqlite_engine(url: URL) -> Engine:
    """A synchronous engine whose connections use WAL, synchronous=NORMAL, foreign keys, a busy
    timeout, and BEGIN IMMEDIATE for every transaction: a transaction that reads first and writes
    later would otherwise try to upgrade its lock and fail with "database is locked" when
    another connection wrote in between."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, poolclass=NullPool, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure_connection(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN from sqlite3: see below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class _InlineUnit:
    """Runs repository functions directly on the store's connection (see the module doc)."""

    def __init__(self, connection: Connection) -> None:
        self._connection: Connection | None = connection

    def close(self) -> None:
        self._connection = None

    def _require_connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the transaction is over: use it only inside its `async with`")
        return self._connection

    async def run(self, fn: Callable[..., R], *args: Any) -> R:
        return fn(self._require_connection(), *args)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        nested = self._require_connection().begin_nested()
        try:
            yield
        except BaseException:
            nested.rollback()
            raise
        nested.commit()


class SqliteStore:
    """`core.ports.Store` over one SQLite database file. Create it with `open_store`."""

    dialect = "sqlite"

    def __init__(self, url: URL) -> None:
        self.url = url
        self._engine = create_sqlite_engine(url)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="helpdesk-sqlite"
        )
        self._lock = asyncio.Lock()
        self._connection: Connection | None = None

    async def start(self) -> None:
        self._connection = await self._in_thread(self._engine.connect)

    async def run_sync(self, fn: Callable[[Connection], R]) -> R:
        """Run `fn(connection)` on the worker thread inside a transaction of its own (used for
        migrations)."""
        async with self._lock:
            return await self._in_thread(self._run_in_transaction, fn)

    def _run_in_transaction(self, fn: Callable[[Connection], R]) -> R:
        connection = self._require_connection()
        with connection.begin():
            return fn(connection)

    def transaction(self) -> AbstractAsyncContextManager[SqlTransaction]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SqlTransaction]:
        await self._begin()
        unit = _InlineUnit(self._require_connection())
        try:
            yield SqlTransaction(unit)
        except BaseException:
            unit.close()
            await self._finish(commit=False)
            raise
        unit.close()
        await self._finish(commit=True)

    async def close(self) -> None:
        async with self._lock:
            if self._connection is not None:
                await self._in_thread(self._connection.close)
                self._connection = None
        self._engine.dispose()
        self._executor.shutdown(wait=True)

    # -- the worker thread

    def _require_connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the store is closed")
        return self._connection

    async def _in_thread(self, fn: Callable[..., R], *args: Any) -> R:
        return await asyncio.wrap_future(self._executor.submit(fn, *args))

    async def _begin(self) -> None:
        self._require_connection()
        await self._lock.acquire()
        if self._connection is None:  # closed while we waited
            self._lock.release()
            self._require_connection()
        job = self._executor.submit(self._begin_in_thread)
        try:
            # Shielded: once BEGIN runs, the transaction must be ended before anyone else may
            # use the connection, even when our caller is cancelled meanwhile.
            await asyncio.shield(asyncio.wrap_future(job))
        except asyncio.CancelledError:
            self._release_after(self._executor.submit(self._end_in_thread, False))
            raise
        except BaseException:
            self._lock.release()
            raise

    async def _finish(self, *, commit: bool) -> None:
        job = self._executor.submit(self._end_in_thread, commit)
        try:
            await asyncio.shield(asyncio.wrap_future(job))
        except asyncio.CancelledError:
            self._release_after(job)
            raise
        except BaseException:
            self._lock.release()
            raise
        self._lock.release()

    def _release_after(self, job: concurrent.futures.Future[Any]) -> None:
        """Release the lock once `job` (and so everything queued before it) has finished."""
        loop = asyncio.get_running_loop()
        job.add_done_callback(lambda _: loop.call_soon_threadsafe(self._lock.release))

    def _begin_in_thread(self) -> None:
        self._require_connection().begin()

    def _end_in_thread(self, commit: bool) -> None:
        connection = self._require_connection()
        if not connection.in_transaction():
            return
        if not commit:
            connection.rollback()
            return
        try:
            connection.commit()
        except BaseException:
            logger.exception("SQLite commit failed; rolling back")
            connection.rollback()
            raise
