"""FuzzyMatcher: ranking, confidence, typos/translit/layout, language preference, live edits."""

from __future__ import annotations

import pytest

from core.domain import FaqEntry
from core.ports import Matcher
from knowledge.index import InvertedIndex
from knowledge.matcher import (
    DEFAULT_ANSWER_THRESHOLD,
    DEFAULT_SUGGEST_THRESHOLD,
    FuzzyMatcher,
)


def entry(
    entry_id: int, language: str, question: str, *variants: str, answer: str = ""
) -> FaqEntry:
    return FaqEntry(
        id=entry_id,
        question=question,
        answer=answer or f"Answer {entry_id}",
        language=language,
        variants=variants,
    )


ENTRIES = [
    entry(1, "ru", "Как сбросить пароль?", "Забыл пароль", "Восстановить пароль от входа"),
    entry(2, "en", "How do I reset my password?", "Forgot my password", "Password recovery"),
    entry(3, "ru", "Принтер не печатает", "Документ завис в очереди печати"),
    entry(4, "en", "The printer is not printing", "Print job stuck in the queue"),
    entry(5, "ru", "Не подключается VPN", "Ошибка подключения к VPN из дома"),
    entry(6, "en", "The VPN does not connect", "VPN connection error from home"),
    entry(7, "ru", "Как вернуть товар?", "Возврат товара", "Не подошёл размер"),
    entry(8, "en", "How do I return an item?", "Return a product", "Return policy"),
    entry(9, "ru", "Как оформить отпуск?", "Заявление на отпуск"),
    entry(10, "en", "How do I request vacation?", "Submit a leave request"),
    entry(
        11,
        "en",
        "My mailbox is full",
        "Mailbox quota exceeded",
        answer="Archive old messages to free space: Outlook, File, Tools, Clean up.",
    ),
]


@pytest.fixture
def matcher() -> FuzzyMatcher:
    return FuzzyMatcher(ENTRIES)


def best(matcher: FuzzyMatcher, text: str, language: str | None = None) -> tuple[int, float]:
    matches = matcher.match(text, language)
    assert matches, f"nothing found for {text!r}"
    return matches[0].entry_id, matches[0].confidence


def test_implements_the_matcher_port() -> None:
    port: Matcher = FuzzyMatcher()
    assert port.match("anything") == []


def test_thresholds_are_ordered() -> None:
    assert 0.0 < DEFAULT_SUGGEST_THRESHOLD < DEFAULT_ANSWER_THRESHOLD < 1.0


@pytest.mark.parametrize("source", ENTRIES, ids=lambda e: e.question)
def test_the_exact_question_is_answered_confidently(
    matcher: FuzzyMatcher, source: FaqEntry
) -> None:
    entry_id, confidence = best(matcher, source.question, source.language)
    assert entry_id == source.id
    assert confidence >= DEFAULT_ANSWER_THRESHOLD


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("забыла пароль, как восстановить?", "ru", 1),
        ("i forgot my pasword, how to reset it", "en", 2),  # typo
        ("принтр не пичатает", "ru", 3),  # two typos
        ("print jobs stuck in queue", "en", 4),
        ("впн не подключается из дома", "ru", 5),  # Cyrillic spelling of VPN
        ("ne podklyuchaetsya vpn", "ru", 5),  # Russian typed in Latin letters
        ("zabyl parol", None, 1),  # translit detected without a language hint
        ("ghbynth yt gtxfnftn", "ru", 3),  # typed with the English layout on
        ("хочу вернуть товар, не подошел размер", "ru", 7),
        ("how can i return a product", "en", 8),
        ("submit leave request", "en", 10),
    ],
)
def test_paraphrases_and_typos_find_the_entry(
    matcher: FuzzyMatcher, text: str, language: str | None, expected: int
) -> None:
    assert best(matcher, text, language)[0] == expected


def test_words_found_only_in_the_answer_help(matcher: FuzzyMatcher) -> None:
    assert best(matcher, "how do i archive old messages in outlook", "en")[0] == 11


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("как сварить борщ", "ru"),
        ("what is the weather in paris tomorrow", "en"),
        ("купить билеты в театр на субботу", "ru"),
        ("", None),
        ("👍", None),
    ],
)
def test_unrelated_text_gets_low_confidence(
    matcher: FuzzyMatcher, text: str, language: str | None
) -> None:
    matches = matcher.match(text, language)
    assert not matches or matches[0].confidence < DEFAULT_SUGGEST_THRESHOLD


