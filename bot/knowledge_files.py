"""Moving the whole knowledge base in and out of files (YAML/CSV), for the CLI and first start."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from pathlib import Path

from core.domain import AuditEntry, FaqDraft
from core.store import Store, Transaction
from knowledge import sample_faq_path
from knowledge.io import read_entries, write_entries

log = logging.getLogger(__name__)

IMPORT_ACTOR = "cli"
SETUP_CLAIM = "setup"  # one-off set-up steps are claimed like platform deliveries


@dataclasses.dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


async def import_file(
    store: Store, path: Path, now: datetime, actor: str = IMPORT_ACTOR
) -> ImportResult:
    """Entries whose id exists are replaced, the others are added. The file is validated first
    and imported in one transaction: a bad file changes nothing."""
    records = read_entries(path)
    async with store.transaction() as tx:
        result = await _import(tx, records, now, actor)
    log.info(
        "knowledge base imported",
        extra={"file": str(path), "added": result.created, "replaced": result.updated},
    )
    return result


async def _import(
    tx: Transaction, records: list[tuple[int | None, FaqDraft]], now: datetime, actor: str
) -> ImportResult:
    created = updated = 0
    for entry_id, draft in records:
        before = await tx.faq.get(entry_id) if entry_id is not None else None
        if before is None:
            after = await tx.faq.create(draft, now)
            created += 1
        else:
            after = await tx.faq.update(entry_id, draft, now)
            updated += 1
        await tx.audit.record(
            AuditEntry(
                actor,
                "faq.import",
                "faq",
                str(after.id),
                now,
                before=before and before.as_record(),
                after=after.as_record(),
            )
        )
    return ImportResult(created, updated)


async def export_file(store: Store, path: Path) -> int:
    async with store.transaction() as tx:
        entries = await tx.faq.list(include_disabled=True)
    write_entries(path, entries)
    return len(entries)


async def seed_sample_if_empty(store: Store, now: datetime) -> bool:
    """Load the sample knowledge base into an empty database (first start, demo). Two processes
    starting at once on an empty database load it once: the first to claim the seeding does."""
    records = read_entries(sample_faq_path())
    async with store.transaction() as tx:
        if not await tx.updates.claim(SETUP_CLAIM, "sample-faq", now):
            return False
        if await tx.faq.list(include_disabled=True):
            return False
        await _import(tx, records, now, "sample")
    log.info("sample knowledge base loaded", extra={"entries": len(records)})
    return True
