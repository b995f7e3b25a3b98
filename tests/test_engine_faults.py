"""Faults of the database while messages arrive: a passing failure delays, never drops; only a
message that fails the same way again and again is set aside, and even then people see it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.engine import make_url

from core.store import StoreUnavailable
from storage import open_store
from storage.store import StoreOptions
from tests.harness import Harness

# Give up on a lock at once, so that a held lock shows as a failure within the test's time.
IMPATIENT = StoreOptions(sqlite_busy_timeout_seconds=0.05, lock_timeout_seconds=0.05)


@asynccontextmanager
async def impatient_store(database_url: str) -> AsyncIterator:
    store = await open_store(database_url, migrate=False, options=IMPATIENT)
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def database_locked(database_url: str) -> AsyncIterator[None]:
    """Another process holds the lock every write needs: SQLite's write lock, or on PostgreSQL
    an exclusive lock on the table that records deliveries."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.rollback()
            connection.close()
        return
    import asyncpg

    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    transaction = connection.transaction()
    await transaction.start()
    await connection.execute("LOCK TABLE processed_updates IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        await transaction.rollback()
        await connection.close()


async def test_a_locked_database_delays_a_message_and_loses_nothing(database_url):
    """Regression: a lock held past the timeout made the message an apology, marked handled,
    and the staff never saw it."""
    async with impatient_store(database_url) as store:
        bot = Harness(store, store_wait_seconds=10)
        async with database_locked(database_url):
            handling = asyncio.create_task(
                bot.engine.handle(bot.user_message("/new printer on fire"))
            )
            await asyncio.sleep(0.4)
            assert not handling.done()  # waiting for the database, not apologising
        await handling
        await bot.flush()
        assert "ticket #1" in bot.to_user()[-1]
        assert "printer on fire" in bot.to_staff()[-1].message.text
        async with store.transaction() as tx:
            assert [a for a in await tx.audit.list() if a.action == "message.failed"] == []


async def test_a_database_away_too_long_leaves_the_message_for_redelivery(database_url):
    async with impatient_store(database_url) as store:
        bot = Harness(store, store_wait_seconds=0.2)
        message = bot.user_message("/new printer on fire", update_id="u-7")
        async with database_locked(database_url):
            with pytest.raises(StoreUnavailable):
                await bot.engine.handle(message)  # the adapter does not acknowledge it
        await bot.flush()
        assert bot.to_user() == []  # no apology: nothing was decided
        await bot.deliver(message)  # the platform delivers it again
        await bot.deliver(message)  # and once more: a repeat
        assert sum("ticket #1" in text for text in bot.to_user()) == 1
        async with store.transaction() as tx:
            assert await tx.tickets.get(2) is None


async def test_a_poison_message_is_tried_again_then_shown_to_the_staff(store):
    bot = Harness(store)
    attempts = []
    handle = bot.engine.users.handle

    async def failing(turn, first_contact):
        if "crash" in turn.message.text:
            attempts.append(turn.message.update_id)
            raise RuntimeError("a bug the message sets off")
        await handle(turn, first_contact)

    bot.engine.users.handle = failing  # type: ignore[method-assign]
    await bot.user_says("please crash: my laptop does not boot")
    assert len(attempts) == 3
    assert bot.to_user()[-1].startswith("Sorry, something went wrong on our side.")
    relayed = bot.to_staff()[-1].message.text
    assert "could not be handled" in relayed and "my laptop does not boot" in relayed
    async with store.transaction() as tx:
        [failed] = [a for a in await tx.audit.list() if a.action == "message.failed"]
    assert failed.after["message"]["text"] == "please crash: my laptop does not boot"
    await bot.user_says("hello again")  # the next message is handled as usual
    assert not bot.to_user()[-1].startswith("Sorry")


async def test_a_passing_failure_of_one_message_in_a_batch_keeps_the_others(store):
    bot = Harness(store)
    failures = {"u1": 1}
    handle = bot.engine.users.handle

    async def flaky(turn, first_contact):
        if failures.get(turn.user.external_id):
            failures[turn.user.external_id] -= 1
            raise RuntimeError("once")
        await handle(turn, first_contact)

    bot.engine.users.handle = flaky  # type: ignore[method-assign]
    batch = [bot.user_message("/new one", "u1"), bot.user_message("/new two", "u2")]
    assert await bot.engine.handle_batch(batch) == [None, None]
    await bot.flush()
    assert "ticket #" in bot.to_user("u1")[-1] and "ticket #" in bot.to_user("u2")[-1]
    assert not any("Sorry" in text for text in bot.to_user("u1"))
