"""An inverted index with BM25 scoring over small documents (one phrasing = one document).

Postings are kept as Python lists, so adding or removing a document touches only the postings of
its own terms; a term's numpy arrays are built the first time a query needs them and patched by
every later edit.
Scoring one query is a handful of vectorized additions into one array of per-document scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

BM25_K1 = 1.2
BM25_B = 0.75
# Share of the document count by which it may change before cached idf values are recomputed;
# until then only the idf of terms in edited documents is refreshed.
STATISTICS_DRIFT = 0.02
# Terms in at most this many documents are scored with a plain loop: numpy arrays would cost more
# memory (two array headers per term) than they save time.
SMALL_POSTINGS = 8


def initial_key(term: str) -> str:
    """The first letter, with letters people confuse at the start of a word merged."""
    first = term[:1]
    return "е" if first == "э" else first


def _group_key(term: str) -> tuple[str, int]:
    return initial_key(term), len(term)


class _Postings:
    __slots__ = ("slots", "tfs", "arrays")

    def __init__(self) -> None:
        self.slots: list[int] = []
        self.tfs: list[int] = []
        # (document slots, BM25 term-frequency part) as numpy arrays; None when stale.
        self.arrays: tuple[np.ndarray, np.ndarray] | None = None


class InvertedIndex:
    def __init__(self, k1: float = BM25_K1, b: float = BM25_B) -> None:
        self._k1 = k1
        self._b = b
        self._postings: dict[str, _Postings] = {}
        self._slot_terms: list[dict[str, int] | None] = []
        self._slot_length: list[int] = []
        self._free_slots: list[int] = []
        self._total_length = 0
        self._doc_count = 0
        # (initial key, length) -> terms, for typo candidates; built on first use, then kept
        # up to date by every edit (rebuilding it for a large vocabulary would stall a question).
        self._by_initial: dict[tuple[str, int], list[str]] | None = None
        # idf depends on the document count: an edit forgets the entries of the terms it touched,
        # and everything is recomputed once the count has drifted by STATISTICS_DRIFT.
        self._idf_cache: dict[str, float] = {}
        self._idf_mass_cache: dict[int, float] = {}
        self._statistics_doc_count = 0

    # -- maintenance

    def add(self, terms: dict[str, int]) -> int:
        """Index a document given as term -> frequency (kept by reference: do not change it
        afterwards); returns its slot."""
        if self._free_slots:
            slot = self._free_slots.pop()
            self._slot_terms[slot] = terms
            self._slot_length[slot] = sum(terms.values())
        else:
            slot = len(self._slot_terms)
            self._slot_terms.append(terms)
            self._slot_length.append(sum(terms.values()))
        self._total_length += self._slot_length[slot]
        self._doc_count += 1
        self._forget_statistics(slot, terms)
        for term, tf in terms.items():
            postings = self._postings.get(term)
            if postings is None:
                postings = self._postings[term] = _Postings()
                if self._by_initial is not None:
                    self._by_initial.setdefault(_group_key(term), []).append(term)
            postings.slots.append(slot)
            postings.tfs.append(tf)
            if postings.arrays is not None:
                # Patched, not dropped: rebuilding a common term's arrays from its lists costs
                # milliseconds on a large base, and an edit must not stall the next question.
                slots, tf_part = postings.arrays
                part = self._tf_part(tf, self._slot_length[slot], self._average_length())
                postings.arrays = (np.append(slots, slot), np.append(tf_part, np.float32(part)))
        return slot

    def remove(self, slot: int) -> None:
        terms = self._slot_terms[slot]
        if terms is None:
            return
        for term in terms:
            postings = self._postings[term]
            position = postings.slots.index(slot)
            del postings.slots[position]
            del postings.tfs[position]
            if postings.arrays is not None:
                slots, tf_part = postings.arrays
                postings.arrays = (np.delete(slots, position), np.delete(tf_part, position))
            if not postings.slots:
                del self._postings[term]
                if self._by_initial is not None:
                    self._by_initial[_group_key(term)].remove(term)
        self._total_length -= self._slot_length[slot]
        self._doc_count -= 1
        self._forget_statistics(slot, terms)
        self._slot_terms[slot] = None
        self._slot_length[slot] = 0
        self._free_slots.append(slot)

    def _forget_statistics(self, slot: int, terms: Mapping[str, int]) -> None:
        drift = abs(self._doc_count - self._statistics_doc_count)
        if drift > STATISTICS_DRIFT * self._statistics_doc_count:
            self._idf_cache.clear()
            self._idf_mass_cache.clear()
            self._statistics_doc_count = self._doc_count
            return
        for term in terms:
            self._idf_cache.pop(term, None)
        self._idf_mass_cache.pop(slot, None)

    def warm_up(self) -> None:
        """Compute every cached statistic and posting array now (after a bulk load), so that the
        first questions do not pay for it."""
        for postings in self._postings.values():
            if len(postings.slots) > SMALL_POSTINGS:
                self._arrays(postings)
        for term in self._postings:
            self.idf(term)
        for slot, terms in enumerate(self._slot_terms):
            if terms is not None:
                self.idf_mass(slot)

    # -- statistics

    @property
    def doc_count(self) -> int:
        return self._doc_count

    @property
    def slot_count(self) -> int:
        """Upper bound of slot numbers (including freed ones)."""
        return len(self._slot_terms)

    def has_term(self, term: str) -> bool:
        return term in self._postings

    def similar_candidates(self, term: str, max_edits: int) -> list[str]:
        """Terms that could be within `max_edits` of `term`: same `initial_key` (typos rarely hit
        the first letter) and a length within `max_edits`. Keeps typo correction fast on large
        vocabularies."""
        if self._by_initial is None:
            groups: dict[tuple[str, int], list[str]] = {}
            for known in self._postings:
                groups.setdefault(_group_key(known), []).append(known)
            self._by_initial = groups
        initial = initial_key(term)
        candidates: list[str] = []
        for length in range(len(term) - max_edits, len(term) + max_edits + 1):
            candidates.extend(self._by_initial.get((initial, length), ()))
        return candidates

    def document_frequency(self, term: str) -> int:
        postings = self._postings.get(term)
        return len(postings.slots) if postings else 0

    def idf(self, term: str) -> float:
        """BM25 idf; a term the index does not know gets the idf of a term seen once."""
        value = self._idf_cache.get(term)
        if value is None:
            df = max(self.document_frequency(term), 1)
            value = math.log(1.0 + (self._doc_count - df + 0.5) / (df + 0.5))
            self._idf_cache[term] = value
        return value

    def idf_mass(self, slot: int) -> float:
        """Sum of the idf of a document's distinct terms (its total weight)."""
        value = self._idf_mass_cache.get(slot)
        if value is None:
            terms = self._slot_terms[slot] or {}
            value = sum(self.idf(term) for term in terms) or 1.0
            self._idf_mass_cache[slot] = value
        return value

    # -- scoring

    def _arrays(self, postings: _Postings) -> tuple[np.ndarray, np.ndarray]:
        if postings.arrays is None:
            # The length normalization uses the average length of the moment; entries edited later
            # shift it very little, and a rebuild refreshes it.
            slots = np.fromiter(postings.slots, dtype=np.int64, count=len(postings.slots))
            tfs = np.fromiter(postings.tfs, dtype=np.float32, count=len(postings.tfs))
            lengths = np.fromiter(
                (self._slot_length[s] for s in postings.slots), dtype=np.float32, count=len(slots)
            )
            postings.arrays = (slots, self._tf_part(tfs, lengths, self._average_length()))
        return postings.arrays

    def _average_length(self) -> float:
        return self._total_length / max(self._doc_count, 1) or 1.0

    def _tf_part(self, tf, length, average: float):  # floats or numpy arrays alike
        """The BM25 term-frequency factor with document length normalization."""
        norm = self._k1 * (1.0 - self._b + self._b * length / average)
        return tf * (self._k1 + 1.0) / (tf + norm)

    def scores(self, term_weights: Mapping[str, float]) -> np.ndarray:
        """BM25 score of every slot (0 for free slots and documents without a query term)."""
        totals = np.zeros(self.slot_count, dtype=np.float32)
        for term, weight in term_weights.items():
            postings = self._postings.get(term)
            if postings is None:
                continue
            factor = self.idf(term) * weight
            if len(postings.slots) <= SMALL_POSTINGS:
                average = self._average_length()
                for slot, tf in zip(postings.slots, postings.tfs, strict=True):
                    totals[slot] += factor * self._tf_part(tf, self._slot_length[slot], average)
                continue
            slots, tf_part = self._arrays(postings)
            totals[slots] += np.float32(factor) * tf_part
        return totals

    def top(self, term_weights: Mapping[str, float], count: int) -> list[tuple[int, float]]:
        """The `count` best (slot, score) pairs with a positive score, best first."""
        totals = self.scores(term_weights)
        hits = np.flatnonzero(totals > 0)  # 5x faster than on the floats themselves
        if len(hits) > count:
            hits = hits[np.argpartition(-totals[hits], count)[:count]]
        order = hits[np.argsort(-totals[hits], kind="stable")]
        return [(int(slot), float(totals[slot])) for slot in order]
