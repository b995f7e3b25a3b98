"""Contract tests of `core.ports.Store` / `Transaction`, run on every backend (see conftest)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, func, insert, select, text

from core.domain import (
    AuditEntry,
    Ban,
    Direction,
    FaqDraft,
    MessageLink,
    NewTicket,
    OutboxStatus,
    Priority,
    TicketStatus,
)
from core.messages import Attachment, Button, ConversationRef, OutgoingMessage
from storage import SqlStore, open_store, upgrade_database
from storage.migrate import current_revision, head_revision, newest_revision_file
from storage.models import Base, faq_variants
from storage.store import StoreOptions

NOW = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
CHAT = ConversationRef("telegram", "100")
LEASE = timedelta(seconds=60)
REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


async def make_user(store: SqlStore, external_id: str = "42") -> int:
    async with store.transaction() as tx:
        user, _ = await tx.users.upsert("telegram", external_id, "Ann", "ru", CHAT, NOW)
    return user.id


async def make_ticket(store: SqlStore, user_id: int, seconds: float = 0) -> int:
    async with store.transaction() as tx:
        ticket = await tx.tickets.create(
            NewTicket(user_id, CHAT, "help", None, Priority.NORMAL, at(seconds))
        )
    return ticket.id


def message(chat_id: str = "100", text: str = "hi", **fields) -> OutgoingMessage:
    return OutgoingMessage(conversation=ConversationRef("telegram", chat_id), text=text, **fields)


# -- de-duplication


async def test_claim_update_records_each_delivery_once(store: SqlStore) -> None:
    async with store.transaction() as tx:
        assert await tx.updates.claim("telegram", "1", NOW) is True
        assert await tx.updates.claim("telegram", "1", NOW) is False
        assert await tx.updates.claim("vk", "1", NOW) is True  # ids are per channel
    async with store.transaction() as tx:
        assert await tx.updates.claim("telegram", "1", at(5)) is False
        assert await tx.updates.claim("telegram", "2", at(5)) is True


async def test_prune_processed_updates_forgets_old_deliveries(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.updates.claim("telegram", "old", NOW)
        await tx.updates.claim("telegram", "new", at(100))
        assert await tx.updates.prune(at(50)) == 1
        assert await tx.updates.claim("telegram", "old", at(200)) is True
        assert await tx.updates.claim("telegram", "new", at(200)) is False


async def test_released_claims_can_be_claimed_again(store: SqlStore) -> None:
    async with store.transaction() as tx:
        assert await tx.updates.claim_many([("telegram", "1"), ("telegram", "2")], NOW)
        await tx.updates.release([("telegram", "2")])
    async with store.transaction() as tx:
        assert await tx.updates.claim_many([("telegram", "1"), ("telegram", "2")], NOW) == {
            ("telegram", "2")
        }


async def test_staged_parts_are_pending_until_their_delivery_is_claimed(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.staged.stage("telegram", "42:album", "11", '{"part": 1}', NOW)
        await tx.staged.stage("telegram", "42:album", "12", '{"part": 2}', at(1))
        await tx.staged.stage("telegram", "42:album", "11", '{"again": 1}', at(2))  # kept as was
        await tx.staged.stage("telegram", "42:other", "13", "{}", at(2))
        await tx.staged.stage("vk", "42:album", "14", "{}", at(2))
    async with store.transaction() as tx:
        assert await tx.staged.pending("telegram", "42:album") == [
            ("11", '{"part": 1}'),
            ("12", '{"part": 2}'),
        ]
        await tx.updates.claim("telegram", "11", at(3))  # handled, by whichever process
        assert await tx.staged.pending("telegram", "42:album") == [("12", '{"part": 2}')]
        assert await tx.staged.prune(at(2)) == 2  # staged before at(2): "11" and "12"
        assert await tx.staged.pending("telegram", "42:album") == []
        assert await tx.staged.pending("telegram", "42:other") == [("13", "{}")]


# -- users


async def test_upsert_user_creates_then_finds(store: SqlStore) -> None:
    async with store.transaction() as tx:
        user, created = await tx.users.upsert("telegram", "42", "Ann", "ru", CHAT, NOW)
        assert created is True
        assert (user.channel, user.external_id, user.display_name) == ("telegram", "42", "Ann")
        assert user.language == "ru"
        assert user.chat == CHAT
        assert user.created_at == NOW
        assert user.state is None
        again, created = await tx.users.upsert("telegram", "42", "Ann", "ru", CHAT, at(1))
        assert created is False
        assert again == user
        other, created = await tx.users.upsert("vk", "42", "Ann", None, None, NOW)
        assert created is True and other.id != user.id and other.chat is None


async def test_upsert_user_keeps_language_and_refreshes_name_and_chat(store: SqlStore) -> None:
    new_chat = ConversationRef("telegram", "200", "7")
    async with store.transaction() as tx:
        user, _ = await tx.users.upsert("telegram", "42", "Ann", "ru", CHAT, NOW)
    async with store.transaction() as tx:
        updated, created = await tx.users.upsert("telegram", "42", "Anna", "en", new_chat, at(1))
    assert created is False
    assert updated.id == user.id
    assert updated.display_name == "Anna"
    assert updated.language == "ru"
    assert updated.chat == new_chat
    async with store.transaction() as tx:
        # No chat given and an empty name: both are kept.
        kept, _ = await tx.users.upsert("telegram", "42", "", None, None, at(2))
        assert kept == updated
        assert await tx.users.get(user.id) == updated
        assert await tx.users.find("telegram", "42") == updated


async def test_upsert_user_fills_a_missing_language_from_the_hint(store: SqlStore) -> None:
    async with store.transaction() as tx:
        user, _ = await tx.users.upsert("telegram", "42", "Ann", None, None, NOW)
        assert user.language is None
        user, _ = await tx.users.upsert("telegram", "42", "Ann", "en", None, at(1))
        assert user.language == "en"
        assert (await tx.users.get(user.id)).language == "en"


async def test_user_language_and_state(store: SqlStore) -> None:
    user_id = await make_user(store)
    state = {"awaiting": "feedback", "entry_ids": [1, 2], "text": "привет"}
    async with store.transaction() as tx:
        await tx.users.set_language(user_id, "en")
        await tx.users.set_state(user_id, state)
    async with store.transaction() as tx:
        user = await tx.users.get(user_id)
        assert user.language == "en"
        assert user.state == state
        user, _ = await tx.users.upsert("telegram", "42", "Ann", "ru", None, at(1))
        assert user.language == "en" and user.state == state
        await tx.users.set_state(user_id, None)
        assert (await tx.users.get(user_id)).state is None


async def test_a_ban_is_kept_lifted_and_ends_by_itself(store: SqlStore) -> None:
    user_id = await make_user(store)
    other_id = await make_user(store, "43")
    ban = Ban(shadow=True, since=NOW, until=at(3600), reason="спам", by="telegram:7")
    async with store.transaction() as tx:
        await tx.users.set_ban(user_id, ban)
        await tx.users.set_ban(other_id, Ban(False, NOW, None, "", "telegram:7"))
    async with store.transaction() as tx:
        user, _ = await tx.users.upsert("telegram", "42", "Ann", "ru", None, at(1))
        assert user.ban == ban and user.banned_at(at(1)) == ban
        assert user.banned_at(at(3600)) is None  # over at its end
        assert [u.id for u in await tx.users.banned(at(1))] == [user_id, other_id]
        assert [u.id for u in await tx.users.banned(at(3600))] == [other_id]
        await tx.users.set_ban(other_id, None)
        assert await tx.users.banned(at(1)) == [user]
        with pytest.raises(KeyError):
            await tx.users.set_ban(999, None)


async def test_macros_are_saved_replaced_listed_and_deleted(store: SqlStore) -> None:
    async with store.transaction() as tx:
        assert await tx.macros.put("reset", {"en": "Hi {name}", "ru": "Привет"}, "tg:1", NOW)
        assert not await tx.macros.put("reset", {"": "Hello"}, "tg:2", at(1))
        assert await tx.macros.put("a-first", {"": "x"}, "tg:1", NOW)
    async with store.transaction() as tx:
        macro = await tx.macros.get("reset")
        assert (macro.texts, macro.by, macro.updated_at) == ({"": "Hello"}, "tg:2", at(1))
        assert [m.name for m in await tx.macros.list()] == ["a-first", "reset"]
        assert await tx.macros.delete("reset") and not await tx.macros.delete("reset")
        assert await tx.macros.get("reset") is None


async def test_held_messages_are_taken_once_by_user_or_when_due(store: SqlStore) -> None:
    ann, bob = await make_user(store, "1"), await make_user(store, "2")
    photo = Attachment("photo", "f1", file_name="p.jpg")
    async with store.transaction() as tx:
        assert await tx.held.add(ann, "first", (photo,), "m1", NOW) == 1
        assert await tx.held.add(ann, "second", (), None, at(100)) == 2
        assert await tx.held.add(bob, "bob's", (), "m9", at(50)) == 1
    async with store.transaction() as tx:
        due = await tx.held.take_due(at(40))  # Ann's oldest is due: all of hers go
        assert [(m.user_id, m.text) for m in due] == [(ann, "first"), (ann, "second")]
        assert due[0].attachments == (photo,) and due[0].message_id == "m1"
        assert await tx.held.take_due(at(40)) == []
        assert [m.text for m in await tx.held.take(bob)] == ["bob's"]
        assert await tx.held.take(bob) == []


async def test_missing_users(store: SqlStore) -> None:
    async with store.transaction() as tx:
        assert await tx.users.get(999) is None
        assert await tx.users.find("telegram", "nobody") is None
        with pytest.raises(KeyError):
            await tx.users.set_language(999, "en")
        with pytest.raises(KeyError):
            await tx.users.set_state(999, {})


async def _wait_until_blocked_on_a_row_lock(store: SqlStore) -> None:
    """PostgreSQL: until another session waits for a lock (polled, bounded)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    for _ in range(500):
        async with store.transaction() as tx:
            if await tx.run_sync(lambda conn: conn.execute(query).scalar_one()):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the second transaction never waited for the user's row")


