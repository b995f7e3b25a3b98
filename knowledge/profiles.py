"""Entry profiles: one sparse TF-IDF vector per knowledge-base entry, the normalized sum of the
vectors of its phrasings (a centroid), compared with a question by cosine similarity.

A centroid pools every wording of an entry, so an entry with several variants is judged by what
they share rather than by its single closest wording; that is what makes variants pay off. Two
kinds are used by the matcher: character n-grams of the normalized text (robust to inflection,
split words and typos) and word terms including function words (which matter in short questions
such as "what is your name").

Document frequencies count entries, not phrasings (a word that all the variants of one entry use
is no more common for that). Profiles are computed lazily with the statistics of the moment and
cached; the cache is dropped once the entry count has drifted by STATISTICS_DRIFT, the way
`InvertedIndex` refreshes its idf values. Vectors are kept as two small numpy arrays (feature ids
and weights), so 100,000 entries cost about 1-2 KB each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from knowledge.index import STATISTICS_DRIFT

Features = Callable[[str], Mapping[str, float]]


def char_ngram_counts(normalized: str, low: int = 2, high: int = 4) -> Counter[str]:
    """Character n-grams of each word padded with spaces, counted."""
    counts: Counter[str] = Counter()
    for word in normalized.split():
        padded = f" {word} "
        for n in range(low, high + 1):
            for start in range(len(padded) - n + 1):
                counts[padded[start : start + n]] += 1
    return counts


class EntryProfiles:
    def __init__(self) -> None:
        self._feature_ids: dict[str, int] = {}
        self._df = np.zeros(1024, dtype=np.float32)
        # entry id -> (feature ids, tf values, phrasing boundaries): compact, ~8 bytes a feature
        self._entry_features: dict[int, tuple[np.ndarray, np.ndarray, tuple[int, ...]]] = {}
        self._entry_count = 0
        self._statistics_count = 0
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # Reused scratch vector: the query's weights by feature id, zeroed after each use.
        self._scratch = np.zeros(1024, dtype=np.float32)

    def __len__(self) -> int:
        return self._entry_count

    # -- maintenance

    def add(self, entry_id: int, phrasings: Iterable[Mapping[str, float]]) -> None:
        """Profile an entry from the features of each of its phrasings (replaces an old one)."""
        self.remove(entry_id)
        ids: list[int] = []
        tfs: list[float] = []
        bounds: list[int] = []
        for features in phrasings:
            if not features:
                continue
            for feature, tf in features.items():
                ids.append(self._feature_id(feature))  # may grow the arrays
                tfs.append(tf)
            bounds.append(len(ids))
        if not ids:
            return
        id_array = np.array(ids, dtype=np.int32)
        self._df[np.unique(id_array)] += 1
        self._entry_features[entry_id] = (
            id_array,
            np.array(tfs, dtype=np.float32),
            tuple(bounds),
        )
        self._entry_count += 1
        self._after_change()

    def remove(self, entry_id: int) -> None:
        stored = self._entry_features.pop(entry_id, None)
        if stored is None:
            return
        self._df[np.unique(stored[0])] -= 1
        self._entry_count -= 1
        self._cache.pop(entry_id, None)
        self._after_change()

    def _feature_id(self, feature: str) -> int:
        feature_id = self._feature_ids.get(feature)
        if feature_id is None:
            feature_id = self._feature_ids[feature] = len(self._feature_ids)
            if feature_id >= len(self._df):
                self._df = np.concatenate([self._df, np.zeros_like(self._df)])
                self._scratch = np.zeros(len(self._df), dtype=np.float32)
        return feature_id

    def _after_change(self) -> None:
        drift = abs(self._entry_count - self._statistics_count)
        if drift > STATISTICS_DRIFT * self._statistics_count:
            self._cache.clear()
            self._statistics_count = self._entry_count

    # -- statistics

    def _tf_idf(self, tfs: np.ndarray, df: np.ndarray) -> np.ndarray:
        """Sublinear tf above one (a fractional tf, a down-weighted feature, is taken as it is;
        a non-positive one weighs nothing) times smoothed idf."""
        scaled = np.where(tfs >= 1.0, 1.0 + np.log(np.maximum(tfs, 1.0)), np.maximum(tfs, 0.0))
        return scaled * (np.log((self._entry_count + 1) / (df + 1)) + 1.0)

    def _vector(self, features: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Sublinear tf times idf, L2-normalized, as (feature ids, weights); unknown features are
        dropped (they cannot match) but still count in the norm, so a question full of words the
        base does not know scores low."""
        tfs = np.fromiter(features.values(), dtype=np.float64, count=len(features))
        known = self._feature_ids
        ids = np.fromiter(
            (known.get(feature, -1) for feature in features), dtype=np.int64, count=len(features)
        )
        df = np.where(ids >= 0, self._df[ids], 0.0)  # the -1 of an unknown feature reads 0
        weights = self._tf_idf(tfs, df)
        norm = float(np.linalg.norm(weights)) or 1.0
        matchable = df > 0
        return ids[matchable], (weights[matchable] / norm).astype(np.float32)

    def _profile(self, entry_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        cached = self._cache.get(entry_id)
        if cached is not None:
            return cached
        stored = self._entry_features.get(entry_id)
        if stored is None:
            return None
        ids, tfs, bounds = stored
        # Same weighting as the question's: each phrasing normalized, then summed.
        weights = self._tf_idf(tfs, self._df[ids])
        start = 0
        for end in bounds:
            part = weights[start:end]
            part /= float(np.linalg.norm(part)) or 1.0
            start = end
        unique, inverse = np.unique(ids, return_inverse=True)
        summed = np.bincount(inverse, weights=weights).astype(np.float32)
        norm = float(np.linalg.norm(summed)) or 1.0
        profile = (unique.astype(np.int32), summed / norm)
        self._cache[entry_id] = profile
        return profile

    def warm_up(self) -> None:
        self._statistics_count = self._entry_count
        self._cache.clear()
        for entry_id in self._entry_features:
            self._profile(entry_id)

    # -- scoring

    def similarities(
        self, features: Mapping[str, float], entry_ids: Sequence[int]
    ) -> dict[int, float]:
        """Cosine similarity of the question's features to each entry's profile."""
        if not entry_ids:
            return {}
        query_ids, query_weights = self._vector(features)
        profiles = [self._profile(entry_id) for entry_id in entry_ids]
        found = [profile for profile in profiles if profile is not None]
        if not len(query_ids) or not found:
            return {entry_id: 0.0 for entry_id in entry_ids}
        scratch = self._scratch
        scratch[query_ids] = query_weights
        try:
            # One pass over the candidates' profiles laid end to end, summed per profile.
            ids = np.concatenate([profile[0] for profile in found])
            weights = np.concatenate([profile[1] for profile in found])
            starts = np.cumsum([0, *(len(profile[0]) for profile in found[:-1])])
            sums = np.add.reduceat(scratch[ids] * weights, starts)
        finally:
            scratch[query_ids] = 0.0
        values = iter(sums.tolist())
        return {
            entry_id: next(values) if profile is not None else 0.0
            for entry_id, profile in zip(entry_ids, profiles, strict=True)
        }
