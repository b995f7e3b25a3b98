"""Contract tests of support lines on tickets, the question log and agents on duty, run on every
backend (see conftest)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.domain import NewQuestion, NewTicket, Priority, QuestionOutcome, TicketStatus
from core.messages import ConversationRef
from storage import SqlStore

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CHAT = ConversationRef("telegram", "100")


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


async def make_users(store: SqlStore, count: int) -> list[int]:
    async with store.transaction() as tx:
        return [
            (await tx.users.upsert("telegram", str(i), f"U{i}", "en", CHAT, NOW))[0].id
            for i in range(count)
        ]


async def test_a_ticket_keeps_its_line(store: SqlStore) -> None:
    (user,) = await make_users(store, 1)
    async with store.transaction() as tx:
        first = await tx.tickets.create(NewTicket(user, CHAT, "a", None, Priority.NORMAL, NOW))
        second = await tx.tickets.create(
            NewTicket(user, CHAT, "b", None, Priority.NORMAL, NOW, line="L2")
        )
        assert first.line is None and second.line == "L2"
        moved = await tx.tickets.update(first.id, line="L3")
        assert moved.line == "L3"
        assert (await tx.tickets.get(first.id)).line == "L3"


async def test_the_question_log_records_outcomes_and_follows_tickets(store: SqlStore) -> None:
    (user,) = await make_users(store, 1)
    async with store.transaction() as tx:
        answered = await tx.questions.log(
            NewQuestion(user, "how to pay", "en", QuestionOutcome.ANSWERED, 3, 0.95, at(0))
        )
        await tx.questions.log(
            NewQuestion(user, "vpn broken", "en", QuestionOutcome.SUGGESTED, 4, 0.5, at(10))
        )
        ticket = await tx.tickets.create(NewTicket(user, CHAT, "x", None, Priority.NORMAL, at(20)))
        await tx.questions.log(
            NewQuestion(
                user, "printer", "ru", QuestionOutcome.TICKET, None, None, at(20), ticket.id
            )
        )
        await tx.questions.set_ticket(answered, ticket.id)
    async with store.transaction() as tx:
        everything = await tx.questions.list()
        assert [q.text for q in everything] == ["how to pay", "vpn broken", "printer"]
        first = everything[0]
        assert first.outcome == QuestionOutcome.TICKET and first.ticket_id == ticket.id
        assert first.entry_id == 3 and first.confidence == 0.95 and first.created_at == at(0)
        assert [q.text for q in await tx.questions.list(since=at(5), until=at(20))] == [
            "vpn broken"
        ]
        tickets = await tx.questions.list(outcome=QuestionOutcome.TICKET)
        assert {q.text for q in tickets} == {"how to pay", "printer"}


async def test_duty_on_and_off(store: SqlStore) -> None:
    a, b = await make_users(store, 2)
    async with store.transaction() as tx:
        assert await tx.duty.set(a, "L1", True, at(0))
        assert not await tx.duty.set(a, "L1", True, at(1))  # already on duty
        assert await tx.duty.set(b, "L1", True, at(2))
        assert await tx.duty.set(b, "L2", True, at(2))
        assert await tx.duty.on_duty("L1") == [a, b]
        assert await tx.duty.set(a, "L1", False, at(3))
        assert not await tx.duty.set(a, "L1", False, at(3))
        assert await tx.duty.on_duty("L1") == [b]
        assert await tx.duty.pick("L3", False, at(4)) is None


async def test_round_robin_takes_turns(store: SqlStore) -> None:
    a, b, c = await make_users(store, 3)
    async with store.transaction() as tx:
        for i, user in enumerate((a, b, c)):
            await tx.duty.set(user, "L1", True, at(i))
        picks = [await tx.duty.pick("L1", False, at(10 + i)) for i in range(5)]
    assert picks == [a, b, c, a, b]


async def test_least_loaded_prefers_the_agent_with_fewest_active_tickets(store: SqlStore) -> None:
    a, b, owner = await make_users(store, 3)
    async with store.transaction() as tx:
        await tx.duty.set(a, "L1", True, at(0))
        await tx.duty.set(b, "L1", True, at(1))
        for status in (TicketStatus.OPEN, TicketStatus.WAITING):
            ticket = await tx.tickets.create(
                NewTicket(owner, CHAT, "t", None, Priority.NORMAL, NOW)
            )
            await tx.tickets.update(ticket.id, assignee_id=a, status=status)
        closed = await tx.tickets.create(NewTicket(owner, CHAT, "t", None, Priority.NORMAL, NOW))
        await tx.tickets.update(closed.id, assignee_id=b, status=TicketStatus.CLOSED)
        assert await tx.duty.pick("L1", True, at(5)) == b  # closed tickets do not count
        active = await tx.tickets.create(NewTicket(owner, CHAT, "t", None, Priority.NORMAL, NOW))
        await tx.tickets.update(active.id, assignee_id=b)
        # 2 against 1 active: still b.
        assert await tx.duty.pick("L1", True, at(6)) == b


async def test_two_processes_picking_at_once_take_turns(store: SqlStore) -> None:
    a, b = await make_users(store, 2)
    async with store.transaction() as tx:
        await tx.duty.set(a, "L1", True, at(0))
        await tx.duty.set(b, "L1", True, at(1))

    async def pick(second: int) -> int | None:
        async with store.transaction() as tx:
            return await tx.duty.pick("L1", False, at(second))

    picks = await asyncio.gather(pick(10), pick(11))
    assert sorted(picks) == sorted([a, b])


async def test_report_reads_respect_the_period_bounds(store):
    owner, agent = await make_users(store, 2)
    async with store.transaction() as tx:
        before = await tx.tickets.create(
            NewTicket(owner, CHAT, "old", None, Priority.NORMAL, at(-10))
        )
        inside = await tx.tickets.create(
            NewTicket(owner, CHAT, "new", None, Priority.NORMAL, at(5))
        )
        closed = await tx.tickets.create(
            NewTicket(owner, CHAT, "x", None, Priority.NORMAL, at(-20))
        )
        await tx.tickets.update(closed.id, status=TicketStatus.CLOSED, closed_at=at(9))
        after = await tx.tickets.create(
            NewTicket(owner, CHAT, "later", None, Priority.NORMAL, at(10))
        )
        await tx.tickets.update(after.id, line="L2", status=TicketStatus.OPEN)
        await tx.ratings.add(closed.id, owner, agent, 4, None, at(9))
        await tx.ratings.add(before.id, owner, agent, 1, None, at(10))
    async with store.transaction() as tx:
        touched = await tx.reports.tickets_touched(at(0), at(10))
        assert [t.id for t in touched] == [inside.id, closed.id]  # by id
        assert [r.score for r in await tx.reports.ratings_between(at(0), at(10))] == [4]
        backlog = sorted(await tx.reports.backlog(), key=str)
        assert backlog == sorted(
            [(TicketStatus.NEW, None, 2), (TicketStatus.OPEN, "L2", 1)], key=str
        )


async def test_open_during_finds_every_ticket_open_at_some_moment_of_the_period(store):
    owner, _ = await make_users(store, 2)

    async def ticket(created: int, **changes):
        async with store.transaction() as tx:
            made = await tx.tickets.create(
                NewTicket(owner, CHAT, "t", None, Priority.NORMAL, at(created))
            )
            if changes:
                await tx.tickets.update(made.id, **changes)
            return made.id

    quiet_all_period = await ticket(-30)  # opened before, no event inside: still open
    closed_before = await ticket(-30, status=TicketStatus.CLOSED, closed_at=at(-1))
    resolved_inside = await ticket(-30, status=TicketStatus.RESOLVED, resolved_at=at(3))
    reopened = await ticket(-30, status=TicketStatus.OPEN, resolved_at=at(-5))  # active now
    opened_inside = await ticket(4)
    opened_after = await ticket(10)
    async with store.transaction() as tx:
        found = [t.id for t in await tx.reports.open_during(at(0), at(10))]
    assert found == [quiet_all_period, resolved_inside, reopened, opened_inside]
    assert closed_before not in found and opened_after not in found
