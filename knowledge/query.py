"""Turning a user's question into weighted index terms, given the index vocabulary.

Each content word of the question is resolved to an index term by trying, in order: the word's
own term; its Cyrillic transliteration (Russian typed in Latin letters); its Latin spelling (a
Cyrillic loanword such as "зум"); the closest vocabulary term by edit similarity (typos). Words that
resolve to nothing stay "unknown": they still count in the question's weight, so a question about
something the knowledge base does not cover gets a low coverage score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from knowledge.index import InvertedIndex
from knowledge.lexicon import LATIN_TECH_TERMS, WORD_SYNONYMS
from knowledge.normalize import (
    cyrillic_to_latin,
    is_stopword,
    looks_like_translit,
    prepare,
    script_of,
    switch_keyboard_layout,
    term_of,
    tokenize,
    transliterate_to_cyrillic,
)


# Typo tolerance: how many edits (optimal string alignment: Levenshtein plus transpositions of
# neighbouring letters) a word's stem may be from a vocabulary term, by stem length. Short words
# have too many real neighbours to correct safely.
def max_typo_edits(length: int) -> int:
    if length < 5:
        return 0
    return 1 if length < 8 else 2


# When to read Latin words as transliterated Russian: never (an English speaker), only when the
# transliteration is a known term (language unknown), or also for typo correction (a Russian
# speaker, or text that looks like translit).
_NEVER, _EXACT_ONLY, _FULL = 0, 1, 2

# A word resolved by typo correction counts less than an exact one.
WEIGHT_PER_EDIT = 0.25


@dataclass(frozen=True)
class ResolvedWord:
    word: str  # the word as the user wrote it (normalized)
    surface: str  # the form that matched (transliterated, corrected...) or the word itself
    terms: tuple[tuple[str, float], ...]  # index terms with weights in 0..1; empty = unknown
    how: str  # "exact", "translit", "latin", "layout", "fuzzy" or "unknown"


@dataclass(frozen=True)
class AnalyzedQuery:
    text: str
    language: str | None  # the language of the words that resolved ("ru"/"en"), if any
    words: tuple[ResolvedWord, ...]
    content: str = ""  # the resolved words joined, for character-level similarity

    @property
    def term_weights(self) -> dict[str, float]:
        """Every resolved term with its weight (the best weight when two words share a term)."""
        weights: dict[str, float] = {}
        for word in self.words:
            for term, weight in word.terms:
                weights[term] = max(weight, weights.get(term, 0.0))
        return weights

    @property
    def resolved_share(self) -> float:
        if not self.words:
            return 0.0
        return sum(1 for w in self.words if w.terms) / len(self.words)


def _content_words(prepared: str) -> list[str]:
    return [w for w in tokenize(prepared) if not is_stopword(w)]


RESOLVED_WORDS_KEPT = 50_000  # words whose resolution is remembered (a few MB at most)


class QueryAnalyzer:
    """Resolves question words against the vocabularies of one or more indexes."""

    def __init__(self, indexes: Sequence[InvertedIndex]) -> None:
        self._indexes = tuple(indexes)
        # How each word resolved: the same words come in question after question, and the
        # typo search behind an unknown one is the analysis's main cost. Only valid for the
        # vocabulary as it is: `forget` when the indexes change.
        self._resolved: dict[tuple[str, int], ResolvedWord | None] = {}

    def forget(self) -> None:
        self._resolved.clear()

    def _has_term(self, term: str) -> bool:
        return any(index.has_term(term) for index in self._indexes)

    def analyze(self, text: str, language: str | None = None) -> AnalyzedQuery:
        """`language` is the asker's language when known: Latin words are read as transliterated
        Russian for "ru", never for "en", and by a heuristic when it is None."""
        if language is None:
            translit = _FULL if looks_like_translit(text) else _EXACT_ONLY
        else:
            translit = _FULL if language == "ru" else _NEVER
        query = self._analyze_prepared(prepare(text), text, translit)
        if query.resolved_share < 0.5 and query.words:
            # Maybe typed with the other keyboard layout on ("ghbdtn" = "привет").
            switched = self._analyze_prepared(
                prepare(switch_keyboard_layout(text)), text, translit, how="layout"
            )
            if switched.resolved_share > query.resolved_share:
                return switched
        return query

    def _analyze_prepared(
        self, prepared: str, original: str, translit: int, how: str = ""
    ) -> AnalyzedQuery:
        words: list[ResolvedWord] = []
        for word in tokenize(prepared):
            if is_stopword(word):
                continue
            key = (word, translit)
            if key in self._resolved:
                resolved = self._resolved[key]
            else:
                if len(self._resolved) >= RESOLVED_WORDS_KEPT:
                    self._resolved.clear()
                resolved = self._resolved[key] = self._resolve(word, translit)
            if resolved is None:
                continue  # a transliterated stop word ("ne", "kak")
            if how and resolved.terms:
                resolved = ResolvedWord(resolved.word, resolved.surface, resolved.terms, how)
            words.append(resolved)
        scripts = [script_of(w.surface) for w in words if w.terms]
        language = None
        if scripts:
            cyrillic = sum(1 for s in scripts if s == "cyrillic")
            language = "ru" if cyrillic * 2 >= len(scripts) else "en"
        content = " ".join(w.surface for w in words)
        return AnalyzedQuery(original, language, tuple(words), content)

    def _resolve(self, word: str, translit: int) -> ResolvedWord | None:
        term = term_of(word)
        if self._has_term(term):
            return ResolvedWord(word, word, ((term, 1.0),), "exact")
        script = script_of(word)
        alternatives: list[tuple[str, str]] = []  # (surface, how)
        if script == "latin" and translit != _NEVER and word not in LATIN_TECH_TERMS:
            cyrillic = transliterate_to_cyrillic(word)
            if is_stopword(cyrillic):
                return None
            alternatives.append((WORD_SYNONYMS.get(cyrillic, cyrillic), "translit"))
        elif script == "cyrillic":
            latin = cyrillic_to_latin(word)
            alternatives.append((WORD_SYNONYMS.get(latin, latin), "latin"))
        for surface, how in alternatives:
            alt_term = term_of(surface)
            if self._has_term(alt_term):
                return ResolvedWord(word, surface, ((alt_term, 1.0),), how)
        typo_alternatives = [
            s for s, how in alternatives if how == "translit" and translit == _FULL
        ]
        corrected = self._correct_typo(word, typo_alternatives)
        if corrected is not None:
            return corrected
        return ResolvedWord(word, word, (), "unknown")

    def _correct_typo(self, word: str, alternatives: list[str]) -> ResolvedWord | None:
        """The closest vocabulary terms within `max_typo_edits`, for the word or its
        transliteration."""
        found: list[tuple[int, str, str]] = []  # (edits, term, surface)
        for surface in (word, *alternatives):
            stemmed = term_of(surface)
            allowed = max_typo_edits(len(stemmed))
            if not allowed:
                continue
            for index in self._indexes:
                candidates = index.similar_candidates(stemmed, allowed)
                if not candidates:
                    continue
                for term, edits, _ in process.extract(
                    stemmed,
                    candidates,
                    scorer=OSA.distance,
                    score_cutoff=allowed,
                    limit=3,
                ):
                    found.append((int(edits), term, surface))
        if not found:
            return None
        found.sort()
        fewest = found[0][0]
        terms = tuple(
            dict.fromkeys(
                (term, 1.0 - WEIGHT_PER_EDIT * edits) for edits, term, _ in found if edits == fewest
            )
        )[:2]
        return ResolvedWord(word, found[0][2], terms, "fuzzy")
