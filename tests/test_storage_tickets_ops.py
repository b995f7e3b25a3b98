"""Contract tests of the ticket-operation parts of `Transaction` (follow-up links, the current
ticket, satisfaction ratings), run on every backend (see conftest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from core.conversation.ticket_choice import current_ticket
from core.domain import NewTicket, Priority, Ticket, TicketRating, TicketStatus
from core.messages import ConversationRef
from storage import SqlStore

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CHAT = ConversationRef("telegram", "100")


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


async def make_user(store: SqlStore, external_id: str = "42") -> int:
    async with store.transaction() as tx:
        user, _ = await tx.users.upsert("telegram", external_id, "Ann", "en", CHAT, NOW)
    return user.id


async def make_ticket(store: SqlStore, user_id: int, status: TicketStatus | None = None) -> int:
    async with store.transaction() as tx:
        ticket = await tx.tickets.create(
            NewTicket(user_id, CHAT, "help", None, Priority.NORMAL, NOW)
        )
        if status is not None:
            await tx.tickets.update(ticket.id, status=status)
    return ticket.id


# -- follow-up links


async def test_a_ticket_remembers_the_ticket_it_follows_up(store: SqlStore) -> None:
    user_id = await make_user(store)
    first = await make_ticket(store, user_id, TicketStatus.RESOLVED)
    async with store.transaction() as tx:
        follow_up = await tx.tickets.create(
            NewTicket(
                user_id, CHAT, "again", "access", Priority.HIGH, at(5), previous_ticket_id=first
            )
        )
        assert follow_up.previous_ticket_id == first
        assert (await tx.tickets.get(follow_up.id)).previous_ticket_id == first
        assert (await tx.tickets.get(first)).previous_ticket_id is None
        assert (await tx.tickets.list_for_user(user_id))[0].previous_ticket_id == first


async def test_a_follow_up_must_point_at_an_existing_ticket(store: SqlStore) -> None:
    user_id = await make_user(store)
    with pytest.raises(IntegrityError):
        async with store.transaction() as tx:
            await tx.tickets.create(
                NewTicket(user_id, CHAT, "x", None, Priority.NORMAL, NOW, previous_ticket_id=999)
            )


# -- the current ticket


async def test_current_ticket_prefers_an_active_one_then_a_resolved_one(store: SqlStore) -> None:
    """`find_current` in SQL, and `current_ticket` over the user's recent tickets, agree."""
    user_id = await make_user(store)
    other_id = await make_user(store, "other")

    async def current(tx) -> Ticket | None:
        found = await tx.tickets.find_current(user_id)
        assert current_ticket(await tx.tickets.list_for_user(user_id, limit=20)) == found
        return found

    async with store.transaction() as tx:
        assert await current(tx) is None
    closed = await make_ticket(store, user_id, TicketStatus.CLOSED)
    await make_ticket(store, other_id)
    async with store.transaction() as tx:
        assert await current(tx) is None  # closed tickets are finished
    resolved = await make_ticket(store, user_id, TicketStatus.RESOLVED)
    async with store.transaction() as tx:
        assert (await current(tx)).id == resolved
        await tx.tickets.update(closed, status=TicketStatus.WAITING)  # an older active ticket
        assert (await current(tx)).id == closed
    newest_resolved = await make_ticket(store, user_id, TicketStatus.RESOLVED)
    async with store.transaction() as tx:
        assert (await current(tx)).id == closed  # active beats resolved
        await tx.tickets.update(closed, status=TicketStatus.CLOSED)
        assert (await current(tx)).id == newest_resolved
        for status in (TicketStatus.NEW, TicketStatus.OPEN):
            await tx.tickets.update(resolved, status=status)
            assert (await current(tx)).id == resolved


# -- ratings


async def test_a_rating_is_stored_once_per_ticket(store: SqlStore) -> None:
    user_id = await make_user(store)
    agent_id = await make_user(store, "agent")
    ticket_id = await make_ticket(store, user_id, TicketStatus.CLOSED)
    async with store.transaction() as tx:
        assert await tx.ratings.get(ticket_id) is None
        rating = await tx.ratings.add(ticket_id, user_id, agent_id, 4, None, at(1))
        assert rating == TicketRating(ticket_id, user_id, agent_id, 4, None, at(1))
        assert await tx.ratings.add(ticket_id, user_id, agent_id, 1, "again", at(2)) is None
    async with store.transaction() as tx:
        assert await tx.ratings.get(ticket_id) == rating


async def test_a_rating_without_an_agent_and_with_a_comment(store: SqlStore) -> None:
    user_id = await make_user(store)
    ticket_id = await make_ticket(store, user_id, TicketStatus.CLOSED)
    async with store.transaction() as tx:
        rating = await tx.ratings.add(ticket_id, user_id, None, 2, "slow", at(1))
    assert rating.agent_id is None and rating.comment == "slow"


async def test_ratings_out_of_range_are_refused(store: SqlStore) -> None:
    user_id = await make_user(store)
    ticket_id = await make_ticket(store, user_id)
    async with store.transaction() as tx:
        for score in (0, 6, -1):
            with pytest.raises(ValueError):
                await tx.ratings.add(ticket_id, user_id, None, score, None, NOW)
        assert await tx.ratings.get(ticket_id) is None


async def test_rating_comment_is_set_later(store: SqlStore) -> None:
    user_id = await make_user(store)
    ticket_id = await make_ticket(store, user_id, TicketStatus.CLOSED)
    async with store.transaction() as tx:
        with pytest.raises(KeyError):
            await tx.ratings.set_comment(ticket_id, "nothing to comment on")
        await tx.ratings.add(ticket_id, user_id, None, 5, None, NOW)
        updated = await tx.ratings.set_comment(ticket_id, "quick and kind")
    assert updated.comment == "quick and kind" and updated.score == 5
    async with store.transaction() as tx:
        assert (await tx.ratings.get(ticket_id)).comment == "quick and kind"


async def test_list_ratings_newest_first_by_agent_and_since(store: SqlStore) -> None:
    user_id = await make_user(store)
    alice = await make_user(store, "alice")
    bob = await make_user(store, "bob")
    tickets = [await make_ticket(store, user_id, TicketStatus.CLOSED) for _ in range(3)]
    async with store.transaction() as tx:
        await tx.ratings.add(tickets[0], user_id, alice, 5, None, at(10))
        await tx.ratings.add(tickets[1], user_id, bob, 1, "rude", at(20))
        await tx.ratings.add(tickets[2], user_id, alice, 3, None, at(30))
        assert [r.ticket_id for r in await tx.ratings.list()] == tickets[::-1]
        assert [r.score for r in await tx.ratings.list(agent_id=alice)] == [3, 5]
        assert [r.ticket_id for r in await tx.ratings.list(since=at(20))] == tickets[:0:-1]
        assert len(await tx.ratings.list(limit=1)) == 1
        assert await tx.ratings.list(agent_id=user_id) == []
