"""Alembic environment.

Normally run by `storage.migrate` (`helpdesk db upgrade`, or `open_store` on start), which passes
an open connection in `config.attributes["connection"]`. It also works from the alembic command
line for writing new revisions:

    alembic -c storage/migrations/alembic.ini -x url=sqlite:///dev.sqlite3 revision \\
        --autogenerate -m "what changed"
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.engine import URL

from storage.models import Base
from storage.store import MIGRATION, create_engine_for
from storage.urls import parse_database_url

config = context.config
target_metadata = Base.metadata


def _configure(**options: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: let future revisions copy-and-move tables.
        render_as_batch=True,
        compare_type=True,
        **options,
    )


def run_on_connection(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def _command_line_url() -> URL:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database with -x url=... or sqlalchemy.url in the ini file")
    return parse_database_url(url)


async def _run_on_url(url: URL) -> None:
    engine = create_engine_for(url, MIGRATION)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_on_connection)
    finally:
        await engine.dispose()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on_connection(connection)
        return
    asyncio.run(_run_on_url(_command_line_url()))


def run_offline() -> None:
    _configure(url=_command_line_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
