"""Engine + outbox throughput: N user messages through the real engine, storage and outbox sender
with an in-memory recording channel, on SQLite and (when reachable) PostgreSQL.

Prints messages/s (from the first submit until every reply is delivered), p50/p99 handling latency
(submit -> committed), and, measured in the same run as the baseline, the storage layer's own
ceiling: bare transactions of three small inserts through the same SQLAlchemy async driver.

    python bench/throughput.py [--messages 3000] [--users 300] [--entries 1000]
    HELPDESK_BENCH_DATABASE_URL=postgresql+asyncpg://... python bench/throughput.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bot.engine import EngineConfig, build_engine  # noqa: E402
from channels.memory import RecordingAdapter  # noqa: E402
from core.conversation.ingest import Ingest  # noqa: E402
from core.delivery.outbox import OutboxConfig, OutboxSender  # noqa: E402
from core.domain import FaqDraft  # noqa: E402
from core.knowledge_base import KnowledgeBase  # noqa: E402
from core.messages import ConversationRef, IncomingMessage, Sender  # noqa: E402
from knowledge import sample_faq_path  # noqa: E402
from knowledge.io import read_entries  # noqa: E402
from knowledge.matcher import (  # noqa: E402
    DEFAULT_ANSWER_THRESHOLD,
    DEFAULT_SUGGEST_THRESHOLD,
    FuzzyMatcher,
)
from storage.database import open_store  # noqa: E402
from storage.store import StoreOptions  # noqa: E402

POSTGRES_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TOPICS = (
    "invoice printer vpn laptop badge parking salary mailbox wifi monitor keyboard license backup "
    "calendar phone teams disk shop"
).split()
ACTIONS = ["reset", "order", "cancel", "renew", "install", "repair", "configure", "return"]


def synthetic_faq(entries: int) -> list[FaqDraft]:
    """The sample knowledge base plus generated entries up to `entries`."""
    drafts = [draft for _, draft in read_entries(sample_faq_path())]
    rng = random.Random(7)
    while len(drafts) < entries:
        topic, action = rng.choice(TOPICS), rng.choice(ACTIONS)
        n = len(drafts)
        drafts.append(
            FaqDraft(
                question=f"How do I {action} my {topic} number {n}?",
                answer=f"To {action} your {topic} #{n}, open the portal and follow the steps.",
                language="en",
                variants=(f"{action} {topic} {n}", f"{topic} {n} {action} help"),
                category=topic,
            )
        )
    return drafts[:entries]


def workload(messages: int, users: int, faq: list[FaqDraft]) -> list[IncomingMessage]:
    """Each user asks a KB question or reports a problem (which opens a ticket, then follow-ups
    are appended to it): a realistic mix of answers, tickets and staff notifications."""
    rng = random.Random(11)
    out = []
    for i in range(messages):
        user = f"user{i % users}"
        if rng.random() < 0.6:
            text = rng.choice(faq).question
        else:
            text = (
                f"my {rng.choice(TOPICS)} broke again after the update, error {rng.randint(1, 999)}"
            )
        out.append(
            IncomingMessage(
                update_id=f"b{i}",
                conversation=ConversationRef("memory", f"chat-{user}"),
                sender=Sender(user, user, "en"),
                text=text,
                message_id=str(i),
            )
        )
    return out


async def run_engine(
    url: str, messages: int, users: int, entries: int, lanes: int, options: StoreOptions
) -> dict:
    store = await open_store(url, options=options)
    adapter = RecordingAdapter("memory")
    outbox = OutboxConfig(batch_size=500, poll_interval=0.05)
    sender = OutboxSender(store, {"memory": adapter}, outbox, clock=_utc)
    knowledge = KnowledgeBase(FuzzyMatcher())
    config = EngineConfig(
        ConversationRef("memory", "staff"), DEFAULT_ANSWER_THRESHOLD, DEFAULT_SUGGEST_THRESHOLD
    )
    engine = build_engine(config, store, knowledge, on_committed=sender.wake)
    faq = synthetic_faq(entries)
    async with store.transaction() as tx:
        for draft in faq:
            await tx.faq.create(draft, _utc())
    await engine.load_state()

    batch = workload(messages, users, faq)
    latencies: list[float] = []
    stop = asyncio.Event()
    sender_task = asyncio.create_task(sender.run(stop))

    async def submit(message: IncomingMessage) -> None:
        started = time.perf_counter()
        await ingest.submit(message)
        latencies.append(time.perf_counter() - started)

    ingest = Ingest(engine, lanes=lanes, batch_size=64)
    started = time.perf_counter()
    async with ingest:
        await asyncio.gather(*(submit(m) for m in batch))
    handled = time.perf_counter() - started
    while True:
        async with store.transaction() as tx:
            if await tx.outbox.count_pending() == 0:
                break
        await asyncio.sleep(0.01)
    total = time.perf_counter() - started
    stop.set()
    await sender_task
    await store.close()
    latencies.sort()
    return {
        "handled_per_s": messages / handled,
        "end_to_end_per_s": messages / total,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "replies": len(adapter.deliveries),
    }


async def run_baseline(url: str, transactions: int) -> float:
    """Bare SQLAlchemy async transactions of three small inserts: the storage path's ceiling."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS bench_baseline"))
        await conn.execute(text("CREATE TABLE bench_baseline (id INTEGER PRIMARY KEY, body TEXT)"))
        if url.startswith("sqlite"):
            await conn.execute(text("PRAGMA journal_mode=WAL"))
    started = time.perf_counter()
    for i in range(transactions):
        async with engine.begin() as conn:
            for j in range(3):
                await conn.execute(
                    text("INSERT INTO bench_baseline (id, body) VALUES (:id, :body)"),
                    {"id": i * 3 + j, "body": "x" * 40},
                )
    elapsed = time.perf_counter() - started
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE bench_baseline"))
    await engine.dispose()
    return transactions / elapsed


