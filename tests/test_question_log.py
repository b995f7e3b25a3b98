"""The question log through the engine: every question the knowledge base is asked is recorded
with its outcome, and a question whose answer did not help ends up linked to its ticket."""

from __future__ import annotations

from core.domain import QuestionOutcome, QuestionRecord
from tests.harness import Harness


async def questions(store) -> list[QuestionRecord]:
    async with store.transaction() as tx:
        return await tx.questions.list()


async def test_an_answered_question_is_logged_with_its_article(store):
    bot = Harness(store)
    ids = await bot.seed()
    await bot.user_says("How do I reset my password?")
    (logged,) = await questions(store)
    assert logged.outcome == QuestionOutcome.ANSWERED and logged.entry_id == ids[0]
    assert logged.text == "How do I reset my password?" and logged.ticket_id is None
    assert logged.confidence is not None and logged.confidence >= 0.75
    assert logged.language == "en" and logged.created_at == bot.clock()

    await bot.press("👎 Didn't help")  # the question ends in a ticket after all
    (logged,) = await questions(store)
    assert logged.outcome == QuestionOutcome.TICKET and logged.ticket_id == 1


async def test_a_question_without_an_answer_is_logged_with_its_ticket(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("The coffee machine on the third floor leaks water everywhere")
    (logged,) = await questions(store)
    assert logged.outcome == QuestionOutcome.TICKET and logged.ticket_id == 1


async def test_suggestions_then_none_fits_links_the_ticket(store):
    bot = Harness(store, answer_threshold=1.01, suggest_threshold=0.01)  # never sure
    await bot.seed()
    await bot.user_says("password reset")
    (logged,) = await questions(store)
    assert logged.outcome == QuestionOutcome.SUGGESTED and logged.ticket_id is None
    labels = [b.label for row in bot.last_to_user().message.buttons for b in row]
    await bot.press(labels[-1])  # "none of these" sends /new
    (logged,) = await questions(store)
    assert logged.outcome == QuestionOutcome.TICKET and logged.ticket_id == 1


async def test_a_picked_suggestion_that_did_not_help_links_the_ticket(store):
    bot = Harness(store, answer_threshold=1.01, suggest_threshold=0.01)  # never sure
    await bot.seed()
    await bot.user_says("password reset")
    labels = [b.label for row in bot.last_to_user().message.buttons for b in row]
    await bot.press(labels[0])
    await bot.press("👎 Didn't help")
    (logged,) = await questions(store)
    assert logged.outcome == QuestionOutcome.TICKET and logged.ticket_id == 1


async def test_small_talk_commands_and_ticket_messages_are_not_questions(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("hello")
    await bot.user_says("thanks!")
    await bot.user_says("/status")
    await bot.user_says("/new my monitor flickers")  # straight to a person: not asked
    await bot.user_says("it is a Dell")  # added to the open ticket
    assert await questions(store) == []


async def test_a_request_for_a_person_after_an_answer_links_that_question(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("How do I reset my password?")
    await bot.user_says("talk to a person")
    (logged,) = await questions(store)
    assert logged.outcome == QuestionOutcome.TICKET and logged.ticket_id == 1


async def test_a_repeated_delivery_is_logged_once(store):
    bot = Harness(store)
    await bot.seed()
    message = bot.user_message("How do I reset my password?", update_id="same")
    await bot.deliver(message)
    await bot.deliver(message)
    assert len(await questions(store)) == 1
