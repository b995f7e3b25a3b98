"""Knowledge gaps: grouping the questions that ended in a ticket (Russian and English
paraphrases together, different topics apart), /gaps in the staff chat, and /faq_learn turning
an agent's answer into an FAQ entry that answers the next person."""

from __future__ import annotations

from datetime import UTC, datetime

from core.domain import QuestionOutcome, QuestionRecord
from core.reports.gaps import group_gaps
from knowledge.matcher import FuzzyMatcher
from tests.harness import ADMIN, CHANNEL, Harness

NOW = datetime(2026, 3, 2, tzinfo=UTC)
TERMS = FuzzyMatcher().terms


def records(*texts: str) -> list[QuestionRecord]:
    return [
        QuestionRecord(n, 1, text, "en", QuestionOutcome.TICKET, None, None, 100 + n, NOW)
        for n, text in enumerate(texts)
    ]


def grouped(*texts: str) -> list[list[str]]:
    questions = records(*texts)
    return [
        [questions[ticket - 100].text for ticket in gap.ticket_ids]
        for gap in group_gaps(questions, TERMS, limit=50)
    ]


def test_paraphrases_group_and_other_topics_stay_apart():
    groups = grouped(
        "The printer does not print",
        "VPN disconnects every hour",
        "printer is not printing anything",
        "не работает принтер",
        "vpn keeps disconnecting",
        "my printr won't print",  # a typo
        "принтер не печатает",
        "сканер не работает",
        "the coffee machine leaks",
    )
    assert groups[0] == [
        "The printer does not print",
        "printer is not printing anything",
        "my printr won't print",
    ]
    assert ["VPN disconnects every hour", "vpn keeps disconnecting"] in groups
    assert ["не работает принтер", "принтер не печатает"] in groups
    # "does not work" alone does not make the scanner a printer question.
    assert ["сканер не работает"] in groups
    assert ["the coffee machine leaks"] in groups
    assert len(groups) == 5


def test_biggest_group_first_and_the_limit():
    questions = records("parking pass", "wifi slow", "parking pass please", "wifi is slow again")
    questions += records("wifi very slow")
    gaps = group_gaps(questions, TERMS, limit=1)
    assert len(gaps) == 1 and gaps[0].example == "wifi slow" and gaps[0].count == 3
    assert group_gaps([], TERMS) == []


async def test_gaps_command_lists_topics_that_ended_in_tickets(store):
    bot = Harness(store)
    await bot.seed()
    for user, text in (
        ("u1", "The printer on floor 3 does not print"),
        ("u2", "printer is not printing anything"),
        ("u3", "my laptop battery swelled"),
    ):
        await bot.user_says(text, user=user)
    await bot.user_says("How do I reset my password?", user="u4")  # answered: not a gap
    await bot.deliver(bot.staff_message("/gaps", agent=ADMIN))
    reply = bot.to_staff()[-1].message.text.splitlines()
    assert reply[0] == ("🕳 Questions that ended in a ticket in the last 30 days (3), by topic:")
    assert reply[1] == "1. ×2 «The printer on floor 3 does not print» (en; 2 tickets: #1, #2)"
    assert reply[2] == "2. ×1 «my laptop battery swelled» (en; 1 ticket: #3)"

    await bot.deliver(bot.staff_message("/gaps 0", agent=ADMIN))
    assert bot.to_staff()[-1].message.text.startswith("Usage: /gaps")
    bot.clock.advance(days=40)
    await bot.deliver(bot.staff_message("/gaps 7", agent=ADMIN))
    assert bot.to_staff()[-1].message.text == ("No question ended in a ticket in the last 7 days.")


async def test_gaps_is_for_supervisors_and_faq_learn_for_admins(store):
    bot = Harness(store, bootstrap_roles={(CHANNEL, "sue"): frozenset({"supervisor"})})
    await bot.user_says("/new the badge reader is broken")
    await bot.deliver(bot.staff_message("/gaps"))
    assert bot.to_staff()[-1].message.text == "Sorry, /gaps needs the supervisor role."
    await bot.agent_replies("/gaps", ticket=1, agent="sue")
    assert bot.to_staff()[-1].message.text.startswith("No question")
    await bot.agent_replies("/faq_learn", ticket=1, agent="sue")
    assert bot.to_staff()[-1].message.text == "Sorry, /faq_learn needs the admin role."
    async with store.transaction() as tx:
        refused = [a.object_id for a in await tx.audit.list("command")]
    assert sorted(refused) == ["faq_learn", "gaps"]


async def test_faq_learn_turns_an_answer_into_an_entry_that_answers_the_next_person(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("How do I book a meeting room on the fifth floor?", user="u1")
    assert "ticket #1" in bot.to_user("u1")[-1]  # the bot could not answer
    await bot.agent_replies("/faq_learn", ticket=1, agent=ADMIN)
    assert bot.to_staff()[-1].message.text == (
        "Ticket #1 has no answer to the user yet: answer first, then /faq_learn."
    )
    await bot.agent_replies("Use the Rooms tab in the calendar and pick Floor 5.", ticket=1)
    await bot.agent_replies("/faq_learn", ticket=1, agent=ADMIN)
    assert bot.to_staff()[-1].message.text.startswith("📚 FAQ entry #4 created from ticket #1")
    async with store.transaction() as tx:
        entry = await tx.faq.get(4)
        (audit,) = [a for a in await tx.audit.list("faq") if a.action == "faq.create"]
    assert entry.question == "How do I book a meeting room on the fifth floor?"
    assert entry.answer == "Use the Rooms tab in the calendar and pick Floor 5."
    assert entry.language == "en" and audit.actor == f"{CHANNEL}:{ADMIN}"

    await bot.user_says("how do I book a meeting room on the fifth floor", user="u2")
    assert bot.to_user("u2")[-1].endswith("Use the Rooms tab in the calendar and pick Floor 5.")


async def test_faq_learn_adds_the_question_as_a_wording_of_an_entry(store):
    bot = Harness(store)
    ids = await bot.seed()
    await bot.user_says("/new I lost access to my account after the holidays", user="u1")
    await bot.deliver(bot.staff_message(f"/faq_learn 1 #{ids[0]}", agent=ADMIN))
    assert bot.to_staff()[-1].message.text == (
        f"📚 The question of ticket #1 is now a wording of FAQ entry #{ids[0]}."
    )
    async with store.transaction() as tx:
        entry = await tx.faq.get(ids[0])
    assert "I lost access to my account after the holidays" in entry.variants
    await bot.user_says("I lost access to my account after the holidays", user="u2")
    assert bot.to_user("u2")[-1].endswith(entry.answer)

    await bot.deliver(bot.staff_message("/faq_learn 1 99", agent=ADMIN))
    assert bot.to_staff()[-1].message.text == "There is no FAQ entry #99."
    await bot.deliver(bot.staff_message("/faq_learn", agent=ADMIN))
    assert bot.to_staff()[-1].message.text.startswith("Usage, in a ticket's thread")