async def test_upsert_user_serializes_two_processes_on_one_user(
    database_url: str, database_backend: str
) -> None:
    first, second = await open_store(database_url), await open_store(database_url)
    order: list[str] = []
    try:
        await make_user(first)

        async def second_process() -> None:
            async with second.transaction() as tx:
                await tx.users.upsert("telegram", "42", "Second", None, None, at(2))
                order.append("second has the user")

        async with first.transaction() as tx:
            await tx.users.upsert("telegram", "42", "First", None, None, at(1))
            task = asyncio.create_task(second_process())
            if database_backend == "postgresql":
                await _wait_until_blocked_on_a_row_lock(first)
            else:  # SQLite: the second connection waits in BEGIN IMMEDIATE; nothing to observe
                await asyncio.wait({task}, timeout=0.2)
            assert not task.done()
            order.append("first commits")
        await task
        assert order == ["first commits", "second has the user"]
        async with first.transaction() as tx:
            assert (await tx.users.find("telegram", "42")).display_name == "Second"
    finally:
        await first.close()
        await second.close()


async def test_a_staff_member_is_read_without_waiting_for_their_row(
    database_url: str, database_backend: str
) -> None:
    """`lock=False` (staff in a staff chat): another transaction holding the row does not hold
    this one up. SQLite serializes write transactions anyway, so only PostgreSQL shows it."""
    if database_backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: nothing to show")
    first, second = await open_store(database_url), await open_store(database_url)
    try:
        await make_user(first)
        async with first.transaction() as tx:
            await tx.users.upsert("telegram", "42", "First", None, None, at(1))  # holds the row
            async with second.transaction() as other:
                user, created = await asyncio.wait_for(  # the committed row, as it is
                    other.users.upsert("telegram", "42", "Ann", None, None, at(2), lock=False),
                    timeout=5,
                )
                assert (user.display_name, created) == ("Ann", False)
    finally:
        await first.close()
        await second.close()


async def test_concurrent_first_contacts_create_one_user(database_url: str) -> None:
    stores = [await open_store(database_url) for _ in range(3)]
    try:

        async def contact(store: SqlStore) -> tuple[int, bool]:
            async with store.transaction() as tx:
                user, created = await tx.users.upsert("telegram", "7", "Bob", None, None, NOW)
                return user.id, created

        results = await asyncio.gather(*(contact(store) for store in stores for _ in range(3)))
        assert len({user_id for user_id, _ in results}) == 1
        assert sum(created for _, created in results) == 1
    finally:
        for store in stores:
            await store.close()


# -- tickets


async def test_ticket_lifecycle(store: SqlStore) -> None:
    user_id = await make_user(store)
    agent_id = await make_user(store, "agent")
    async with store.transaction() as tx:
        ticket = await tx.tickets.create(
            NewTicket(user_id, CHAT, "Cannot log in", "login", Priority.HIGH, NOW)
        )
        assert ticket.status is TicketStatus.NEW
        assert ticket.priority is Priority.HIGH
        assert (ticket.user_id, ticket.subject, ticket.category) == (
            user_id,
            "Cannot log in",
            "login",
        )
        assert ticket.conversation == CHAT
        assert ticket.assignee_id is None
        assert ticket.created_at == ticket.updated_at == NOW
        assert ticket.first_response_at is ticket.resolved_at is ticket.closed_at is None
        assert await tx.tickets.get(ticket.id) == ticket

        opened = await tx.tickets.update(
            ticket.id,
            status=TicketStatus.OPEN,
            assignee_id=agent_id,
            first_response_at=at(10),
            updated_at=at(10),
        )
        assert opened.status is TicketStatus.OPEN
        assert opened.assignee_id == agent_id
        assert opened.first_response_at == at(10) and opened.updated_at == at(10)
        assert opened.created_at == NOW and opened.subject == "Cannot log in"

        resolved = await tx.tickets.update(
            ticket.id,
            status="resolved",
            priority=Priority.LOW,
            category=None,
            subject="Login fixed",
            resolved_at=at(20),
        )
        assert resolved.status is TicketStatus.RESOLVED and resolved.priority is Priority.LOW
        assert resolved.category is None and resolved.subject == "Login fixed"
    async with store.transaction() as tx:
        closed = await tx.tickets.update(ticket.id, status=TicketStatus.CLOSED, closed_at=at(30))
        assert await tx.tickets.get(ticket.id) == closed
        assert closed.resolved_at == at(20) and closed.closed_at == at(30)
        assert await tx.tickets.update(ticket.id) == closed


async def test_update_ticket_rejects_unknown_fields_and_tickets(store: SqlStore) -> None:
    ticket_id = await make_ticket(store, await make_user(store))
    async with store.transaction() as tx:
        with pytest.raises(ValueError, match="user_id"):
            await tx.tickets.update(ticket_id, user_id=5)
        with pytest.raises(KeyError):
            await tx.tickets.update(999, status=TicketStatus.OPEN)
        with pytest.raises(KeyError):
            await tx.tickets.update(999)
        assert await tx.tickets.get(999) is None


