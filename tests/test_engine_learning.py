"""Learning from traffic: wordings that an article answered become candidate variants, which
admins approve (then the matcher uses them) or reject."""

from __future__ import annotations

from tests.harness import ADMIN, Harness


async def _candidates(store) -> list:
    async with store.transaction() as tx:
        return await tx.learned.candidates()


async def test_a_suggested_article_that_helped_teaches_its_wording(store):
    bot = Harness(store, answer_threshold=1.01, suggest_threshold=0.01)  # never sure
    await bot.seed()
    await bot.user_says("my password is gone somehow")
    await bot.press("How do I reset my password?")
    await bot.press("👍 Helped")
    [candidate] = await _candidates(store)
    assert candidate.entry_id == 1 and candidate.text == "my password is gone somehow"

    # Not used before an admin approves it, used right after.
    assert "my password is gone somehow" not in bot.knowledge.get(1).phrasings
    await bot.user_says("/faq_candidates", user=ADMIN)
    assert f"{candidate.id}. for #1: my password is gone" in bot.to_user(ADMIN)[-1]
    await bot.user_says(f"/faq_approve {candidate.id}", user=ADMIN)
    assert "is now a variant of FAQ entry #1" in bot.to_user(ADMIN)[-1]
    assert bot.knowledge.get(1).learned == ("my password is gone somehow",)
    assert await _candidates(store) == []


async def test_a_rejected_wording_is_not_proposed_again(store):
    bot = Harness(store, answer_threshold=1.01, suggest_threshold=0.01)
    await bot.seed()
    await bot.user_says("i lost my password again")
    await bot.press("How do I reset my password?")
    await bot.press("👍 Helped")
    [candidate] = await _candidates(store)
    await bot.user_says(f"/faq_reject {candidate.id}", user=ADMIN)
    assert "rejected" in bot.to_user(ADMIN)[-1]
    await bot.user_says("I lost my password  again")
    await bot.press("How do I reset my password?")
    await bot.press("👍 Helped")
    assert await _candidates(store) == []
    await bot.user_says("/faq_approve 999", user=ADMIN)
    assert "no wording 999" in bot.to_user(ADMIN)[-1]


async def test_an_agent_answers_with_an_article_which_resolves_and_teaches(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("/new our team calendar shows the wrong opening times for support")
    await bot.agent_replies("/faq_send 3", ticket=1)
    assert bot.to_user()[-2].endswith("We answer on weekdays from 9:00 to 18:00.")
    assert "resolved" in bot.to_user()[-1]
    assert "kept as a candidate" in bot.to_staff()[-1].message.text
    [candidate] = await _candidates(store)
    assert candidate.entry_id == 3 and candidate.text.startswith("our team calendar")
    await bot.agent_replies("/faq_send 42", ticket=1)
    assert "Usage, in a ticket's thread: /faq_send ID" in bot.to_staff()[-1].message.text


async def test_only_admins_review_wordings(store):
    bot = Harness(store)
    await bot.user_says("/faq_candidates", user="mallory")
    assert bot.to_user("mallory")[-1].endswith("Sorry, /faq_candidates needs the admin role.")


async def test_an_edit_made_by_another_process_reaches_this_index(store):
    bot = Harness(store)
    await bot.seed()
    other = Harness(store)  # a second bot process on the same database
    await other.engine.load_state()
    assert await other.engine.refresh_knowledge() == 0  # nothing changed yet
    await bot.user_says("/faq_edit 3\nA: Around the clock.", user=ADMIN)
    await bot.user_says("/faq_del 2", user=ADMIN)
    assert await other.engine.refresh_knowledge() == 2
    await other.user_says("What are your support hours?", update_id="other-process-1")
    assert other.to_user()[-1].endswith("\n\nAround the clock.")  # after the greeting
    assert other.knowledge.get(2) is None
