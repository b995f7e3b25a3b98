"""Both relay directions through `helpdesk run` as a real process against the fake Telegram
server, side by side in the same run with a bare aiogram relay bot (bench/relay_peer.py, its own
process) written for the benchmark in the usual peer design: a forum topic per user,
copyMessage both ways, one message-pair row per relay in the same database, the getUpdates
offset confirmed before the updates are handled.

Scenario, for each bot in turn, each on a fresh fake server and a fresh database:
1. users -> staff: N users (default 300) each write one message at once (N pending updates);
   done when all N relays are in the staff forum (ours: the ticket's announcement in the new
   topic; the peer: the copy in the user's new topic);
2. staff -> users: an agent answers once in each user's topic, at once (N pending updates);
   done when all N answers reached their users.
The user's message is out of scope of the sample FAQ (which stays loaded, as on a first start),
so the helpdesk opens a ticket for each: it also tells each user their ticket number, a send the
peer does not make. Before the clock starts, 5 other users go both ways once (a warm-up: first
calls cost more, e.g. pydantic builds aiogram's models when they are first used). The two bots
run one after the other, R times (ours, peer, ours, peer ...).

Per bot and direction, over the repetitions (min / median / max):
- msg/s: N / (last relay recorded by the fake - the moment the N updates were queued);
- p50 / p99 latency: update queued -> the fake server received the send carrying it;
- CPU ms per message of the bot process (/proc/<pid>/stat utime+stime, from the moment the
  updates are queued until the process has been quiet for 0.5 s, all its sends made);
- database CPU ms per message: PostgreSQL, the CPU of the backends connected to the bench
  database (pids from pg_stat_activity, /proc/<pid>/stat, sampled every 0.2 s), and the same
  with the backends that ended during the phase counted in full (see `DatabaseCpu`), with the
  number of backends seen; SQLite runs in the bot's process (its CPU is in the process
  figure): "n/a";
- RSS of the bot process (VmRSS) after both phases;
- lost and duplicated relays (ours must be 0 / 0).
The bench process itself (the fake server) is reported as well: it shares the 2 cores; so is
the CPU every other process of the machine used meanwhile (/proc/stat; a test suite running
next to the bench shows there), as the average number of cores it kept busy.

Pacing. The helpdesk paces its sends to Telegram's published limits (1 message/s per chat,
30/s overall, 20/min per group: 300 relays into one staff group would take 15 minutes) and has
no setting to turn that off. The bench starts the same CLI (`bot.cli.main`, i.e. `helpdesk
--config FILE run`) with `python -c`, after replacing one default in the child process only:
`TelegramChannel.__init__.__kwdefaults__["rate_limits"]` becomes 1,000,000 per chat and overall
(the same RateLimits bench/telegram_e2e.py gives the channel). No file outside bench/ changes.
The peer never paces. Other settings of ours: `[knowledge] semantic = false` (the fuzzy matcher,
as in the other end-to-end benches), `[telegram] polling_timeout = 1` (the peer polls with 1 s
too), `[engine] workers = 4` on PostgreSQL (as bench/telegram_e2e.py), console off; the rest is
the default configuration, log level INFO included.

    python bench/relay.py [--users 300] [--repeat 3] [--postgres [URL]] [--quick]
                          [--wait-quiet SECONDS]

--postgres runs on PostgreSQL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test,
whose public schema is emptied before every bot run and after the last); without it each run
gets its own SQLite file in a temporary directory. --quick: 50 users, 1 repetition. Before
each bot run the bench waits up to --wait-quiet seconds (default 30) for the rest of the machine
to be idle (under 0.25 cores busy), then measures anyway and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from throughput import POSTGRES_DEFAULT, reset_postgres  # noqa: E402

from tests.fakes.telegram import FakeTelegram  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STAFF_FORUM = -1001000000001
AGENT = 777
FIRST_USER = 100_000
WARM_UP_FIRST, WARM_UP_USERS = 90_000, 5
PHASE_TIMEOUT = 240.0  # seconds for one direction of one run
START_TIMEOUT = 120.0
QUIET = 0.5  # seconds without a send: the process has finished the phase's work
CLK_TCK = os.sysconf("SC_CLK_TCK")
TOKEN = re.compile(r"\b([qa])(\d{6})\b")

# `helpdesk --config FILE run`, with the Telegram channel's default rate limits replaced.
HELPDESK_UNPACED = """\
import sys
from core.ports import RateLimits
from channels.telegram import TelegramChannel
TelegramChannel.__init__.__kwdefaults__["rate_limits"] = RateLimits(
    per_chat=1_000_000, per_chat_window=1.0, overall=1_000_000
)
from bot.cli import main
raise SystemExit(main())
"""


def question(user: int) -> str:
    return f"The coffee machine on floor q{user:06d} leaks water onto the carpet"


def answer(user: int) -> str:
    return f"Sorry about that, a new one for a{user:06d} leaves tomorrow"


class TimedTelegram(FakeTelegram):
    """The fake, noting when each message the bot created arrived (`sent_at[i]` is `sent[i]`'s)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: list[float] = []

    def _bot_message(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        message = super()._bot_message(*args, **kwargs)
        self.sent_at.append(time.monotonic())
        return message

    def busy_at(self) -> float:
        """When the bot last called anything but getUpdates."""
        for request in reversed(self.requests):
            if request.method != "getUpdates":
                return request.at
        return 0.0


class Tracker:
    """Which relays of one direction reached their chat, when, and how often."""

    def __init__(self, fake: TimedTelegram, kind: str, targets: dict[int, int]) -> None:
        self.fake = fake
        self.kind = kind
        self.targets = targets  # user number -> the chat the relay must reach
        self.first: dict[int, float] = {}
        self.thread: dict[int, int] = {}  # user number -> the staff topic it arrived in
        self.copies: Counter[int] = Counter()
        self.position = 0

    def scan(self) -> int:
        sent, times = self.fake.sent, self.fake.sent_at
        while self.position < len(sent) and self.position < len(times):
            message, at = sent[self.position], times[self.position]
            self.position += 1
            text = f"{message.get('text', '')}\n{message.get('caption', '')}"
            for kind, number in TOKEN.findall(text):
                user = int(number)
                if kind != self.kind or self.targets.get(user) != message["chat"]["id"]:
                    continue
                self.copies[user] += 1
                if user not in self.first:
                    self.first[user] = at
                    if "message_thread_id" in message:
                        self.thread[user] = message["message_thread_id"]
        return len(self.first)

    def lost(self) -> int:
        return len(self.targets) - len(self.first)

    def duplicated(self) -> int:
        return sum(count - 1 for count in self.copies.values() if count > 1)


def process_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: [0] state, [1] ppid, [11] utime, [12] stime,
    [13] cutime, [14] cstime (children waited for), in clock ticks."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of a process; 0 when it is gone."""
    try:
        fields = process_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy() -> float:
    """CPU seconds all the machine's cores spent busy since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK  # minus idle and iowait


async def machine_quiet(within: float, limit: float = 0.25) -> float:
    """Wait, at most `within` seconds, until the machine keeps fewer than `limit` cores busy over
    a second (other people's test runs share it); returns the last reading."""
    deadline = time.monotonic() + within
    while True:
        before = machine_busy()
        await asyncio.sleep(1.0)
        load = machine_busy() - before
        if load < limit or time.monotonic() >= deadline:
            return load


def process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class DatabaseFigures:
    sampled: float  # CPU seconds of the backends seen in pg_stat_activity
    with_ended: float  # the same, plus what backends that ended meanwhile used
    backends: int  # backends of the bench database seen (a pool opening and closing shows here)


class DatabaseCpu:
    """CPU of the PostgreSQL backends connected to the bench database while a phase runs.

    `sampled` follows the pids pg_stat_activity lists for the database, every 0.2 s: a backend
    that ends between two samples loses what it used since the last one, and one that lives
    less than 0.2 s is missed (SQLAlchemy's default pool, the peer's, closes the connections it
    opened beyond its 5 as soon as they come back). `with_ended` counts the backends that ended
    during the phase in full: the postmaster collects its ended children's CPU (cutime +
    cstime in its /proc/<pid>/stat), from which the bench takes out what the backends of other
    databases (other people's tests) that ended meanwhile had used when last sampled, and
    what the bench database's ended backends had used before the phase. What another
    database's backend used in its last 0.2 s, or one that lived less than that, stays in:
    `with_ended` is exact only while nothing else uses the server (see "other processes")."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.connection: Any = None
        self.postmaster = 0
        self.seen: dict[int, tuple[float, float]] = {}  # pid -> (CPU at first sight, latest)
        self.elsewhere: dict[int, float] = {}  # other databases' backends: pid -> latest CPU
        self.reaped = 0.0
        self.task: asyncio.Task | None = None

    async def open(self) -> None:
        if self.url is None:
            return
        import asyncpg
        from sqlalchemy.engine import make_url

        url = make_url(self.url).set(drivername="postgresql")
        self.connection = await asyncpg.connect(url.render_as_string(hide_password=False))
        own = await self.connection.fetchval("SELECT pg_backend_pid()")
        self.postmaster = int(process_fields(own)[1])

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()

    def _reaped(self) -> float:
        fields = process_fields(self.postmaster)
        return (int(fields[13]) + int(fields[14])) / CLK_TCK

    async def _sample(self, baseline: bool) -> tuple[set[int], set[int]]:
        """Pids alive now: the bench database's, every other one's."""
        rows = await self.connection.fetch(
            "SELECT pid, datname IS NOT DISTINCT FROM current_database() AS ours"
            " FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
        )
        alive, alive_elsewhere = set(), set()
        for row in rows:
            pid = row["pid"]
            try:
                fields = process_fields(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue  # ended between the query and the read
            cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
            if not row["ours"]:
                alive_elsewhere.add(pid)
                self.elsewhere[pid] = cpu
                continue
            alive.add(pid)
            first = self.seen.get(pid, (cpu if baseline else 0.0, cpu))[0]
            self.seen[pid] = (first, cpu)
        return alive, alive_elsewhere

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            await self._sample(baseline=False)

    async def start(self) -> None:
        if self.connection is None:
            return
        self.seen, self.elsewhere = {}, {}
        await self._sample(baseline=True)
        self.reaped = self._reaped()
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> DatabaseFigures | None:
        if self.connection is None:
            return None
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        alive, alive_elsewhere = await self._sample(baseline=False)
        reaped = self._reaped() - self.reaped
        reaped -= sum(cpu for pid, cpu in self.elsewhere.items() if pid not in alive_elsewhere)
        sampled = sum(latest - first for first, latest in self.seen.values())
        living = sum(latest - first for pid, (first, latest) in self.seen.items() if pid in alive)
        ended_before = sum(first for pid, (first, _) in self.seen.items() if pid not in alive)
        return DatabaseFigures(sampled, living + max(0.0, reaped - ended_before), len(self.seen))


@dataclass
class Phase:
    rate: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_ms: float = 0.0  # bot process, per message
    db_ms: float | None = None  # per message, backends sampled
    db_all_ms: float | None = None  # per message, with the backends that ended meanwhile
    backends: int | None = None
    bench_ms: float = 0.0  # the bench process (the fake server), per message
    others: float = 0.0  # cores kept busy by every other process of the machine, on average
    lost: int = 0
    duplicated: int = 0
    calls: Counter[str] = field(default_factory=Counter)


@dataclass
class Run:
    bot: str
    inbound: Phase
    outbound: Phase
    rss_mb: float


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def run_phase(
    fake: TimedTelegram,
    updates: list[dict[str, Any]],
    tracker: Tracker,
    pid: int,
    database: DatabaseCpu,
) -> Phase:
    users = len(updates)
    requests_before = len(fake.requests)
    await database.start()
    cpu_before, bench_before = process_cpu(pid), time.process_time()
    busy_before = machine_busy()
    queued = time.monotonic()
    fake.inject(*updates)
    deadline = queued + PHASE_TIMEOUT
    # Polling the fake's records: waking on each of its changes would cost the bench CPU per
    # request, on the cores the bots use; the times come from the fake, not from this loop.
    while tracker.scan() < users and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await quiet(fake)  # every send of the phase made (ours also answers the users)
    cpu = process_cpu(pid) - cpu_before
    bench = time.process_time() - bench_before
    busy = machine_busy() - busy_before
    window = time.monotonic() - queued
    db = await database.stop()
    others = busy - cpu - bench - (db.with_ended if db is not None else 0.0)
    tracker.scan()
    latencies = [at - queued for at in tracker.first.values()]
    last = max(tracker.first.values(), default=queued + 1e-9)
    return Phase(
        rate=len(tracker.first) / (last - queued),
        p50_ms=percentile(latencies, 0.50) * 1000 if latencies else float("nan"),
        p99_ms=percentile(latencies, 0.99) * 1000 if latencies else float("nan"),
        cpu_ms=cpu / users * 1000,
        db_ms=None if db is None else db.sampled / users * 1000,
        db_all_ms=None if db is None else db.with_ended / users * 1000,
        backends=None if db is None else db.backends,
        bench_ms=bench / users * 1000,
        others=max(0.0, others) / window,
        lost=tracker.lost(),
        duplicated=tracker.duplicated(),
        calls=Counter(
            r.method for r in fake.requests[requests_before:] if r.method != "getUpdates"
        ),
    )


def write_config(directory: Path, fake: FakeTelegram, url: str, postgres: bool) -> Path:
    config = directory / "config.toml"
    config.write_text(
        f"""
[database]
url = "{url}"

[staff]
channel = "telegram"
chat_id = "{STAFF_FORUM}"

[telegram]
enabled = true
token = "{fake.token}"
api_base_url = "{fake.base_url}"
mode = "polling"
polling_timeout = 1

[engine]
workers = {4 if postgres else 1}

[knowledge]
semantic = false

[console]
enabled = false
""",
        encoding="utf-8",
    )
    return config


def log_text(log: Path) -> str:
    return log.read_text(errors="replace")


async def start_process(
    bot: str, fake: TimedTelegram, directory: Path, url: str, postgres: bool, log: Path
) -> asyncio.subprocess.Process:
    if bot == "ours":
        config = write_config(directory, fake, url, postgres)
        command = ["-c", HELPDESK_UNPACED, "--config", str(config), "run"]
        ready = "helpdesk running"
    else:
        command = [
            str(ROOT / "bench" / "relay_peer.py"),
            "--token", fake.token,
            "--api-base-url", fake.base_url,
            "--staff-chat-id", str(STAFF_FORUM),
            "--database-url", url,
            "--polling-timeout", "1",
        ]  # fmt: skip
        ready = "peer polling"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *command, stdout=out, stderr=out, cwd=ROOT
        )
    deadline = time.monotonic() + START_TIMEOUT
    while ready not in log_text(log) or not fake.calls("getUpdates"):
        if process.returncode is not None or time.monotonic() > deadline:
            tail = "\n".join(log_text(log).splitlines()[-20:])
            raise RuntimeError(f"{bot} did not start:\n{tail}")
        await asyncio.sleep(0.1)
    # Start-up chores (the staff chat check, commands) are done before the clock starts.
    await asyncio.sleep(1.0)
    await quiet(fake, within=10)
    return process


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def warm_up(fake: TimedTelegram) -> None:
    """A few users go both ways before the clock starts: first-call costs (pydantic building
    its models lazily, SQLAlchemy's statement cache, the first connections) are not relays."""
    numbers = [WARM_UP_FIRST + n for n in range(WARM_UP_USERS)]
    for number in numbers:
        fake.add_user(number, f"User{number}")
    inbound = Tracker(fake, "q", dict.fromkeys(numbers, STAFF_FORUM))
    fake.inject(*(fake.make_text_update(n, question(n)) for n in numbers))
    await settle(fake, inbound, len(numbers))
    outbound = Tracker(fake, "a", {n: n for n in inbound.thread})
    fake.inject(
        *(
            fake.make_topic_message_update(STAFF_FORUM, thread, AGENT, answer(n))
            for n, thread in inbound.thread.items()
        )
    )
    await settle(fake, outbound, len(inbound.thread))
    if inbound.lost() or outbound.lost():
        raise RuntimeError("the warm-up relays did not all arrive")


async def settle(fake: TimedTelegram, tracker: Tracker, count: int) -> None:
    deadline = time.monotonic() + 60
    while tracker.scan() < count and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    await quiet(fake)


async def quiet(fake: TimedTelegram, within: float = 30) -> None:
    """Until the bot has called nothing but getUpdates for QUIET seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() - fake.busy_at() < QUIET and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)


async def run_bot(bot: str, users: int, directory: Path, url: str, postgres: str | None) -> Run:
    numbers = [FIRST_USER + n for n in range(users)]
    database = DatabaseCpu(postgres)
    async with TimedTelegram() as fake:
        fake.add_chat(STAFF_FORUM, title="Support", is_forum=True)
        fake.add_user(AGENT, "Agent")
        for number in numbers:
            fake.add_user(number, f"User{number}")
        log = directory / f"{bot}.log"
        process = await start_process(bot, fake, directory, url, postgres is not None, log)
        await database.open()
        try:
            await warm_up(fake)
            inbound = Tracker(fake, "q", dict.fromkeys(numbers, STAFF_FORUM))
            updates = [fake.make_text_update(n, question(n)) for n in numbers]
            first = await run_phase(fake, updates, inbound, process.pid, database)
            outbound = Tracker(fake, "a", {n: n for n in numbers if n in inbound.thread})
            updates = [
                fake.make_topic_message_update(STAFF_FORUM, inbound.thread[n], AGENT, answer(n))
                for n in numbers
                if n in inbound.thread
            ]
            second = await run_phase(fake, updates, outbound, process.pid, database)
            second.lost += users - len(updates)  # no topic: no answer could be written
            rss = process_rss_mb(process.pid)
        finally:
            await stop_process(process)
            await database.close()
        if first.lost or second.lost:
            tail = log_text(log).splitlines()[-10:]
            print(f"  {bot}: lost relays; its log ends with:", *tail, sep="\n    ")
    return Run(bot, first, second, rss)


def spread(values: list[float], digits: int = 0) -> str:
    if any(v is None for v in values):
        return "n/a"
    low, mid, high = min(values), statistics.median(values), max(values)
    if len(values) == 1:
        return f"{mid:,.{digits}f}"
    return f"{mid:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


def ratio(ours: list[float], peer: list[float]) -> str:
    if any(v is None for v in ours + peer) or not statistics.median(peer):
        return "n/a"
    return f"{statistics.median(ours) / statistics.median(peer):.2f}"


def report(runs: list[Run], backend: str, users: int, repeat: int) -> None:
    ours = [r for r in runs if r.bot == "ours"]
    peer = [r for r in runs if r.bot == "peer"]
    print(
        f"\n### {backend}, {users} users, {repeat} repetition(s): median (min-max)\n"
        "\n| direction | figure | ours: helpdesk run | peer: bare aiogram relay | ours/peer |"
        "\n|---|---|---|---|---|"
    )
    figures = [
        ("msg/s", lambda p: p.rate, 0),
        ("p50 latency, ms", lambda p: p.p50_ms, 0),
        ("p99 latency, ms", lambda p: p.p99_ms, 0),
        ("bot process CPU, ms/msg", lambda p: p.cpu_ms, 2),
        ("database CPU (backends sampled), ms/msg", lambda p: p.db_ms, 2),
        ("database CPU (+ backends that ended), ms/msg", lambda p: p.db_all_ms, 2),
        ("database backends seen", lambda p: p.backends, 0),
        ("bench process (fake server) CPU, ms/msg", lambda p: p.bench_ms, 2),
        ("other processes of the machine, cores busy (of 2)", lambda p: p.others, 2),
        ("lost / duplicated, total", None, 0),
    ]
    for direction, phase_of in (
        ("users -> staff", lambda r: r.inbound),
        ("staff -> users", lambda r: r.outbound),
    ):
        for name, get, digits in figures:
            if get is None:
                o = f"{sum(phase_of(r).lost for r in ours)} / "
                o += f"{sum(phase_of(r).duplicated for r in ours)}"
                p = f"{sum(phase_of(r).lost for r in peer)} / "
                p += f"{sum(phase_of(r).duplicated for r in peer)}"
                print(f"| {direction} | {name} | {o} | {p} | |")
                continue
            a = [get(phase_of(r)) for r in ours]
            b = [get(phase_of(r)) for r in peer]
            print(f"| {direction} | {name} | {spread(a, digits)} | {spread(b, digits)} "
                  f"| {ratio(a, b)} |")  # fmt: skip
    a, b = [r.rss_mb for r in ours], [r.rss_mb for r in peer]
    print(f"| both | RSS at the end, MB | {spread(a)} | {spread(b)} | {ratio(a, b)} |")
    for bot, group in (("ours", ours), ("peer", peer)):
        for direction, phase_of in (("in", lambda r: r.inbound), ("out", lambda r: r.outbound)):
            calls = Counter()
            for run in group:
                calls.update(phase_of(run).calls)
            per = ", ".join(
                f"{method} {count / len(group) / users:.2f}"
                for method, count in calls.most_common()
            )
            print(f"{bot} {direction}: API calls per message: {per}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--postgres", nargs="?", const=POSTGRES_DEFAULT, default=None,
        help=f"run on PostgreSQL (default {POSTGRES_DEFAULT}, emptied before each bot run)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="50 users, 1 repetition")
    parser.add_argument(
        "--wait-quiet", type=float, default=30, metavar="SECONDS",
        help="before each bot run, wait up to this long for the machine to be idle (default 30)",
    )  # fmt: skip
    args = parser.parse_args()
    users, repeat = (50, 1) if args.quick else (args.users, args.repeat)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    started = time.monotonic()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
        for repetition in range(repeat):
            for bot in ("ours", "peer"):
                directory = Path(tmp) / f"{bot}-{repetition}"
                directory.mkdir()
                load = await machine_quiet(args.wait_quiet)
                if load >= 0.25:
                    print(f"  the machine stays busy ({load:.2f} cores): measuring anyway")
                if args.postgres:
                    await reset_postgres(args.postgres)
                    url = args.postgres
                else:
                    url = f"sqlite+aiosqlite:///{directory}/{bot}.sqlite3"
                run = await run_bot(bot, users, directory, url, args.postgres)
                runs.append(run)
                print(
                    f"repetition {repetition + 1} {bot}: "
                    f"in {run.inbound.rate:.0f} msg/s, out {run.outbound.rate:.0f} msg/s, "
                    f"lost {run.inbound.lost}/{run.outbound.lost}, "
                    f"dup {run.inbound.duplicated}/{run.outbound.duplicated}, "
                    f"other processes {run.inbound.others:.2f}/{run.outbound.others:.2f} cores "
                    f"({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
        if args.postgres:
            await reset_postgres(args.postgres)
    report(runs, backend, users, repeat)
    print(f"\ntotal {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
