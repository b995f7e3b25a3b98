"""Faults a deployment meets, against `helpdesk run` as a real process: users write and agents
answer while the bot is killed with SIGKILL at random moments, the database is locked by
another process for a while, and the platform answers 429 and 5xx.

This first version drives the Telegram path (long polling; users in private chats, agents in
the staff forum's topics) against the fake Telegram server; the VK and Slack paths are to come.
On SQLite another process holds the write lock for 15 s; with --postgres (the local `test`
database, emptied) the bot's connections are terminated instead.
It reports, per direction, what was sent, delivered, lost, duplicated and out of order, and
how long after the last fault the last message arrived.

    python bench/chaos.py [--users 6] [--messages 8] [--kills 5] [--seed 1] [--postgres [URL]]

Targets: 0 lost, 0 out of order, every message delivered within 3 minutes of the last fault.
Telegram offers no idempotency key, so a send cut off by a kill may arrive twice: counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from throughput import POSTGRES_DEFAULT, reset_postgres  # noqa: E402

from tests.fakes.telegram import FakeTelegram  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STAFF_FORUM = -1001000000001
AGENT = 777
FIRST_USER = 5000
DEADLINE_AFTER_LAST_FAULT = 180.0
REPLIES_EACH = 2  # agent answers per user's ticket


@dataclass
class Stream:
    """One direction: what was sent, in order per conversation, and when it was last seen."""

    name: str
    sent: dict[int, list[str]] = field(default_factory=dict)  # conversation -> texts in order


class Bot:
    """`helpdesk run` as a child process, killed and restarted at will."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.log = config.with_name("bot.log")
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "--config", str(self.config), "run",
                stdout=log, stderr=log, cwd=ROOT,
            )  # fmt: skip

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await self.process.wait()


def write_config(directory: Path, fake: FakeTelegram, database_url: str) -> Path:
    config = directory / "config.toml"
    config.write_text(
        f"""
[database]
url = "{database_url}"

[staff]
channel = "telegram"
chat_id = "{STAFF_FORUM}"

[telegram]
enabled = true
token = "{fake.token}"
api_base_url = "{fake.base_url}"
polling_timeout = 1

[outbox]
poll_interval_seconds = 0.2
backoff_base_seconds = 0.2
backoff_max_seconds = 5
lease_seconds = 10

[knowledge]
load_sample_when_empty = false

[console]
enabled = false
""",
        encoding="utf-8",
    )
    return config


def user_texts(fake: FakeTelegram, user: int) -> list[str]:
    return [m.get("text", "") for m in fake.sent_messages(user)]


def staff_texts(fake: FakeTelegram) -> list[str]:
    return [m.get("text", "") for m in fake.sent_messages(STAFF_FORUM)]


def topic_of(fake: FakeTelegram, user: int) -> int | None:
    for (chat_id, thread_id), topic in fake.topics.items():
        if chat_id == STAFF_FORUM and f"U{user}" in topic.name and not topic.deleted:
            return thread_id
    return None


def tally(path: Stream, received: dict[int, list[str]]) -> dict[str, int]:
    """Lost, duplicated and out-of-order messages of one direction."""
    lost = duplicated = disordered = 0
    for conversation, texts in path.sent.items():
        seen = received.get(conversation, [])
        positions = []
        for text in texts:
            hits = [i for i, got in enumerate(seen) if text in got.split("\n")]
            if not hits:
                lost += 1
                continue
            duplicated += len(hits) - 1
            positions.append(hits[0])
        disordered += sum(1 for a, b in zip(positions, positions[1:], strict=False) if b < a)
    sent = sum(len(texts) for texts in path.sent.values())
    return {
        "sent": sent,
        "delivered": sent - lost,
        "lost": lost,
        "duplicated": duplicated,
        "out_of_order": disordered,
    }


async def hold_database(database: Path, seconds: float) -> None:
    """Another process holds SQLite's write lock: the bot's transactions wait or fail busy."""
    connection = sqlite3.connect(database, isolation_level=None, timeout=30)
    connection.execute("BEGIN IMMEDIATE")
    try:
        await asyncio.sleep(seconds)
    finally:
        connection.rollback()
        connection.close()


