"""More than one open ticket per user, as a conversation on every storage backend: /new opens
another; a message that is not a reply to one of them is held and the user picks the ticket,
or it goes to the newest after CHOICE_WAIT; a reply goes to its ticket; /close asks which;
/status lists them all. Nothing is dropped, nothing waits for long."""

from __future__ import annotations

from core.conversation.ticket_choice import CHOICE_WAIT
from core.domain import Direction, TicketStatus
from tests.harness import Harness


async def user_texts(store, ticket_id: int) -> list[str]:
    async with store.transaction() as tx:
        said = await tx.messages.list(ticket_id)
    return [m.text for m in said if m.direction == Direction.FROM_USER]


async def two_tickets(h: Harness) -> None:
    await h.user_says("/new the printer on floor 3 is jammed")
    await h.user_says("/new my VPN does not connect from home")


async def test_new_opens_a_second_ticket_and_status_lists_both(store):
    h = Harness(store)
    await two_tickets(h)
    assert "opened ticket #2" in h.to_user()[-1]
    assert [d.message.ticket_id for d in h.to_staff()] == [1, 2]  # two announcements
    await h.user_says("/status")
    assert "#1 — new — the printer" in h.to_user()[-1] and "#2 — new — my VPN" in h.to_user()[-1]

    await h.user_says("/new")  # alone: the next message is the new problem
    await h.user_says("and the scanner is broken too")
    assert "opened ticket #3" in h.to_user()[-1]


async def test_the_user_picks_the_ticket_a_message_is_about(store):
    h = Harness(store)
    await two_tickets(h)
    await h.user_says("it is the HP one, by the window")
    question = h.last_to_user().message
    assert question.text.startswith("You have several open tickets. Which one is this about?")
    assert "it goes to the newest, #2, in 2 minutes" in question.text
    labels = [b.label for row in question.buttons for b in row]
    assert labels == ["#2 · my VPN does not connect fro…", "#1 · the printer on floor 3 is j…"]
    asked = len(h.to_user())
    await h.user_says("and it blinks orange")  # held too, not asked again
    assert len(h.to_user()) == asked

    await h.press("#1 · the printer on floor 3 is j…")
    assert h.to_user()[-1] == "Added to ticket #1."
    assert await user_texts(store, 1) == [
        "the printer on floor 3 is jammed", "it is the HP one, by the window",
        "and it blinks orange",
    ]  # fmt: skip
    assert await user_texts(store, 2) == ["my VPN does not connect from home"]
    relayed = [d.message.text for d in h.to_staff() if d.message.ticket_id == 1]
    assert any("it is the HP one" in text for text in relayed)


async def test_without_a_choice_the_message_goes_to_the_newest_ticket(store):
    h = Harness(store)
    await two_tickets(h)
    await h.user_says("any news?")
    h.clock.advance(seconds=CHOICE_WAIT.total_seconds() - 1)
    assert await h.jobs.held.check() == 0  # not yet
    h.clock.advance(seconds=2)
    assert await h.jobs.held.check() == 1
    await h.flush()
    assert await user_texts(store, 2) == ["my VPN does not connect from home", "any news?"]
    assert any("any news?" in d.message.text for d in h.to_staff() if d.message.ticket_id == 2)
    await h.press("#1 · the printer on floor 3 is j…")  # too late: already given to #2
    assert h.to_user()[-1].startswith("Nothing is waiting for a ticket any more")
    assert await h.jobs.held.check() == 0


async def test_a_reply_goes_to_its_ticket_and_close_asks_which(store):
    h = Harness(store)
    await two_tickets(h)
    await h.agent_replies("Which printer exactly?", ticket=1)
    agent_message = h.adapter.to_chat("chat-u1")[-1]
    await h.deliver(h.user_message("The HP by the window", reply_to=agent_message.message_id))
    assert await user_texts(store, 1) == [
        "the printer on floor 3 is jammed",
        "The HP by the window",
    ]

    await h.user_says("/close")
    assert h.to_user()[-1] == "You have several open tickets. Which one should I close?"
    await h.press("#1 · the printer on floor 3 is j…")
    async with store.transaction() as tx:
        statuses = [(await tx.tickets.get(n)).status for n in (1, 2)]
    assert statuses == [TicketStatus.CLOSED, TicketStatus.NEW]
    await h.user_says("still no VPN")  # one open ticket left: no question
    assert await user_texts(store, 2) == ["my VPN does not connect from home", "still no VPN"]