async def test_find_active_ticket_is_the_newest_unfinished_one(store: SqlStore) -> None:
    user_id = await make_user(store)
    other_id = await make_user(store, "other")
    async with store.transaction() as tx:
        assert await tx.tickets.find_active(user_id) is None
    older = await make_ticket(store, user_id, 0)
    newer = await make_ticket(store, user_id, 1)
    await make_ticket(store, other_id, 2)
    async with store.transaction() as tx:
        assert (await tx.tickets.find_active(user_id)).id == newer
        for status in (TicketStatus.OPEN, TicketStatus.WAITING):
            await tx.tickets.update(newer, status=status)
            assert (await tx.tickets.find_active(user_id)).id == newer
        await tx.tickets.update(newer, status=TicketStatus.RESOLVED)
        assert (await tx.tickets.find_active(user_id)).id == older
        await tx.tickets.update(older, status=TicketStatus.CLOSED)
        assert await tx.tickets.find_active(user_id) is None


async def test_list_user_tickets_newest_first(store: SqlStore) -> None:
    user_id = await make_user(store)
    ids = [await make_ticket(store, user_id, n) for n in range(4)]
    await make_ticket(store, await make_user(store, "other"))
    async with store.transaction() as tx:
        assert [t.id for t in await tx.tickets.list_for_user(user_id)] == ids[::-1]
        assert [t.id for t in await tx.tickets.list_for_user(user_id, limit=2)] == ids[:1:-1]
        assert await tx.tickets.list_for_user(999) == []


async def test_ticket_numbers_are_never_reused(store: SqlStore) -> None:
    user_id = await make_user(store)
    first = await make_ticket(store, user_id)
    async with store.transaction() as tx:
        await tx.run_sync(
            lambda conn: conn.execute(text(f"DELETE FROM tickets WHERE id = {first}"))
        )
    assert await make_ticket(store, user_id) > first


async def test_count_tickets_by_status(store: SqlStore) -> None:
    user_id = await make_user(store)
    async with store.transaction() as tx:
        assert await tx.tickets.count_by_status() == dict.fromkeys(TicketStatus, 0)
    ids = [await make_ticket(store, user_id, n) for n in range(3)]
    async with store.transaction() as tx:
        await tx.tickets.update(ids[0], status=TicketStatus.CLOSED)
        counts = await tx.tickets.count_by_status()
    assert counts[TicketStatus.NEW] == 2 and counts[TicketStatus.CLOSED] == 1
    assert sum(counts.values()) == 3 and set(counts) == set(TicketStatus)


async def test_ticket_messages_in_order_with_attachments(store: SqlStore) -> None:
    user_id = await make_user(store)
    ticket_id = await make_ticket(store, user_id)
    photo = Attachment(
        "photo", file_id="AgAD", mime_type="image/jpeg", size=1234, channel="telegram"
    )
    document = Attachment("document", file_name="log.txt", url="http://127.0.0.1/f/1")
    async with store.transaction() as tx:
        first = await tx.messages.add(
            ticket_id, user_id, Direction.FROM_USER, "it broke", (photo, document), NOW
        )
        assert first.attachments == (photo, document) and first.created_at == NOW
        await tx.messages.add(ticket_id, None, Direction.SYSTEM, "opened", [], at(1))
        await tx.messages.add(ticket_id, user_id, Direction.TO_USER, "try again", (), at(2))
        await tx.messages.add(ticket_id, user_id, Direction.NOTE, "internal", (), at(3))
    async with store.transaction() as tx:
        messages = await tx.messages.list(ticket_id)
        assert await tx.messages.list(999) == []
    assert messages[0] == first
    assert [m.text for m in messages] == ["it broke", "opened", "try again", "internal"]
    assert [m.direction for m in messages] == [
        Direction.FROM_USER,
        Direction.SYSTEM,
        Direction.TO_USER,
        Direction.NOTE,
    ]
    assert messages[1].author_user_id is None and messages[1].attachments == ()
    assert [m.created_at for m in messages] == [NOW, at(1), at(2), at(3)]


# -- message links


async def test_message_links_are_idempotent_and_map_back(store: SqlStore) -> None:
    ticket_id = await make_ticket(store, await make_user(store))
    link = MessageLink("telegram", "-100", "55", ticket_id, thread_id="9")
    async with store.transaction() as tx:
        await tx.links.add(link)
        await tx.links.add(link)
        await tx.links.add(MessageLink("telegram", "-100", "55", ticket_id, is_anchor=True))
    async with store.transaction() as tx:
        assert await tx.links.find_ticket("telegram", "-100", "55") == ticket_id
        assert await tx.links.find_ticket("telegram", "-100", "56") is None
        assert await tx.links.find_ticket("telegram", "-101", "55") is None
        assert await tx.links.find_ticket("slack", "-100", "55") is None
        assert (await tx.tickets.linked_to("telegram", "-100", "55")).id == ticket_id
        assert await tx.tickets.linked_to("telegram", "-101", "55") is None
        # The first one stored wins; it was not an anchor.
        assert await tx.links.find_anchor(ticket_id, "telegram", "-100") is None
        count = await tx.run_sync(
            lambda conn: conn.execute(text("SELECT count(*) FROM message_links")).scalar_one()
        )
    assert count == 1


async def test_copies_of_an_agents_message_are_found_by_its_source(store: SqlStore) -> None:
    ticket_id = await make_ticket(store, await make_user(store))
    source = "telegram:-100:55"
    async with store.transaction() as tx:
        await tx.links.add_many(
            [
                MessageLink("telegram", "42", "7", ticket_id, source=source),
                MessageLink("slack", "D1", "1.2", ticket_id, source=source),
                MessageLink("telegram", "42", "8", ticket_id),
            ]
        )
    async with store.transaction() as tx:
        copies = await tx.links.copies_of(source)
        assert sorted((c.channel, c.message_id) for c in copies) == [
            ("slack", "1.2"), ("telegram", "7"),
        ]  # fmt: skip
        assert await tx.links.copies_of("telegram:-100:56") == []


async def test_many_links_are_stored_at_once_and_repeats_are_kept_once(store: SqlStore) -> None:
    ticket_id = await make_ticket(store, await make_user(store))
    album = [MessageLink("telegram", "-100", str(n), ticket_id, thread_id="9") for n in (1, 2, 3)]
    async with store.transaction() as tx:
        await tx.links.add_many([])
        await tx.links.add_many(album)
        await tx.links.add_many([album[0], MessageLink("telegram", "-100", "4", ticket_id)])
    async with store.transaction() as tx:
        assert [await tx.links.find_ticket("telegram", "-100", str(n)) for n in (1, 2, 3, 4)] == [
            ticket_id
        ] * 4
        count = await tx.run_sync(
            lambda conn: conn.execute(text("SELECT count(*) FROM message_links")).scalar_one()
        )
    assert count == 4


