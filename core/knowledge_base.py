"""The knowledge base as the engine sees it: the enabled entries in memory plus the matcher's index.

Reads never touch the database; every FAQ change is applied here after its transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.domain import FaqEntry, Match
from core.ports import Matcher


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
    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.entries: dict[int, FaqEntry] = {}

    def load(self, entries: Sequence[FaqEntry]) -> None:
        self.entries = {e.id: e for e in entries if e.enabled}
        self.matcher.rebuild(list(self.entries.values()))

    def upsert(self, entry: FaqEntry) -> None:
        if not entry.enabled:
            self.remove(entry.id)
            return
        self.entries[entry.id] = entry
        self.matcher.upsert(entry)

    def remove(self, entry_id: int) -> None:
        if self.entries.pop(entry_id, None) is not None:
            self.matcher.remove(entry_id)

    def sync(self, entries: Sequence[FaqEntry]) -> int:
        """Bring the index in line with `entries` (the enabled ones, as stored), touching only
        entries whose content changed; returns how many did. Counters do not count."""
        wanted = {e.id: e for e in entries if e.enabled}
        changed = [e for e in wanted.values() if _content(self.entries.get(e.id)) != _content(e)]
        gone = [entry_id for entry_id in self.entries if entry_id not in wanted]
        for entry in changed:
            self.upsert(entry)
        for entry_id in gone:
            self.remove(entry_id)
        return len(changed) + len(gone)

    def get(self, entry_id: int) -> FaqEntry | None:
        return self.entries.get(entry_id)

    def terms(self, text: str) -> frozenset[str]:
        return self.matcher.terms(text)

    def search(self, text: str, language: str | None, limit: int = 3) -> list[Match]:
        return [m for m in self.matcher.match(text, language, limit) if m.entry_id in self.entries]
