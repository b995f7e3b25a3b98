"""Faults a deployment meets, against `helpdesk run` as a real process: users of Telegram, VK and
Slack write and agents answer in the staff forum while the bot is killed with SIGKILL at random
moments, the database goes away for a while, and every platform answers 429 and 5xx.

Two runs cover the six ways updates come in:
- `--inbound connections` (the default): the bot fetches them (Telegram getUpdates, VK Bots Long
  Poll, Slack Socket Mode);
- `--inbound webhooks`: the platforms post them to the bot's [http] server (Telegram webhook,
  VK Callback API, Slack Events API), retrying each until the bot answers, as they do.
The staff chat is a Telegram forum (a topic per ticket). On SQLite another process holds the
write lock for 15 s; with --postgres (the local `test` database, emptied) the bot's connections
are terminated instead. It reports, per messenger and direction, what was sent, delivered, lost,
duplicated and out of order, how often a platform had to deliver again, and how long after the
last fault the last message arrived.

    python bench/chaos.py [--inbound connections|webhooks] [--users 4] [--messages 8]
                          [--kills 5] [--seed 1] [--postgres [URL]] [--processes 1]

`--processes 2` (webhooks on PostgreSQL) runs two bot processes on one database, as behind a
load balancer: each platform pushes to them in turn, and each kill hits one of them.

Targets: 0 lost, 0 out of order, everything delivered within 3 minutes of the last fault. VK
de-duplicates sends by random_id; Telegram and Slack offer no idempotency key, so a send cut off
by a kill may arrive twice there: counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from throughput import POSTGRES_DEFAULT, reset_postgres  # noqa: E402

from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.fakes.vk import FakeVK  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STAFF_FORUM = -1001000000001
AGENT = 777
DEADLINE_AFTER_LAST_FAULT = 180.0
REPLIES_EACH = 2  # agent answers per user's ticket
SECRET = "chaos-bench-secret"


@dataclass
class Stream:
    """One direction of one messenger: what was sent, in order per user."""

    name: str
    sent: dict[str, list[str]] = field(default_factory=dict)  # user -> texts in order


class Pusher:
    """A platform that pushes events (a webhook, VK's Callback API, Slack's Events API and Socket
    Mode) to a bot that may be down: it delivers each event again until the bot acknowledges it
    (here without giving up; Slack stops after three retries), one conversation's in order."""

    def __init__(self, post: Callable[[dict[str, Any]], Awaitable[bool]]) -> None:
        self.post = post
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.workers: list[asyncio.Task] = []
        self.redeliveries = 0
        self.pending = 0

    def push(self, conversation: str, event: dict[str, Any]) -> None:
        if conversation not in self.queues:
            self.queues[conversation] = asyncio.Queue()
            self.workers.append(asyncio.create_task(self._deliver(self.queues[conversation])))
        self.pending += 1
        self.queues[conversation].put_nowait(event)

    async def _deliver(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            event = await queue.get()
            while not await self._acknowledged(event):
                self.redeliveries += 1
                await asyncio.sleep(0.5)
            self.pending -= 1

    async def _acknowledged(self, event: dict[str, Any]) -> bool:
        try:
            return await asyncio.wait_for(self.post(event), 10)
        except Exception:  # noqa: BLE001 - the bot is down or cut off: deliver again
            return False

    def close(self) -> None:
        for worker in self.workers:
            worker.cancel()


class Messenger:
    """One messenger's users in the run: how they write, what reaches them, its faults."""

    name = ""
    send_method = ""

    def __init__(self, fake: Any, count: int, webhooks: bool) -> None:
        self.fake = fake
        self.webhooks = webhooks
        self.pusher: Pusher | None = Pusher(self.post) if webhooks else None
        self.users = [f"{self.name[:2].title()}{n:03d}" for n in range(count)]
        self.addresses: list[str] = []  # each process's [http] server, behind one "balancer"
        self._turns = 0
        for user in self.users:
            self.add_user(user)

    @property
    def http(self) -> str:
        """The next process's address, in turn, as a load balancer hands out requests: an
        event retried after a failure may reach the other process."""
        self._turns += 1
        return self.addresses[self._turns % len(self.addresses)]

    @property
    def inbound(self) -> str:
        raise NotImplementedError

    def add_user(self, user: str) -> None:
        raise NotImplementedError

    def section(self, http: str) -> str:
        """The messenger's part of the bot's settings; `http` is the bot's [http] address."""
        raise NotImplementedError

    def event(self, user: str, text: str) -> dict[str, Any]:
        raise NotImplementedError

    def fetched(self, event: dict[str, Any]) -> None:
        """Where the bot fetches updates: the event waits on the platform until it does."""
        raise NotImplementedError

    async def post(self, event: dict[str, Any]) -> bool:
        """Where the platform pushes: one delivery; whether the bot acknowledged it."""
        raise NotImplementedError

    def received(self, user: str) -> list[str]:
        raise NotImplementedError

    async def ready(self) -> None:
        """Until the bot listens here (VK hands a new listener only what comes after it)."""

    def write(self, user: str, text: str) -> None:
        event = self.event(user, text)
        if self.pusher is not None:
            self.pusher.push(user, event)
        else:
            self.fetched(event)

    def fault(self, rng: random.Random) -> None:
        """A 429 or a 5xx on the next send to this platform."""
        if rng.random() < 0.66:
            self.fake.rate_limit_next(method=self.send_method)
        else:
            self.fake.server_error_next(method=self.send_method)

    @property
    def settled(self) -> bool:
        return self.pusher is None or self.pusher.pending == 0


class Telegram(Messenger):
    """Private chats with the bot; the staff forum is on Telegram too (see `Staff`)."""

    name, send_method = "telegram", "sendMessage"

    def __init__(self, fake: FakeTelegram, count: int, webhooks: bool) -> None:
        self.ids: dict[str, int] = {}
        super().__init__(fake, count, webhooks)

    @property
    def inbound(self) -> str:
        return "webhook" if self.webhooks else "getUpdates"

    def add_user(self, user: str) -> None:
        self.ids[user] = 5000 + len(self.ids)
        self.fake.add_user(self.ids[user], user)

    def section(self, http: str) -> str:
        mode = f'mode = "webhook"\nwebhook_url = "{http}/telegram/webhook"\n'
        mode += f'webhook_secret = "{SECRET}"'
        return f"""
[telegram]
enabled = true
token = "{self.fake.token}"
api_base_url = "{self.fake.base_url}"
polling_timeout = 1
{mode if self.webhooks else 'mode = "polling"'}
"""

    def event(self, user: str, text: str) -> dict[str, Any]:
        return self.fake.make_text_update(self.ids[user], text)

    def fetched(self, event: dict[str, Any]) -> None:
        self.fake.inject(event)

    async def post(self, event: dict[str, Any]) -> bool:
        status, _ = await self.fake.post_webhook(f"{self.http}/telegram/webhook", event, SECRET)
        return status == 200

    def received(self, user: str) -> list[str]:
        return [m.get("text", "") for m in self.fake.sent_messages(self.ids[user])]


class Vk(Messenger):
    name, send_method = "vk", "messages.send"

    def __init__(self, fake: FakeVK, count: int, webhooks: bool) -> None:
        self.ids: dict[str, int] = {}
        super().__init__(fake, count, webhooks)

    @property
    def inbound(self) -> str:
        return "Callback API" if self.webhooks else "Bots Long Poll"

    def add_user(self, user: str) -> None:
        self.ids[user] = 7000 + len(self.ids)
        self.fake.add_user(self.ids[user], user, "Chaos")

    def section(self, http: str) -> str:
        callback = f'mode = "callback"\nconfirmation_code = "{self.fake.confirmation_code}"\n'
        callback += f'secret = "{SECRET}"'
        return f"""
[vk]
enabled = true
token = "{self.fake.token}"
group_id = {self.fake.group_id}
api_base_url = "{self.fake.base_url}"
{callback if self.webhooks else 'mode = "longpoll"'}
"""

    async def ready(self) -> None:
        if not self.webhooks:
            await self.fake.wait_for_long_poll(within=120)

    def event(self, user: str, text: str) -> dict[str, Any]:
        return self.fake.make_message_new(self.ids[user], text)

    def fetched(self, event: dict[str, Any]) -> None:
        self.fake.inject(event)

    async def post(self, event: dict[str, Any]) -> bool:
        status, body = await self.fake.post_callback(f"{self.http}/vk/callback", event, SECRET)
        return status == 200 and body == "ok"

    def received(self, user: str) -> list[str]:
        return [m["text"] for m in self.fake.sent_to(self.ids[user])]


class Slack(Messenger):
    name, send_method = "slack", "chat.postMessage"

    def __init__(self, fake: FakeSlack, count: int, webhooks: bool) -> None:
        self.ids: dict[str, str] = {}
        super().__init__(fake, count, webhooks)
        # Socket Mode pushes too, over the connection the bot opens: an envelope the bot does
        # not acknowledge is sent again.
        self.pusher = Pusher(self.post)

    @property
    def inbound(self) -> str:
        return "Events API" if self.webhooks else "Socket Mode"

    def add_user(self, user: str) -> None:
        self.ids[user] = f"U0CHAOS{len(self.ids):03d}"
        self.fake.add_user(self.ids[user], user, real_name=user)

    def section(self, http: str) -> str:
        mode = f'mode = "http"\nsigning_secret = "{self.fake.signing_secret}"'
        if not self.webhooks:
            mode = f'mode = "socket"\napp_token = "{self.fake.app_token}"'
        return f"""
[slack]
enabled = true
bot_token = "{self.fake.bot_token}"
api_base_url = "{self.fake.base_url}"
{mode}
"""

    def event(self, user: str, text: str) -> dict[str, Any]:
        return self.fake.make_dm_event(self.ids[user], text)

    async def post(self, event: dict[str, Any]) -> bool:
        if self.webhooks:
            status, _ = await self.fake.post_event(f"{self.http}/slack/events", event)
            return status == 200
        envelope = await self.fake.send_event(event)
        await self.fake.wait_for_ack(envelope, within=5)
        return True

    def received(self, user: str) -> list[str]:
        return [m["text"] for m in self.fake.sent_to(self.fake.dm_channel(self.ids[user]))]


class Staff:
    """The agent in the Telegram staff forum: answers in a ticket's topic; sees what the bot
    relays there."""

    def __init__(self, telegram: Telegram) -> None:
        self.telegram = telegram
        self.fake: FakeTelegram = telegram.fake
        self.fake.add_chat(STAFF_FORUM, title="Support", is_forum=True)
        self.fake.add_user(AGENT, "Agent")

    def topic_of(self, user: str) -> int | None:
        for (chat_id, thread_id), topic in self.fake.topics.items():
            if chat_id == STAFF_FORUM and user in topic.name and not topic.deleted:
                return thread_id
        return None

    def answer(self, topic: int, text: str) -> None:
        update = self.fake.make_topic_message_update(STAFF_FORUM, topic, AGENT, text)
        if self.telegram.pusher is not None:
            self.telegram.pusher.push(f"topic {topic}", update)
        else:
            self.fake.inject(update)

    def lines(self) -> list[str]:
        return [
            line
            for m in self.fake.sent_messages(STAFF_FORUM)
            for line in m.get("text", "").split("\n")
        ]


class Bot:
    """`helpdesk run` as a child process, killed and restarted at will."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.log = config.with_suffix(".log")
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "--config", str(self.config), "run",
                stdout=log, stderr=log, cwd=ROOT,
            )  # fmt: skip

    async def running(self, within: float) -> None:
        """Until the first start is complete: users write from then on."""
        deadline = time.monotonic() + within
        while b"helpdesk running" not in self.log.read_bytes():
            if time.monotonic() > deadline:
                tail = "\n".join(self.log.read_text().splitlines()[-20:])
                raise TimeoutError(f"the bot did not start within {within:g} s:\n{tail}")
            await asyncio.sleep(0.2)

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(
    directory: Path, messengers: list[Messenger], database_url: str, process: int
) -> Path:
    """The settings of one bot process; each process has an [http] server of its own."""
    http = f"http://127.0.0.1:{free_port()}"
    config = directory / f"bot-{process}.toml"
    for messenger in messengers:
        messenger.addresses.append(http)
    sections = "".join(messenger.section(http) for messenger in messengers)
    config.write_text(
        f"""
[database]
url = "{database_url}"

[staff]
channel = "telegram"
chat_id = "{STAFF_FORUM}"
{sections}
[http]
host = "127.0.0.1"
port = {http.rsplit(":", 1)[1]}

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


def found(text: str, line: str) -> bool:
    """`text` stands in `line` as a whole (u..-m1 is not found in u..-m10)."""
    return re.search(rf"(?<![\w-]){re.escape(text)}(?![\w-])", line) is not None


def tally(stream: Stream, received: Callable[[str], list[str]]) -> dict[str, int]:
    """Lost, duplicated and out-of-order messages of one direction."""
    lost = duplicated = disordered = 0
    for user, texts in stream.sent.items():
        lines = [line for got in received(user) for line in got.split("\n")]
        positions = []
        for text in texts:
            hits = [i for i, line in enumerate(lines) if found(text, line)]
            if not hits:
                lost += 1
                continue
            duplicated += len(hits) - 1
            positions.append(hits[0])
        disordered += sum(1 for a, b in zip(positions, positions[1:], strict=False) if b < a)
    sent = sum(len(texts) for texts in stream.sent.values())
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


@dataclass
class Conversation:
    """One user's ticket: what they wrote and what the agent answered so far."""

    messenger: Messenger
    user: str
    written: int = 0
    answered: int = 0


async def run(
    users: int,
    messages: int,
    kills: int,
    seed: int,
    webhooks: bool = False,
    postgres: str | None = None,
    processes: int = 1,
) -> None:
    """`webhooks`: the platforms push updates to the bot instead of the bot fetching them.
    `postgres`: run on that database (emptied first) and terminate the bot's connections
    instead of locking SQLite. `processes`: bot processes sharing the database, each platform
    pushing to them in turn (webhooks on PostgreSQL only); each kill hits one of them."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        async with FakeTelegram() as tg, FakeVK() as vk, FakeSlack() as slack:
            telegram = Telegram(tg, users, webhooks)
            messengers = [telegram, Vk(vk, users, webhooks), Slack(slack, users, webhooks)]
            staff = Staff(telegram)
            to_staff = {m.name: Stream(f"{m.name} user -> staff") for m in messengers}
            to_users = {m.name: Stream(f"{m.name} agent -> user") for m in messengers}
            conversations = [Conversation(m, user) for m in messengers for user in m.users]
            if postgres is not None:
                await reset_postgres(postgres)
            url = postgres or f"sqlite+aiosqlite:///{directory}/helpdesk.sqlite3"
            bots = [Bot(write_config(directory, messengers, url, n + 1)) for n in range(processes)]
            await asyncio.gather(*(bot.start() for bot in bots))  # both on an empty database
            await asyncio.gather(*(bot.running(within=120) for bot in bots))
            for messenger in messengers:
                await messenger.ready()
            last_fault = started = time.monotonic()
            duration = len(conversations) * messages * 0.3  # the stream's expected length
            kill_at = sorted(rng.uniform(2, 2 + duration) for _ in range(kills))
            lock_at = rng.uniform(3, 3 + duration)
            locked = False
            give_up = time.monotonic() + 10 * duration + 120

            def more_to_do() -> bool:
                return any(c.written < messages or c.answered < REPLIES_EACH for c in conversations)

            while more_to_do() and time.monotonic() < give_up:
                elapsed = time.monotonic() - started
                if kill_at and elapsed >= kill_at[0]:
                    kill_at.pop(0)
                    bot = rng.choice(bots) if len(bots) > 1 else bots[0]
                    await bot.kill()
                    await asyncio.sleep(rng.uniform(0.2, 1.5))
                    await bot.start()
                    last_fault = time.monotonic()
                if not locked and elapsed >= lock_at:
                    locked = True
                    last_fault = await database_fault(directory, postgres)
                if rng.random() < 0.15:
                    rng.choice(messengers).fault(rng)
                    last_fault = max(last_fault, time.monotonic())
                step(rng.choice(conversations), staff, messages, to_staff, to_users, rng)
                await asyncio.sleep(rng.uniform(0.1, 0.5))

            def complete() -> bool:
                return all(m.settled for m in messengers) and all(
                    tally(to_staff[m.name], lambda _: staff.lines())["lost"] == 0
                    and tally(to_users[m.name], m.received)["lost"] == 0
                    for m in messengers
                )

            deadline = last_fault + DEADLINE_AFTER_LAST_FAULT
            # Polling the fakes' records: they have no event to wait on.
            while not complete() and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(1)
            settled = time.monotonic() - last_fault
            await asyncio.gather(*(bot.stop() for bot in bots))
            if not complete():
                for bot in bots:
                    tail = bot.log.read_text().splitlines()[-15:]
                    print(f"{bot.log.name} ends with:", *tail, sep="\n")
            report(messengers, staff, to_staff, to_users)
            for messenger in messengers:
                if messenger.pusher is not None:
                    messenger.pusher.close()
            if postgres is not None:
                await reset_postgres(postgres)
    fault = "the bot's connections terminated" if postgres else "a 15 s database lock"
    print(f"faults: {kills} SIGKILLs, {fault}, 429s and 5xx on every platform's sends")
    if processes > 1:
        print(f"{processes} bot processes on one database, each platform pushing to them in turn")
    limit = DEADLINE_AFTER_LAST_FAULT
    print(f"everything arrived {settled:.1f} s after the last fault (limit {limit:g} s)")


def step(
    conversation: Conversation,
    staff: Staff,
    messages: int,
    to_staff: dict[str, Stream],
    to_users: dict[str, Stream],
    rng: random.Random,
) -> None:
    """The user writes their next message, or the agent answers in the user's topic."""
    messenger, user = conversation.messenger, conversation.user
    topic = staff.topic_of(user)
    writes = conversation.written < messages
    answers = topic is not None and conversation.answered < REPLIES_EACH
    if answers and (not writes or rng.random() < 0.4):
        answer = f"a{user}-r{conversation.answered}"
        staff.answer(topic, answer)
        to_users[messenger.name].sent.setdefault(user, []).append(answer)
        conversation.answered += 1
    elif writes:
        n = conversation.written
        messenger.write(user, f"u{user}-m{n}" if n else f"/new u{user}-m0")
        to_staff[messenger.name].sent.setdefault(user, []).append(f"u{user}-m{n}")
        conversation.written += 1


def report(
    messengers: list[Messenger],
    staff: Staff,
    to_staff: dict[str, Stream],
    to_users: dict[str, Stream],
) -> None:
    for messenger in messengers:
        print(f"{messenger.name} ({messenger.inbound}):")
        for stream, received in (
            (to_staff[messenger.name], lambda _: staff.lines()),
            (to_users[messenger.name], messenger.received),
        ):
            figures = tally(stream, received)
            print(f"  {stream.name:>22}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
        if messenger.pusher is not None:
            print(f"  the platform delivered again {messenger.pusher.redeliveries} times")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inbound", choices=("connections", "webhooks"), default="connections")
    parser.add_argument("--users", type=int, default=4, help="per messenger")
    parser.add_argument("--messages", type=int, default=8)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=os.environ.get("HELPDESK_BENCH_DATABASE_URL", POSTGRES_DEFAULT),
        help="run on PostgreSQL (default: the local test database, emptied first)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="bot processes sharing the database (needs --inbound webhooks and --postgres)",
    )
    args = parser.parse_args()
    webhooks = args.inbound == "webhooks"
    if args.processes > 1 and not (webhooks and args.postgres):
        parser.error("--processes above 1 needs --inbound webhooks and --postgres")
    asyncio.run(
        run(
            args.users,
            args.messages,
            args.kills,
            args.seed,
            webhooks,
            args.postgres,
            args.processes,
        )  # fmt: skip
    )


if __name__ == "__main__":
    main()
