"""Start-up of the knowledge base as `helpdesk run` does it (read the entries, build the
matcher's index), at 200 and 10,000 entries, each start in a fresh process:

- fuzzy: `[knowledge] semantic = false`, the baseline measured in the same run;
- semantic, first start: every wording and answer encoded (in worker threads) and kept in the
  database;
- semantic, restart: the same knowledge base again; the kept vectors are read, nothing is
  encoded;
- semantic, an edit: one entry gets a new wording after the start (what `/faq_variant` does):
  only that wording is encoded, in a worker thread.

For each: seconds, texts encoded, resident memory after the start (MB), the first question's
time, and the longest the event loop was held (a ticker every 5 ms; at start the index is built
before intake begins, so only the edit's figure is what a question arriving meanwhile would
wait). Synthetic entries as in `matcher_latency.py` (a question, two variants, an answer).

    python bench/startup.py [--sizes 200,10000]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matcher_latency import SyntheticBase, _rss_mb  # noqa: E402

from core.domain import FaqDraft  # noqa: E402
from core.knowledge_base import KnowledgeBase  # noqa: E402
from core.work import utc_now  # noqa: E402
from knowledge.semantic import create_matcher  # noqa: E402
from storage import open_store  # noqa: E402

TICK = 0.005


class LoopWatch:
    """The longest the event loop was held while the watch ran."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task | None = None
        self._tick_started = time.perf_counter()

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        # A stall that lasts to the end was not seen by the ticker yet.
        self.longest = max(self.longest, time.perf_counter() - self._tick_started - TICK)

    async def _tick(self) -> None:
        while True:
            self._tick_started = time.perf_counter()
            await asyncio.sleep(TICK)
            self.longest = max(self.longest, time.perf_counter() - self._tick_started - TICK)


async def fill(url: str, size: int) -> None:
    store = await open_store(url)
    try:
        async with store.transaction() as tx:
            for entry in SyntheticBase().entries(size):
                draft = FaqDraft(entry.question, entry.answer, entry.language, entry.variants)
                await tx.faq.create(draft, utc_now())
    finally:
        await store.close()


async def start(url: str, semantic: bool, edit: bool) -> dict[str, float]:
    started = time.perf_counter()
    store = await open_store(url)
    try:
        async with store.transaction() as tx:
            entries = await tx.faq.list(include_disabled=False)
        knowledge = KnowledgeBase(create_matcher(semantic=semantic), store)
        encoded = EncodeCounter(knowledge)
        async with LoopWatch() as watch:
            await knowledge.load(entries)
        loaded = time.perf_counter()
        knowledge.search(entries[0].question, entries[0].language)
        figures = {
            "seconds": loaded - started,
            "first_question_ms": (time.perf_counter() - loaded) * 1000,
            "encoded": encoded.count,
            "rss_mb": _rss_mb(),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "loop_held_ms": watch.longest * 1000,
        }
        if edit:
            entry = entries[len(entries) // 2]
            edited = dataclasses.replace(entry, variants=(*entry.variants, "a wording added"))
            encoded.count = 0
            began = time.perf_counter()
            async with LoopWatch() as watch:
                await knowledge.upsert(edited)
            figures |= {
                "edit_ms": (time.perf_counter() - began) * 1000,
                "edit_encoded": encoded.count,
                "edit_loop_held_ms": watch.longest * 1000,
            }
        return figures
    finally:
        await store.close()


class EncodeCounter:
    """Counts the texts the knowledge base hands to the encoder."""

    def __init__(self, knowledge: KnowledgeBase) -> None:
        self.count = 0
        cache = knowledge.matcher.vectors
        if cache is not None:
            encode = cache.encode

            def counted(texts):
                self.count += len(texts)
                return encode(texts)

            cache.encode = counted


def _child(args: tuple[str, bool, bool]) -> dict[str, float]:
    return asyncio.run(start(*args))


def in_fresh_process(url: str, semantic: bool, edit: bool = False) -> dict[str, float]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_child, ((url, semantic, edit),))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="200,10000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    print(
        "| entries | start | seconds | texts encoded | RSS MB (peak) | first question ms "
        "| longest event-loop stall ms |"
    )
    print("|---|---|---|---|---|---|---|")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/startup.sqlite3"
            asyncio.run(fill(url, size))
            runs = [
                ("fuzzy (baseline)", in_fresh_process(url, False)),
                ("semantic, first start", in_fresh_process(url, True)),
                ("semantic, restart", in_fresh_process(url, True, edit=True)),
            ]
            for name, f in runs:
                print(
                    f"| {size:,} | {name} | {f['seconds']:.2f} | {f['encoded']:,} | "
                    f"{f['rss_mb']:.0f} ({f['peak_mb']:.0f}) | {f['first_question_ms']:.1f} | "
                    f"{f['loop_held_ms']:.0f} |"
                )
            f = runs[-1][1]
            print(
                f"| {size:,} | semantic, an edit after the restart | {f['edit_ms'] / 1000:.3f} | "
                f"{f['edit_encoded']} | | | {f['edit_loop_held_ms']:.1f} |"
            )


if __name__ == "__main__":
    main()
