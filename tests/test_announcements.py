"""Announcements as a conversation, on every storage backend: a preview with the count and a
button; each reachable user gets one copy in their language (never the ones who opted out or are
banned); audiences; progress and the final count; 1,000 users with the sender restarted half-way
get one copy each."""

from __future__ import annotations

from core.delivery.outbox import OutboxConfig, OutboxSender
from core.delivery.ratelimit import RateLimiter
from core.messages import ConversationRef
from core.ports import RateLimits
from tests.harness import ADMIN, CHANNEL, Harness

TELEGRAM_LIKE = RateLimits(per_chat=1, per_chat_window=1.0, overall=30)


async def admin_says(h: Harness, text: str) -> str:
    await h.deliver(h.staff_message(text, agent=ADMIN))
    return h.to_staff()[-1].message.text


async def press_in_staff(h: Harness, label: str) -> str:
    for delivery in reversed(h.to_staff()):
        for row in delivery.message.buttons:
            for button in row:
                if button.label == label:
                    return await admin_says(h, button.payload)
    raise AssertionError(f"no button {label!r} in the staff chat")


async def test_a_preview_then_one_copy_each_in_their_language_and_the_final_count(store):
    h = Harness(store)
    await h.user_says("/status", user="ann")
    await h.user_says("/status", user="ivan", language="ru")
    await h.user_says("/announcements off", user="olga")
    await h.user_says("/status", user="spam")
    await admin_says(h, "/ban memory:spam")

    preview = await admin_says(h, "/announce The VPN is down until 18:00.\nWe are on it.")
    assert preview == (
        "📣 Announcement #1, to all: 2 users will get\n\n"
        "The VPN is down until 18:00.\nWe are on it."
    )
    assert h.to_user("ann")[-1].endswith("You have no tickets yet.")  # nothing sent yet

    sending = await press_in_staff(h, "📣 Send to 2 users")
    assert sending.startswith("📣 Announcement #1 is on its way to 2 users")
    assert h.to_user("ann")[-1] == (
        "📣 The VPN is down until 18:00.\nWe are on it.\n\n"
        "(/announcements off: no more announcements)"
    )
    assert h.to_user("ivan")[-1].endswith("(/announcements off — больше не присылать объявления)")
    assert not any("VPN" in text for text in h.to_user("olga") + h.to_user("spam"))

    assert await press_in_staff(h, "📣 Send to 2 users") == (
        "Announcement #1 was already sent or cancelled."
    )  # a second press sends nothing
    assert await h.jobs.announcements.check() == 1
    await h.flush()
    assert h.to_staff()[-1].message.text == (
        "📣 Announcement #1 is done: 2 sent, 0 blocked the bot or are gone, 0 failed."
    )
    assert await h.jobs.announcements.check() == 0  # once
    assert (await admin_says(h, "/announce_status 1")).startswith(
        "📣 Announcement #1 (2 users): 2 sent, 0 on the way"
    )


async def test_audiences_cancel_and_refusals(store):
    h = Harness(store)
    await h.user_says("/new my printer is on fire", user="ann")
    await h.user_says("/status", user="bob")
    assert (await admin_says(h, "/announce to open Printers are back")).startswith(
        "📣 Announcement #1, to open: 1 user will get"
    )
    assert "to memory: 2 users" in await admin_says(h, "/announce to memory Hello all")
    assert "to telegram: 0 users" in await admin_says(h, "/announce to telegram Hello")
    assert "1 user will get" in await admin_says(h, "/announce to line:L1 Line news")
    assert (await admin_says(h, "/announce to line:nowhere Hi")).startswith("Usage: /announce")
    assert (await admin_says(h, "/announce")).startswith("Usage: /announce")

    assert await press_in_staff(h, "Cancel") == "Announcement #4 is cancelled; nobody got it."
    assert await admin_says(h, "/announce_send 4") == (
        "Announcement #4 was already sent or cancelled."
    )
    await h.deliver(h.staff_message("/announce Hi", agent="agent1"))
    assert h.to_staff()[-1].message.text == "Sorry, /announce needs the admin role."
    await h.user_says("/announce hi", user="bob")  # admins may announce from a private chat
    assert h.to_user("bob")[-1] == "Sorry, /announce needs the admin role."


