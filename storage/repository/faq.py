"""The knowledge base: entries, their approved variants, counters and the revision number."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from core.domain import FaqDraft, FaqEntry
from storage.mapping import faq_entry_from_row
from storage.models import FAQ_REVISION, counters, faq_entries, faq_variants
from storage.repository._sql import Repository, insert_for, per_dialect

APPROVED = "approved"
ADMIN = "admin"  # faq_variants.source of the wordings an admin gave (else "learned")
FAQ_COUNTERS = frozenset({"hits", "helpful", "unhelpful"})

_ENTRY_BY_ID = select(faq_entries).where(faq_entries.c.id == bindparam("entry_id"))
_APPROVED_VARIANTS_OF = (
    select(faq_variants.c.text, faq_variants.c.source)
    .where(faq_variants.c.entry_id == bindparam("entry_id"), faq_variants.c.status == APPROVED)
    .order_by(faq_variants.c.id)
)
_INSERT_ENTRY = insert(faq_entries).returning(faq_entries.c.id)
_INSERT_VARIANT = insert(faq_variants)
# SET columns come from the parameters given at execution.
_UPDATE_ENTRY = update(faq_entries).where(faq_entries.c.id == bindparam("entry_id"))
# An admin's edit replaces the admin's wordings; approved learned ones stay.
_DELETE_ADMIN_VARIANTS = delete(faq_variants).where(
    faq_variants.c.entry_id == bindparam("entry_id"),
    faq_variants.c.status == APPROVED,
    faq_variants.c.source == ADMIN,
)
_DELETE_ENTRY = delete(faq_entries).where(faq_entries.c.id == bindparam("entry_id"))
_REVISION = select(counters.c.value).where(counters.c.name == FAQ_REVISION)
_bump_revision = per_dialect(
    lambda dialect: (
        insert_for(dialect, counters)
        .values(name=FAQ_REVISION, value=1)
        .on_conflict_do_update(index_elements=["name"], set_={"value": counters.c.value + 1})
    )
)


def bump_revision(conn: Connection) -> None:
    conn.execute(_bump_revision(conn))


def _distinct_variants(question: str, variants: Iterable[str]) -> list[str]:
    """Drop empty and repeated wordings, and the question itself; keep the order."""
    seen = {question}
    kept = []
    for variant in variants:
        if variant and variant not in seen:
            seen.add(variant)
            kept.append(variant)
    return kept


def _insert_variants(
    conn: Connection, entry_id: int, variants: Iterable[str], now: datetime
) -> None:
    rows = [
        {
            "entry_id": entry_id,
            "text": text,
            "source": ADMIN,
            "status": APPROVED,
            "created_at": now,
        }
        for text in variants
    ]
    if rows:
        conn.execute(_INSERT_VARIANT, rows)


def _require_faq(conn: Connection, entry_id: int) -> FaqEntry:
    entry = FaqRepository(conn).get(entry_id)
    if entry is None:
        raise KeyError(f"no FAQ entry {entry_id}")
    return entry


_COUNTER_UPDATES = {
    name: update(faq_entries)
    .where(faq_entries.c.id == bindparam("entry_id"))
    .values({name: faq_entries.c[name] + bindparam("by")})
    for name in FAQ_COUNTERS
}


class FaqRepository(Repository):
    """`core.store.Faq` over SQL."""

    def list(self, *, include_disabled: bool = True) -> list[FaqEntry]:
        entries = select(faq_entries).order_by(faq_entries.c.id)
        if not include_disabled:
            entries = entries.where(faq_entries.c.enabled.is_(True))
        variants = (
            select(faq_variants.c.entry_id, faq_variants.c.text, faq_variants.c.source)
            .where(faq_variants.c.status == APPROVED)
            .order_by(faq_variants.c.entry_id, faq_variants.c.id)
        )
        by_entry: dict[tuple[int, bool], list[str]] = defaultdict(list)
        for entry_id, text, source in self.conn.execute(variants):
            by_entry[(entry_id, source == ADMIN)].append(text)
        return [
            faq_entry_from_row(
                row, by_entry.get((row.id, True), ()), by_entry.get((row.id, False), ())
            )
            for row in self.conn.execute(entries)
        ]

    def get(self, entry_id: int) -> FaqEntry | None:
        row = self.conn.execute(_ENTRY_BY_ID, {"entry_id": entry_id}).first()
        if row is None:
            return None
        wordings = self.conn.execute(_APPROVED_VARIANTS_OF, {"entry_id": entry_id}).all()
        return faq_entry_from_row(
            row,
            [text for text, source in wordings if source == ADMIN],
            [text for text, source in wordings if source != ADMIN],
        )

    def create(self, draft: FaqDraft, now: datetime) -> FaqEntry:
        entry_id = self.conn.execute(
            _INSERT_ENTRY,
            {
                "question": draft.question,
                "answer": draft.answer,
                "language": draft.language,
                "category": draft.category,
                "enabled": draft.enabled,
                "hits": 0,
                "helpful": 0,
                "unhelpful": 0,
                "created_at": now,
                "updated_at": now,
            },
        ).scalar_one()
        variants = _distinct_variants(draft.question, draft.variants)
        _insert_variants(self.conn, entry_id, variants, now)
        bump_revision(self.conn)
        return FaqEntry(
            id=entry_id,
            question=draft.question,
            answer=draft.answer,
            language=draft.language,
            variants=tuple(variants),
            category=draft.category,
            enabled=draft.enabled,
        )

    def update(self, entry_id: int, draft: FaqDraft, now: datetime) -> FaqEntry:
        """The admin's variants are replaced; learned wordings (approved, candidate or rejected)
        are kept."""
        result = self.conn.execute(
            _UPDATE_ENTRY,
            {
                "entry_id": entry_id,
                "question": draft.question,
                "answer": draft.answer,
                "language": draft.language,
                "category": draft.category,
                "enabled": draft.enabled,
                "updated_at": now,
            },
        )
        if result.rowcount == 0:
            raise KeyError(f"no FAQ entry {entry_id}")
        self.conn.execute(_DELETE_ADMIN_VARIANTS, {"entry_id": entry_id})
        _insert_variants(
            self.conn, entry_id, _distinct_variants(draft.question, draft.variants), now
        )
        bump_revision(self.conn)
        return _require_faq(self.conn, entry_id)

    def add_variant(self, entry_id: int, text: str, now: datetime) -> FaqEntry:
        """Adding a wording the entry already has changes nothing."""
        entry = _require_faq(self.conn, entry_id)
        if not text or text in entry.phrasings:
            return entry
        _insert_variants(self.conn, entry_id, [text], now)
        self.conn.execute(_UPDATE_ENTRY, {"entry_id": entry_id, "updated_at": now})
        bump_revision(self.conn)
        return FaqEntry(
            id=entry.id,
            question=entry.question,
            answer=entry.answer,
            language=entry.language,
            variants=(*entry.variants, text),
            category=entry.category,
            enabled=entry.enabled,
            hits=entry.hits,
            helpful=entry.helpful,
            unhelpful=entry.unhelpful,
            learned=entry.learned,
        )

    def delete(self, entry_id: int) -> bool:
        # Variants go with the entry (ON DELETE CASCADE).
        deleted = self.conn.execute(_DELETE_ENTRY, {"entry_id": entry_id}).rowcount > 0
        if deleted:
            bump_revision(self.conn)
        return deleted

    def count_event(self, entry_id: int, counter: str, by: int = 1) -> None:
        """Statistics only: does not change the revision (the matcher's index is unaffected)."""
        statement = _COUNTER_UPDATES.get(counter)
        if statement is None:
            raise ValueError(f"unknown FAQ counter {counter!r}; one of {sorted(FAQ_COUNTERS)}")
        self.conn.execute(statement, {"entry_id": entry_id, "by": by})

    def revision(self) -> int:
        return self.conn.execute(_REVISION).scalar_one_or_none() or 0
