"""Admin commands: editing the knowledge base from inside the messenger."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.commands import Command
from core.domain import FaqDraft, FaqEntry, Role
from core.knowledge_base import KnowledgeBase, Thresholds
from core.router import Place, Router
from core.staff.faq_format import FaqFields, FaqFormatError, parse_faq_fields
from core.text import shorten
from core.turn import Turn

log = logging.getLogger(__name__)

LIST_LIMIT = 50


@dataclass(eq=False)
class AdminCommands:
    """In a private chat with the bot or in a staff chat; admins only."""

    knowledge: KnowledgeBase
    thresholds: Thresholds

    def register(self, router: Router) -> None:
        for name, handler in (
            ("faq_add", self._faq_add),
            ("faq_edit", self._faq_edit),
            ("faq_variant", self._faq_variant),
            ("faq_del", self._faq_del),
            ("faq_list", self._faq_list),
            ("faq_show", self._faq_show),
            ("faq_test", self._faq_test),
            ("faq_candidates", self._faq_candidates),
            ("faq_approve", self._faq_approve),
            ("faq_reject", self._faq_reject),
        ):
            router.add(
                name, handler, role=Role.ADMIN, place=Place.ANYWHERE, help=f"help.admin.{name}"
            )

    # -- knowledge base

    async def _faq_add(self, turn: Turn, command: Command) -> None:
        fields = await self._fields(turn, command.args, "admin.usage.faq_add")
        if fields is None:
            return
        if not fields.question or not fields.answer:
            await turn.reply(turn.t("admin.usage.faq_add"))
            return
        draft = FaqDraft(
            question=fields.question,
            answer=fields.answer,
            language=fields.language or turn.language,
            variants=tuple(fields.variants),
            category=fields.category,
            enabled=True if fields.enabled is None else fields.enabled,
        )
        entry = await self.create_entry(turn, draft)
        await turn.reply(turn.t("admin.faq_added", id=entry.id))

    async def create_entry(self, turn: Turn, draft: FaqDraft) -> FaqEntry:
        """A new entry, audited, answered from as soon as the turn commits."""
        entry = await turn.tx.faq.create(draft, turn.now)
        await self._audit(turn, "faq.create", entry.id, None, entry)
        self._publish(turn, entry)
        return entry

    async def add_variant(self, turn: Turn, entry: FaqEntry, text: str) -> FaqEntry:
        """Another wording of `entry`'s question, audited and matched after the commit."""
        updated = await turn.tx.faq.add_variant(entry.id, text, turn.now)
        await self._audit(turn, "faq.variant", entry.id, entry, updated)
        self._publish(turn, updated)
        return updated

    async def update_entry(self, turn: Turn, entry: FaqEntry, draft: FaqDraft) -> FaqEntry:
        updated = await turn.tx.faq.update(entry.id, draft, turn.now)
        await self._audit(turn, "faq.update", entry.id, entry, updated)
        self._publish(turn, updated)
        return updated

    async def delete_entry(self, turn: Turn, entry: FaqEntry) -> None:
        await turn.tx.faq.delete(entry.id)
        await self._audit(turn, "faq.delete", entry.id, entry, None)
        turn.after_commit.append(lambda: self.knowledge.remove(entry.id))

    async def _faq_edit(self, turn: Turn, command: Command) -> None:
        entry = await self._entry(turn, command, "admin.usage.faq_edit")
        if entry is None:
            return
        fields = await self._fields(
            turn,
            command.args.split(None, 1)[1] if len(command.words) > 1 else "",
            "admin.usage.faq_edit",
        )
        if fields is None:
            return
        draft = FaqDraft(
            question=fields.question or entry.question,
            answer=fields.answer or entry.answer,
            language=fields.language or entry.language,
            variants=tuple(fields.variants) if fields.variants else entry.variants,
            category=fields.category or entry.category,
            enabled=entry.enabled if fields.enabled is None else fields.enabled,
        )
        await self.update_entry(turn, entry, draft)
        await turn.reply(turn.t("admin.faq_updated", id=entry.id))

    async def _faq_variant(self, turn: Turn, command: Command) -> None:
        text = command.args.split(None, 1)[1].strip() if len(command.words) > 1 else ""
        entry = await self._entry(turn, command, "admin.usage.faq_variant", needs_more=not text)
        if entry is None:
            return
        await self.add_variant(turn, entry, text)
        await turn.reply(turn.t("admin.faq_variant_added", id=entry.id))

    async def _faq_del(self, turn: Turn, command: Command) -> None:
        entry = await self._entry(turn, command, "admin.usage.faq_del")
        if entry is None:
            return
        await self.delete_entry(turn, entry)
        await turn.reply(turn.t("admin.faq_deleted", id=entry.id))

    async def _faq_list(self, turn: Turn, command: Command) -> None:
        category = command.args.strip().lower() or None
        entries = [
            e
            for e in await turn.tx.faq.list(include_disabled=True)
            if category is None or (e.category or "").lower() == category
        ]
        if not entries:
            await turn.reply(turn.t("admin.faq_list_empty"))
            return
        lines = [_list_line(turn, e) for e in entries[:LIST_LIMIT]]
        if len(entries) > LIST_LIMIT:
            lines.append(turn.t("admin.faq_list_more", count=len(entries) - LIST_LIMIT))
        await turn.reply(
            turn.t("admin.faq_list_header", count=len(entries)) + "\n" + "\n".join(lines)
        )

    async def _faq_show(self, turn: Turn, command: Command) -> None:
        entry = await self._entry(turn, command, "admin.usage.faq_show")
        if entry is None:
            return
        await turn.reply(
            turn.t(
                "admin.faq_show",
                id=entry.id,
                language=entry.language,
                category=entry.category or "—",
                enabled=turn.t("admin.yes") if entry.enabled else turn.t("admin.no"),
                question=entry.question,
                variants="\n".join(f"• {v}" for v in (*entry.variants, *entry.learned)) or "—",
                answer=entry.answer,
                counters=turn.t(
                    "admin.faq_counters",
                    count=entry.hits,
                    helpful=entry.helpful,
                    unhelpful=entry.unhelpful,
                ),
            )
        )

    async def _faq_test(self, turn: Turn, command: Command) -> None:
        question = command.args.strip()
        if not question:
            await turn.reply(turn.t("admin.usage.faq_test"))
            return
        matches = self.knowledge.search(question, turn.language, limit=5)
        decision = self.thresholds.decide(matches)
        lines = [
            turn.t("admin.faq_test_line", id=m.entry_id, score=round(m.confidence, 2),
                   question=shorten(m.question, 80))
            for m in matches
        ]  # fmt: skip
        await turn.reply(
            turn.t(
                "admin.faq_test",
                decision=turn.t(f"admin.decision.{decision.value}"),
                answer=round(self.thresholds.answer, 2),
                suggest=round(self.thresholds.suggest, 2),
                matches="\n".join(lines) or "—",
            )
        )

    # -- wordings learned from traffic

    async def _faq_candidates(self, turn: Turn, command: Command) -> None:
        candidates = await turn.tx.learned.candidates(limit=LIST_LIMIT)
        if not candidates:
            await turn.reply(turn.t("admin.candidates_empty"))
            return
        lines = [
            turn.t("admin.candidate_line", variant=c.id, id=c.entry_id, text=shorten(c.text, 120))
            for c in candidates
        ]
        await turn.reply(turn.t("admin.candidates_header") + "\n" + "\n".join(lines))

    async def _faq_approve(self, turn: Turn, command: Command) -> None:
        await self._review(turn, command, approve=True)

    async def _faq_reject(self, turn: Turn, command: Command) -> None:
        await self._review(turn, command, approve=False)

    async def _review(self, turn: Turn, command: Command, *, approve: bool) -> None:
        variant_id = command.int_arg()
        if variant_id is None:
            await turn.reply(turn.t("admin.usage.faq_review"))
            return
        entry_id = await turn.tx.learned.review(variant_id, approve)
        if entry_id is None:
            await turn.reply(turn.t("admin.candidate_not_found", variant=variant_id))
            return
        action = "faq.variant_approved" if approve else "faq.variant_rejected"
        await turn.audit(action, "faq", entry_id, after={"variant": variant_id})
        if approve:
            entry = await turn.tx.faq.get(entry_id)
            if entry is not None:
                self._publish(turn, entry)
        key = "admin.candidate_approved" if approve else "admin.candidate_rejected"
        await turn.reply(turn.t(key, variant=variant_id, id=entry_id))

    # -- helpers

    async def _fields(self, turn: Turn, text: str, usage_key: str) -> FaqFields | None:
        try:
            return parse_faq_fields(text)
        except FaqFormatError as error:
            await turn.reply(
                turn.t("admin.faq_bad_field", field=error.field) + "\n\n" + turn.t(usage_key)
            )
            return None

    async def _entry(
        self, turn: Turn, command: Command, usage: str, needs_more: bool = False
    ) -> FaqEntry | None:
        """The entry whose number comes first in the arguments; the usage when there is none
        (or `needs_more`: the rest is missing), a note when there is no such entry."""
        entry_id = command.int_arg()
        if entry_id is None or needs_more:
            await turn.reply(turn.t(usage))
            return None
        entry = await turn.tx.faq.get(entry_id)
        if entry is None:
            await turn.reply(turn.t("admin.faq_not_found", id=entry_id))
        return entry

    def _publish(self, turn: Turn, entry: FaqEntry) -> None:
        """Make the change visible to the next question once it is committed."""
        turn.after_commit.append(lambda: self.knowledge.upsert(entry))

    async def _audit(
        self,
        turn: Turn,
        action: str,
        entry_id: int,
        before: FaqEntry | None,
        after: FaqEntry | None,
    ) -> None:
        await turn.audit(
            action,
            "faq",
            entry_id,
            before=before and before.as_record(),
            after=after and after.as_record(),
        )


def _list_line(turn: Turn, entry: FaqEntry) -> str:
    return turn.t(
        "admin.faq_list_line",
        id=entry.id,
        language=entry.language,
        category=entry.category or "—",
        question=shorten(entry.question, 70),
        off="" if entry.enabled else turn.t("admin.disabled_mark"),
        count=entry.hits,
    )