def matcher_latency(entries: int, queries: int = 500) -> tuple[float, float]:
    faq = synthetic_faq(entries)
    matcher = FuzzyMatcher()
    from core.domain import FaqEntry

    matcher.rebuild([FaqEntry(i + 1, d.question, d.answer, d.language, d.variants, d.category)
                     for i, d in enumerate(faq)])  # fmt: skip
    rng = random.Random(3)
    times = []
    for _ in range(queries):
        question = rng.choice(faq).question.lower().replace("how do i ", "")
        started = time.perf_counter()
        matcher.match(question, "en", 3)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.99) - 1] * 1000


def _utc():
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def reset_postgres(url: str) -> None:
    """Empty the benchmark database (its public schema): also used by telegram_e2e.py."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--entries", type=int, default=1000)
    args = parser.parse_args()

    for entries in (1000, 10_000):
        p50, p99 = matcher_latency(entries)
        print(f"matcher at {entries:>6} entries: p50 {p50:.3f} ms  p99 {p99:.3f} ms per query")

    backends = []
    with tempfile.TemporaryDirectory() as directory:
        # SQLite twice: synchronous=FULL (the default: acknowledged commits survive a power
        # loss) and NORMAL (the option), each on a fresh file: the cost of that safety.
        for mode in ("full", "normal"):
            url = f"sqlite+aiosqlite:///{directory}/bench-{mode}.sqlite3"
            backends.append((f"sqlite {mode}", url, 1, StoreOptions(sqlite_synchronous=mode)))
        postgres = os.environ.get("HELPDESK_BENCH_DATABASE_URL", POSTGRES_DEFAULT)
        backends.append(("postgresql", postgres, 4, StoreOptions()))
        for name, url, lanes, options in backends:
            try:
                if name == "postgresql":
                    await reset_postgres(url)
                baseline = await run_baseline(url, 1000)
                result = await run_engine(
                    url, args.messages, args.users, args.entries, lanes, options
                )
            except OSError as error:
                print(f"{name}: skipped ({error})")
                continue
            print(
                f"{name:>11}: {result['end_to_end_per_s']:7.0f} msg/s end to end "
                f"({result['handled_per_s']:.0f} msg/s handled), "
                f"latency p50 {result['p50_ms']:.1f} ms p99 {result['p99_ms']:.1f} ms, "
                f"{result['replies']} replies delivered | baseline: {baseline:.0f} bare "
                f"3-insert transactions/s"
            )
            if name == "postgresql":
                await reset_postgres(url)


if __name__ == "__main__":
    asyncio.run(main())
