"""/faq: users browse the knowledge base by topic or search it, and read an article without
it counting as a question."""

from __future__ import annotations

from core.domain import FaqDraft
from knowledge.matcher import FuzzyMatcher
from tests.harness import Harness


def labels(bot: Harness) -> list[str]:
    return [b.label for row in bot.last_to_user().message.buttons for b in row]


async def test_topics_then_articles_then_the_article(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("/faq")
    assert bot.to_user()[-1].endswith("Help articles by topic:")
    assert labels(bot) == ["access", "general"]  # the English articles' topics, sorted

    await bot.press("access")
    assert bot.to_user()[-1] == "Articles on “access”:"
    assert labels(bot) == ["How do I reset my password?"]

    await bot.press("How do I reset my password?")
    assert bot.to_user()[-1] == "Click 'Forgot password?' on the sign-in page."
    assert labels(bot) == ["👍 Helped", "👎 Didn't help"]
    await bot.press("👍 Helped")
    async with store.transaction() as tx:
        assert (await tx.faq.get(1)).helpful == 1
        assert await tx.learned.candidates(limit=10) == []  # browsing teaches no wording
        assert await tx.questions.list() == []  # nor is it a question the reports count
    assert bot.to_staff() == []  # no ticket, no noise for the staff


async def test_a_russian_user_sees_the_russian_articles(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("/lang ru")
    await bot.user_says("/faq")
    assert labels(bot) == ["access"]
    await bot.press("access")
    assert labels(bot) == ["Как сбросить пароль?"]


async def test_long_topics_are_paged_and_articles_without_a_topic_go_under_other(store):
    bot = Harness(store)
    drafts = [
        FaqDraft(question=f"Printer problem number {n}", answer=f"Fix {n}.", language="en",
                 category="printing")
        for n in range(11)
    ]  # fmt: skip
    drafts.append(FaqDraft(question="Where is the office?", answer="Main street 1.", language="en"))
    await bot.seed(drafts)
    await bot.user_says("/faq")
    assert labels(bot) == ["Other", "printing"]
    await bot.press("printing")
    assert len(labels(bot)) == 9 and labels(bot)[-1] == "More ›"
    await bot.press("More ›")
    assert labels(bot) == [f"Printer problem number {n}" for n in (8, 9, 10)]
    await bot.user_says("/faq")
    await bot.press("Other")
    assert labels(bot) == ["Where is the office?"]


async def test_search_lists_what_is_near_and_says_when_nothing_is(store):
    bot = Harness(store)
    await bot.seed()
    await bot.user_says("/faq password")
    assert bot.to_user()[-1].endswith("Articles that may help:")
    assert labels(bot)[0] == "How do I reset my password?"
    await bot.user_says("/faq quantum chromodynamics")
    assert bot.to_user()[-1].startswith("No article matches “quantum chromodynamics”.")
    assert bot.to_staff() == []


async def test_an_empty_knowledge_base_says_so(store):
    bot = Harness(store)
    await bot.user_says("/faq")
    assert "There are no help articles yet." in bot.to_user()[-1]


async def test_faq_is_listed_in_help(store):
    bot = Harness(store)
    await bot.user_says("/help")
    assert "/faq — browse the help articles by topic" in bot.to_user()[-1]


class CloseCallMatcher(FuzzyMatcher):
    """Takes every runner-up within reach for a close call (the semantic matcher's margin is
    chosen on validation data; here the rule itself is under test)."""

    close_call_margin = 100.0


TWO_CONNECTION_PROBLEMS = [
    FaqDraft(question="VPN does not connect", answer="Reinstall the VPN client.", language="en"),
    FaqDraft(question="Office Wi-Fi does not connect", answer="Forget the network.", language="en"),
    FaqDraft(question="How do I order a new monitor?", answer="Use the shop.", language="en"),
]


async def test_two_articles_that_nearly_tie_get_one_question_naming_both(store):
    bot = Harness(store, matcher=CloseCallMatcher(), answer_threshold=0.99)
    await bot.seed(TWO_CONNECTION_PROBLEMS)
    await bot.user_says("it does not connect")
    question = bot.to_user()[-1]  # the better one first
    assert question.endswith(
        "Do you mean “VPN does not connect” or “Office Wi-Fi does not connect”?"
    )
    assert labels(bot) == [
        "VPN does not connect",
        "Office Wi-Fi does not connect",
        "None of these — contact support",
    ]

    await bot.press("VPN does not connect")
    assert bot.to_user()[-1] == "Reinstall the VPN client."


async def test_without_a_close_call_the_closest_articles_are_listed(store):
    bot = Harness(store, answer_threshold=0.99)
    await bot.seed(TWO_CONNECTION_PROBLEMS)
    await bot.user_says("it does not connect")
    assert "Maybe one of these articles helps" in bot.to_user()[-1]
