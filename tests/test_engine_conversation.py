"""The conversation through the engine, on every storage backend, with a recording channel."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

from core.domain import Direction, Role, TicketStatus
from core.messages import ConversationRef
from core.roles import GRANTS_FRESH_SECONDS, Roles
from tests.harness import ADMIN, CHANNEL, Harness

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def test_full_conversation_question_ticket_reply_note_close_status(store):
    bot = Harness(store)
    await bot.seed()

    await bot.user_says("How do I reset my password?")
    (answer,) = bot.adapter.to_chat("chat-u1")  # on first contact the greeting opens the answer
    greeting, article = answer.message.text.split("\n\n", 2)[0], answer.message.text
    assert greeting.startswith("Hello! I am the Helpdesk support bot.")
    assert article.endswith("\n\nClick 'Forgot password?' on the sign-in page.")
    labels = [b.label for row in answer.message.buttons for b in row]
    assert labels == ["👍 Helped", "👎 Didn't help"]

    await bot.press("👎 Didn't help")
    assert "ticket #1" in bot.to_user()[-1]
    announcement = bot.to_staff()[0].message
    assert announcement.ticket_id == 1 and announcement.to_staff
    assert "Ticket #1" in announcement.text
    assert "How do I reset my password?" in announcement.text
    assert "U1" in announcement.text and CHANNEL in announcement.text

    await bot.agent_replies("Please try the link in the email we just sent.", ticket=1)
    assert "Please try the link in the email we just sent." in bot.to_user()[-1]
    received = len(bot.to_user())

    await bot.agent_replies("// user is probably locked out, check AD", ticket=1)
    assert len(bot.to_user()) == received  # internal note stays in the staff chat

    await bot.user_says("/close")
    assert "closed" in bot.to_user()[-1]
    assert any("closed by the user" in d.message.text for d in bot.to_staff())

    await bot.user_says("/status")
    assert "#1 — closed —" in bot.to_user()[-1]

    async with store.transaction() as tx:
        ticket = await tx.tickets.get(1)
        messages = await tx.messages.list(1)
        entry = await tx.faq.get(1)
    assert (entry.hits, entry.helpful, entry.unhelpful) == (1, 0, 1)
    assert ticket.status == TicketStatus.CLOSED
    assert ticket.first_response_at is not None and ticket.closed_at is not None
    directions = [m.direction for m in messages]
    assert directions[:3] == [Direction.FROM_USER, Direction.TO_USER, Direction.NOTE]


async def test_staff_messages_stay_in_the_ticket_thread(store):
    bot = Harness(store)
    await bot.user_says("/new my laptop does not turn on")
    await bot.user_says("it is a ThinkPad T14")
    staff = bot.to_staff()
    thread = bot.thread_of(1)
    assert [d.message.conversation.thread_id for d in staff] == [None, thread]
    assert "ThinkPad" in staff[1].message.text


async def test_reply_to_announcement_without_thread_reaches_user(store):
    bot = Harness(store)
    await bot.user_says("/new printer on floor 3 is jammed")
    announcement_id = bot.to_staff()[0].message_id
    await bot.deliver(bot.staff_message("On my way", reply_to=announcement_id))
    assert "On my way" in bot.to_user()[-1]


async def test_staff_chatter_outside_tickets_is_ignored(store):
    bot = Harness(store)
    await bot.user_says("/new printer on floor 3 is jammed")
    before = len(bot.adapter.deliveries)
    await bot.deliver(bot.staff_message("coffee anyone?"))
    assert len(bot.adapter.deliveries) == before


async def test_same_update_twice_has_one_effect(store):
    bot = Harness(store)
    message = bot.user_message("/new the VPN drops every five minutes", update_id="dup-1")
    await bot.deliver(message)
    await bot.deliver(message)
    async with store.transaction() as tx:
        user = await tx.users.find(CHANNEL, "u1")
        tickets = await tx.tickets.list_for_user(user.id)
    assert len(tickets) == 1
    assert len(bot.to_staff()) == 1


async def test_a_merged_message_is_handled_whole_or_not_at_all(store):
    """Two processes may each merge an album's parts as they found them: the one whose parts
    were partly handled already is a repeat, and its other parts come again on their own."""
    bot = Harness(store)
    await bot.user_says("/new my screen is broken")
    photo = bot.user_message("photos", update_id="p1")
    await bot.deliver(dataclasses.replace(photo, merged_update_ids=("p2",)))
    await bot.deliver(dataclasses.replace(photo, merged_update_ids=("p2", "p3")))
    late = bot.user_message("the third photo", update_id="p3")
    await bot.deliver(late)
    async with store.transaction() as tx:
        messages = await tx.messages.list(1)
    assert [m.text for m in messages] == ["my screen is broken", "photos", "the third photo"]


async def test_burst_from_one_user_opens_one_ticket_in_order(store):
    bot = Harness(store)
    messages = [
        bot.user_message(f"part {i}: my monitor flickers and then goes black") for i in range(10)
    ]
    async with bot.ingest:
        await asyncio.gather(*(bot.ingest.submit(m) for m in messages))
    await bot.flush()
    async with store.transaction() as tx:
        user = await tx.users.find(CHANNEL, "u1")
        tickets = await tx.tickets.list_for_user(user.id)
        history = await tx.messages.list(tickets[0].id)
    assert len(tickets) == 1
    assert [m.text for m in history] == [m.text for m in messages]


async def test_users_are_never_mixed_up(store):
    bot = Harness(store)
    await bot.user_says("/new alice's printer is broken", user="alice")
    await bot.user_says("/new bob cannot log in to the VPN", user="bob")
    await bot.agent_replies("Alice, we are on it", ticket=1)
    await bot.agent_replies("Bob, reset your token", ticket=2)
    assert any("Alice, we are on it" in t for t in bot.to_user("alice"))
    assert not any("Bob" in t for t in bot.to_user("alice"))
    assert any("Bob, reset your token" in t for t in bot.to_user("bob"))
    await bot.user_says("/ticket 1", user="bob")
    assert "cannot find your ticket #1" in bot.to_user("bob")[-1]


async def test_non_admin_faq_del_is_refused_and_logged(store):
    bot = Harness(store)
    ids = await bot.seed()
    await bot.user_says(f"/faq_del {ids[0]}", user="mallory")
    assert bot.to_user("mallory")[-1].endswith("Sorry, /faq_del needs the admin role.")
    async with store.transaction() as tx:
        assert await tx.faq.get(ids[0]) is not None
        refused = [a for a in await tx.audit.list() if a.action == "command.refused"]
    assert refused and refused[0].actor == f"{CHANNEL}:mallory"


async def test_admin_adds_faq_and_the_next_question_is_answered_with_it(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says(
        "/faq_add\nQ: How do I connect to the office printer?\n"
        "A: Open Settings > Printers and pick FLOOR-3.\nV: printer setup\ncat: hardware",
        user=ADMIN,
    )
    assert "Added FAQ entry #4" in bot.to_user(ADMIN)[-1]
    await bot.user_says("how do i connect to the office printer")
    assert bot.to_user()[-1].endswith("\n\nOpen Settings > Printers and pick FLOOR-3.")
    async with store.transaction() as tx:
        entry = await tx.faq.get(4)
        audit = [a for a in await tx.audit.list(object_type="faq") if a.action == "faq.create"]
    assert entry.variants == ("printer setup",) and entry.category == "hardware"
    assert audit and audit[0].after["question"] == "How do I connect to the office printer?"


async def test_admin_edits_and_deletes_faq(store):
    bot = Harness(store)
    ids = await bot.seed()
    await bot.deliver(bot.staff_message(f"/faq_edit {ids[2]}\nA: Around the clock.", agent=ADMIN))
    await bot.user_says("What are your support hours?")
    assert bot.to_user()[-1].endswith("\n\nAround the clock.")  # after the greeting
    await bot.deliver(bot.staff_message(f"/faq_del {ids[2]}", agent=ADMIN))
    await bot.user_says("/faq_show 3", user=ADMIN)
    assert "no FAQ entry #3" in bot.to_user(ADMIN)[-1]
    async with store.transaction() as tx:
        actions = [a.action for a in await tx.audit.list(object_type="faq")]
    assert "faq.update" in actions and "faq.delete" in actions


async def test_faq_test_shows_ranked_scores(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("/faq_test forgot my password", user=ADMIN)
    reply = bot.to_user(ADMIN)[-1]
    assert "Decision: answer directly" in reply
    assert "How do I reset my password?" in reply


async def test_grant_and_revoke_roles(store):
    bot = Harness(store)
    ids = await bot.seed()
    await bot.user_says("/grant memory:carol admin", user=ADMIN)
    await bot.user_says(f"/faq_show {ids[0]}", user="carol")
    assert "How do I reset my password?" in bot.to_user("carol")[-1]
    await bot.user_says("/revoke memory:carol admin", user=ADMIN)
    await bot.user_says(f"/faq_show {ids[0]}", user="carol")
    assert bot.to_user("carol")[-1] == "Sorry, /faq_show needs the admin role."


async def test_a_grant_made_by_another_process_counts_within_seconds(store):
    """Grants are read at most every GRANTS_FRESH_SECONDS (every staff message asks); another
    process's change is seen once that has passed."""
    now = [0.0]
    roles = Roles(clock=lambda: now[0])
    async with store.transaction() as tx:
        assert await roles.of_identity(tx, "memory", "carol") == set()
        await tx.roles.grant("memory", "carol", "supervisor", NOW)  # as another process would
    async with store.transaction() as tx:
        assert await roles.of_identity(tx, "memory", "carol") == set()  # not read again yet
        now[0] += GRANTS_FRESH_SECONDS
        assert await roles.of_identity(tx, "memory", "carol") == {Role.SUPERVISOR, Role.AGENT}
        await tx.roles.revoke("memory", "carol", "supervisor")
        roles.forget()  # as /revoke in this process does once it committed
        assert await roles.of_identity(tx, "memory", "carol") == set()


