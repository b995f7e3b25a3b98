"""Helpdesk operations through the engine, on every storage backend: lifecycle (take, waiting,
resolve, close, reopen, the reopen window), assignment, priority and category, role checks,
satisfaction ratings."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from core.domain import Priority, Ticket, TicketStatus
from core.messages import Sender
from core.tickets.policy import KeywordRule, TicketPolicy
from tests.harness import ADMIN, AGENT, CHANNEL, FakeClock, Harness

SUPERVISOR = "sup"
AGENT2 = "agent2"
ROLES = {
    (CHANNEL, ADMIN): frozenset({"admin"}),
    (CHANNEL, SUPERVISOR): frozenset({"supervisor"}),
    (CHANNEL, AGENT): frozenset({"agent"}),
    (CHANNEL, AGENT2): frozenset({"agent"}),
}


def desk(store, clock: FakeClock | None = None, **policy) -> Harness:
    return Harness(store, clock, bootstrap_roles=ROLES, tickets=TicketPolicy(**policy))


async def ticket(store, number: int = 1) -> Ticket:
    async with store.transaction() as tx:
        found = await tx.tickets.get(number)
    assert found is not None
    return found


async def audit_actions(store, action: str) -> list:
    async with store.transaction() as tx:
        return [a for a in await tx.audit.list(limit=500) if a.action == action]


def staff_texts(bot: Harness) -> list[str]:
    return [d.message.text for d in bot.to_staff()]


async def say_hello_in_staff_chat(bot: Harness, agent: str) -> None:
    """Agents become known to the store by writing once (outside any ticket)."""
    await bot.deliver(bot.staff_message("good morning", agent=agent))


# -- assignment


async def test_take_assigns_the_agent_tells_the_user_and_posts_the_header(store):
    bot = desk(store)
    await bot.user_says("/new the printer on floor 3 is jammed")
    await bot.agent_replies("/take", ticket=1)

    assert bot.to_user()[-1] == "Agent1 from our support team has taken your ticket #1."
    taken = await ticket(store)
    assert taken.status == TicketStatus.OPEN
    assert taken.assignee_id is not None
    last = bot.to_staff()[-1].message
    assert last.conversation.thread_id == bot.thread_of(1)
    assert last.text == "👤 Agent1 took the ticket.\n#1 · in progress · normal · — · 👤 Agent1"
    (assigned,) = await audit_actions(store, "ticket.assignee")
    assert assigned.before == {"assignee_id": None}
    assert assigned.after == {"assignee_id": taken.assignee_id}
    assert assigned.actor == f"{CHANNEL}:{AGENT}"
    (status,) = await audit_actions(store, "ticket.status")
    assert (status.before, status.after) == ({"status": "new"}, {"status": "open"})

    await bot.agent_replies("/take", ticket=1)
    assert "already yours" in staff_texts(bot)[-1]


async def test_taking_over_another_agents_ticket_needs_a_supervisor(store):
    bot = desk(store)
    await bot.user_says("/new my monitor flickers")
    await bot.agent_replies("/take", ticket=1)
    await bot.agent_replies("/take", ticket=1, agent=AGENT2)
    assert staff_texts(bot)[-1] == "Sorry, /take needs the supervisor role."
    (refused,) = await audit_actions(store, "command.refused")
    assert refused.actor == f"{CHANNEL}:{AGENT2}" and refused.object_id == "take"
    assert refused.after == {"required": "supervisor"}

    await bot.agent_replies("/take", ticket=1, agent=SUPERVISOR)
    assert "Sup from our support team has taken your ticket #1." == bot.to_user()[-1]
    async with store.transaction() as tx:
        sup = await tx.users.find(CHANNEL, SUPERVISOR)
    assert (await ticket(store)).assignee_id == sup.id


async def test_assign_by_name_or_identity_is_for_supervisors(store):
    bot = desk(store)
    for agent in (AGENT, AGENT2):
        await say_hello_in_staff_chat(bot, agent)
    await bot.user_says("/new the scanner shows error E-42")

    await bot.agent_replies("/assign @agent2", ticket=1)  # an agent may not assign others
    assert staff_texts(bot)[-1] == "Sorry, /assign needs the supervisor role."
    assert (await ticket(store)).assignee_id is None
    assert len(await audit_actions(store, "command.refused")) == 1

    await bot.agent_replies("/assign @agent1", ticket=1)  # ... but may assign themselves
    assert "Agent1 from our support team has taken your ticket #1." == bot.to_user()[-1]

    await bot.agent_replies("/assign Agent2", ticket=1, agent=SUPERVISOR)
    assert "Agent2 from our support team" in bot.to_user()[-1]
    assert staff_texts(bot)[-1].startswith("👤 Sup assigned the ticket to Agent2.\n")
    assert staff_texts(bot)[-1].endswith("👤 Agent2")

    await bot.agent_replies(f"/assign {CHANNEL}:{AGENT}", ticket=1, agent=SUPERVISOR)
    async with store.transaction() as tx:
        agent1 = await tx.users.find(CHANNEL, AGENT)
    assert (await ticket(store)).assignee_id == agent1.id
    assert len(await audit_actions(store, "ticket.assignee")) == 3


async def test_assign_refuses_unknown_people_non_agents_and_ambiguous_names(store):
    bot = desk(store)
    await bot.user_says("/new the scanner shows error E-42")
    await bot.agent_replies("/assign", ticket=1, agent=SUPERVISOR)
    assert staff_texts(bot)[-1].startswith("Usage: /assign")
    await bot.agent_replies("/assign @agent2", ticket=1, agent=SUPERVISOR)  # never wrote
    assert "I do not know an agent “agent2”" in staff_texts(bot)[-1]
    await bot.agent_replies("/assign @u1", ticket=1, agent=SUPERVISOR)  # a user, not an agent
    assert "I do not know an agent “u1”" in staff_texts(bot)[-1]
    await bot.agent_replies(f"/assign {CHANNEL}:u1", ticket=1, agent=SUPERVISOR)
    assert "I do not know an agent" in staff_texts(bot)[-1]

    await say_hello_in_staff_chat(bot, AGENT2)
    namesake = bot.staff_message("hello", agent=AGENT)
    await bot.deliver(dataclasses.replace(namesake, sender=Sender(AGENT, "Agent2", "en")))
    await bot.agent_replies("/assign agent2", ticket=1, agent=SUPERVISOR)
    assert staff_texts(bot)[-1] == (
        f"Several agents match “agent2”: {CHANNEL}:{AGENT}, {CHANNEL}:{AGENT2}. "
        "Use channel:user_id."
    )
    assert (await ticket(store)).assignee_id is None


async def test_unassign_own_ticket_or_as_supervisor(store):
    bot = desk(store)
    await bot.user_says("/new the VPN drops every five minutes")
    await bot.agent_replies("/unassign", ticket=1)
    assert staff_texts(bot)[-1] == "Ticket #1 is not assigned to anyone."
    await bot.agent_replies("/take", ticket=1)
    await bot.agent_replies("/unassign", ticket=1, agent=AGENT2)
    assert staff_texts(bot)[-1] == "Sorry, /unassign needs the supervisor role."
    await bot.agent_replies("/unassign", ticket=1)
    assert staff_texts(bot)[-1].endswith("· 👤 unassigned")
    await bot.agent_replies("/take", ticket=1)
    await bot.agent_replies("/unassign", ticket=1, agent=SUPERVISOR)
    assert (await ticket(store)).assignee_id is None


# -- lifecycle


async def test_waiting_relays_the_question_and_the_users_answer_makes_it_open(store):
    bot = desk(store)
    await bot.user_says("/new my laptop does not turn on")
    await bot.agent_replies("/waiting Could you send a photo of the power LED?", ticket=1)
    assert "Could you send a photo of the power LED?" in bot.to_user()[-1]
    waiting = await ticket(store)
    assert waiting.status == TicketStatus.WAITING and waiting.first_response_at is not None
    assert "#1 · waiting for the user" in staff_texts(bot)[-1]

    await bot.user_says("the LED blinks orange")
    assert (await ticket(store)).status == TicketStatus.OPEN
    await bot.agent_replies("/waiting", ticket=1)
    await bot.agent_replies("/waiting", ticket=1)
    assert staff_texts(bot)[-1] == "Ticket #1 is already waiting for the user."
    statuses = [a.after["status"] for a in await audit_actions(store, "ticket.status")]
    assert statuses[::-1] == ["open", "waiting", "open", "waiting"]


async def test_resolve_asks_the_user_to_confirm_and_the_confirmation_closes(store):
    bot = desk(store)
    await bot.user_says("/new the projector in room 5 shows no picture")
    await bot.agent_replies("/take", ticket=1)
    await bot.agent_replies("/resolve Replaced the HDMI cable", ticket=1)

    resolution = bot.last_to_user().message
    assert resolution.text.startswith("Your ticket #1 has been resolved:\nReplaced the HDMI cable")
    assert "within 72 h" in resolution.text
    assert [b.payload for row in resolution.buttons for b in row] == ["/close 1", "/reopen 1"]
    resolved = await ticket(store)
    assert resolved.status == TicketStatus.RESOLVED and resolved.resolved_at == bot.clock.now
    assert "resolved" in staff_texts(bot)[-1]

    await bot.user_says("/status")
    assert "#1 — resolved —" in bot.to_user()[-1]
    await bot.press("✅ Yes, close it")
    closed = await ticket(store)
    assert closed.status == TicketStatus.CLOSED
    assert "Ticket #1 is closed" in bot.to_user()[-1]
    assert "closed by the user" in staff_texts(bot)[-1]

    await bot.agent_replies("/resolve", ticket=1)
    assert staff_texts(bot)[-1] == "Ticket #1 is already closed."


async def test_writing_within_the_reopen_window_reopens_the_resolved_ticket(store):
    clock = FakeClock()
    bot = desk(store, clock, reopen_window=timedelta(hours=24))
    await bot.user_says("/new the projector in room 5 shows no picture")
    await bot.agent_replies("/resolve", ticket=1)
    clock.advance(hours=23, minutes=59)
    await bot.user_says("it is broken again after lunch")

    reopened = await ticket(store)
    assert reopened.status == TicketStatus.OPEN and reopened.resolved_at is None
    assert "Your ticket #1 has been reopened" in bot.to_user()[-1]
    assert "reopened by U1" in staff_texts(bot)[-2]
    assert "it is broken again after lunch" in staff_texts(bot)[-1]
    async with store.transaction() as tx:
        user = await tx.users.find(CHANNEL, "u1")
        assert len(await tx.tickets.list_for_user(user.id)) == 1


async def test_writing_after_the_window_opens_a_new_ticket_linked_to_the_old_one(store):
    clock = FakeClock()
    bot = desk(store, clock, reopen_window=timedelta(hours=24))
    await bot.user_says("/new the projector in room 5 shows no picture")
    await bot.agent_replies("/category hardware", ticket=1)
    await bot.agent_replies("/resolve", ticket=1)
    clock.advance(hours=24, seconds=1)
    await bot.user_says("it is broken again")

    follow_up = await ticket(store, 2)
    assert follow_up.previous_ticket_id == 1 and follow_up.category == "hardware"
    assert (await ticket(store, 1)).status == TicketStatus.RESOLVED
    assert "new ticket #2, linked to it" in bot.to_user()[-1]
    announcement = bot.to_staff()[-1].message
    assert announcement.ticket_id == 2
    assert announcement.text.startswith("↪️ Follows up ticket #1 (resolved).\n🆕 Ticket #2")

    await bot.user_says("/reopen 1")
    assert "can no longer be reopened" in bot.to_user()[-1]


async def test_new_after_a_resolution_opens_a_new_ticket(store):
    bot = desk(store)
    await bot.user_says("/new the projector in room 5 shows no picture")
    await bot.agent_replies("/resolve", ticket=1)
    await bot.user_says("/new")
    await bot.user_says("the coffee machine leaks")
    assert (await ticket(store, 1)).status == TicketStatus.RESOLVED
    second = await ticket(store, 2)
    assert second.subject == "the coffee machine leaks" and second.previous_ticket_id is None


async def test_thanks_after_a_resolution_does_not_reopen_it(store):
    bot = desk(store)
    await bot.user_says("/new the projector in room 5 shows no picture")
    await bot.agent_replies("/resolve", ticket=1)
    await bot.user_says("thanks!")
    assert (await ticket(store)).status == TicketStatus.RESOLVED
    assert "You are welcome" in bot.to_user()[-1]


async def test_not_solved_button_reopens_within_the_window_only(store):
    clock = FakeClock()
    bot = desk(store, clock, reopen_window=timedelta(hours=2))
    await bot.user_says("/new my mouse is not working")
    await bot.agent_replies("/resolve", ticket=1)
    await bot.press("↩️ Not solved")
    assert (await ticket(store)).status == TicketStatus.OPEN
    await bot.user_says("/reopen 1")
    assert "still open" in bot.to_user()[-1]
    await bot.agent_replies("/resolve", ticket=1)
    clock.advance(hours=3)
    await bot.press("↩️ Not solved")
    assert (await ticket(store)).status == TicketStatus.RESOLVED
    assert "can no longer be reopened" in bot.to_user()[-1]
    await bot.user_says("/reopen 1", user="mallory")
    assert "cannot find your ticket #1" in bot.to_user("mallory")[-1]


async def test_staff_close_and_reopen_of_a_resolved_ticket(store):
    bot = desk(store)
    await bot.user_says("/new my mouse is not working")
    await bot.agent_replies("/reopen", ticket=1)
    assert staff_texts(bot)[-1] == "Ticket #1 is not closed."
    await bot.agent_replies("/resolve", ticket=1)
    await bot.agent_replies("/take", ticket=1)
    assert staff_texts(bot)[-1] == "Ticket #1 is resolved; /reopen it first."
    await bot.agent_replies("/close Replaced the mouse", ticket=1)
    assert (await ticket(store)).status == TicketStatus.CLOSED
    assert "Replaced the mouse" in bot.to_user()[-1]
    await bot.agent_replies("/close", ticket=1)
    assert staff_texts(bot)[-1] == "Ticket #1 is already closed."
    await bot.agent_replies("/reopen", ticket=1)
    assert (await ticket(store)).status == TicketStatus.OPEN
    statuses = [a.after["status"] for a in await audit_actions(store, "ticket.status")]
    assert statuses[::-1] == ["resolved", "closed", "open"]


# -- priority and category


async def test_priority_and_category_commands_update_the_header(store):
    bot = desk(store)
    await bot.user_says("/new the invoice for March is wrong")
    await bot.agent_replies("/priority urgent", ticket=1)
    assert staff_texts(bot)[-1] == (
        "⚑ Priority set to urgent by Agent1.\n#1 · new · urgent · — · 👤 unassigned"
    )
    await bot.agent_replies("/priority whenever", ticket=1)
    assert staff_texts(bot)[-1] == "Usage: /priority low|normal|high|urgent"
    await bot.agent_replies("/priority URGENT", ticket=1)
    assert staff_texts(bot)[-1] == "Nothing changed on ticket #1."
    await bot.agent_replies("/category billing", ticket=1)
    assert staff_texts(bot)[-1].endswith("#1 · new · urgent · billing · 👤 unassigned")
    await bot.agent_replies("/category -", ticket=1)
    changed = await ticket(store)
    assert changed.priority == Priority.URGENT and changed.category is None
    await bot.agent_replies("/category " + "x" * 65, ticket=1)
    assert staff_texts(bot)[-1].startswith("Usage: /category")

    (priority,) = await audit_actions(store, "ticket.priority")
    assert (priority.before, priority.after) == ({"priority": "normal"}, {"priority": "urgent"})
    categories = await audit_actions(store, "ticket.category")
    assert [c.after for c in categories] == [{"category": None}, {"category": "billing"}]
    assert len(bot.to_user()) == 1  # the user only got the greeting with the ticket number


async def test_ticket_commands_outside_a_thread_take_the_number_first(store):
    bot = desk(store)
    await bot.user_says("/new the invoice for March is wrong")
    await bot.deliver(bot.staff_message("/priority 1 high"))
    assert (await ticket(store)).priority == Priority.HIGH
    await bot.deliver(bot.staff_message("/take 1"))
    assert (await ticket(store)).assignee_id is not None
    await bot.deliver(bot.staff_message("/priority high"))
    assert (
        staff_texts(bot)[-1]
        == "Reply to a ticket's message with /priority, or give its number: /priority N."
    )
    await bot.deliver(bot.staff_message("/take 99"))
    assert "/take N" in staff_texts(bot)[-1]


async def test_keyword_rules_give_the_first_priority_and_category(store):
    bot = desk(
        store,
        priority_rules=(
            KeywordRule(("slow",), "low"),
            KeywordRule(("outage", "не работает"), "urgent"),
            KeywordRule(("vpn",), "high"),
        ),
        category_rules=(KeywordRule(("vpn", "wifi"), "network"), KeywordRule(("vpn",), "other")),
    )
    await bot.seed()
    await bot.user_says("/new VPN outages all morning, and the wifi is slow")
    opened = await ticket(store)
    assert opened.priority == Priority.URGENT and opened.category == "network"
    assert bot.to_staff()[0].message.text.startswith("🆕 Ticket #1 · urgent · network")

    await bot.user_says("/new почта не работает", user="ivan", language="ru")
    assert (await ticket(store, 2)).priority == Priority.URGENT
    await bot.user_says("/new the vending machine ate my coin", user="bob")
    third = await ticket(store, 3)
    assert third.priority == Priority.NORMAL and third.category is None

    # The nearest knowledge-base article's category comes before the keyword rules.
    await bot.user_says("forgot my password for the vpn", user="carol")
    await bot.press("👎 Didn't help", user="carol")
    fourth = await ticket(store, 4)
    assert fourth.category == "access" and fourth.priority == Priority.HIGH


async def test_a_ticket_takes_the_nearest_articles_category_only_when_the_match_is_sure(store):
    """Regression: a ticket took the nearest article's category however far it was ("как
    переключать раскладку" filed under billing). Below the matcher's category confidence the
    keyword rules decide, else none."""
    bot = desk(store, category_rules=(KeywordRule(("keyboard",), "hardware"),))
    await bot.seed()
    # Nearest: "What are your support hours?" (general), far below the category confidence.
    await bot.user_says("the new monitor flickers since the update to the support tool")
    assert (await ticket(store)).category is None
    await bot.user_says("/new how to switch the keyboard layout", user="kate")
    assert (await ticket(store, 2)).category == "hardware"  # a keyword rule, not "access"
    await bot.user_says("/new forgot my password", user="ivan")  # an article's own wording
    assert (await ticket(store, 3)).category == "access"


# -- roles


STAFF_ACTIONS = [
    "/take",
    f"/assign {CHANNEL}:{AGENT}",
    "/unassign",
    "/waiting",
    "/resolve",
    "/close",
    "/reopen",
    "/priority high",
    "/category billing",
    "/escalate",
    "/deescalate",
    "/faq_send 1",
    "/duty on",
    "a plain answer to the user",
    "// an internal note",
]


@pytest.mark.parametrize("action", STAFF_ACTIONS)
async def test_with_require_agent_role_people_without_it_are_refused_and_audited(store, action):
    bot = desk(store, require_agent_role=True)
    await bot.user_says("/new the invoice for March is wrong")
    before = await ticket(store)
    to_user = len(bot.to_user())
    await bot.agent_replies(action, ticket=1, agent="stranger")

    refusal = staff_texts(bot)[-1]
    assert refusal.startswith("Sorry, ") and refusal.endswith("needs the agent role.")
    (refused,) = await audit_actions(store, "command.refused")
    assert refused.actor == f"{CHANNEL}:stranger" and refused.after == {"required": "agent"}
    assert await ticket(store) == before
    assert len(bot.to_user()) == to_user
    async with store.transaction() as tx:
        assert len(await tx.messages.list(1)) == 1


async def test_with_require_agent_role_agents_still_work(store):
    bot = desk(store, require_agent_role=True)
    await bot.user_says("/new the invoice for March is wrong")
    await bot.agent_replies("We are checking it", ticket=1)
    await bot.agent_replies("/take", ticket=1)
    await bot.agent_replies("/priority high", ticket=1, agent=ADMIN)
    assert "We are checking it" in bot.to_user()[-2]
    assert (await ticket(store)).priority == Priority.HIGH
    assert await audit_actions(store, "command.refused") == []


async def test_without_require_agent_role_anyone_in_the_staff_chat_acts_as_an_agent(store):
    bot = desk(store)
    await bot.user_says("/new the invoice for March is wrong")
    await bot.agent_replies("/take", ticket=1, agent="stranger")
    assert "Stranger from our support team" in bot.to_user()[-1]
    await bot.agent_replies("/assign @agent1", ticket=1, agent="stranger")
    assert staff_texts(bot)[-1] == "Sorry, /assign needs the supervisor role."


# -- satisfaction


async def close_rated_ticket_setup(bot: Harness) -> None:
    await bot.user_says("/new the projector in room 5 shows no picture")
    await bot.agent_replies("/take", ticket=1)
    await bot.agent_replies("/close Replaced the cable", ticket=1)


async def test_closing_asks_for_a_rating_and_a_low_one_reaches_the_staff(store):
    bot = desk(store)
    await close_rated_ticket_setup(bot)
    question = bot.last_to_user().message
    assert "How would you rate the help with ticket #1?" in question.text
    assert "Replaced the cable" in question.text
    buttons = [b for row in question.buttons for b in row]
    assert [b.payload for b in buttons] == [f"/rate 1 {n}" for n in range(1, 6)]
    assert buttons[0].label == "1 ⭐"

    await bot.press("2 ⭐")
    assert "tell us in one message" in bot.to_user()[-1]
    low = bot.to_staff()[-1].message
    assert low.text == "⚠️ The user rated ticket #1 2/5. Comment: —"
    assert low.conversation.thread_id == bot.thread_of(1)

    await bot.press("Add a comment")
    assert "comment on ticket #1" in bot.to_user()[-1]
    await bot.user_says("it took three days")
    assert bot.to_user()[-1] == "Thank you, your comment has been passed on to the team."
    assert "it took three days" in staff_texts(bot)[-1]
    async with store.transaction() as tx:
        rating = await tx.ratings.get(1)
        agent = await tx.users.find(CHANNEL, AGENT)
        assert await tx.ratings.list(agent_id=agent.id) == [rating]
    assert (rating.score, rating.comment, rating.agent_id) == (2, "it took three days", agent.id)
    assert [a.after["score"] for a in await audit_actions(store, "ticket.rating")] == [2]

    await bot.user_says("how do I book a meeting room?")  # no longer a comment
    assert "ticket #2" in bot.to_user()[-1]


async def test_a_good_rating_with_a_comment_in_the_command_stays_quiet(store):
    bot = desk(store)
    await bot.user_says("/new the projector in room 5 shows no picture")
    await bot.agent_replies("Try the other cable", ticket=1, agent=AGENT2)
    await bot.user_says("/close")
    assert "How would you rate" in bot.to_user()[-1]
    staff_before = len(bot.to_staff())
    await bot.user_says("/rate 1 5 quick and kind")
    assert bot.to_user()[-1] == "Thank you for your feedback!"
    assert len(bot.to_staff()) == staff_before
    async with store.transaction() as tx:
        rating = await tx.ratings.get(1)
        agent2 = await tx.users.find(CHANNEL, AGENT2)
    # Unassigned: the rating counts for the last agent who answered.
    assert (rating.score, rating.comment, rating.agent_id) == (5, "quick and kind", agent2.id)


async def test_the_comment_window_and_the_no_comment_button(store):
    clock = FakeClock()
    bot = desk(store, clock)
    await bot.seed()
    await close_rated_ticket_setup(bot)
    await bot.press("4 ⭐")
    await bot.press("No comment")
    assert bot.to_user()[-1] == "Thank you!"
    await bot.user_says("what are your support hours?")
    assert bot.to_user()[-1] == "We answer on weekdays from 9:00 to 18:00."
    async with store.transaction() as tx:
        assert (await tx.ratings.get(1)).comment is None

    await bot.user_says("/new the beamer is broken", user="bob")
    await bot.agent_replies("/close", ticket=2)
    await bot.press("5 ⭐", user="bob")
    clock.advance(hours=2)
    await bot.user_says("and the screen is dirty too", user="bob")
    async with store.transaction() as tx:
        assert (await tx.ratings.get(2)).comment is None
    assert "ticket #3" in bot.to_user("bob")[-1]


async def test_a_new_problem_after_a_rating_is_never_taken_for_a_comment(store):
    """Regression: "у меня ноут не включается((" after a star rating got "thanks for your
    comment" and no ticket."""
    bot = desk(store)
    await close_rated_ticket_setup(bot)
    await bot.press("2 ⭐")
    await bot.user_says("у меня ноут не включается((", language="ru")
    assert "ticket #2" in bot.to_user()[-1] or "№2" in bot.to_user()[-1]
    async with store.transaction() as tx:
        assert (await tx.ratings.get(1)).comment is None
        assert (await tx.tickets.get(2)).subject == "у меня ноут не включается(("