async def terminate_connections(database_url: str) -> None:
    """PostgreSQL: every connection of the bot is cut (what a server restart does to them)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()


async def database_fault(directory: Path, database_url: str | None) -> float:
    """The database fault of the run; returns when it ends (monotonic)."""
    if database_url is None:
        asyncio.get_running_loop().create_task(hold_database(directory / "helpdesk.sqlite3", 15))
        return time.monotonic() + 15
    await terminate_connections(database_url)
    return time.monotonic()


async def run(
    users: int, messages: int, kills: int, seed: int, postgres: str | None = None
) -> None:
    """`postgres`: run on that database (emptied first) and terminate the bot's connections
    instead of locking SQLite."""
    rng = random.Random(seed)
    to_staff, to_users = Stream("user -> staff"), Stream("agent -> user")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        async with FakeTelegram() as fake:
            fake.add_chat(STAFF_FORUM, title="Support", is_forum=True)
            fake.add_user(AGENT, "Agent")
            ids = [FIRST_USER + n for n in range(users)]
            for user in ids:
                fake.add_user(user, f"U{user}")
            if postgres is not None:
                await reset_postgres(postgres)
            url = postgres or f"sqlite+aiosqlite:///{directory}/helpdesk.sqlite3"
            bot = Bot(write_config(directory, fake, url))
            await bot.start()
            last_fault = time.monotonic()
            started = time.monotonic()
            duration = users * messages * 0.3  # the stream's expected length
            kill_at = sorted(rng.uniform(2, 2 + duration) for _ in range(kills))
            lock_at = rng.uniform(3, 3 + duration)
            locked = False
            sent_per_user = dict.fromkeys(ids, 0)
            replies_per_user = dict.fromkeys(ids, 0)
            give_up = time.monotonic() + 10 * duration + 120

            def more_to_do() -> bool:
                return any(n < messages for n in sent_per_user.values()) or any(
                    n < REPLIES_EACH for n in replies_per_user.values()
                )

            while more_to_do() and time.monotonic() < give_up:
                elapsed = time.monotonic() - started
                if kill_at and elapsed >= kill_at[0]:
                    kill_at.pop(0)
                    await bot.kill()
                    await asyncio.sleep(rng.uniform(0.2, 1.5))
                    await bot.start()
                    last_fault = time.monotonic()
                if not locked and elapsed >= lock_at:
                    locked = True
                    last_fault = await database_fault(directory, postgres)
                if rng.random() < 0.1:
                    fake.rate_limit_next(retry_after=1, method="sendMessage")
                    last_fault = max(last_fault, time.monotonic())
                if rng.random() < 0.05:
                    fake.server_error_next(method="sendMessage")
                    last_fault = max(last_fault, time.monotonic())
                user = rng.choice(ids)
                topic = topic_of(fake, user)
                writes = sent_per_user[user] < messages
                answers = topic is not None and replies_per_user[user] < REPLIES_EACH
                if answers and (not writes or rng.random() < 0.4):
                    answer = f"a{user}-r{replies_per_user[user]}"
                    fake.inject(fake.make_topic_message_update(STAFF_FORUM, topic, AGENT, answer))
                    to_users.sent.setdefault(user, []).append(answer)
                    replies_per_user[user] += 1
                elif writes:
                    n = sent_per_user[user]
                    text = f"u{user}-m{n}" if n else f"/new u{user}-m0"
                    fake.inject(fake.make_text_update(user, text))
                    to_staff.sent.setdefault(user, []).append(f"u{user}-m{n}")
                    sent_per_user[user] += 1
                await asyncio.sleep(rng.uniform(0.1, 0.5))

            def complete() -> bool:
                staff = "\n".join(staff_texts(fake))
                return all(t in staff for texts in to_staff.sent.values() for t in texts) and all(
                    any(t in got for got in user_texts(fake, u))
                    for u, texts in to_users.sent.items()
                    for t in texts
                )

            deadline = last_fault + DEADLINE_AFTER_LAST_FAULT
            # Polling the fake's record: it has no event to wait on.
            while not complete() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.5)
            settled = time.monotonic() - last_fault
            await bot.stop()
            if not complete():
                print("the bot's log ends with:", *bot.log.read_text().splitlines()[-15:], sep="\n")
            staff_lines = {0: [line for t in staff_texts(fake) for line in t.split("\n")]}
            staff_view = {user: staff_lines[0] for user in to_staff.sent}
            user_view = {user: user_texts(fake, user) for user in to_users.sent}
            if postgres is not None:
                await reset_postgres(postgres)
    fault = "the bot's connections terminated" if postgres else "a 15 s database lock"
    print(f"faults: {kills} SIGKILLs, {fault}, 429s and 5xx on sendMessage")
    for path, received in ((to_staff, staff_view), (to_users, user_view)):
        figures = tally(path, received)
        print(f"{path.name:>14}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    limit = DEADLINE_AFTER_LAST_FAULT
    print(f"everything arrived {settled:.1f} s after the last fault (limit {limit:g} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=6)
    parser.add_argument("--messages", type=int, default=8)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=os.environ.get("HELPDESK_BENCH_DATABASE_URL", POSTGRES_DEFAULT),
        help="run on PostgreSQL (default: the local test database, emptied first)",
    )
    args = parser.parse_args()
    asyncio.run(run(args.users, args.messages, args.kills, args.seed, args.postgres))


if __name__ == "__main__":
    main()
