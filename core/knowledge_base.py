"""The knowledge base as the engine sees it: the enabled entries in memory plus the matcher's index.

Reads never touch the database; every FAQ change is applied here after its transaction commits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.domain import FaqEntry, Match
from core.ports import Matcher
from core.store import Store

log = logging.getLogger(__name__)

# Texts per encoding step: a worker thread's turn, and one statement's worth of vectors to keep.
ENCODE_BATCH = 256


class Decision(StrEnum):
    ANSWER = "answer"  # confident: send the article
    SUGGEST = "suggest"  # unsure: offer the closest articles as buttons
    TICKET = "ticket"  # nothing fits: a person has to help


@dataclass(frozen=True)
class Thresholds:
    answer: float
    suggest: float

    def decide(self, matches: Sequence[Match]) -> Decision:
        top = matches[0].confidence if matches else 0.0
        if top >= self.answer:
            return Decision.ANSWER
        if top >= self.suggest:
            return Decision.SUGGEST
        return Decision.TICKET


def _content(entry: FaqEntry | None) -> tuple | None:
    if entry is None:
        return None
    return (
        entry.question,
        entry.variants,
        entry.learned,
        entry.answer,
        entry.language,
        entry.category,
    )


class KnowledgeBase:
    def __init__(self, matcher: Matcher, store: Store | None = None) -> None:
        self.matcher = matcher
        self.store = store  # where sentence vectors are kept between runs; None: nowhere
        self.entries: dict[int, FaqEntry] = {}

    async def load(self, entries: Sequence[FaqEntry]) -> None:
        enabled = [e for e in entries if e.enabled]
        if not await self._prepare(enabled) and self.matcher.vectors is not None:
            # The encoder's first call is slow (about a second): after a start that encoded
            # nothing it is made here, in a worker thread, not on the first question.
            await asyncio.to_thread(self.matcher.vectors.encode, ["warm-up"])
        self.entries = {e.id: e for e in enabled}
        self.matcher.rebuild(enabled)

    async def upsert(self, entry: FaqEntry) -> None:
        await self._prepare([entry])
        self._put(entry)

    def remove(self, entry_id: int) -> None:
        if self.entries.pop(entry_id, None) is not None:
            self.matcher.remove(entry_id)

    async def sync(self, entries: Sequence[FaqEntry]) -> int:
        """Bring the index in line with `entries` (the enabled ones, as stored), touching only
        entries whose content changed; returns how many did. Counters do not count."""
        wanted = {e.id: e for e in entries if e.enabled}
        changed = [e for e in wanted.values() if _content(self.entries.get(e.id)) != _content(e)]
        gone = [entry_id for entry_id in self.entries if entry_id not in wanted]
        await self._prepare(changed)
        for entry in changed:
            self._put(entry)
        for entry_id in gone:
            self.remove(entry_id)
        return len(changed) + len(gone)

    def _put(self, entry: FaqEntry) -> None:
        if not entry.enabled:
            self.remove(entry.id)
            return
        self.entries[entry.id] = entry
        self.matcher.upsert(entry)

    async def _prepare(self, entries: Sequence[FaqEntry]) -> int:
        """Give the matcher the sentence vectors it will need for `entries`: those a run
        before kept in the database, the rest encoded in a worker thread (so an edit never
        stalls answers) and kept. Returns how many were encoded. The database is only a cache
        here: when it fails, the vectors are encoded and the next start encodes them again."""
        cache = self.matcher.vectors
        wanted = cache.wanted(entries) if cache is not None else []
        if cache is None or not wanted:
            return 0
        started = time.monotonic()
        kept = await self._kept(cache.model, wanted)
        cache.add(kept)
        missing = [text for text in wanted if text not in kept]
        for start in range(0, len(missing), ENCODE_BATCH):
            encoded = await asyncio.to_thread(cache.encode, missing[start : start + ENCODE_BATCH])
            cache.add(encoded)
            await self._keep(cache.model, encoded)
        log.info(
            "sentence vectors ready",
            extra={
                "kept": len(kept),
                "encoded": len(missing),
                "seconds": round(time.monotonic() - started, 3),
            },
        )
        return len(missing)

    async def _kept(self, model: str, texts: list[str]) -> dict[str, bytes]:
        if self.store is None:
            return {}
        try:
            async with self.store.transaction() as tx:
                return await tx.vectors.load(model, texts)
        except Exception as error:  # noqa: BLE001 - a cache: encode instead
            log.warning("stored sentence vectors unreadable", extra={"error": str(error)})
            return {}

    async def _keep(self, model: str, vectors: dict[str, bytes]) -> None:
        if self.store is None:
            return
        try:
            async with self.store.transaction() as tx:
                await tx.vectors.save(model, vectors)
        except Exception as error:  # noqa: BLE001 - a cache: the next start encodes again
            log.warning("sentence vectors not kept", extra={"error": str(error)})

    def get(self, entry_id: int) -> FaqEntry | None:
        return self.entries.get(entry_id)

    def terms(self, text: str) -> frozenset[str]:
        return self.matcher.terms(text)

    def search(self, text: str, language: str | None, limit: int = 3) -> list[Match]:
        return [m for m in self.matcher.match(text, language, limit) if m.entry_id in self.entries]