async def test_a_command_ends_the_wait_for_a_comment(store):
    bot = desk(store)
    await close_rated_ticket_setup(bot)
    await bot.press("4 ⭐")
    await bot.press("Add a comment")
    await bot.user_says("/status")
    assert "#1" in bot.to_user()[-1]
    await bot.user_says("the projector in room 7 is broken as well")
    assert "ticket #2" in bot.to_user()[-1]
    async with store.transaction() as tx:
        assert (await tx.ratings.get(1)).comment is None
    await bot.user_says("/comment 1", user="mallory")  # not their rating
    assert "no rating of yours" in bot.to_user("mallory")[-1]


async def test_new_with_text_while_a_ticket_is_open_is_never_dropped(store):
    """/new with text while a ticket is open opens a second ticket with it (the multi-ticket
    rule: tests/test_several_tickets.py); the text is never lost."""
    bot = desk(store)
    await bot.user_says("/new the projector in room 5 shows no picture")
    await bot.user_says("/new and the sound does not work either")
    assert "opened ticket #2" in bot.to_user()[-1]
    assert "and the sound does not work either" in staff_texts(bot)[-1]
    async with store.transaction() as tx:
        texts = [m.text for m in await tx.messages.list(2)]
    assert texts == ["and the sound does not work either"]


