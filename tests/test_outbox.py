"""The outbox sender: retries, retry-after, permanent failures, ordering, splitting, links."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from channels.memory import RecordingAdapter
from core.delivery.outbox import OutboxConfig, OutboxSender
from core.delivery.recovery import carried
from core.domain import NewTicket, OutboxStatus, Priority
from core.messages import Button, ConversationRef, OutgoingMessage, SentMessage
from core.ports import PermanentSendError, RateLimits, RetryAfter, TransientSendError
from core.work import utc_now
from tests.harness import CHANNEL, Harness


async def _enqueue(bot: Harness, chat: str, text: str, **fields) -> int:
    async with bot.store.transaction() as tx:
        return await tx.outbox.enqueue(
            OutgoingMessage(ConversationRef(CHANNEL, chat), text, **fields), bot.clock()
        )


async def _status(bot: Harness, item_id: int):
    async with bot.store.transaction() as tx:
        return await tx.outbox.get(item_id)


async def test_two_transient_failures_then_one_delivery(store):
    bot = Harness(store)
    bot.adapter.failures = [TransientSendError("502"), TimeoutError("slow")]
    item = await _enqueue(bot, "c1", "hello")
    for _ in range(3):
        await bot.sender.deliver_due()
        bot.clock.advance(seconds=120)
    assert bot.adapter.texts_to("c1") == ["hello"]
    row = await _status(bot, item)
    assert row.status == OutboxStatus.SENT and row.attempts == 2


async def test_retry_after_is_honoured_and_not_sooner(store):
    bot = Harness(store)
    bot.adapter.failures = [RetryAfter(30)]
    item = await _enqueue(bot, "c1", "hello")
    await bot.sender.deliver_due()
    bot.clock.advance(seconds=29)
    assert await bot.sender.deliver_due() == 0
    assert bot.adapter.texts_to("c1") == []
    bot.clock.advance(seconds=1)
    await bot.sender.deliver_due()
    assert bot.adapter.texts_to("c1") == ["hello"]
    assert (await _status(bot, item)).attempts == 0  # pacing is not a failure


async def test_permanent_failure_does_not_block_others(store):
    bot = Harness(store)
    bot.adapter.blocked_chats["blocked"] = PermanentSendError(
        "Forbidden: bot was blocked by the user"
    )
    failed = await _enqueue(bot, "blocked", "one")
    await _enqueue(bot, "blocked", "two")
    await _enqueue(bot, "c2", "other chat")
    await bot.flush()
    assert bot.adapter.texts_to("c2") == ["other chat"]
    row = await _status(bot, failed)
    assert row.status == OutboxStatus.FAILED and "blocked" in row.last_error


async def test_per_chat_order_survives_a_failure(store):
    bot = Harness(store)
    bot.adapter.failures = [TransientSendError("boom")]
    for text in ("first", "second", "third"):
        await _enqueue(bot, "c1", text)
    for _ in range(6):
        await bot.sender.deliver_due()
        bot.clock.advance(seconds=120)
    assert bot.adapter.texts_to("c1") == ["first", "second", "third"]


async def test_gives_up_after_max_attempts(store):
    bot = Harness(store)
    bot.sender.config = bot.sender.config.__class__(max_attempts=3, backoff_base=1, backoff_max=1)
    bot.adapter.failures = [TransientSendError("down")] * 10
    item = await _enqueue(bot, "c1", "hello")
    for _ in range(5):
        await bot.sender.deliver_due()
        bot.clock.advance(seconds=10)
    row = await _status(bot, item)
    assert row.status == OutboxStatus.FAILED and row.attempts == 3


async def test_long_text_is_split_once_with_buttons_on_the_last_part(store):
    bot = Harness(store)
    words = " ".join(f"word{i}" for i in range(1200))  # 9,689 characters: 3 parts of <= 4096
    button = Button("OK", "/ok")
    await _enqueue(bot, "c1", words, buttons=((button,),))
    await bot.flush()
    parts = bot.adapter.to_chat("c1")
    assert len(parts) == 3
    assert " ".join(p.message.text for p in parts) == words
    assert all(len(p.message.text) <= 4096 for p in parts)
    assert [bool(p.message.buttons) for p in parts] == [False, False, True]


async def test_split_message_resumes_after_a_failure_without_repeating_parts(store):
    bot = Harness(store)
    words = " ".join(f"word{i}" for i in range(1000))
    await _enqueue(bot, "c1", words)
    sent_first = []

    original = bot.adapter.send

    async def fail_on_second(message, idempotency_key):
        if idempotency_key.endswith(".1") and not sent_first:
            sent_first.append(True)
            raise TransientSendError("flaky")
        return await original(message, idempotency_key)

    bot.adapter.send = fail_on_second
    for _ in range(3):
        await bot.sender.deliver_due()
        bot.clock.advance(seconds=120)
    texts = bot.adapter.texts_to("c1")
    assert len(texts) == 2 and " ".join(texts) == words


async def test_missing_adapter_fails_the_item(store):
    bot = Harness(store)
    async with store.transaction() as tx:
        item = await tx.outbox.enqueue(
            OutgoingMessage(ConversationRef("nowhere", "c"), "hi"), bot.clock()
        )
    await bot.flush()
    assert (await _status(bot, item)).status == OutboxStatus.FAILED


async def test_sent_ticket_messages_are_linked_for_replies(store):
    bot = Harness(store)
    await bot.user_says("/new the projector in room 4 is blurry")
    announcement = bot.to_staff()[0]
    async with store.transaction() as tx:
        linked = await tx.links.find_ticket(CHANNEL, "staff", announcement.message_id)
        anchor = await tx.links.find_anchor(1, CHANNEL, "staff")
    assert linked == 1
    assert anchor.message_id == announcement.message_id and anchor.is_anchor


async def test_queued_replies_of_one_chat_go_in_one_round_in_order(store):
    bot = Harness(store)
    for text in ("one", "two", "three"):
        await _enqueue(bot, "c1", text)
    assert await bot.sender.deliver_due() == 3
    assert bot.adapter.texts_to("c1") == ["one", "two", "three"]


async def test_a_paced_chat_sends_its_head_and_leaves_the_rest_for_the_next_round(store):
    bot = Harness(store)
    bot.adapter.rate_limits = RateLimits(per_chat=1, per_chat_window=3600.0, overall=1000)
    bot.sender = OutboxSender(store, {CHANNEL: bot.adapter}, OutboxConfig(), bot.clock)
    first = await _enqueue(bot, "c1", "one")
    second = await _enqueue(bot, "c1", "two")
    await _enqueue(bot, "c2", "other")
    assert await bot.sender.deliver_due() == 2  # the heads of c1 and c2; "two" must wait
    assert (await _status(bot, first)).status == OutboxStatus.SENT
    async with store.transaction() as tx:  # not leased: any sender may take it when allowed
        claimed = await tx.outbox.claim_due(bot.clock(), bot.clock(), 10)
    assert [item.id for item in claimed] == [second]


async def test_announcement_and_follow_up_in_one_round_share_the_new_thread(store):
    bot = Harness(store)
    ticket_id = await _ticket(bot)
    staff = ConversationRef(CHANNEL, "staff")
    for text in ("announcement", "follow-up"):
        async with store.transaction() as tx:
            await tx.outbox.enqueue(
                OutgoingMessage(staff, text, ticket_id=ticket_id, to_staff=True), bot.clock()
            )
    await bot.sender.deliver_due()
    announcement, follow_up = bot.adapter.to_chat("staff")
    assert announcement.message.conversation.thread_id is None
    assert follow_up.message.conversation.thread_id == announcement.message_id


async def _ticket(bot: Harness) -> int:
    async with bot.store.transaction() as tx:
        user, _ = await tx.users.upsert(CHANNEL, "u9", "U9", "en", None, bot.clock())
        ticket = await tx.tickets.create(
            NewTicket(
                user.id,
                ConversationRef(CHANNEL, "chat-u9"),
                "s",
                None,
                Priority.NORMAL,
                bot.clock(),
            )
        )
    return ticket.id


async def _linked(bot: Harness, chat: str, message_ids: list[str]) -> list[int | None]:
    async with bot.store.transaction() as tx:
        return [await tx.links.find_ticket(CHANNEL, chat, m) for m in message_ids]


async def test_each_adapter_splits_the_same_message_at_its_own_limit(store):
    bot = Harness(store)
    narrow = RecordingAdapter("narrow", max_text_length=1000)
    sender = OutboxSender(
        store, {CHANNEL: bot.adapter, "narrow": narrow}, OutboxConfig(), bot.clock
    )
    words = " ".join(f"word{i}" for i in range(1200))  # 9,689 characters
    async with store.transaction() as tx:
        for channel in (CHANNEL, "narrow"):
            await tx.outbox.enqueue(
                OutgoingMessage(ConversationRef(channel, "c1"), words), bot.clock()
            )
    await sender.deliver_due()

    assert len(bot.adapter.texts_to("c1")) == 3  # 4,096 a part
    assert len(narrow.texts_to("c1")) == 10  # 1,000 a part
    assert " ".join(narrow.texts_to("c1")) == words
    assert [d.idempotency_key.split(".")[1] for d in narrow.deliveries] == [
        str(i) for i in range(10)
    ]


async def test_every_part_of_a_ticket_message_is_linked_and_follows_the_new_thread(store):
    bot = Harness(store)
    ticket = await _ticket(bot)
    words = " ".join(f"word{i}" for i in range(1200))  # 3 parts
    async with store.transaction() as tx:
        staff = ConversationRef(CHANNEL, "staff")
        await tx.outbox.enqueue(
            OutgoingMessage(staff, words, ticket_id=ticket, to_staff=True), bot.clock()
        )
        await tx.outbox.enqueue(
            OutgoingMessage(ConversationRef(CHANNEL, "chat-u9"), words, ticket_id=ticket),
            bot.clock(),
        )
    await bot.flush()

    first, *rest = bot.adapter.to_chat("staff")
    assert len(rest) == 2
    # The first part opened the ticket's thread; the rest of the announcement went into it.
    assert first.message.conversation.thread_id is None
    assert all(d.message.conversation.thread_id == first.message_id for d in rest)
    parts = [first, *rest]
    assert await _linked(bot, "staff", [d.message_id for d in parts]) == [ticket] * 3
    async with store.transaction() as tx:
        anchor = await tx.links.find_anchor(ticket, CHANNEL, "staff")
    assert anchor.message_id == first.message_id and anchor.thread_id == first.message_id
    to_user = bot.adapter.to_chat("chat-u9")
    assert len(to_user) == 3
    assert await _linked(bot, "chat-u9", [d.message_id for d in to_user]) == [ticket] * 3


async def test_a_part_that_failed_is_resent_alone_and_every_sent_part_is_linked(store):
    bot = Harness(store)
    ticket = await _ticket(bot)
    words = " ".join(f"word{i}" for i in range(1200))  # 3 parts
    item = await _enqueue(bot, "c1", words, ticket_id=ticket)
    original = bot.adapter.send
    failed: list[str] = []

    async def fail_on_third_once(message, idempotency_key):
        if idempotency_key.endswith(".2") and not failed:
            failed.append(idempotency_key)
            raise TransientSendError("flaky")
        return await original(message, idempotency_key)

    bot.adapter.send = fail_on_third_once
    await bot.sender.deliver_due()

    sent = bot.adapter.to_chat("c1")
    assert len(sent) == 2 and (await _status(bot, item)).parts_sent == 2
    assert await _linked(bot, "c1", [d.message_id for d in sent]) == [ticket] * 2

    bot.clock.advance(seconds=120)
    await bot.sender.deliver_due()

    sent = bot.adapter.to_chat("c1")
    assert [d.idempotency_key for d in sent] == [f"{item}.0", f"{item}.1", f"{item}.2"]
    assert " ".join(d.message.text for d in sent) == words
    assert await _linked(bot, "c1", [d.message_id for d in sent]) == [ticket] * 3
    row = await _status(bot, item)
    assert row.status == OutboxStatus.SENT and row.parts_sent == 3


async def _with_two_tickets(store) -> Harness:
    bot = Harness(store)
    await bot.user_says("/new one", user="a")
    await bot.user_says("/new two", user="b")
    return bot


def _about(bot: Harness) -> list[str]:
    """What reached the staff chat after the two announcements."""
    return [t for t in bot.adapter.texts_to("staff") if not t.startswith("🆕")]


async def test_one_tickets_stuck_thread_does_not_hold_up_the_others(store):
    """Regression: after a kill -9 the dead sender's leases held the whole staff chat for a
    minute, because the order was kept per chat; now it is kept per lane (a ticket's thread)."""
    bot = await _with_two_tickets(store)
    stuck = await _enqueue(bot, "staff", "about ticket 1", ticket_id=1, to_staff=True)
    await _enqueue(bot, "staff", "more about ticket 1", ticket_id=1, to_staff=True)
    await _enqueue(bot, "staff", "about ticket 2", ticket_id=2, to_staff=True)
    async with store.transaction() as tx:  # a sender that died holding ticket 1's head
        lease = bot.clock() + timedelta(seconds=60)
        [claimed] = await tx.outbox.claim_due(bot.clock(), lease, 1, owner="dead-process")
    assert claimed.id == stuck
    await bot.flush()
    assert _about(bot) == ["about ticket 2"]  # ticket 1 waits, in order


async def test_a_restarted_sender_frees_its_own_leases_at_once(store):
    bot = Harness(store)
    await _enqueue(bot, "c1", "claimed, then the process was killed")
    async with store.transaction() as tx:
        lease = bot.clock() + timedelta(seconds=60)
        await tx.outbox.claim_due(bot.clock(), lease, 10, owner=bot.sender.config.owner)
    restarted = OutboxSender(store, {CHANNEL: bot.adapter}, bot.sender.config, bot.clock)
    await restarted.deliver_due()  # no minute-long wait for the lease
    assert bot.adapter.texts_to("c1") == ["claimed, then the process was killed"]


async def test_lanes_of_a_paced_chat_take_turns(store):
    bot = await _with_two_tickets(store)
    paced = RecordingAdapter(CHANNEL)  # one message a second, but nothing to wait for yet
    paced.rate_limits = RateLimits(per_chat=1000, per_chat_window=1000.0, overall=1000)
    sender = OutboxSender(store, {CHANNEL: paced}, OutboxConfig(), bot.clock)
    for n in range(3):
        await _enqueue(bot, "staff", f"t1 #{n}", ticket_id=1, to_staff=True, buttons=((),))
    await _enqueue(bot, "staff", "t2 #0", ticket_id=2, to_staff=True)
    await sender.deliver_due()
    texts = [d.message.text for d in paced.to_chat("staff")]
    assert texts.index("t2 #0") < texts.index("t1 #2")  # not behind ticket 1's whole backlog
    assert [t for t in texts if t.startswith("t1")] == ["t1 #0", "t1 #1", "t1 #2"]


async def test_lanes_of_an_unpaced_chat_go_side_by_side_each_in_order(store):
    bot = await _with_two_tickets(store)
    for n in range(3):
        await _enqueue(bot, "staff", f"t1 #{n}", ticket_id=1, to_staff=True)
        await _enqueue(bot, "staff", f"t2 #{n}", ticket_id=2, to_staff=True)
    await bot.flush()
    texts = _about(bot)
    for ticket in ("t1", "t2"):
        assert [t for t in texts if t.startswith(ticket)] == [f"{ticket} #{n}" for n in range(3)]


async def test_a_send_longer_than_the_lease_keeps_its_items(store):
    """A slow upload or the platform's pacing must not let another sender take the same item
    and send it twice: the round lengthens its leases while it runs."""
    slow = RecordingAdapter(CHANNEL)
    original = slow.send

    async def send_slowly(message, idempotency_key):
        await asyncio.sleep(2.0)
        return await original(message, idempotency_key)

    slow.send = send_slowly  # type: ignore[method-assign]
    quick = OutboxConfig(lease_seconds=1.0)
    first = OutboxSender(store, {CHANNEL: slow}, replace(quick, owner="first"), utc_now)
    second = OutboxSender(store, {CHANNEL: slow}, replace(quick, owner="second"), utc_now)
    async with store.transaction() as tx:
        await tx.outbox.enqueue(
            OutgoingMessage(ConversationRef(CHANNEL, "c1"), "big file"), utc_now()
        )
    round_one = asyncio.create_task(first.deliver_due())
    await asyncio.sleep(1.4)  # past the first lease: only the extension keeps the item
    assert await second.deliver_due() == 0
    assert await round_one == 1
    assert slow.texts_to("c1") == ["big file"]


async def test_relays_queued_behind_the_pacing_travel_as_one_message(store):
    """Regression: Telegram takes about 20 messages a minute into a group, so 200 relays to 10
    tickets took 10 minutes to reach the agents. Queued staff messages for one ticket's thread
    now go as one message, each in its place."""
    bot = await _with_two_tickets(store)
    paced = RecordingAdapter(CHANNEL)
    paced.rate_limits = RateLimits(per_chat=20, per_chat_window=60.0, overall=30)
    sender = OutboxSender(store, {CHANNEL: paced}, OutboxConfig(), bot.clock)
    for n in range(5):
        await _enqueue(bot, "staff", f"💬 #1 A:\nmessage {n}", ticket_id=1, to_staff=True)
    await _enqueue(bot, "staff", "💬 #2 B:\nother ticket", ticket_id=2, to_staff=True)
    await sender.deliver_due()
    merged, other = paced.to_chat("staff")  # two sends instead of six
    assert merged.message.text == "\n\n".join(f"💬 #1 A:\nmessage {n}" for n in range(5))
    assert merged.message.conversation.thread_id == bot.thread_of(1)
    assert other.message.text == "💬 #2 B:\nother ticket"
    async with store.transaction() as tx:
        assert await tx.outbox.count_pending() == 0  # the five are all marked sent
    assert await _linked(bot, "staff", [merged.message_id]) == [1]


async def test_unpaced_chats_get_every_message_on_its_own(store):
    bot = await _with_two_tickets(store)
    for n in range(3):
        await _enqueue(bot, "staff", f"message {n}", ticket_id=1, to_staff=True)
    await bot.flush()
    assert _about(bot) == ["message 0", "message 1", "message 2"]


# -- items a sender may have delivered without recording it (maybe_sent)


class Killed(BaseException):
    """The process dies: nothing after it runs, nothing is recorded."""


class FindingAdapter(RecordingAdapter):
    """A platform where the adapter can find what it sent by its key (like Slack's metadata),
    and whose process can be killed right after the platform accepted a message."""

    def __init__(self, name: str = CHANNEL) -> None:
        super().__init__(name)
        self.lookups: list[tuple[OutgoingMessage, datetime | None]] = []
        self.lookup_failures: list[Exception] = []
        self.die_after_send = False
        self.fail_after_send: list[Exception] = []  # raised after the platform took it

    async def send(self, message: OutgoingMessage, idempotency_key: str) -> SentMessage:
        sent = await super().send(message, idempotency_key)
        if self.die_after_send:
            self.die_after_send = False
            raise Killed
        if self.fail_after_send:
            raise self.fail_after_send.pop(0)
        return sent

    async def find_sent(
        self, message: OutgoingMessage, since: datetime | None
    ) -> dict[str, SentMessage]:
        self.lookups.append((message, since))
        if self.lookup_failures:
            raise self.lookup_failures.pop(0)
        place = _place(message)
        return {
            d.idempotency_key: SentMessage(d.message_id, thread_id=d.message_id)
            if message.to_staff and message.conversation.thread_id is None
            else SentMessage(d.message_id)
            for d in self.deliveries
            if _place(d.message) == place
        }


def _place(message: OutgoingMessage) -> tuple[str, str | None]:
    conversation = message.conversation
    return conversation.chat_id, conversation.thread_id or message.reply_to_message_id


def _sender(bot: Harness, adapter: RecordingAdapter, owner: str, **config) -> OutboxSender:
    return OutboxSender(
        bot.store, {CHANNEL: adapter}, OutboxConfig(owner=owner, **config), bot.clock
    )


async def _dies_after_sending(sender: OutboxSender, adapter: FindingAdapter) -> None:
    adapter.die_after_send = True
    with pytest.raises(Killed):
        await sender.deliver_due()


async def test_a_send_whose_record_was_lost_is_found_and_not_repeated(store):
    """Sender A delivered the item and died before recording it; once A's lease lapsed, B
    asks the adapter first, finds the message, links it and marks the item sent."""
    bot = Harness(store)
    adapter = FindingAdapter()
    ticket = await _ticket(bot)
    item = await _enqueue(bot, "chat-u9", "delivered, never recorded", ticket_id=ticket)
    await _dies_after_sending(_sender(bot, adapter, "a"), adapter)
    [delivered] = adapter.deliveries
    plain = await _enqueue(bot, "c2", "queued after the crash")

    bot.clock.advance(seconds=61)  # A's lease lapses
    assert await _sender(bot, adapter, "b").deliver_due() == 2

    assert adapter.texts_to("chat-u9") == ["delivered, never recorded"]  # once
    assert adapter.texts_to("c2") == ["queued after the crash"]
    [(looked_up, since)] = adapter.lookups  # for the item A lost only
    assert (
        looked_up.conversation.chat_id == "chat-u9"
        and since == (await _status(bot, item)).created_at
    )
    row = await _status(bot, item)
    assert (row.status, row.parts_sent, row.maybe_sent) == (OutboxStatus.SENT, 1, False)
    assert (await _status(bot, plain)).status == OutboxStatus.SENT
    assert await _linked(bot, "chat-u9", [delivered.message_id]) == [ticket]


async def test_a_restarted_sender_finds_what_it_sent_before_the_crash(store):
    bot = Harness(store)
    adapter = FindingAdapter()
    item = await _enqueue(bot, "c1", "sent just before the crash")
    await _dies_after_sending(_sender(bot, adapter, "outbox"), adapter)
    restarted = _sender(bot, adapter, "outbox")  # frees its leftovers at once
    await restarted.deliver_due()
    assert adapter.texts_to("c1") == ["sent just before the crash"]
    assert len(adapter.lookups) == 1
    assert (await _status(bot, item)).status == OutboxStatus.SENT


async def test_a_send_that_timed_out_after_the_platform_took_it_is_not_repeated(store):
    """A timeout may come after the platform accepted the message: the retry looks first."""
    bot = Harness(store)
    adapter = FindingAdapter()
    item = await _enqueue(bot, "c1", "accepted, then the answer was lost")
    sender = _sender(bot, adapter, "a")
    adapter.fail_after_send = [TimeoutError("read timed out")]
    await sender.deliver_due()
    assert (await _status(bot, item)).maybe_sent is True

    bot.clock.advance(seconds=5)  # the backoff
    await sender.deliver_due()
    assert adapter.texts_to("c1") == ["accepted, then the answer was lost"]  # once
    assert len(adapter.lookups) == 1
    row = await _status(bot, item)
    assert (row.status, row.maybe_sent) == (OutboxStatus.SENT, False)


async def test_a_part_not_found_is_sent_and_the_parts_after_it_without_asking(store):
    """A died after the first of three parts: B finds that one, sends the other two."""
    bot = Harness(store)
    adapter = FindingAdapter()
    words = " ".join(f"word{i}" for i in range(1200))  # 3 parts
    item = await _enqueue(bot, "c1", words)
    await _dies_after_sending(_sender(bot, adapter, "a"), adapter)
    bot.clock.advance(seconds=61)
    await _sender(bot, adapter, "b").deliver_due()
    assert [d.idempotency_key for d in adapter.to_chat("c1")] == [f"{item}.{i}" for i in range(3)]
    assert len(adapter.lookups) == 2  # parts 0 (found) and 1 (not found); not part 2
    assert (await _status(bot, item)).parts_sent == 3


async def test_a_failed_lookup_is_retried_and_nothing_is_sent_meanwhile(store):
    bot = Harness(store)
    adapter = FindingAdapter()
    item = await _enqueue(bot, "c1", "hello")
    await _dies_after_sending(_sender(bot, adapter, "a"), adapter)
    bot.clock.advance(seconds=61)
    adapter.lookup_failures = [TransientSendError("history unavailable")]
    sender = _sender(bot, adapter, "b", backoff_base=1, backoff_max=1)
    await sender.deliver_due()
    row = await _status(bot, item)
    assert (row.status, row.attempts, row.maybe_sent) == (OutboxStatus.PENDING, 1, True)
    bot.clock.advance(seconds=2)
    await sender.deliver_due()
    assert adapter.texts_to("c1") == ["hello"]
    assert (await _status(bot, item)).status == OutboxStatus.SENT


async def test_relays_that_travelled_merged_are_all_found_in_the_one_message(store):
    """A merged three relays into one message and died; B finds that message for each of the
    three (they travel alone now) and sends only what was queued after the crash."""
    bot = await _with_two_tickets(store)
    adapter = FindingAdapter()
    adapter.rate_limits = RateLimits(per_chat=20, per_chat_window=60.0, overall=30)  # paced
    relays = [
        await _enqueue(bot, "staff", f"💬 #1 A:\nmessage {n}", ticket_id=1, to_staff=True)
        for n in range(3)
    ]
    await _dies_after_sending(_sender(bot, adapter, "a"), adapter)
    [merged] = adapter.to_chat("staff")
    assert merged.idempotency_key == f"{relays[0]}-{relays[-1]}.0"
    later = await _enqueue(bot, "staff", "💬 #1 A:\nafter the crash", ticket_id=1, to_staff=True)

    bot.clock.advance(seconds=61)
    sender = _sender(bot, adapter, "b")
    for _ in range(5):
        await sender.deliver_due()
        bot.clock.advance(seconds=3)

    assert [d.message.text for d in adapter.to_chat("staff")] == [
        merged.message.text,
        "💬 #1 A:\nafter the crash",
    ]
    for item in [*relays, later]:
        assert (await _status(bot, item)).status == OutboxStatus.SENT
    assert await _linked(bot, "staff", [merged.message_id]) == [1]


def test_which_send_carried_which_part():
    assert carried("12.1", 12, 1) and not carried("12.1", 12, 0) and not carried("12.1", 13, 1)
    assert carried("10-14.0", 12, 0, merged=True) and carried("10-14.0", 14, 0, merged=True)
    assert not carried("10-14.0", 12, 0) and not carried("10-14.0", 15, 0, merged=True)
    assert not carried("10-14.1", 12, 1, merged=True)
    assert not any(carried(key, 12, 0, merged=True) for key in ("", "12", "x.0", "a-b.0"))
