"""FuzzyMatcher: finds the knowledge-base entries that answer a question, with a calibrated
confidence.

Two stages:
1. retrieval: BM25 over an inverted index of stemmed terms (one document per phrasing: the
   question and each variant), after the question's words were resolved to index terms with
   transliteration, keyboard-layout and typo correction (`knowledge.query`);
   The answer texts have an index of their own, which adds a few candidates.
2. re-ranking of the candidates with bounded features: how much of the question the phrasing
   explains (`qcov`), how much of the phrasing the question covers (`dcov`), rapidfuzz similarity
   of the two texts (`char`, which catches what stemming and typo correction miss, such as split
   or joined words), and how much of the question the answer text explains (`acov`).

The fused score of an entry and its margin over the best rival entry go through a logistic
function fitted on validation data, so `Match.confidence` reads as the probability that the entry
is the right answer. Weights, calibration and thresholds were chosen on half A of the helpdesk
validation set (`python bench/answer_quality.py --fit` refits the calibration; the same script
reports the figures on half B).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from core.domain import FaqEntry, Match
from knowledge.index import InvertedIndex
from knowledge.normalize import (
    is_stopword,
    looks_like_translit,
    normalize,
    prepare,
    term_of,
    tokenize,
    transliterate_to_cyrillic,
)
from knowledge.profiles import EntryProfiles, char_ngram_counts
from knowledge.query import AnalyzedQuery, QueryAnalyzer

logger = logging.getLogger(__name__)

# The engine answers directly at confidence >= DEFAULT_ANSWER_THRESHOLD, offers the top entries as
# buttons at >= DEFAULT_SUGGEST_THRESHOLD, and opens a ticket below. The answer threshold is the
# best coverage on helpdesk validation half A with precision >= 0.95 and none of its out-of-scope
# messages answered (bench/answer_quality.py).
DEFAULT_ANSWER_THRESHOLD = 0.979
DEFAULT_SUGGEST_THRESHOLD = 0.43

# How many entries the BM25 stage hands to the re-ranking stage.
CANDIDATE_ENTRIES = 12
# Fusion weights of the re-ranking features (each feature is in 0..1).
WEIGHT_QUERY_COVERAGE = 0.45
WEIGHT_DOC_COVERAGE = 0.30
WEIGHT_CHAR = 0.25
CHAR_SCORER = fuzz.ratio
# How much of the question the entry's answer text explains: admins write the answer with the
# words users use, so it bridges vocabulary gaps, but it is weaker evidence than a phrasing.
WEIGHT_ANSWER = 0.3
# A question word the knowledge base does not know counts this fraction of a rare word's weight
# against coverage: it may be a filler word, or the topic the base has no article on.
UNKNOWN_WORD_WEIGHT = 0.5
# Subtracted from the score of entries in another language than the asker's.
OTHER_LANGUAGE_PENALTY = 0.3
# Weights of the entry profiles (`knowledge.profiles`): cosine of the question to the centroid of
# an entry's phrasings, by character n-grams and by word terms. The word profiles count function
# words like any word: they tell "what is your name" from "what is my name" (idf keeps the common
# ones light), and a question made only of them retrieves nothing, so "how do I" alone never
# picks an article.
WEIGHT_CHAR_PROFILE = 1.5
WEIGHT_WORD_PROFILE = 1.5
# Confidence = logistic(SLOPE_SCORE * score + SLOPE_MARGIN * margin + INTERCEPT), fitted on half
# A of the helpdesk validation set.
CONFIDENCE_SLOPE_SCORE = 2.170
CONFIDENCE_SLOPE_MARGIN = 1.972
CONFIDENCE_INTERCEPT = -3.262


class _Phrasing:
    __slots__ = ("entry_id", "text", "terms", "content")

    def __init__(self, entry_id: int, text: str, terms: dict[str, int], content: str) -> None:
        self.entry_id = entry_id
        self.text = text  # as the admin wrote it
        self.terms = terms  # index term -> count (shared with the index, never changed)
        self.content = content  # prepared content words, for the character-level similarity


@dataclass(frozen=True)
class _Scored:
    entry: FaqEntry
    score: float
    qcov: float
    dcov: float
    char: float
    acov: float
    bm25: float
    phrasing: str
    char_profile: float = 0.0
    word_profile: float = 0.0
    extra: tuple[tuple[str, float], ...] = ()  # features a subclass added, for `details`


def _content_words(text: str) -> list[str]:
    return [w for w in tokenize(prepare(text)) if not is_stopword(w)]


def _term_counts(words: list[str]) -> dict[str, int]:
    terms: dict[str, int] = {}
    for word in words:
        term = term_of(word)
        terms[term] = terms.get(term, 0) + 1
    return terms


def phrasings_of(entry: FaqEntry) -> tuple[str, ...]:
    """The wordings to index. A Russian entry's wording typed in Latin letters (one learned from
    a user who typed "zabyl parol") is indexed in Cyrillic, as questions typed that way are read."""
    if entry.language != "ru":
        return entry.phrasings
    return tuple(
        transliterate_to_cyrillic(text) if looks_like_translit(text) else text
        for text in entry.phrasings
    )


def _analyze_phrasing(entry_id: int, text: str) -> _Phrasing:
    words = _content_words(text)
    return _Phrasing(entry_id, text, _term_counts(words), " ".join(words))


def _profile_features(text: str) -> tuple[dict[str, int], dict[str, int]]:
    """(character n-grams, word terms with function words) of a phrasing, for the profiles."""
    words = tokenize(prepare(text))
    return char_ngram_counts(" ".join(words)), _term_counts(words)


def _query_profile_features(query: AnalyzedQuery) -> tuple[dict[str, int], dict[str, float]]:
    """The question's profile features, from its resolved words (transliteration, layout and
    typos already fixed) plus its function words, which the analyzer leaves out."""
    function_words = [w for w in tokenize(prepare(query.text)) if is_stopword(w)]
    surfaces = [w.surface for w in query.words] + function_words
    terms = query.term_weights
    for term, count in _term_counts(function_words).items():
        terms[term] = terms.get(term, 0.0) + count
    return char_ngram_counts(" ".join(surfaces)), terms


class FuzzyMatcher:
    """In-memory matcher implementing `core.ports.Matcher`. Not thread-safe: the engine calls it
    from one event loop."""

    # Whether the matcher reads a question as a sentence too, beyond its words: then an entry or
    # a question made only of function words ("who are you") can still be matched.
    reads_sentences = False
    # The answer / suggest thresholds that suit this matcher's confidence (the config's defaults).
    default_thresholds: tuple[float, float] = (DEFAULT_ANSWER_THRESHOLD, DEFAULT_SUGGEST_THRESHOLD)
    vectors = None  # it reads no sentence vectors (core.ports.Matcher)
    # The score margin under which the best entry's rival is a close call (`Match.close_second`:
    # the user is asked which of the two they mean). None: never. For this matcher the margin
    # chosen on helpdesk half A (0.1) lost on half B: the right article was among the two for
    # 76% of those questions, among the three suggestions for 88% (bench/confusables.py).
    close_call_margin: float | None = None
    # A new ticket takes the nearest entry's category from this confidence: the lowest at which
    # 90% of the categories given on helpdesk half A were right (bench/categories.py).
    category_confidence = 0.7
    # (slope of the score, slope of the margin, intercept) of the confidence's logistic function.
    calibration: tuple[float, float, float] = (
        CONFIDENCE_SLOPE_SCORE,
        CONFIDENCE_SLOPE_MARGIN,
        CONFIDENCE_INTERCEPT,
    )

    def __init__(self, entries: Sequence[FaqEntry] = ()) -> None:
        self._entries: dict[int, FaqEntry] = {}
        self._entry_slots: dict[int, list[int]] = {}
        self._phrasings: dict[int, _Phrasing] = {}  # slot -> phrasing
        self._answer_slots: dict[int, int] = {}  # entry id -> slot in the answer index
        self._answer_entries: dict[int, int] = {}  # answer slot -> entry id
        self._answer_terms: dict[int, dict[str, int]] = {}  # entry id -> answer terms
        self._reset_indexes()
        self.rebuild(entries)

    def _reset_indexes(self) -> None:
        self._index = InvertedIndex()
        self._answers = InvertedIndex()
        self._analyzer = QueryAnalyzer((self._index, self._answers))
        self._char_profiles = EntryProfiles()
        self._word_profiles = EntryProfiles()

    def __len__(self) -> int:
        return len(self._entries)

    # -- maintenance (core.ports.Matcher)

    def rebuild(self, entries: Sequence[FaqEntry]) -> None:
        self._reset_indexes()
        for table in (
            self._entries,
            self._entry_slots,
            self._phrasings,
            self._answer_slots,
            self._answer_entries,
            self._answer_terms,
        ):
            table.clear()
        for entry in entries:
            self._add(entry)
        self._index.warm_up()
        self._answers.warm_up()
        self._char_profiles.warm_up()
        self._word_profiles.warm_up()
        logger.info("knowledge index rebuilt: %d entries", len(self._entries))

    def upsert(self, entry: FaqEntry) -> None:
        self.remove(entry.id)
        self._add(entry)
        self._analyzer.forget()  # new words in the vocabulary

    def terms(self, text: str) -> frozenset[str]:
        """Content-word stems of `text` (see core.reports.gaps)."""
        return frozenset(term_of(word) for word in _content_words(text) if len(word) > 1)

    def remove(self, entry_id: int) -> None:
        for slot in self._entry_slots.pop(entry_id, ()):
            self._index.remove(slot)
            del self._phrasings[slot]
        answer_slot = self._answer_slots.pop(entry_id, None)
        if answer_slot is not None:
            self._answers.remove(answer_slot)
            del self._answer_entries[answer_slot]
            del self._answer_terms[entry_id]
        self._char_profiles.remove(entry_id)
        self._word_profiles.remove(entry_id)
        self._entries.pop(entry_id, None)
        self._analyzer.forget()  # words may have left the vocabulary

    def _add(self, entry: FaqEntry) -> None:
        if not entry.enabled:
            return
        slots: list[int] = []
        seen: set[str] = set()
        phrasings = phrasings_of(entry)
        for text in phrasings:
            phrasing = _analyze_phrasing(entry.id, text)
            key = " ".join(sorted(phrasing.terms))
            if not phrasing.terms or key in seen:
                continue  # nothing to match on, or a duplicate wording
            seen.add(key)
            slot = self._index.add(phrasing.terms)
            self._phrasings[slot] = phrasing
            slots.append(slot)
        if not slots and not self.reads_sentences:
            logger.warning(
                "knowledge entry %s has no searchable words; it is never matched", entry.id
            )
            return
        self._entries[entry.id] = entry
        self._entry_slots[entry.id] = slots
        # The profiles describe the entry as its admin wrote it: users' learned wordings are
        # long and chatty, and averaged in they blur the entry (they still match as phrasings).
        described = phrasings[: 1 + len(entry.variants)]
        features = [_profile_features(text) for text in described]
        self._char_profiles.add(entry.id, [chars for chars, _ in features])
        self._word_profiles.add(entry.id, [words for _, words in features])
        answer_terms = _term_counts(_content_words(entry.answer))
        if answer_terms:
            answer_slot = self._answers.add(answer_terms)
            self._answer_slots[entry.id] = answer_slot
            self._answer_entries[answer_slot] = entry.id
            self._answer_terms[entry.id] = answer_terms

    # -- matching (core.ports.Matcher)

    def match(self, text: str, language: str | None = None, limit: int = 3) -> list[Match]:
        if limit <= 0 or not self._entries:
            return []
        query, preferred, scored = self._ranked(text, language)
        return [self._to_match(item, scored, query, preferred) for item in scored[:limit]]

    def _ranked(
        self, text: str, language: str | None
    ) -> tuple[AnalyzedQuery, str | None, list[_Scored]]:
        """The analyzed question, the language preferred for the answer, and every candidate
        entry scored, best first (empty when nothing in the question can be matched)."""
        query = self._analyzer.analyze(text, language)
        preferred = language or query.language
        if not normalize(text):
            return query, preferred, []  # no word at all: punctuation, emoji
        weights = query.term_weights
        # A question with no word the indexes know ("what is your name") can still be found by
        # a subclass's candidates (the semantic matcher reads it as a sentence).
        retrieved = self._retrieve(weights) if weights else {}
        for entry_id in self._more_candidates(query, preferred):
            retrieved.setdefault(entry_id, 0.0)
        if not retrieved:
            return query, preferred, []
        profile_features = _query_profile_features(query)
        ranked = self._rerank(query, retrieved, preferred, profile_features)
        return query, preferred, self._merge_ranked(ranked, preferred)

    # -- extension points for a matcher that adds evidence (see knowledge.semantic)

    def _more_candidates(self, query: AnalyzedQuery, preferred: str | None) -> list[int]:
        """Entries to rank besides those the indexes retrieved."""
        return []

    def _extra_features(
        self, query: AnalyzedQuery, entry_ids: list[int]
    ) -> dict[int, tuple[float, tuple[tuple[str, float], ...]]]:
        """entry id -> (score to add, named features for `details`)."""
        return {}

    def _merge_ranked(self, ranked: list[_Scored], preferred: str | None) -> list[_Scored]:
        """The ranking with entries that are one article merged (best first either way)."""
        return ranked

    def _retrieve(self, weights: dict[str, float]) -> dict[int, float]:
        """entry id -> BM25 score of its best phrasing, for the best entries by phrasing, plus
        the best few by answer text (with a phrasing score of 0 unless found both ways)."""
        best: dict[int, float] = {}
        for slot, score in self._index.top(weights, CANDIDATE_ENTRIES * 3):
            entry_id = self._phrasings[slot].entry_id
            if entry_id not in best:
                best[entry_id] = score
                if len(best) >= CANDIDATE_ENTRIES:
                    break
        for slot, _ in self._answers.top(weights, CANDIDATE_ENTRIES // 2):
            best.setdefault(self._answer_entries[slot], 0.0)
        return best

    def _rerank(
        self,
        query: AnalyzedQuery,
        retrieved: dict[int, float],
        preferred: str | None,
        profile_features: tuple[dict[str, int], dict[str, float]],
    ) -> list[_Scored]:
        idf = self._index.idf
        # term -> [(question word number, idf-weighted mass)]; a word may have two typo readings.
        term_words: dict[str, list[tuple[int, float]]] = {}
        word_mass: list[float] = []
        unknown_mass = idf("") * UNKNOWN_WORD_WEIGHT
        for number, word in enumerate(query.words):
            masses = [(term, idf(term) * weight) for term, weight in word.terms]
            word_mass.append(max((mass for _, mass in masses), default=unknown_mass))
            for term, mass in masses:
                term_words.setdefault(term, []).append((number, mass))
        query_mass = max(sum(word_mass), 1e-9)
        term_weights = query.term_weights
        # term -> (its idf-weighted mass as a document term, the question words it stands for)
        query_terms = {
            term: (idf(term) * term_weights[term], words) for term, words in term_words.items()
        }
        content = query.content

        def overlap(terms: dict[str, int]) -> tuple[float, float]:
            """(idf mass of the question words found in `terms`, each word counted once; mass of
            the `terms` the question has). Walks the document's terms: they are the fewer."""
            best: dict[int, float] = {}
            matched = 0.0
            for term in terms:
                hit = query_terms.get(term)
                if hit is None:
                    continue
                matched += hit[0]
                for number, mass in hit[1]:
                    if mass > best.get(number, 0.0):
                        best[number] = mass
            return sum(best.values()), matched

        entry_ids = list(retrieved)
        char_features, word_features = profile_features
        char_profile = self._char_profiles.similarities(char_features, entry_ids)
        word_profile = self._word_profiles.similarities(word_features, entry_ids)
        extra = self._extra_features(query, entry_ids)

        results: list[_Scored] = []
        for entry_id, bm25 in retrieved.items():
            entry = self._entries[entry_id]
            acov = overlap(self._answer_terms.get(entry_id, {}))[0] / query_mass
            language_penalty = (
                OTHER_LANGUAGE_PENALTY if preferred and entry.language != preferred else 0.0
            )
            best: tuple[float, float, float, float, str] | None = None  # score, features, text
            for slot in self._entry_slots[entry_id]:
                phrasing = self._phrasings[slot]
                covered, doc_matched = overlap(phrasing.terms)
                qcov = covered / query_mass
                dcov = doc_matched / self._index.idf_mass(slot)
                char = CHAR_SCORER(content, phrasing.content) / 100.0
                score = (
                    WEIGHT_QUERY_COVERAGE * qcov + WEIGHT_DOC_COVERAGE * dcov + WEIGHT_CHAR * char
                )
                if best is None or score > best[0]:
                    best = (score, qcov, dcov, char, phrasing.text)
            # An entry with no searchable words ("who are you") has no lexical evidence.
            score, qcov, dcov, char, text = best or (0.0, 0.0, 0.0, 0.0, entry.question)
            extra_score, extra_named = extra.get(entry_id, (0.0, ()))
            score += (
                WEIGHT_ANSWER * acov
                - language_penalty
                + WEIGHT_CHAR_PROFILE * char_profile[entry_id]
                + WEIGHT_WORD_PROFILE * word_profile[entry_id]
                + extra_score
            )
            results.append(
                _Scored(
                    entry,
                    score,
                    qcov,
                    dcov,
                    char,
                    acov,
                    bm25,
                    text,
                    char_profile[entry_id],
                    word_profile[entry_id],
                    extra_named,
                )
            )
        results.sort(key=lambda item: (-item.score, item.entry.id))
        return results

    def _to_match(
        self,
        item: _Scored,
        ranked: list[_Scored],
        query: AnalyzedQuery,
        preferred: str | None,
    ) -> Match:
        # The margin is taken against the best other entry in this entry's language or the
        # asker's: the same article translated into a language nobody asked in is no competitor,
        # but an entry in the asker's language outranks a translation.
        rival_languages = {item.entry.language, preferred}
        rival = next(
            (
                other.score
                for other in ranked
                if other.entry.id != item.entry.id and other.entry.language in rival_languages
            ),
            0.0,
        )
        margin = item.score - rival
        slope_score, slope_margin, intercept = self.calibration
        confidence = _logistic(slope_score * item.score + slope_margin * margin + intercept)
        details = {
            "score": round(item.score, 4),
            "margin": round(margin, 4),
            "qcov": round(item.qcov, 4),
            "dcov": round(item.dcov, 4),
            "char": round(item.char, 4),
            "acov": round(item.acov, 4),
            "bm25": round(item.bm25, 4),
            "char_profile": round(item.char_profile, 4),
            "word_profile": round(item.word_profile, 4),
            **{name: round(value, 4) for name, value in item.extra},
            "phrasing": item.phrasing,
            "language": item.entry.language,
            "query_language": preferred,
            "words": {w.word: f"{w.how}:{','.join(t for t, _ in w.terms)}" for w in query.words},
        }
        close = self.close_call_margin is not None and rival > 0 and margin < self.close_call_margin
        return Match(item.entry.id, confidence, item.entry.question, details, close)


def _logistic(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-value))