class VirtualTime:
    """The pacing's clock: a sleep moves it on at once (one sender at a time, concurrency 1)."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    def pacer(self, limits: RateLimits) -> RateLimiter:
        return RateLimiter(limits, self.monotonic, self.sleep)


async def test_a_thousand_users_with_the_sender_restarted_half_way_get_one_copy_each(store):
    """At Telegram's pace (30 a second overall): never more than 30 copies in a second, so
    1,000 take over half a minute; the sender is replaced half-way and nobody gets a second
    copy."""
    h = Harness(store)
    h.adapter.rate_limits = TELEGRAM_LIKE
    time = VirtualTime()
    sent_at: list[float] = []
    send = h.adapter.send

    async def timed(message, idempotency_key):
        sent_at.append(time.now)
        return await send(message, idempotency_key)

    h.adapter.send = timed
    async with store.transaction() as tx:
        for n in range(1000):
            chat = ConversationRef(CHANNEL, f"chat-p{n}")
            await tx.users.upsert(CHANNEL, f"p{n}", f"P{n}", "en", chat, h.clock())
    await admin_says(h, "/announce Maintenance tonight at 22:00.")
    await h.engine.handle(h.staff_message("/announce_send 1", agent=ADMIN))  # queued only
    sent_at.clear()  # the preview went out unpaced, by the harness's own sender

    config = OutboxConfig(batch_size=100, concurrency=1)
    first = OutboxSender(store, {CHANNEL: h.adapter}, config, h.clock, time.pacer)
    for _ in range(5):
        await first.deliver_due()  # half-way; then the process is gone
    assert 400 <= len(copies_sent(h)) < 1000
    half = len(sent_at)
    restarted = OutboxSender(store, {CHANNEL: h.adapter}, config, h.clock, time.pacer)
    while await restarted.deliver_due():
        pass
    # Each sender keeps to 30 a second (a new process starts its count afresh).
    for times in (sent_at[:half], sent_at[half:]):
        assert max(sum(1 for t in times if start <= t < start + 0.999) for start in times) <= 30
    assert time.now >= (1000 - 2 * 30) / 30

    copies = copies_sent(h)
    assert len(copies) == 1000 and len(set(copies)) == 1000
    assert await h.jobs.announcements.check() == 1
    await h.flush()
    assert h.to_staff()[-1].message.text.startswith("📣 Announcement #1 is done: 1,000 sent")


def copies_sent(h: Harness) -> list[str]:
    """The private chats an announcement reached, one entry per copy."""
    return [
        d.message.conversation.chat_id
        for d in h.adapter.deliveries
        if d.message.announcement_id is not None
    ]


async def test_an_agent_writes_first_to_a_known_user_and_the_conversation_goes_on(store):
    h = Harness(store)
    await h.user_says("/status", user="ann")
    await h.deliver(h.staff_message("/write memory:ann Your new laptop is ready at the desk."))
    assert h.to_user("ann")[-1] == "💬 Support (ticket #1):\nYour new laptop is ready at the desk."
    announcement = [d.message for d in h.to_staff() if d.message.ticket_id == 1][0]
    assert announcement.text.startswith("🆕 Ticket #1: Agent1 wrote first to Ann (memory:ann)")
    await h.user_says("great, coming at 3", user="ann")
    assert any("great, coming at 3" in d.message.text for d in h.to_staff())
    async with store.transaction() as tx:
        ticket = await tx.tickets.get(1)
    assert ticket.first_response_at is not None and ticket.assignee_id is not None

    await h.deliver(h.staff_message("/write telegram:42 hello"))
    assert h.to_staff()[-1].message.text.startswith(
        "telegram:42 has never written to the bot in a private chat"
    )
    await h.deliver(h.staff_message("/write memory:ann"))
    assert h.to_staff()[-1].message.text.startswith("Usage: /write channel:id TEXT")
