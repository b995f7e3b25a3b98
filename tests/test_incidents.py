"""Mass incidents as a conversation, on every storage backend: open one, link tickets by number
or from the matcher's suggestions, tell every linked user, resolve them all; a user asking about
it hears its status at once and can still open a ticket; reports count them."""

from __future__ import annotations

from core.domain import TicketStatus
from core.staff.incidents import INCIDENTS_FRESH_SECONDS
from tests.harness import Harness

VPN_DOWN = "/incident open VPN is down\nVPN outage\nvpn does not connect"


async def staff_says(h: Harness, text: str) -> str:
    await h.deliver(h.staff_message(text))
    return h.to_staff()[-1].message.text


async def test_an_incident_links_tells_and_resolves_its_tickets(store):
    h = Harness(store)
    await h.user_says("/new my VPN does not connect from home", user="ann")
    await h.user_says("/new VPN outage again?", user="bob")
    await h.user_says("/new the printer is jammed", user="carl")
    opened = await staff_says(h, VPN_DOWN)
    assert opened.startswith("🚨 Incident #1 is open: VPN is down.")

    suggested = await staff_says(h, "/incident 1 suggest")
    assert suggested.splitlines()[0] == "2 open tickets look like incident #1:"
    [[link]] = h.to_staff()[-1].message.buttons
    assert (link.label, link.payload) == ("Link these 2 tickets", "/incident 1 link 1 2")
    assert await staff_says(h, link.payload) == "Linked 2 more tickets to incident #1."
    assert await staff_says(h, "/incident") == "1 open incident:\n🚨 #1 VPN is down · 2 tickets"

    assert await staff_says(h, "/incident 1 update Back in 30 minutes.") == (
        "The update of incident #1 went to 2 users."
    )
    assert h.to_user("ann")[-1] == "🚨 VPN is down (ticket #1):\nBack in 30 minutes."
    assert "Back in 30 minutes" not in " ".join(h.to_user("carl"))

    assert await staff_says(h, "/incident 1 resolve The VPN works again.") == (
        "Incident #1 is resolved, and with it 2 tickets."
    )
    async with store.transaction() as tx:
        statuses = [(await tx.tickets.get(n)).status for n in (1, 2, 3)]
    assert statuses == [TicketStatus.RESOLVED, TicketStatus.RESOLVED, TicketStatus.NEW]
    assert "The VPN works again." in h.to_user("bob")[-1]
    assert (await staff_says(h, "/incident 1 update more")).startswith("There is no open incident")


async def test_a_question_about_an_open_incident_hears_its_status(store):
    h = Harness(store)
    await h.seed()
    await staff_says(h, VPN_DOWN)
    await staff_says(h, "/incident 1 update We expect it back at 15:00.")
    await h.user_says("my vpn doesn't connect since the morning", user="dana")
    answer = h.last_to_user("dana").message
    assert answer.text.endswith(
        "We know about this problem and are working on it: VPN is down.\n"
        "We expect it back at 15:00."
    )
    await h.press("That's not my problem", user="dana")  # a ticket as usual
    assert "opened ticket #1" in h.to_user("dana")[-1]
    async with store.transaction() as tx:
        assert (await tx.tickets.get(1)).subject.startswith("my vpn doesn't connect")

    await h.user_says("How do I reset my password?", user="eve")  # not about it
    assert "Forgot password" in h.to_user("eve")[-1]


async def test_reports_count_incidents_and_refusals_are_clear(store):
    h = Harness(store)
    await h.user_says("/new my VPN does not connect from home", user="ann")
    await staff_says(h, VPN_DOWN)
    await staff_says(h, "/incident 1 link 1")
    assert (await staff_says(h, "/incident 7 link 1")) == "There is no open incident #7."
    assert (await staff_says(h, "/incident open")).startswith("Usage: /incident open TITLE")
    assert (await staff_says(h, "/incident 1 link nothing")).startswith("Usage: /incident")
    day = h.clock().date()
    await staff_says(h, f"/stats {day}..{day}")
    assert any("Incidents: 1; tickets linked to them: 1" in d.message.text for d in h.to_staff())


async def test_while_one_incident_is_open_its_number_may_be_left_out(store):
    h = Harness(store)
    await h.user_says("/new my VPN does not connect from home", user="ann")
    assert await staff_says(h, "/incident link 1") == "No incident is open."
    await staff_says(h, VPN_DOWN)
    assert await staff_says(h, "/incident link 1") == "Linked 1 more ticket to incident #1."
    await staff_says(h, "/incident open Mail is slow")
    assert (await staff_says(h, "/incident update soon")).startswith("2 incidents are open")


async def test_an_incident_opened_by_another_process_is_heard_within_seconds(store):
    """Open incidents are read at most every INCIDENTS_FRESH_SECONDS (every question asks)."""
    h = Harness(store)
    now = [0.0]
    h.engine.users.incidents.clock = lambda: now[0]
    await h.seed()
    await h.user_says("How do I reset my password?", user="eve")  # reads: none open
    async with store.transaction() as tx:  # as another process would
        await tx.incidents.create("VPN is down", "vpn does not connect", "memory:x", h.clock())
    await h.user_says("my vpn does not connect", user="dana")
    assert "We know about this problem" not in h.to_user("dana")[-1]
    now[0] += INCIDENTS_FRESH_SECONDS
    await h.user_says("my vpn does not connect", user="finn")
    assert "We know about this problem and are working on it: VPN is down." in h.to_user("finn")[-1]