def test_a_question_fitting_two_entries_equally_is_not_answered_directly() -> None:
    matcher = FuzzyMatcher(
        [
            entry(1, "ru", "Как оформить отпуск?", "Заявление на отпуск"),
            entry(2, "ru", "Как оформить больничный?", "Заболел, что делать"),
            entry(3, "en", "How do I file a vacation or sick leave request?"),
        ]
    )
    matches = matcher.match("как оформить", "ru")
    assert {m.entry_id for m in matches[:2]} == {1, 2}
    assert DEFAULT_SUGGEST_THRESHOLD <= matches[0].confidence < DEFAULT_ANSWER_THRESHOLD
    assert best(matcher, "как оформить больничный", "ru") == (2, pytest.approx(1.0, abs=0.1))


def test_results_are_one_per_entry_best_first_and_limited(matcher: FuzzyMatcher) -> None:
    matches = matcher.match("password reset forgot password recovery", "en", limit=5)
    ids = [m.entry_id for m in matches]
    assert len(ids) == len(set(ids)) <= 5
    confidences = [m.confidence for m in matches]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert matcher.match("password", "en", limit=1)[0].entry_id == 2
    assert matcher.match("password", "en", limit=0) == []


def test_match_carries_the_canonical_question_and_component_scores(matcher: FuzzyMatcher) -> None:
    match = matcher.match("forgot my password", "en")[0]
    assert match.question == "How do I reset my password?"
    for key in ("score", "margin", "qcov", "dcov", "char", "acov", "bm25", "phrasing", "words"):
        assert key in match.details
    assert match.details["phrasing"] == "Forgot my password"


def test_the_askers_language_is_preferred(matcher: FuzzyMatcher) -> None:
    # "VPN" is spelled the same in both entries; the language decides.
    assert best(matcher, "vpn", "en")[0] == 6
    assert best(matcher, "vpn", "ru")[0] == 5
    # The translation in the other language is not a rival: the answer stays confident.
    assert best(matcher, "the vpn does not connect", "en")[1] >= DEFAULT_ANSWER_THRESHOLD


def test_an_entry_in_the_other_language_is_still_found() -> None:
    only_english = FuzzyMatcher([ENTRIES[5], ENTRIES[3]])  # VPN and printer, English only
    entry_id, _ = best(only_english, "не подключается vpn", "ru")
    assert entry_id == 6


def test_upsert_is_visible_to_the_next_question(matcher: FuzzyMatcher) -> None:
    assert not matcher.match("пропуск для гостя", "ru") or (
        matcher.match("пропуск для гостя", "ru")[0].confidence < DEFAULT_SUGGEST_THRESHOLD
    )
    matcher.upsert(entry(20, "ru", "Как заказать пропуск для гостя?", "Гостевой пропуск"))
    assert best(matcher, "пропуск для гостя", "ru") == (20, pytest.approx(1.0, abs=0.1))


def test_upsert_replaces_the_old_wording(matcher: FuzzyMatcher) -> None:
    matcher.upsert(entry(9, "ru", "Как взять больничный?", "Заболел"))
    assert best(matcher, "как взять больничный", "ru")[0] == 9
    matches = matcher.match("заявление на отпуск", "ru")
    assert all(m.entry_id != 9 for m in matches)


def test_remove_and_disabled_entries_disappear(matcher: FuzzyMatcher) -> None:
    matcher.remove(3)
    assert all(m.entry_id != 3 for m in matcher.match("принтер не печатает", "ru", limit=10))
    disabled = FaqEntry(4, "The printer is not printing", "x", "en", enabled=False)
    matcher.upsert(disabled)
    assert all(m.entry_id != 4 for m in matcher.match("printer not printing", "en", limit=10))
    matcher.remove(12345)  # unknown ids are ignored
    assert len(matcher) == len(ENTRIES) - 2


def test_rebuild_replaces_everything(matcher: FuzzyMatcher) -> None:
    matcher.rebuild([ENTRIES[0], FaqEntry(50, "Disabled", "x", "en", enabled=False)])
    assert len(matcher) == 1
    assert [m.entry_id for m in matcher.match("забыл пароль", "ru", limit=5)] == [1]
    matcher.rebuild([])
    assert matcher.match("забыл пароль") == []


