"""Contract tests of what the HTTP API needs from storage (its tokens, pages of tickets), run
on every backend (see conftest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.domain import NewTicket, Priority, TicketFilter, TicketStatus
from core.messages import ConversationRef
from storage import SqlStore

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CHAT = ConversationRef("telegram", "100")


async def test_a_token_is_found_by_its_hash_until_revoked(store: SqlStore) -> None:
    async with store.transaction() as tx:
        made = await tx.api_tokens.create("grafana", "a" * 64, ["tickets:read", "kb:read"], NOW)
        assert made is not None and made.name == "grafana"
        assert made.scopes == frozenset({"tickets:read", "kb:read"})
        assert await tx.api_tokens.create("grafana", "b" * 64, ["kb:read"], NOW) is None
    async with store.transaction() as tx:
        assert (await tx.api_tokens.by_hash("a" * 64)).id == made.id
        assert await tx.api_tokens.by_hash("b" * 64) is None
        await tx.api_tokens.create("crm", "c" * 64, [], NOW)
        assert [t.name for t in await tx.api_tokens.list()] == ["crm", "grafana"]
        assert (await tx.api_tokens.revoke("grafana")).id == made.id
        assert await tx.api_tokens.revoke("grafana") is None
        assert await tx.api_tokens.by_hash("a" * 64) is None


async def test_a_page_of_tickets_filters_and_continues_after_its_cursor(store: SqlStore) -> None:
    async with store.transaction() as tx:
        ann, _ = await tx.users.upsert("telegram", "1", "Ann", "en", CHAT, NOW)
        agent, _ = await tx.users.upsert("telegram", "2", "Bob", "en", CHAT, NOW)
        ids = []
        for n in range(6):
            ticket = await tx.tickets.create(
                NewTicket(ann.id, CHAT, f"t{n}", None, Priority.NORMAL, NOW)
            )
            ids.append(ticket.id)
        # Two tickets share one moment: the id breaks the tie.
        moments = [NOW + timedelta(minutes=m) for m in (5, 1, 3, 3, 2, 4)]
        for ticket_id, moment in zip(ids, moments, strict=True):
            await tx.tickets.update(ticket_id, updated_at=moment)
        await tx.tickets.update(ids[0], status=TicketStatus.CLOSED, assignee_id=agent.id)
        await tx.tickets.update(ids[4], line="second", priority=Priority.URGENT)

    async def page(where=TicketFilter(), after=None, limit=10) -> list[int]:
        async with store.transaction() as tx:
            return [t.id for t in await tx.tickets.page(where, after, limit)]

    in_order = [ids[1], ids[4], ids[2], ids[3], ids[5], ids[0]]
    assert await page() == in_order
    first = await page(limit=3)
    assert first == in_order[:3]
    assert await page(after=(moments[2], ids[2]), limit=3) == in_order[3:]
    assert await page(after=(moments[0], ids[0])) == []
    assert await page(TicketFilter(statuses=frozenset({TicketStatus.CLOSED}))) == [ids[0]]
    assert await page(TicketFilter(assignee_id=agent.id)) == [ids[0]]
    assert await page(TicketFilter(priority=Priority.URGENT)) == [ids[4]]
    assert await page(TicketFilter(lines=frozenset({"second"}))) == [ids[4]]
    assert len(await page(TicketFilter(lines=frozenset({None})))) == 5
    assert len(await page(TicketFilter(lines=frozenset({None, "second"})))) == 6
    since = TicketFilter(updated_since=NOW + timedelta(minutes=3))
    assert await page(since) == [ids[2], ids[3], ids[5], ids[0]]
