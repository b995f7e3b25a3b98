"""Translations found from answer embeddings (knowledge.translations)."""

from __future__ import annotations

import random

import numpy as np

from knowledge.translations import MIN_COSINE, TranslationFinder


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_mutual_nearest_answers_in_two_languages_are_translations() -> None:
    finder = TranslationFinder()
    finder.add(1, "en", unit(1, 0, 0))
    finder.add(2, "ru", unit(0.95, 0.05, 0))
    finder.add(3, "en", unit(0, 1, 0))
    finder.add(4, "ru", unit(0.05, 0.95, 0))
    assert (finder.partner(1), finder.partner(2)) == (2, 1)
    assert (finder.partner(3), finder.partner(4)) == (4, 3)


def test_the_same_language_and_distant_answers_never_pair() -> None:
    finder = TranslationFinder()
    finder.add(1, "en", unit(1, 0, 0))
    finder.add(2, "en", unit(1, 0, 0))  # a duplicate, not a translation
    assert finder.partner(1) is None and finder.partner(2) is None
    finder.add(3, "ru", unit(1, 1.5, 0))  # nearest to both, but too far
    assert float(unit(1, 0, 0) @ unit(1, 1.5, 0)) < MIN_COSINE
    assert finder.partner(3) is None and finder.partner(1) is None


def test_a_one_sided_nearest_is_not_a_translation() -> None:
    finder = TranslationFinder()
    finder.add(1, "en", unit(1, 0.3, 0))
    finder.add(2, "ru", unit(1, 0, 0))
    finder.add(3, "en", unit(1, 0.01, 0))  # 2's nearest is now 3, so 1 has no translation
    assert finder.partner(2) == 3 and finder.partner(3) == 2
    assert finder.partner(1) is None


def test_removing_an_entry_lets_the_others_pair_again() -> None:
    finder = TranslationFinder()
    finder.add(1, "en", unit(1, 0.3, 0))
    finder.add(2, "ru", unit(1, 0, 0))
    finder.add(3, "en", unit(1, 0.01, 0))
    finder.remove(3)
    assert finder.partner(2) == 1 and finder.partner(1) == 2
    assert finder.partner(3) is None
    finder.add(3, "en", unit(0, 0, 1))  # back, reusing the free row, about something else
    assert finder.partner(2) == 1 and finder.partner(3) is None


def test_edits_in_any_order_end_as_a_fresh_computation() -> None:
    rng = np.random.default_rng(3)
    topics = rng.normal(size=(15, 16))
    vectors = {}
    for entry_id in range(40):  # 2k and 2k + 1 share a topic; some topics have four entries
        noisy = topics[entry_id // 2 % 15] + rng.normal(scale=0.15, size=16)
        vectors[entry_id] = (("en", "ru")[entry_id % 2], unit(*noisy))
    finder = TranslationFinder()
    present: set[int] = set()
    shuffle = random.Random(5)
    for _ in range(300):
        entry_id = shuffle.randrange(40)
        if entry_id in present and shuffle.random() < 0.5:
            finder.remove(entry_id)
            present.discard(entry_id)
        else:
            finder.add(entry_id, *vectors[entry_id])
            present.add(entry_id)

    def nearest(entry_id: int) -> tuple[int | None, float]:
        language, vector = vectors[entry_id]
        others = [o for o in present if vectors[o][0] != language]
        if not others:
            return None, -1.0
        best = max(others, key=lambda o: float(vector @ vectors[o][1]))
        return best, float(vector @ vectors[best][1])

    for entry_id in present:
        best, cosine = nearest(entry_id)
        mutual = best is not None and nearest(best)[0] == entry_id and cosine >= MIN_COSINE
        assert finder.partner(entry_id) == (best if mutual else None), entry_id