def test_live_edits_rank_like_a_fresh_rebuild() -> None:
    edited = FuzzyMatcher(ENTRIES[:6])
    for source in ENTRIES[6:]:
        edited.upsert(source)
    edited.remove(2)
    edited.upsert(ENTRIES[1])
    fresh = FuzzyMatcher(ENTRIES)
    for source in ENTRIES:
        for text in (source.question, *source.variants):
            got = edited.match(text, source.language)
            want = fresh.match(text, source.language)
            assert [m.entry_id for m in got] == [m.entry_id for m in want], text
            assert got[0].confidence == pytest.approx(want[0].confidence, abs=0.05)


def test_index_postings_follow_adds_and_removes() -> None:
    index = InvertedIndex()
    first = index.add({"printer": 1, "queue": 1})
    second = index.add({"printer": 2})
    assert index.document_frequency("printer") == 2
    assert index.top({"printer": 1.0}, 5)[0][0] == second  # tf 2 beats tf 1
    index.remove(second)
    assert index.document_frequency("printer") == 1
    assert [slot for slot, _ in index.top({"printer": 1.0}, 5)] == [first]
    index.remove(first)
    assert not index.has_term("printer") and index.doc_count == 0
    assert index.add({"vpn": 1}) in (first, second)  # slots are reused


def test_edits_after_warm_up_score_like_a_fresh_index() -> None:
    # Enough documents share "printer" for it to be scored through numpy arrays, which edits
    # patch in place: the scores must stay those of an index built from scratch.
    documents = [{"printer": 1 + n % 3, f"word{n}": 1} for n in range(30)]
    edited = InvertedIndex()
    slots = [edited.add(terms) for terms in documents]
    edited.warm_up()
    edited.similar_candidates("printr", 1)  # typo candidates built before the edits
    for slot in slots[:10]:
        edited.remove(slot)
    added = [edited.add({"printer": 2, "scanner": 1}) for _ in range(5)]
    fresh = InvertedIndex()
    fresh_slot = {}
    for slot in slots[10:]:
        fresh_slot[fresh.add(documents[slots.index(slot)])] = slot
    for slot in added:
        fresh_slot[fresh.add({"printer": 2, "scanner": 1})] = slot
    want = {fresh_slot[s]: score for s, score in fresh.top({"printer": 1.0}, 40)}
    got = dict(edited.top({"printer": 1.0}, 40))
    assert got.keys() == want.keys()
    for slot, score in want.items():
        assert got[slot] == pytest.approx(score, rel=0.02)  # idf of the moment may differ
    assert "scanner" in edited.similar_candidates("scaner", 1)  # a new term is a candidate
    assert "word0" not in edited.similar_candidates("word0", 1)  # a removed one is not


def test_a_russian_wording_typed_in_latin_letters_is_indexed_in_cyrillic():
    # A variant learned from a user who typed Russian in Latin letters.
    learned = entry(
        20, "ru", "Как получить справку о доходах?", "gde vzyat spravku o zarplate dlya banka"
    )
    matcher = FuzzyMatcher([*ENTRIES, learned])
    for question in ("где взять справку о зарплате для банка", "gde vzyat spravku o zarplate"):
        (best, *_) = matcher.match(question, "ru")
        assert best.entry_id == 20, question
    assert "справку" in matcher.match("где взять справку о зарплате", "ru")[0].details["phrasing"]


def test_learned_wordings_match_but_do_not_blur_the_entry():
    chatty = "hi all, on the third floor the wifi in the meeting room does not work at all"
    plain = entry(30, "en", "Office wifi is not connecting", "No internet over wifi")
    learned = FaqEntry(**{**plain.__dict__, "learned": (chatty,)})
    with_learned = FuzzyMatcher([*ENTRIES, learned])
    assert with_learned.match(chatty, "en")[0].entry_id == 30
    # The entry's profile is its question and admin variants: the same with or without the
    # learned wording, so a question about the wifi scores alike in both.
    question = "wifi is not connecting in the office"
    without = FuzzyMatcher([*ENTRIES, plain]).match(question, "en")[0]
    learned_best = with_learned.match(question, "en")[0]
    assert learned_best.entry_id == without.entry_id == 30
    assert learned_best.details["word_profile"] == without.details["word_profile"]


def test_a_word_learned_by_an_edit_is_found_although_it_was_unknown_before(
    matcher: FuzzyMatcher,
) -> None:
    """The analyzer remembers how each word resolved; an edit of the knowledge base must make
    it look again."""
    assert matcher.match("zeppelin parking permit") == []
    matcher.upsert(entry(12, "en", "Where is the zeppelin parking permit?"))
    assert best(matcher, "zeppelin parking permit")[0] == 12
    matcher.remove(12)
    assert all(m.entry_id != 12 for m in matcher.match("zeppelin parking permit"))
