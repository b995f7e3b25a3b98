"""Shared fixtures: a migrated database on every backend.

- `database_url`: the URL of a clean, migrated database, parametrized over the backends:
  "sqlite" always (a fresh file per test, copied from a template migrated once per session with
  `upgrade_database`), "postgresql" when HELPDESK_TEST_DATABASE_URL is set (one database per test
  session, emptied before each test).
- `store`: a `storage.SqlStore` opened on `database_url` (closed after the test).
- `database_backend`: "sqlite" or "postgresql", for the rare test that must differ.

A test that asks for `store` or `database_url` runs once per backend. When
HELPDESK_TEST_DATABASE_URL is set but PostgreSQL cannot be used, its tests error (never skip).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.engine import URL, make_url

from storage import SqlStore, open_store, upgrade_database
from storage.models import Base

POSTGRES_URL_ENV = "HELPDESK_TEST_DATABASE_URL"
BACKENDS = ("sqlite", "postgresql")

T = TypeVar("T")


def run_coroutine_in_thread(make_coroutine: Callable[[], Awaitable[T]]) -> T:
    """Run async setup code from a synchronous (session) fixture: in a thread of its own, so that
    it neither needs nor disturbs the event loop of the tests."""

    async def main() -> T:
        return await make_coroutine()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, main()).result()


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        shown = make_url(url).render_as_string(hide_password=True)
        return f"database backends: sqlite, postgresql ({shown})"
    return f"database backends: sqlite only ({POSTGRES_URL_ENV} not set)"


# -- SQLite


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file migrated once; every test gets a copy (much faster than migrating)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "helpdesk.sqlite3"
    run_coroutine_in_thread(lambda: upgrade_database(f"sqlite:///{path}"))
    # Closing the last connection checkpoints the WAL into the file: the file alone is complete.
    assert not Path(f"{path}-wal").exists()
    return path


# -- PostgreSQL

_SESSION_DATABASE_SUFFIX = "_pytest_"


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _create_session_database(base: URL) -> URL:
    """A database of our own for this test session (parallel runs, e.g. two developers, must not
    empty each other's tables), on the server of `base`. Falls back to `base` itself when the
    role may not create databases."""
    import asyncpg

    connection = await asyncpg.connect(_asyncpg_dsn(base))
    try:
        await _drop_abandoned_session_databases(connection, base)
        name = f"{base.database}{_SESSION_DATABASE_SUFFIX}{os.getpid()}"
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await connection.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.InsufficientPrivilegeError:
            return base
    finally:
        await connection.close()
    return base.set(database=name)


async def _drop_abandoned_session_databases(connection: Any, base: URL) -> None:
    """Session databases whose test process is gone (killed before its teardown). Only for a
    server on this machine, where a process id means something."""
    if base.host not in ("127.0.0.1", "localhost", "::1", None):
        return
    pattern = re.compile(re.escape(f"{base.database}{_SESSION_DATABASE_SUFFIX}") + r"(\d+)$")
    for record in await connection.fetch("SELECT datname FROM pg_database"):
        match = pattern.match(record["datname"])
        if match and not _process_exists(int(match.group(1))):
            await connection.execute(f'DROP DATABASE IF EXISTS "{record["datname"]}" WITH (FORCE)')


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _drop_session_database(base: URL, session: URL) -> None:
    import asyncpg

    if session.database == base.database:
        return
    connection = await asyncpg.connect(_asyncpg_dsn(base))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{session.database}" WITH (FORCE)')
    finally:
        await connection.close()


@dataclass(frozen=True)
class _PostgresSession:
    url: URL
    reset_sql: str  # empties every table and restarts the id sequences


async def _reset_statement(url: URL) -> str:
    """DELETE and ALTER SEQUENCE ... RESTART: on tables this small, 10-30 times faster than
    TRUNCATE (which replaces each table's files). Alembic's version table is kept."""
    import asyncpg

    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        sequences = await connection.fetch(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
        )
    finally:
        await connection.close()
    # Children first, for the foreign keys.
    deletes = [f'DELETE FROM "{table.name}"' for table in reversed(Base.metadata.sorted_tables)]
    restarts = [f'ALTER SEQUENCE "{row["sequencename"]}" RESTART' for row in sequences]
    return "; ".join(deletes + restarts)


@pytest.fixture(scope="session")
def _postgres_session() -> Iterator[_PostgresSession]:
    raw = os.environ.get(POSTGRES_URL_ENV)
    if not raw:
        pytest.skip(f"PostgreSQL backend: set {POSTGRES_URL_ENV} to run it")
    base = make_url(raw).set(drivername="postgresql+asyncpg")
    try:
        url = run_coroutine_in_thread(lambda: _create_session_database(base))
        run_coroutine_in_thread(lambda: upgrade_database(url))
        reset_sql = run_coroutine_in_thread(lambda: _reset_statement(url))
    except Exception as error:  # noqa: BLE001 - reported as a failure of every PostgreSQL test
        pytest.fail(
            f"{POSTGRES_URL_ENV} is set but PostgreSQL cannot be used: {error!r}", pytrace=False
        )
    yield _PostgresSession(url, reset_sql)
    run_coroutine_in_thread(lambda: _drop_session_database(base, url))


async def _empty_postgres_database(session: _PostgresSession) -> None:
    import asyncpg

    connection = await asyncpg.connect(_asyncpg_dsn(session.url))
    try:
        await connection.execute(session.reset_sql)
    finally:
        await connection.close()


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """`helpdesk` commands run in tests configure logging to the test's captured stderr; put the
    root logger back, so that later tests do not log into a stream closed by then."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# -- the fixtures tests use


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a clean, migrated database (see the module doc)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "helpdesk.sqlite3"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    session: _PostgresSession = request.getfixturevalue("_postgres_session")
    await _empty_postgres_database(session)
    return session.url.render_as_string(hide_password=False)


@pytest.fixture
def database_backend(database_url: str) -> str:
    return make_url(database_url).get_backend_name()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    opened = await open_store(database_url, migrate=False)
    try:
        yield opened
    finally:
        await opened.close()
