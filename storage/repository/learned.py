"""Wordings learned from traffic: a user's question that an article turned out to answer,
kept as a candidate variant of that entry until an admin approves or rejects it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update

from core.domain import LearnedVariant
from storage.models import faq_entries, faq_variants
from storage.repository._sql import Repository
from storage.repository.faq import APPROVED, bump_revision

CANDIDATE = "candidate"
REJECTED = "rejected"
LEARNED = "learned"
# A wording longer than this is a story, not a way to ask the question.
MAX_LEARNED_LENGTH = 200

_KNOWN_WORDING = select(faq_variants.c.id).where(
    faq_variants.c.entry_id == bindparam("entry_id"),
    func.lower(faq_variants.c.text) == bindparam("lowered"),
)
_QUESTION = select(faq_entries.c.question).where(faq_entries.c.id == bindparam("entry_id"))
_INSERT = insert(faq_variants).returning(faq_variants.c.id)
_CANDIDATES = (
    select(
        faq_variants.c.id, faq_variants.c.entry_id, faq_variants.c.text, faq_variants.c.created_at
    )
    .where(faq_variants.c.status == CANDIDATE)
    .order_by(faq_variants.c.id)
    .limit(bindparam("limit"))
)
_REVIEW = (
    update(faq_variants)
    .where(faq_variants.c.id == bindparam("variant_id"), faq_variants.c.status == CANDIDATE)
    .values(status=bindparam("status"))
    .returning(faq_variants.c.entry_id)
)


class LearnedRepository(Repository):
    """`core.store.LearnedWordings` over SQL."""

    def add(self, entry_id: int, text: str, now: datetime) -> int | None:
        """The new candidate's id; None when the wording is empty, too long, or already known for
        the entry (as its question or any variant, whatever its status: a rejected wording is not
        proposed again)."""
        wording = " ".join(text.split())
        if not wording or len(wording) > MAX_LEARNED_LENGTH:
            return None
        question = self.conn.execute(_QUESTION, {"entry_id": entry_id}).scalar_one_or_none()
        if question is None or question.lower() == wording.lower():
            return None
        params = {"entry_id": entry_id, "lowered": wording.lower()}
        if self.conn.execute(_KNOWN_WORDING, params).first() is not None:
            return None
        row = {"entry_id": entry_id, "text": wording, "source": LEARNED, "status": CANDIDATE,
               "created_at": now}  # fmt: skip
        return self.conn.execute(_INSERT, row).scalar_one()

    def candidates(self, limit: int = 20) -> list[LearnedVariant]:
        rows = self.conn.execute(_CANDIDATES, {"limit": limit})
        return [LearnedVariant(r.id, r.entry_id, r.text, r.created_at) for r in rows]

    def review(self, variant_id: int, approve: bool) -> int | None:
        """Approve (the matcher starts using it) or reject a candidate; returns its entry's id, or
        None when there is no such candidate."""
        status = APPROVED if approve else REJECTED
        entry_id = self.conn.execute(
            _REVIEW, {"variant_id": variant_id, "status": status}
        ).scalar_one_or_none()
        if entry_id is not None and approve:
            bump_revision(self.conn)
        return entry_id