async def test_find_anchor_is_the_newest_anchor_in_that_chat(store: SqlStore) -> None:
    user_id = await make_user(store)
    ticket_id, other_ticket = await make_ticket(store, user_id), await make_ticket(store, user_id)
    old = MessageLink("telegram", "-100", "1", ticket_id, thread_id="1", is_anchor=True)
    new = MessageLink("telegram", "-100", "20", ticket_id, thread_id="20", is_anchor=True)
    async with store.transaction() as tx:
        assert await tx.links.find_anchor(ticket_id, "telegram", "-100") is None
        await tx.links.add(old)
        await tx.links.add(new)
        await tx.links.add(MessageLink("telegram", "-100", "21", ticket_id, thread_id="20"))
        await tx.links.add(MessageLink("slack", "C1", "3.4", ticket_id, is_anchor=True))
        await tx.links.add(MessageLink("telegram", "-100", "30", other_ticket, None, True))
    async with store.transaction() as tx:
        assert await tx.links.find_anchor(ticket_id, "telegram", "-100") == new
        assert await tx.links.find_anchor(ticket_id, "slack", "C1") == MessageLink(
            "slack", "C1", "3.4", ticket_id, None, True
        )
        assert await tx.links.find_anchor(ticket_id, "telegram", "-999") is None
        assert (await tx.links.find_anchor(other_ticket, "telegram", "-100")).message_id == "30"
        keys = [(ticket_id, "telegram", "-100"), (other_ticket, "telegram", "-100")]
        found = await tx.links.find_anchors([*keys, (ticket_id, "telegram", "-999")])
        assert found == {
            keys[0]: new,
            keys[1]: MessageLink("telegram", "-100", "30", other_ticket, None, True),
        }
        # The thread is gone: no anchor any more, but old messages still map to the ticket.
        assert await tx.links.drop_anchor(ticket_id, "telegram", "-100") == 2
        assert await tx.links.find_anchor(ticket_id, "telegram", "-100") is None
        assert await tx.links.find_ticket("telegram", "-100", "20") == ticket_id
        assert (await tx.links.find_anchor(other_ticket, "telegram", "-100")).message_id == "30"
        assert await tx.links.find_anchor(ticket_id, "slack", "C1") is not None


# -- outbox


async def test_enqueue_keeps_the_whole_message(store: SqlStore) -> None:
    full = OutgoingMessage(
        conversation=ConversationRef("slack", "C1", "1700.01"),
        text="Ticket #5: привет <b>",
        buttons=(
            (Button("Helped", "/helped 5"), Button("No", "/nothelped 5")),
            (Button("Menu", "/m"),),
        ),
        attachments=(Attachment("photo", file_id="F1", channel="slack"),),
        reply_to_message_id="1700.02",
        ticket_id=5,
        to_staff=True,
        thread_title="Cannot log in",
        extra={"silent": True, "nested": {"a": [1, 2]}},
    )
    async with store.transaction() as tx:
        full_id = await tx.outbox.enqueue(full, NOW)
        plain_id = await tx.outbox.enqueue(message(), NOW)
        assert plain_id > full_id
    async with store.transaction() as tx:
        item = await tx.outbox.get(full_id)
        plain = await tx.outbox.get(plain_id)
        assert await tx.outbox.get(999) is None
    assert item.message == full
    assert (item.status, item.attempts, item.parts_sent) == (OutboxStatus.PENDING, 0, 0)
    assert item.next_attempt_at == NOW and item.last_error is None
    assert plain.message == message()


async def test_claim_takes_only_the_head_of_each_chat_in_order(store: SqlStore) -> None:
    async with store.transaction() as tx:
        a1 = await tx.outbox.enqueue(message("A", "a1"), NOW)
        b1 = await tx.outbox.enqueue(message("B", "b1"), NOW)
        a2 = await tx.outbox.enqueue(message("A", "a2"), NOW)
        c1 = await tx.outbox.enqueue(message("C", "c1"), NOW)
        assert await tx.outbox.count_pending() == 4
    async with store.transaction() as tx:
        claimed = await tx.outbox.claim_due(NOW, NOW + LEASE, limit=10)
    assert [item.id for item in claimed] == [a1, b1, c1]
    assert [item.message.text for item in claimed] == ["a1", "b1", "c1"]
    async with store.transaction() as tx:
        # Leased heads block their chats: nothing more to claim until they finish.
        assert await tx.outbox.claim_due(at(1), at(1) + LEASE, limit=10) == []
        await tx.outbox.mark_sent_many([(a1, 1)], at(1))
        assert [item.id for item in await tx.outbox.claim_due(at(1), at(1) + LEASE, 10)] == [a2]
        assert await tx.outbox.count_pending() == 3


async def test_the_backlog_is_how_many_wait_and_since_when(store: SqlStore) -> None:
    async with store.transaction() as tx:
        assert await tx.outbox.oldest_pending() is None
        first = await tx.outbox.enqueue(message("A", "a1"), at(1))
        await tx.outbox.enqueue(message("B", "b1"), at(5))
        assert (await tx.outbox.count_pending(), await tx.outbox.oldest_pending()) == (2, at(1))
        await tx.outbox.mark_sent_many([(first, 1)], at(6))
        assert (await tx.outbox.count_pending(), await tx.outbox.oldest_pending()) == (1, at(5))


async def test_claim_respects_the_limit_oldest_first(store: SqlStore) -> None:
    async with store.transaction() as tx:
        ids = [await tx.outbox.enqueue(message(str(n)), NOW) for n in range(5)]
        assert await tx.outbox.claim_due(NOW, NOW + LEASE, limit=0) == []
        assert [i.id for i in await tx.outbox.claim_due(NOW, NOW + LEASE, limit=2)] == ids[:2]
        assert [i.id for i in await tx.outbox.claim_due(NOW, NOW + LEASE, limit=9)] == ids[2:]


async def test_not_due_items_wait_and_block_their_chat(store: SqlStore) -> None:
    async with store.transaction() as tx:
        a1 = await tx.outbox.enqueue(message("A", "a1"), NOW)
        a2 = await tx.outbox.enqueue(message("A", "a2"), NOW)
        later = await tx.outbox.enqueue(message("B", "b1"), at(30))  # enqueued "in the future"
    async with store.transaction() as tx:
        [item] = await tx.outbox.claim_due(NOW, NOW + LEASE, 10)
        assert item.id == a1
        await tx.outbox.schedule_retry(a1, 1, at(20), "timeout")
    async with store.transaction() as tx:
        retried = await tx.outbox.get(a1)
        assert retried.status is OutboxStatus.PENDING
        assert (retried.attempts, retried.next_attempt_at, retried.last_error) == (
            1,
            at(20),
            "timeout",
        )
        # a1 is not due: it still holds a2 back (order within a chat), and b1 is not due.
        assert await tx.outbox.claim_due(at(10), at(10) + LEASE, 10) == []
        assert [i.id for i in await tx.outbox.claim_due(at(20), at(20) + LEASE, 10)] == [a1]
        await tx.outbox.mark_sent_many([(a1, 1)], at(21))
        claimed = await tx.outbox.claim_due(at(30), at(30) + LEASE, 10)
        assert [i.id for i in claimed] == [a2, later]


async def test_an_expired_lease_makes_the_item_claimable_again(store: SqlStore) -> None:
    async with store.transaction() as tx:
        item_id = await tx.outbox.enqueue(message(), NOW)
        await tx.outbox.claim_due(NOW, at(60), 10)
    async with store.transaction() as tx:
        assert await tx.outbox.claim_due(at(59), at(119), 10) == []
        [again] = await tx.outbox.claim_due(at(60), at(120), 10)
        assert again.id == item_id