@pytest.mark.parametrize("typed", ["/stats", "/foo bar", "/take 1"])
async def test_unknown_user_commands_get_the_help_not_a_ticket(store, typed):
    bot = desk(store)
    await bot.seed()
    await bot.user_says(typed)
    answer = bot.to_user()[-1]
    assert f"I do not know the command {typed.split()[0]}." in answer
    assert "/new [text]" in answer
    async with store.transaction() as tx:
        assert await tx.tickets.get(1) is None
        assert await tx.questions.list() == []


async def test_an_unknown_staff_command_is_not_sent_to_the_user(store):
    bot = desk(store)
    await bot.user_says("/new the projector in room 5 shows no picture")
    to_user = len(bot.to_user())
    await bot.agent_replies("/clsoe done", ticket=1)
    assert staff_texts(bot)[-1].startswith("Unknown command /clsoe")
    assert len(bot.to_user()) == to_user


async def test_ratings_are_refused_politely(store):
    bot = desk(store)
    await bot.user_says("/new the projector in room 5 shows no picture")
    await bot.user_says("/rate 1 5")
    assert "not closed yet" in bot.to_user()[-1]
    await bot.user_says("/close")
    await bot.user_says("/rate 1 5", user="mallory")
    assert "cannot find your ticket #1" in bot.to_user("mallory")[-1]
    for bad in ("/rate 1 0", "/rate 1 6", "/rate 1 five", "/rate 1 -3", "/rate 1 4.5"):
        await bot.user_says(bad)
        assert bot.to_user()[-1] == "A rating is a whole number from 1 (poor) to 5 (excellent)."
    await bot.user_says("/rate")
    assert bot.to_user()[-1].startswith("Usage: /rate N SCORE")
    await bot.user_says("/rate 1 3 fine")
    await bot.user_says("/rate 1 1")
    assert bot.to_user()[-1] == "You have already rated ticket #1. Thank you!"
    async with store.transaction() as tx:
        rating = await tx.ratings.get(1)
    assert (rating.score, rating.comment) == (3, "fine")


