"""The PostgreSQL backend: SQLAlchemy's async engine over asyncpg. Repository functions run on
the transaction's connection through `AsyncConnection.run_sync`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.transaction import SqlTransaction

R = TypeVar("R")


def create_postgres_engine(url: URL, **options: Any) -> AsyncEngine:
    # pre_ping: a connection broken by a server restart is replaced instead of failing a
    # transaction.
    return create_async_engine(url, pool_pre_ping=True, **options)


class _PostgresUnit:
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


class PostgresStore:
    """`core.ports.Store` over a PostgreSQL database. Create it with `open_store`."""

    dialect = "postgresql"

    def __init__(self, url: URL, **engine_options: Any) -> None:
        self.url = url
        self.engine = create_postgres_engine(url, **engine_options)
        self._closed = False

    def transaction(self) -> AbstractAsyncContextManager[SqlTransaction]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SqlTransaction]:
        self._require_open()
        async with self.engine.connect() as connection, connection.begin():
            unit = _PostgresUnit(connection)
            try:
                yield SqlTransaction(unit)
            finally:
                unit.close()

    async def run_sync(self, fn: Callable[[Connection], R]) -> R:
        """Run `fn(connection)` in a transaction of its own."""
        self._require_open()
        async with self.engine.begin() as connection:
            return await connection.run_sync(fn)

    def _require_open(self) -> None:
        # A disposed engine would silently open a new pool.
        if self._closed:
            raise RuntimeError("the store is closed")

    async def close(self) -> None:
        self._closed = True
        await self.engine.dispose()