async def test_failed_items_release_their_chat(store: SqlStore) -> None:
    async with store.transaction() as tx:
        a1 = await tx.outbox.enqueue(message("A", "a1"), NOW)
        a2 = await tx.outbox.enqueue(message("A", "a2"), NOW)
        await tx.outbox.claim_due(NOW, NOW + LEASE, 10)
        await tx.outbox.mark_progress(a1, 2)
        assert (await tx.outbox.get(a1)).parts_sent == 2
        await tx.outbox.mark_failed(a1, 3, "blocked by user")
        failed = await tx.outbox.get(a1)
        assert (failed.status, failed.attempts, failed.last_error) == (
            OutboxStatus.FAILED,
            3,
            "blocked by user",
        )
        assert failed.parts_sent == 2
        assert [i.id for i in await tx.outbox.claim_due(at(1), at(1) + LEASE, 10)] == [a2]
        await tx.outbox.mark_sent_many([(a2, 3)], at(2))
        sent = await tx.outbox.get(a2)
        assert (sent.status, sent.parts_sent) == (OutboxStatus.SENT, 3)
        assert await tx.outbox.count_pending() == 0
        assert await tx.outbox.claim_due(at(100), at(100) + LEASE, 10) == []


async def test_a_second_sender_never_claims_what_the_first_holds(database_url: str) -> None:
    first, second = await open_store(database_url), await open_store(database_url)
    try:
        async with first.transaction() as tx:
            for chat in "ABCD":
                for n in range(3):
                    await tx.outbox.enqueue(message(chat, f"{chat}{n}"), NOW)

        async def claim(store: SqlStore) -> list[int]:
            async with store.transaction() as tx:
                return [item.id for item in await tx.outbox.claim_due(NOW, NOW + LEASE, 3)]

        async with first.transaction() as tx:
            held = [item.id for item in await tx.outbox.claim_due(NOW, NOW + LEASE, 2)]
            # While the first claim is not committed yet, the second sender claims too.
            racing = asyncio.create_task(claim(second))
            await asyncio.wait({racing}, timeout=0.05)
        taken = await racing
        assert len(held) == 2
        assert not set(held) & set(taken)
        # Heads only: one item per chat across both senders.
        async with first.transaction() as tx:
            chats = {(await tx.outbox.get(i)).message.conversation.chat_id for i in held + taken}
        assert len(chats) == len(held) + len(taken)
        assert sorted(held + await claim(first) + taken) == sorted(held + taken)
    finally:
        await first.close()
        await second.close()


async def test_a_sender_that_lost_its_lease_changes_nothing(store: SqlStore) -> None:
    """Fencing: sender A paused past its lease, B took the item over; what A records later is
    ignored, and only the holder may extend the lease."""
    async with store.transaction() as tx:
        item_id = await tx.outbox.enqueue(message(), NOW)
        [mine] = await tx.outbox.claim_due(NOW, at(60), 10, owner="a")
    async with store.transaction() as tx:
        [taken] = await tx.outbox.claim_due(at(61), at(121), 10, owner="b")
        assert mine.id == taken.id == item_id
        await tx.outbox.schedule_retry(item_id, 1, at(200), "late news from a", owner="a")
        await tx.outbox.mark_failed(item_id, 1, "late news from a", owner="a")
        await tx.outbox.mark_sent_many([(item_id, 1)], at(62), owner="a")
        await tx.outbox.release([item_id], owner="a")
        assert await tx.outbox.extend([item_id], "a", at(300)) == 0
        assert await tx.outbox.extend([item_id], "b", at(300)) == 1
        row = await tx.outbox.get(item_id)
        assert row.status == OutboxStatus.PENDING and row.attempts == 0 and row.last_error is None
        # B still holds it, now until at(300): nobody else may claim it before then.
        assert await tx.outbox.claim_due(at(299), at(400), 10, owner="c") == []
        await tx.outbox.mark_sent_many([(item_id, 1)], at(63), owner="b")
        assert (await tx.outbox.get(item_id)).status == OutboxStatus.SENT


async def test_a_restarted_sender_frees_only_its_own_leases(store: SqlStore) -> None:
    async with store.transaction() as tx:
        mine = await tx.outbox.enqueue(message("1"), NOW)
        theirs = await tx.outbox.enqueue(message("2"), NOW)
        await tx.outbox.claim_due(NOW, at(60), 1, owner="me")
        await tx.outbox.claim_due(NOW, at(60), 1, owner="them")
        assert await tx.outbox.release_held_by("me") == 1
        claimed = await tx.outbox.claim_due(at(1), at(61), 10, owner="me")
    assert [item.id for item in claimed] == [mine] and theirs != mine


async def test_a_lapsed_lease_marks_the_item_maybe_sent_until_it_is_done(store: SqlStore) -> None:
    """An item claimed again after its lease lapsed may have been delivered by the holder that
    never recorded it; the mark stays through retries and progress, and goes when it is done."""
    async with store.transaction() as tx:
        item_id = await tx.outbox.enqueue(message(), NOW)
        assert (await tx.outbox.get(item_id)).maybe_sent is False
        [first] = await tx.outbox.claim_due(NOW, at(60), 10, owner="a")
        assert first.maybe_sent is False and first.created_at == NOW
    async with store.transaction() as tx:
        [again] = await tx.outbox.claim_due(at(60), at(120), 10, owner="b")
        assert again.maybe_sent is True and (await tx.outbox.get(item_id)).maybe_sent is True
        await tx.outbox.mark_progress(item_id, 1, owner="b")
        await tx.outbox.schedule_retry(item_id, 1, at(130), "timeout", owner="b")
        assert (await tx.outbox.get(item_id)).maybe_sent is True
        [retried] = await tx.outbox.claim_due(at(130), at(190), 10, owner="b")
        assert retried.maybe_sent is True  # still unknown whether the rest is there
        await tx.outbox.mark_sent_many([(item_id, 2)], at(131), owner="b")
        assert (await tx.outbox.get(item_id)).maybe_sent is False


async def test_a_failed_item_is_no_longer_maybe_sent(store: SqlStore) -> None:
    async with store.transaction() as tx:
        item_id = await tx.outbox.enqueue(message(), NOW)
        await tx.outbox.claim_due(NOW, at(60), 10, owner="a")
        [again] = await tx.outbox.claim_due(at(61), at(121), 10, owner="b")
        assert again.maybe_sent
        await tx.outbox.mark_failed(item_id, 1, "blocked", owner="b")
        assert (await tx.outbox.get(item_id)).maybe_sent is False


async def test_items_given_back_untouched_are_not_maybe_sent(store: SqlStore) -> None:
    """`release`: the sender did not get to them; a later claim is a first one."""
    async with store.transaction() as tx:
        item_id = await tx.outbox.enqueue(message(), NOW)
        await tx.outbox.claim_due(NOW, at(60), 10, owner="a")
        await tx.outbox.release([item_id], owner="a")
        assert (await tx.outbox.get(item_id)).maybe_sent is False
        [claimed] = await tx.outbox.claim_due(at(1), at(61), 10, owner="b")
        assert claimed.maybe_sent is False


async def test_leftovers_of_a_restarted_sender_are_maybe_sent(store: SqlStore) -> None:
    async with store.transaction() as tx:
        left = await tx.outbox.enqueue(message("1"), NOW)
        theirs = await tx.outbox.enqueue(message("2"), NOW)
        await tx.outbox.claim_due(NOW, at(60), 1, owner="me")
        await tx.outbox.claim_due(NOW, at(60), 1, owner="them")
        assert await tx.outbox.release_held_by("me") == 1
        assert (await tx.outbox.get(left)).maybe_sent is True
        assert (await tx.outbox.get(theirs)).maybe_sent is False
        [claimed] = await tx.outbox.claim_due(at(1), at(61), 10, owner="me")
        assert claimed.id == left and claimed.maybe_sent is True