async def test_a_ticket_closed_again_is_not_rated_twice(store):
    bot = desk(store)
    await close_rated_ticket_setup(bot)
    await bot.press("5 ⭐")
    await bot.agent_replies("/reopen", ticket=1)
    await bot.agent_replies("/close", ticket=1)
    closed = bot.last_to_user().message
    assert "has been closed" in closed.text and not closed.buttons
    assert "rate" not in closed.text


# -- notifications in the user's language


async def test_the_user_hears_about_take_resolve_and_close_in_russian(store):
    bot = desk(store)
    await bot.user_says("/new не печатает принтер", user="ivan", language="ru")
    await bot.agent_replies("/take", ticket=1)
    assert bot.to_user("ivan")[-1] == "Вашим обращением №1 занимается Agent1 из службы поддержки."
    await bot.agent_replies("/resolve", ticket=1)
    resolved = bot.last_to_user("ivan").message
    assert "решено" in resolved.text and "в течение 72 часов" in resolved.text
    assert [b.label for row in resolved.buttons for b in row] == ["✅ Да, закрыть", "↩️ Не решено"]
    await bot.press("✅ Да, закрыть", user="ivan")
    assert "Оцените, пожалуйста, помощь по обращению №1" in bot.to_user("ivan")[-1]
    await bot.press("1 ⭐", user="ivan")
    assert "Спасибо!" in bot.to_user("ivan")[-1]
    assert staff_texts(bot)[-1] == "⚠️ The user rated ticket #1 1/5. Comment: —"


async def test_a_question_long_after_a_resolution_is_answered_from_the_knowledge_base(store):
    clock = FakeClock()
    bot = desk(store, clock, reopen_window=timedelta(hours=24))
    await bot.seed()
    await bot.user_says("/new the projector in room 5 shows no picture")
    await bot.agent_replies("/resolve", ticket=1)
    clock.advance(days=3)
    await bot.user_says("What are your support hours?")
    assert bot.to_user()[-1] == "We answer on weekdays from 9:00 to 18:00."
    async with store.transaction() as tx:
        assert await tx.tickets.get(2) is None
