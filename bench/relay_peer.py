"""The peer for bench/relay.py: a bare aiogram 3 relay bot, written for the benchmark in the
design of the usual Telegram "livegram"-style support relays. It runs as its own process.

- Long polling with aiogram's default `Dispatcher.start_polling`: each update is handled as a
  task of its own, and the next getUpdates already carries the offset past the batch, so the
  offset is confirmed before the updates are handled (the peer's shortcut: a crash loses what
  was in hand).
- A private message from a user: find the user's forum topic in the staff group (a table row),
  or create it with createForumTopic; copyMessage into it; one message-pair row.
- A message of a person in a topic of the staff group: find the topic's user, copyMessage to
  them; one message-pair row.

One transaction per relay writes the pair (and, for a new user, the topic) after the sends; the
topic is looked up before them. SQLite is opened like the helpdesk opens it (WAL,
synchronous=FULL, one pooled connection, BEGIN IMMEDIATE), so both bots pay for the same
durability; PostgreSQL through asyncpg with SQLAlchemy's default pool.

    python bench/relay_peer.py --token T --api-base-url URL --staff-chat-id ID --database-url URL

It prints "peer polling" when it starts polling and stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    event,
    insert,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

metadata = MetaData()
topics = Table(
    "peer_topics",
    metadata,
    Column("user_chat_id", BigInteger, primary_key=True),
    Column("thread_id", BigInteger, nullable=False, unique=True),
)
pairs = Table(
    "peer_message_pairs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("direction", String(8), nullable=False),  # "in": user -> staff, "out": staff -> user
    Column("user_chat_id", BigInteger, nullable=False),
    Column("user_message_id", BigInteger, nullable=False),
    Column("staff_message_id", BigInteger, nullable=False),
)


def open_database(url: str) -> AsyncEngine:
    if not url.startswith("sqlite"):
        return create_async_engine(url)
    engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def build(engine: AsyncEngine, staff_chat_id: int) -> Dispatcher:
    dispatcher = Dispatcher()

    @dispatcher.message(F.chat.type == "private")
    async def from_user(message: Message, bot: Bot) -> None:
        user = message.chat.id
        async with engine.connect() as connection:
            thread = (
                await connection.execute(
                    select(topics.c.thread_id).where(topics.c.user_chat_id == user)
                )
            ).scalar()
        new_topic = thread is None
        if new_topic:
            name = (message.from_user.full_name if message.from_user else str(user))[:100]
            topic = await bot.create_forum_topic(staff_chat_id, f"{name} ({user})")
            thread = topic.message_thread_id
        copied = await bot.copy_message(
            staff_chat_id, user, message.message_id, message_thread_id=thread
        )
        async with engine.begin() as connection:
            if new_topic:
                await connection.execute(insert(topics).values(user_chat_id=user, thread_id=thread))
            await connection.execute(
                insert(pairs).values(
                    direction="in",
                    user_chat_id=user,
                    user_message_id=message.message_id,
                    staff_message_id=copied.message_id,
                )
            )

    @dispatcher.message(F.chat.id == staff_chat_id, F.message_thread_id)
    async def from_staff(message: Message, bot: Bot) -> None:
        if message.from_user is None or message.from_user.is_bot:
            return
        async with engine.connect() as connection:
            user = (
                await connection.execute(
                    select(topics.c.user_chat_id).where(
                        topics.c.thread_id == message.message_thread_id
                    )
                )
            ).scalar()
        if user is None:  # a topic that is not a user's
            return
        copied = await bot.copy_message(user, staff_chat_id, message.message_id)
        async with engine.begin() as connection:
            await connection.execute(
                insert(pairs).values(
                    direction="out",
                    user_chat_id=user,
                    user_message_id=copied.message_id,
                    staff_message_id=message.message_id,
                )
            )

    return dispatcher


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--api-base-url", required=True)
    parser.add_argument("--staff-chat-id", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--polling-timeout", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout)
    engine = open_database(args.database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    session = AiohttpSession(api=TelegramAPIServer.from_base(args.api_base_url))
    bot = Bot(args.token, session=session)
    dispatcher = build(engine, args.staff_chat_id)

    @dispatcher.startup()
    async def announce() -> None:
        print("peer polling", flush=True)

    try:
        await dispatcher.start_polling(bot, polling_timeout=args.polling_timeout)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