async def test_followers_whose_lease_lapsed_are_maybe_sent_too(store: SqlStore) -> None:
    async with store.transaction() as tx:
        a1 = await tx.outbox.enqueue(message("A", "a1"), NOW)
        a2 = await tx.outbox.enqueue(message("A", "a2"), NOW)
        b1 = await tx.outbox.enqueue(message("B", "b1"), NOW)
        await tx.outbox.claim_due(NOW, at(60), 10, per_lane=5, owner="a")  # a1, a2, b1
        c1 = await tx.outbox.enqueue(message("C", "c1"), at(1))
        a3 = await tx.outbox.enqueue(message("A", "a3"), at(1))
    async with store.transaction() as tx:
        claimed = await tx.outbox.claim_due(at(61), at(121), 10, per_lane=5, owner="b")
        marks = {item.id: item.maybe_sent for item in claimed}
        assert marks == {a1: True, a2: True, b1: True, c1: False, a3: False}
        assert [(await tx.outbox.get(i)).maybe_sent for i in (a2, a3)] == [True, False]


async def test_prune_outbox_keeps_pending_items(store: SqlStore) -> None:
    async with store.transaction() as tx:
        sent = await tx.outbox.enqueue(message("A"), NOW)
        failed = await tx.outbox.enqueue(message("B"), NOW)
        pending = await tx.outbox.enqueue(message("C"), NOW)
        await tx.outbox.mark_sent_many([(sent, 1)], NOW)
        await tx.outbox.mark_failed(failed, 1, "no")
        assert await tx.outbox.prune(NOW) == 0
        assert await tx.outbox.prune(at(1)) == 2
        assert await tx.outbox.get(sent) is None
        assert await tx.outbox.get(pending) is not None


# -- knowledge base


DRAFT = FaqDraft(
    question="How do I reset my password?",
    answer="Use the link on the login page.",
    language="en",
    variants=("forgot password", "reset password", "forgot password", ""),
    category="account",
)


async def test_faq_create_get_and_list(store: SqlStore) -> None:
    async with store.transaction() as tx:
        assert await tx.faq.list() == []
        entry = await tx.faq.create(DRAFT, NOW)
        hidden = await tx.faq.create(
            FaqDraft("Скрытый вопрос", "Ответ", "ru", variants=("Скрытый вопрос",), enabled=False),
            NOW,
        )
    assert entry.variants == ("forgot password", "reset password")
    assert (entry.question, entry.answer, entry.language) == (
        DRAFT.question,
        DRAFT.answer,
        "en",
    )
    assert entry.category == "account" and entry.enabled is True
    assert (entry.hits, entry.helpful, entry.unhelpful) == (0, 0, 0)
    assert hidden.variants == () and hidden.enabled is False
    async with store.transaction() as tx:
        assert await tx.faq.get(entry.id) == entry
        assert await tx.faq.get(999) is None
        assert await tx.faq.list() == [entry, hidden]
        assert await tx.faq.list(include_disabled=False) == [entry]


async def test_faq_update_replaces_fields_and_variants(store: SqlStore) -> None:
    async with store.transaction() as tx:
        entry = await tx.faq.create(DRAFT, NOW)
        new = FaqDraft("Reset password?", "Ask an admin.", "en", ("lost password",), None, False)
        updated = await tx.faq.update(entry.id, new, at(1))
        assert updated == await tx.faq.get(entry.id)
    assert (updated.question, updated.answer, updated.category, updated.enabled) == (
        "Reset password?",
        "Ask an admin.",
        None,
        False,
    )
    assert updated.variants == ("lost password",)
    async with store.transaction() as tx:
        with pytest.raises(KeyError):
            await tx.faq.update(999, new, at(2))


async def test_faq_variants_add_and_only_approved_ones_count(store: SqlStore) -> None:
    async with store.transaction() as tx:
        entry = await tx.faq.create(DRAFT, NOW)
        with_new = await tx.faq.add_variant(entry.id, "password lost", at(1))
        assert with_new.variants == ("forgot password", "reset password", "password lost")
        assert await tx.faq.get(entry.id) == with_new
        # Repeats change nothing.
        assert await tx.faq.add_variant(entry.id, "password lost", at(2)) == with_new
        assert await tx.faq.add_variant(entry.id, DRAFT.question, at(2)) == with_new
        with pytest.raises(KeyError):
            await tx.faq.add_variant(999, "x", at(2))

        def add_learned(conn: Connection) -> None:
            for status in ("candidate", "rejected"):
                conn.execute(
                    insert(faq_variants).values(
                        entry_id=entry.id,
                        text=status,
                        source="learned",
                        status=status,
                        created_at=NOW,
                    )
                )

        await tx.run_sync(add_learned)
        assert (await tx.faq.get(entry.id)).variants == with_new.variants
        assert (await tx.faq.list())[0].variants == with_new.variants
        # Replacing the variants keeps what was learned (not approved).
        await tx.faq.update(entry.id, DRAFT, at(3))
        learned = await tx.run_sync(
            lambda conn: (
                conn.execute(select(faq_variants.c.text).where(faq_variants.c.source == "learned"))
                .scalars()
                .all()
            )
        )
        assert sorted(learned) == ["candidate", "rejected"]


async def test_faq_counters(store: SqlStore) -> None:
    async with store.transaction() as tx:
        entry = await tx.faq.create(DRAFT, NOW)
        for counter in ("hits", "hits", "hits", "helpful", "unhelpful", "unhelpful"):
            await tx.faq.count_event(entry.id, counter)
        with pytest.raises(ValueError):
            await tx.faq.count_event(entry.id, "question")
        counted = await tx.faq.get(entry.id)
    assert (counted.hits, counted.helpful, counted.unhelpful) == (3, 1, 2)


async def test_faq_delete_removes_the_variants_too(store: SqlStore) -> None:
    async with store.transaction() as tx:
        entry = await tx.faq.create(DRAFT, NOW)
        kept = await tx.faq.create(FaqDraft("q", "a", "en", ("v",)), NOW)
        assert await tx.faq.delete(entry.id) is True
        assert await tx.faq.delete(entry.id) is False
        assert await tx.faq.get(entry.id) is None
        assert await tx.faq.list() == [kept]
        left = await tx.run_sync(
            lambda conn: conn.execute(select(func.count()).select_from(faq_variants)).scalar_one()
        )
    assert left == 1


async def test_faq_revision_grows_with_every_change(store: SqlStore) -> None:
    async with store.transaction() as tx:
        revisions = [await tx.faq.revision()]
        entry = await tx.faq.create(DRAFT, NOW)
        revisions.append(await tx.faq.revision())
        await tx.faq.update(entry.id, DRAFT, at(1))
        revisions.append(await tx.faq.revision())
        await tx.faq.add_variant(entry.id, "another wording", at(2))
        revisions.append(await tx.faq.revision())
        await tx.faq.count_event(entry.id, "hits")  # statistics are no change of content
        assert await tx.faq.revision() == revisions[-1]
        await tx.faq.delete(entry.id)
        revisions.append(await tx.faq.revision())
        await tx.faq.delete(entry.id)  # nothing deleted
    async with store.transaction() as tx:
        assert await tx.faq.revision() == revisions[-1]
    assert revisions == sorted(set(revisions)) and len(revisions) == 5


# -- roles and audit


