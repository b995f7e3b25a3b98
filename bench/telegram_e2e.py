"""End-to-end throughput through the real Telegram adapter (long polling) against the fake
Telegram server, side by side with a bare aiogram echo bot polling the same fake: the framework's
own ceiling, measured in the same run.

Many simulated users each send one message: 70% ask a knowledge-base question (answered with
buttons), 30% open a ticket with /new (a reply to the user and an announcement in the staff
forum topic). A message counts as done when its reply to the user has reached the fake server.
Platform pacing is switched off on both sides: this measures our overhead, not Telegram's limits.

The helpdesk runs on SQLite (a temporary file) and, when it is reachable, on PostgreSQL
(HELPDESK_BENCH_DATABASE_URL, default the local `test` database, whose public schema is
emptied before and after).

    python bench/telegram_e2e.py [--users 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiogram import Bot, Dispatcher  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from aiogram.types import Message  # noqa: E402
from throughput import POSTGRES_DEFAULT, reset_postgres  # noqa: E402

from channels.telegram import TelegramChannel  # noqa: E402
from core.messages import ConversationRef  # noqa: E402
from core.ports import RateLimits  # noqa: E402
from storage.database import open_store  # noqa: E402
from tests.e2e import running_helpdesk  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402

STAFF_FORUM = -1001234567890
UNPACED = RateLimits(per_chat=1_000_000, per_chat_window=1.0, overall=1_000_000)
FIRST_USER = 10_000


def _updates(fake: FakeTelegram, users: int) -> list[dict]:
    updates = []
    for n in range(users):
        user = FIRST_USER + n
        if user not in fake.users:
            fake.add_user(user, f"User{n}")
        text = "How do I reset my password?" if n % 10 < 7 else f"/new printer {n} is jammed"
        updates.append(fake.make_text_update(user, text))
    return updates


def _replied(fake: FakeTelegram, users: int, replies_each: int) -> bool:
    return len([m for m in fake.sent if m["chat"]["id"] >= FIRST_USER]) >= users * replies_each


async def bench_echo(users: int) -> float:
    async with FakeTelegram() as fake:
        bot = Bot(
            fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
        )
        dispatcher = Dispatcher()

        @dispatcher.message()
        async def echo(message: Message) -> None:
            await message.answer(message.text or "")

        fake.inject(*_updates(fake, users))
        started = time.perf_counter()
        polling = asyncio.create_task(
            dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1)
        )
        await fake.wait_until(lambda: _replied(fake, users, 1), within=600)
        elapsed = time.perf_counter() - started
        await dispatcher.stop_polling()
        await polling
        await bot.session.close()
    return users / elapsed


async def bench_helpdesk(users: int, url: str, lanes: int) -> tuple[float, float]:
    """Messages/s for users writing for the first time (one reply each: the greeting opens the
    answer), then for the same users writing again (answer only; those with an open ticket add
    to it)."""
    with tempfile.TemporaryDirectory() as directory:
        store = await open_store(url.format(directory=directory))
        async with FakeTelegram() as fake:
            fake.add_chat(STAFF_FORUM, title="Support", is_forum=True)
            channel = TelegramChannel(
                fake.token, "polling", api_base_url=fake.base_url, polling_timeout=1,
                staff_chat_id=str(STAFF_FORUM), rate_limits=UNPACED,
            )  # fmt: skip
            staff = ConversationRef("telegram", str(STAFF_FORUM))
            fake.inject(*_updates(fake, users))
            started = time.perf_counter()
            async with running_helpdesk(
                store, {"telegram": channel}, staff_chat=staff, lanes=lanes
            ) as desk:
                # Each user gets one reply: the greeting opening the answer / the ticket number.
                await fake.wait_until(lambda: _replied(fake, users, 1), within=600)
                first = users / (time.perf_counter() - started)
                await desk.settle(within=600)
                before = len([m for m in fake.sent if m["chat"]["id"] >= FIRST_USER])
                fake.inject(*_updates(fake, users))
                started = time.perf_counter()
                answered = int(users * 0.7)  # users with a ticket get no reply, staff does
                await fake.wait_until(
                    lambda: (
                        len([m for m in fake.sent if m["chat"]["id"] >= FIRST_USER])
                        >= before + answered
                    ),
                    within=600,
                )
                again = answered / (time.perf_counter() - started)
        await store.close()
    return first, again


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    echo = await bench_echo(args.users)
    print(f"bare aiogram echo bot            : {echo:6.0f} messages/s (update -> reply delivered)")
    postgres = os.environ.get("HELPDESK_BENCH_DATABASE_URL", POSTGRES_DEFAULT)
    backends = [
        ("sqlite", "sqlite+aiosqlite:///{directory}/bench.sqlite3", 1, None),
        ("postgresql", postgres, 4, postgres),
    ]
    for name, url, lanes, reset in backends:
        try:
            if reset:
                await reset_postgres(reset)
            first, again = await bench_helpdesk(args.users, url, lanes)
        except OSError as error:
            print(f"helpdesk on {name}: skipped ({error})")
            continue
        finally:
            if reset:
                await reset_postgres(reset)
        for label, rate in (("first contact", first), ("returning    ", again)):
            print(
                f"helpdesk, {name:>10}, {label} : {rate:6.0f} messages/s  ratio {rate / echo:.2f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