async def test_unsure_match_offers_articles_as_buttons(store):
    bot = Harness(store, answer_threshold=1.01, suggest_threshold=0.01)  # never sure
    await bot.seed()
    await bot.user_says("password reset")
    buttons = [b for row in bot.last_to_user().message.buttons for b in row]
    assert buttons[0].payload.startswith("/article ")
    assert buttons[-1].payload == "/new"
    await bot.press(buttons[0].label)
    assert bot.to_user()[-1] == "Click 'Forgot password?' on the sign-in page."


async def test_bare_help_gets_one_clarifying_question_then_a_ticket(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("help")
    assert "tell me a bit more" in bot.to_user()[-1]
    await bot.user_says("the scanner on floor 2 shows error E-42")
    assert "ticket #1" in bot.to_user()[-1]
    assert "help\nthe scanner" in bot.to_staff()[0].message.text


async def test_small_talk_never_gets_an_article_and_a_human_request_opens_a_ticket(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("hello")
    await bot.user_says("thanks!")
    assert not bot.to_staff()
    assert all(not d.message.buttons for d in bot.adapter.to_chat("chat-u1"))
    await bot.user_says("talk to a person please")
    assert "ticket #1" in bot.to_user()[-1]


async def test_language_from_hint_and_switch(store):
    bot = Harness(store)
    await bot.user_says("привет", user="ivan", language="ru")
    assert "Здравствуйте" in bot.to_user("ivan")[0]
    await bot.user_says("/lang en", user="ivan")
    assert "English" in bot.to_user("ivan")[-1]
    await bot.user_says("/lang xx", user="ivan")
    assert "Usage: /lang ru or /lang en." == bot.to_user("ivan")[-1]


async def test_user_can_close_only_own_ticket(store):
    bot = Harness(store)
    await bot.user_says("/new my keyboard is missing keys", user="alice")
    await bot.user_says("/close 1", user="bob")
    assert "cannot find your ticket #1" in bot.to_user("bob")[-1]
    async with store.transaction() as tx:
        assert (await tx.tickets.get(1)).status == TicketStatus.NEW


async def test_agent_close_with_text_and_reopen(store):
    bot = Harness(store)
    await bot.user_says("/new my keyboard is missing keys")
    await bot.agent_replies("/close Replaced the keyboard", ticket=1)
    assert "Replaced the keyboard" in bot.to_user()[-1]
    await bot.agent_replies("/reopen", ticket=1)
    assert "reopened" in bot.to_user()[-1]
    await bot.deliver(bot.staff_message("/close"))
    assert "/close N" in bot.to_staff()[-1].message.text  # no ticket in context: a usage hint


async def test_staff_chat_that_changed_its_id_is_followed(store):
    """A Telegram group upgraded to a supergroup gets a new chat id (migrate_to_chat_id)."""
    bot = Harness(store)
    await bot.user_says("/new the scanner is offline")
    thread = bot.thread_of(1)
    await bot.staff_chat_moves_to("staff-new")
    await bot.user_says("any news?")
    assert "any news?" in bot.adapter.texts_to("staff-new")[-1]

    await bot.deliver(bot.staff_message("Rebooting it now", chat="staff-new", thread=thread))
    assert "Rebooting it now" in bot.to_user()[-1]

    restarted = Harness(store)  # a restart keeps following the new id
    await restarted.engine.load_state()
    assert restarted.engine.staff_chat == ConversationRef(CHANNEL, "staff-new")


async def test_another_process_follows_a_staff_chat_that_moved(store):
    """Regression: only the process that saw the migration followed it; the other one dropped
    agents' replies from the new chat and kept sending into the dead one."""
    first, second = Harness(store), Harness(store)
    await first.user_says("/new the scanner is offline")
    thread = first.thread_of(1)
    await first.staff_chat_moves_to("staff-new")
    answer = second.staff_message("Rebooting it now", chat="staff-new", thread=thread)
    await second.deliver(answer)  # a miss: the second process looks the move up
    assert "Rebooting it now" in second.to_user()[-1]
    assert second.engine.staff_chat == ConversationRef(CHANNEL, "staff-new")

    third = Harness(store)
    await third.engine.load_state()
    assert third.engine.staff_chat == ConversationRef(CHANNEL, "staff-new")
    fourth = Harness(store)  # as if running since before the move: the periodic refresh
    assert fourth.engine.staff_chat == ConversationRef(CHANNEL, "staff")
    await fourth.engine.refresh_knowledge()
    assert fourth.engine.staff_chat == ConversationRef(CHANNEL, "staff-new")


async def test_hello_as_the_first_message_is_greeted_once(store):
    bot = Harness(store)
    await bot.user_says("hello")
    assert len(bot.to_user()) == 1 and "support bot" in bot.to_user()[0]


async def test_the_greeting_opens_the_first_reply_and_never_reaches_the_staff(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("hello", user="a")  # a greeting first: the greeting is the answer
    (only,) = bot.to_user("a")
    assert only.startswith("Hello! I am the Helpdesk support bot.")

    await bot.user_says("/new the scanner is broken", user="b")
    (opened,) = bot.to_user("b")
    assert opened.startswith("Hello! I am") and "opened ticket #1" in opened
    assert not any("Hello! I am" in d.message.text for d in bot.to_staff())

    await bot.user_says("/start", user="c")  # /start is answered by the greeting itself
    assert [t.count("Hello! I am") for t in bot.to_user("c")] == [1]


async def test_less_noise_a_one_line_greeting_and_announcements_without_a_command_footer(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("How do I reset my password?")
    greeting = bot.to_user()[0].split("\n\n")[0]
    assert greeting == "Hello! I am the Helpdesk support bot. /help shows what I can do."
    await bot.user_says("/start")
    assert "/status — your tickets" in bot.to_user()[-1]  # the full welcome when asked

    await bot.user_says("/new the scanner is broken", user="b")
    announcement = bot.to_staff()[0].message.text
    assert announcement.endswith("the scanner is broken")  # /help in the staff chat lists them
    assert "/take" not in announcement