async def test_roles_grant_and_revoke_are_idempotent(store: SqlStore) -> None:
    async with store.transaction() as tx:
        assert await tx.roles.list() == []
        assert await tx.roles.grant("telegram", "1", "agent", NOW) is True
        assert await tx.roles.grant("telegram", "1", "agent", NOW) is False
        assert await tx.roles.grant("telegram", "1", "admin", NOW) is True
        assert await tx.roles.grant("slack", "U1", "agent", NOW) is True
    async with store.transaction() as tx:
        assert await tx.roles.list() == [
            ("slack", "U1", "agent"),
            ("telegram", "1", "admin"),
            ("telegram", "1", "agent"),
        ]
        assert await tx.roles.revoke("telegram", "1", "agent") is True
        assert await tx.roles.revoke("telegram", "1", "agent") is False
        assert await tx.roles.revoke("vk", "1", "admin") is False
        assert await tx.roles.list() == [("slack", "U1", "agent"), ("telegram", "1", "admin")]


async def test_audit_log_newest_first(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.audit.record(
            AuditEntry("telegram:1", "faq.create", "faq", "1", NOW, after={"q": "вопрос"})
        )
        await tx.audit.record(
            AuditEntry(
                None,
                "ticket.close",
                "ticket",
                "7",
                at(1),
                before={"s": "open"},
                after={"s": "closed"},
            )
        )
        await tx.audit.record(
            AuditEntry(
                "slack:U1", "faq.update", "faq", "1", at(2), before={"a": [1]}, after={"a": [1, 2]}
            )
        )
    async with store.transaction() as tx:
        records = await tx.audit.list()
        faq_records = await tx.audit.list("faq")
        assert await tx.audit.list(limit=1) == records[:1]
        assert await tx.audit.list("nothing") == []
    assert [r.action for r in records] == ["faq.update", "ticket.close", "faq.create"]
    assert [r.action for r in faq_records] == ["faq.update", "faq.create"]
    closing = records[1]
    assert closing.actor is None
    assert (closing.object_type, closing.object_id) == ("ticket", "7")
    assert (closing.before, closing.after, closing.at) == ({"s": "open"}, {"s": "closed"}, at(1))
    assert records[2].before is None and records[2].after == {"q": "вопрос"}


# -- transactions


async def test_an_exception_rolls_everything_back(store: SqlStore) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with store.transaction() as tx:
            await tx.updates.claim("telegram", "1", NOW)
            await tx.users.upsert("telegram", "42", "Ann", None, None, NOW)
            await tx.outbox.enqueue(message(), NOW)
            await tx.roles.grant("telegram", "42", "admin", NOW)
            raise Boom
    async with store.transaction() as tx:
        assert await tx.updates.claim("telegram", "1", NOW) is True
        assert await tx.users.find("telegram", "42") is None
        assert await tx.outbox.count_pending() == 0
        assert await tx.roles.list() == []


async def test_a_failed_statement_rolls_back_and_the_store_goes_on(store: SqlStore) -> None:
    with pytest.raises(Exception, match="(?i)foreign key"):
        async with store.transaction() as tx:
            await tx.updates.claim("telegram", "1", NOW)
            await tx.tickets.create(
                NewTicket(999, CHAT, "no such user", None, Priority.NORMAL, NOW)
            )
    async with store.transaction() as tx:
        assert await tx.updates.claim("telegram", "1", NOW) is True


async def test_a_savepoint_rolls_back_only_its_own_changes(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.updates.claim("telegram", "kept", NOW)
        with pytest.raises(RuntimeError):
            async with tx.savepoint():
                await tx.updates.claim("telegram", "undone", NOW)
                raise RuntimeError("one message failed")
        async with tx.savepoint():
            await tx.updates.claim("telegram", "nested ok", NOW)
    async with store.transaction() as tx:
        assert await tx.updates.claim("telegram", "kept", NOW) is False
        assert await tx.updates.claim("telegram", "undone", NOW) is True
        assert await tx.updates.claim("telegram", "nested ok", NOW) is False


async def test_a_transaction_cannot_be_used_after_it_ended(store: SqlStore) -> None:
    async with store.transaction() as tx:
        pass
    with pytest.raises(RuntimeError, match="over"):
        await tx.updates.claim("telegram", "1", NOW)


async def test_a_cancelled_transaction_rolls_back_and_frees_the_store(store: SqlStore) -> None:
    inside = asyncio.Event()

    async def cancelled_handler() -> None:
        async with store.transaction() as tx:
            await tx.updates.claim("telegram", "cancelled", NOW)
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(cancelled_handler())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with store.transaction() as tx:
        assert await tx.updates.claim("telegram", "cancelled", NOW) is True


async def test_cancelling_while_waiting_for_the_transaction_loses_nothing(store: SqlStore) -> None:
    """Tasks cancelled at any point while queueing for the database leave it consistent."""

    async def handler(n: int) -> None:
        async with store.transaction() as tx:
            await tx.updates.claim("telegram", str(n), NOW)
            await tx.outbox.enqueue(message(str(n)), NOW)

    tasks = [asyncio.create_task(handler(n)) for n in range(20)]
    await asyncio.sleep(0)
    for task in tasks[::3]:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    done = [n for n, result in enumerate(results) if result is None]
    async with store.transaction() as tx:
        assert await tx.outbox.count_pending() == len(done)
        for n in range(20):
            assert await tx.updates.claim("telegram", str(n), NOW) is (n not in done)


async def test_concurrent_transactions_all_commit(store: SqlStore) -> None:
    async def handler(n: int) -> None:
        async with store.transaction() as tx:
            await tx.updates.claim("telegram", str(n), NOW)
            user, _ = await tx.users.upsert("telegram", str(n % 5), "U", None, None, NOW)
            await tx.outbox.enqueue(message(str(n)), NOW)

    await asyncio.gather(*(handler(n) for n in range(50)))
    async with store.transaction() as tx:
        assert await tx.outbox.count_pending() == 50


# -- datetimes


async def test_datetimes_come_back_aware_in_utc(store: SqlStore) -> None:
    moscow = timezone(timedelta(hours=3))
    local_now = NOW.astimezone(moscow)
    async with store.transaction() as tx:
        user, _ = await tx.users.upsert("telegram", "42", "Ann", None, None, local_now)
        ticket = await tx.tickets.create(
            NewTicket(user.id, CHAT, "s", None, Priority.NORMAL, local_now)
        )
        item_id = await tx.outbox.enqueue(message(), local_now)
        await tx.audit.record(AuditEntry(None, "a", "t", "1", local_now))
    async with store.transaction() as tx:
        values = [
            (await tx.users.get(user.id)).created_at,
            (await tx.tickets.get(ticket.id)).created_at,
            (await tx.outbox.get(item_id)).next_attempt_at,
            (await tx.audit.list())[0].at,
        ]
        # Compared in UTC: stored +03:00 values sort correctly against UTC ones.
        assert len(await tx.outbox.claim_due(NOW - timedelta(microseconds=1), at(60), 10)) == 0
        assert len(await tx.outbox.claim_due(NOW, at(60), 10)) == 1
    for value in values:
        assert value == NOW
        assert value.utcoffset() == timedelta(0)
        assert value.tzinfo is UTC


async def test_naive_datetimes_are_refused(store: SqlStore) -> None:
    with pytest.raises(Exception, match="naive"):
        async with store.transaction() as tx:
            await tx.updates.claim("telegram", "1", datetime(2026, 1, 1))


# -- schema


def _schema_differences(connection: Connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def test_migrations_match_the_models(store: SqlStore) -> None:
    assert await store.run_sync(_schema_differences) == []


def test_the_newest_migration_file_is_the_head() -> None:
    assert newest_revision_file() == head_revision()


async def test_a_start_on_an_up_to_date_database_does_not_load_alembic(database_url: str) -> None:
    """Alembic, Mako and Pygments cost about 11 MB that a running bot does not need."""
    await upgrade_database(database_url)
    script = (
        "import asyncio, sys\n"
        "from storage import open_store\n"
        "async def main():\n"
        f"    store = await open_store({database_url!r})\n"
        "    await store.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in ('alembic', 'mako', 'pygments') if m in sys.modules))\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await process.communicate()
    assert process.returncode == 0 and output.decode().strip() == "[]"


async def test_migrating_twice_changes_nothing(database_url: str, store: SqlStore) -> None:
    await upgrade_database(database_url)
    await upgrade_database(database_url)
    assert await store.run_sync(current_revision) == head_revision()
    assert await store.run_sync(_schema_differences) == []


def _drop_everything(connection: Connection) -> None:
    Base.metadata.drop_all(connection)
    connection.execute(text("DROP TABLE alembic_version"))


async def _migrate_in_another_process(url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import asyncio, sys; from storage import upgrade_database; "
        "asyncio.run(upgrade_database(sys.argv[1]))",
        url,
        cwd=REPOSITORY_ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()


async def test_processes_starting_at_once_migrate_once(database_url: str, store: SqlStore) -> None:
    await store.run_sync(_drop_everything)
    assert await store.run_sync(current_revision) is None
    await asyncio.gather(*(_migrate_in_another_process(database_url) for _ in range(3)))
    assert await store.run_sync(current_revision) == head_revision()
    assert await store.run_sync(_schema_differences) == []


async def test_several_databases_migrate_at_once_in_one_process(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / str(n) / 'helpdesk.sqlite3'}" for n in range(4)]
    stores = await asyncio.gather(*(open_store(url) for url in urls[:2]))
    await asyncio.gather(*(upgrade_database(url) for url in urls[2:]))
    stores += [await open_store(url, migrate=False) for url in urls[2:]]
    try:
        for store in stores:
            assert await store.run_sync(current_revision) == head_revision()
    finally:
        for store in stores:
            await store.close()


async def test_a_closed_store_refuses_transactions(database_url: str) -> None:
    store = await open_store(database_url, migrate=False)
    await store.close()
    with pytest.raises(Exception, match="closed"):
        async with store.transaction():
            pass


async def test_open_store_creates_and_migrates_a_new_sqlite_file(tmp_path) -> None:
    path = tmp_path / "data" / "nested" / "helpdesk.sqlite3"
    store = await open_store(f"sqlite:///{path}")
    try:
        assert path.exists()
        assert await store.run_sync(current_revision) == head_revision()
        pragmas = await store.run_sync(
            lambda conn: [
                conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            ]
        )
        # synchronous 2 = FULL: an acknowledged commit survives a power loss.
        assert pragmas[:3] == ["wal", 2, 1] and pragmas[3] > 0
    finally:
        await store.close()
    faster = await open_store(
        f"sqlite:///{path}", options=StoreOptions(sqlite_synchronous="normal")
    )
    try:
        sync = await faster.run_sync(lambda c: c.exec_driver_sql("PRAGMA synchronous").scalar())
        assert sync == 1  # NORMAL, when the operator chose it
    finally:
        await faster.close()
    reopened = await open_store(f"sqlite+aiosqlite:///{path}")  # the async spelling works too
    await reopened.close()


async def test_an_in_memory_sqlite_store_works() -> None:
    store = await open_store("sqlite://")
    try:
        async with store.transaction() as tx:
            assert await tx.updates.claim("telegram", "1", NOW) is True
        async with store.transaction() as tx:
            assert await tx.updates.claim("telegram", "1", NOW) is False
    finally:
        await store.close()


def test_unsupported_database_urls_are_refused() -> None:
    from storage.urls import parse_database_url

    with pytest.raises(ValueError, match="unsupported database URL"):
        parse_database_url("mysql://root@localhost/helpdesk")
    assert parse_database_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    assert parse_database_url("sqlite:///x.sqlite3").drivername == "sqlite+aiosqlite"


async def test_learned_variants_wait_for_review(store: SqlStore) -> None:
    async with store.transaction() as tx:
        entry = await tx.faq.create(FaqDraft("How do I log in?", "Use SSO.", "en"), NOW)
        first = await tx.learned.add(entry.id, "  cannot   log in  ", NOW)
        assert first is not None
        assert await tx.learned.add(entry.id, "CANNOT log in", NOW) is None  # known
        assert await tx.learned.add(entry.id, "how do i log in?", NOW) is None  # question
        assert await tx.learned.add(entry.id, "x" * 500, NOW) is None  # a story
        assert await tx.learned.add(entry.id + 1000, "who am i", NOW) is None
        [candidate] = await tx.learned.candidates()
        assert (candidate.entry_id, candidate.text) == (entry.id, "cannot log in")
        assert (await tx.faq.get(entry.id)).phrasings == ("How do I log in?",)
        revision = await tx.faq.revision()
        assert await tx.learned.review(first, approve=True) == entry.id
        assert await tx.learned.review(first, approve=False) is None  # reviewed already
        approved = await tx.faq.get(entry.id)
        assert (approved.variants, approved.learned) == ((), ("cannot log in",))
        assert await tx.faq.revision() > revision
        assert await tx.learned.candidates() == []
        assert (await tx.faq.list())[0].learned == ("cannot log in",)
        # An admin's edit replaces the admin's wordings only; learned ones stay.
        draft = FaqDraft("How do I log in?", "Use SSO.", "en", variants=("sign in",))
        edited = await tx.faq.update(entry.id, draft, NOW)
        assert (edited.variants, edited.learned) == (("sign in",), ("cannot log in",))
        # An admin adding a wording the entry learned already changes nothing.
        same = await tx.faq.add_variant(entry.id, "cannot log in", NOW)
        assert (same.variants, same.learned) == (("sign in",), ("cannot log in",))


async def test_sentence_vectors_are_kept_by_model_and_text(store: SqlStore) -> None:
    long_text = "как " * 2000  # longer than any index would take as a key
    async with store.transaction() as tx:
        await tx.vectors.save("use-m3/1", {"пароль": b"\x01\x02", long_text: b"\x03"})
    async with store.transaction() as tx:
        await tx.vectors.save("use-m3/1", {"пароль": b"\xff"})  # a text keeps its vector
        found = await tx.vectors.load("use-m3/1", ["пароль", long_text, "unknown"])
        other_model = await tx.vectors.load("use-m3/2", ["пароль"])
    assert found == {"пароль": b"\x01\x02", long_text: b"\x03"}
    assert other_model == {}


async def test_sentence_vectors_load_and_save_many_at_once(store: SqlStore) -> None:
    vectors = {f"wording {n}": n.to_bytes(4, "little") for n in range(1200)}
    async with store.transaction() as tx:
        await tx.vectors.save("m", vectors)
    async with store.transaction() as tx:
        assert await tx.vectors.load("m", list(vectors)) == vectors


async def test_a_transaction_cancelled_anywhere_leaves_the_store_usable(store: SqlStore) -> None:
    """A task cancelled while its BEGIN, a statement or its COMMIT runs (a shutdown, a timeout)
    must not leave the connection inside a transaction for the next one."""

    async def write(n: int) -> None:
        async with store.transaction() as tx:
            await tx.positions.set("t", f"p{n}", "v", NOW)

    for n, delay in enumerate((0, 0.0001, 0.0003, 0.001, 0.003)):
        task = asyncio.create_task(write(n))
        await asyncio.sleep(delay)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await write(100 + n)
        async with store.transaction() as tx:
            assert await tx.positions.get("t", f"p{100 + n}") == "v"
