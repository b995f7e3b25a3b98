"""The queue at a glance, as a conversation on every storage backend: /queue sorted by the
nearest SLA deadline, /mine, /unassigned, /breaching, /find in subjects and messages (any case,
any script), /history of a user, pages with buttons, and each support line seeing only its own
tickets."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from channels.telegram import TelegramChannel
from core.domain import Priority
from core.messages import ConversationRef
from core.tickets.business_hours import BusinessCalendar, WorkingHours
from core.tickets.lines import SupportLine
from core.tickets.sla_policy import SlaPolicy, SlaTarget
from tests.harness import AGENT, CHANNEL, STAFF_CHAT, FakeClock, Harness

ALWAYS = WorkingHours(frozenset(range(7)), time(0), time(23, 59, 59))
TARGETS = {
    Priority.NORMAL: SlaTarget(first_response=timedelta(hours=4), resolution=timedelta(days=1)),
    Priority.URGENT: SlaTarget(first_response=timedelta(minutes=30), resolution=timedelta(hours=4)),
}
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def desk(store, **options) -> Harness:
    policy = SlaPolicy(TARGETS, BusinessCalendar(UTC, ALWAYS), warn_at=0.8)
    return Harness(store, FakeClock(MONDAY), sla=policy, **options)


async def staff_says(h: Harness, text: str, chat: str = STAFF_CHAT) -> str:
    """What the bot answered in that staff chat."""
    await h.deliver(h.staff_message(text, chat=chat))
    return h.adapter.texts_to(chat)[-1]


async def three_tickets(h: Harness) -> None:
    await h.user_says("/new the printer on floor 3 is jammed again", user="ann")
    h.clock.advance(minutes=10)
    await h.user_says("/new счёт за март не пришёл на почту", user="boris")
    h.clock.advance(minutes=10)
    await h.user_says("/new our whole office lost the VPN", user="carl")
    await staff_says(h, "/priority 3 urgent")


async def test_the_queue_puts_the_nearest_deadline_first(store):
    h = desk(store)
    await three_tickets(h)
    await h.agent_replies("/take", ticket=1)

    listing = await staff_says(h, "/queue")
    lines = listing.splitlines()
    assert lines[0] == "📋 Open tickets: 3 tickets"
    assert [line.split(" · ")[0] for line in lines[1:]] == ["#3", "#1", "#2"]
    assert lines[1] == "#3 · new · urgent · 👤 nobody · 0s · ⏰ due in 30m"
    assert "👤 Agent1" in lines[2]

    assert (await staff_says(h, "/mine")).splitlines()[1:] == [lines[2]]
    unassigned = (await staff_says(h, "/unassigned")).splitlines()
    assert [line.split(" · ")[0] for line in unassigned[1:]] == ["#3", "#2"]

    h.clock.advance(minutes=45)  # #3's first answer is now late
    breaching = (await staff_says(h, "/breaching")).splitlines()
    assert breaching[0] == "⚠️ Open tickets past their deadline: 1 ticket"
    assert breaching[1].startswith("#3 ") and breaching[1].endswith("⚠️ overdue by 15m")


async def test_find_looks_in_subjects_and_messages_in_any_case_and_script(store):
    h = desk(store)
    await three_tickets(h)
    await h.user_says("also the Toner is EMPTY", user="ann")

    assert (await staff_says(h, "/find toner")).splitlines()[1].startswith("#1 ")
    assert (await staff_says(h, "/find СЧЁТ")).splitlines()[1].startswith("#2 ")
    assert (await staff_says(h, "/find 100%_sure")).endswith("None.")  # wildcards are text
    assert (await staff_says(h, "/find ab")).startswith("Usage: /find TEXT")


async def test_history_of_the_tickets_user_or_a_named_one(store):
    h = desk(store)
    await three_tickets(h)
    await h.agent_replies("/close", ticket=1)
    await h.user_says("/new the printer is jammed once more, sorry", user="ann")

    in_thread = h.staff_message("/history", thread=h.thread_of(1))
    await h.deliver(in_thread)
    history = h.to_staff()[-1].message.text.splitlines()
    assert history[0] == "🗂 Tickets of Ann (memory:ann): 2 tickets"
    assert [line.split(" · ")[:2] for line in history[1:]] == [["#4", "new"], ["#1", "closed"]]
    assert (await staff_says(h, "/history memory:boris")).splitlines()[1].startswith("#2 ")
    assert (await staff_says(h, "/history")).startswith("Usage: /history")


async def test_long_lists_come_in_pages_with_buttons(store):
    h = desk(store)
    for n in range(12):
        await h.user_says(f"/new problem number {n} with the laptop", user=f"u{n}")
    first = h.to_staff()
    await staff_says(h, "/queue")
    page = h.to_staff()[-1]
    assert page.message.text.splitlines()[-1] == "Page 1 of 2"
    assert len(page.message.text.splitlines()) == 10  # the header, 8 tickets, the page
    *shows, [next_page] = page.message.buttons
    assert [b.payload for row in shows for b in row] == [f"/show {n}" for n in range(1, 9)]
    assert sum(map(len, page.message.buttons)) <= 10  # what a VK inline keyboard holds
    assert (next_page.label, next_page.payload) == ("2 ▶", "/queue 2")
    assert len(h.to_staff()) == len(first) + 1

    await h.deliver(h.staff_message(next_page.payload, agent=AGENT))  # pressing it
    second = h.to_staff()[-1].message
    assert [line.split(" · ")[0] for line in second.text.splitlines()[1:-1]] == [
        "#9",
        "#10",
        "#11",
        "#12",
    ]
    assert second.text.splitlines()[-1] == "Page 2 of 2"
    assert [b.payload for b in second.buttons[-1]] == ["/queue 1"]


async def test_each_line_sees_only_its_own_tickets(store):
    second_line = SupportLine("billing", ConversationRef(CHANNEL, "billing-staff"))
    h = desk(store, more_lines=(second_line,))
    await three_tickets(h)
    await staff_says(h, "/escalate 2 billing question")

    first = (await staff_says(h, "/queue")).splitlines()
    assert [line.split(" · ")[0] for line in first[1:]] == ["#3", "#1"]
    billing = (await staff_says(h, "/queue", chat="billing-staff")).splitlines()
    assert [line.split(" · ")[0] for line in billing[1:]] == ["#2"]


def test_telegram_topics_have_addresses_other_chats_do_not():
    topic_url = TelegramChannel.thread_url
    assert topic_url("-1001234567890", "77") == "https://t.me/c/1234567890/77"
    assert topic_url("-4567", "77") is None  # a basic group: no t.me/c address
    assert topic_url("@helpdesk_staff", "77") is None


async def test_rows_link_to_the_thread_where_the_platform_has_addresses(store):
    def urls(chat_id: str, thread_id: str) -> str:
        return f"https://chat.example/{chat_id}/{thread_id}"

    h = desk(store, thread_urls={CHANNEL: urls})
    await three_tickets(h)
    listing = await staff_says(h, "/queue")
    assert listing.splitlines()[1].endswith(f" · https://chat.example/staff/{h.thread_of(3)}")


async def test_show_brings_a_forgotten_tickets_card_back_into_its_thread(store):
    h = desk(store)
    await three_tickets(h)
    await h.user_says("and the toner is empty too", user="ann")
    await staff_says(h, "/show 1")
    card = h.to_staff()[-1].message
    assert card.ticket_id == 1 and card.to_staff  # in ticket #1's thread, linked to it
    assert card.text.startswith("🔁 #1")
    assert "the printer on floor 3 is jammed again" in card.text
    assert card.text.endswith("👤 and the toner is empty too")
    # A reply to the card reaches the user, as a reply to the announcement would.
    await h.deliver(h.staff_message("On my way with toner.", reply_to=h.to_staff()[-1].message_id))
    assert h.to_user("ann")[-1].endswith("On my way with toner.")
