"""Entry profiles (TF-IDF centroids) and the fused FuzzyMatcher features that use them."""

from __future__ import annotations

import pytest

from core.domain import FaqEntry
from knowledge.matcher import FuzzyMatcher
from knowledge.profiles import EntryProfiles, char_ngram_counts


def test_char_ngrams_are_padded_per_word_and_counted() -> None:
    grams = char_ngram_counts("ab ab", low=2, high=3)
    assert grams[" a"] == 2 and grams["ab "] == 2 and grams[" ab"] == 2
    assert "b a" not in grams  # n-grams never cross words


def test_identical_text_has_similarity_one_and_unrelated_zero() -> None:
    profiles = EntryProfiles()
    profiles.add(1, [{"printer": 1, "queue": 1}])
    profiles.add(2, [{"vpn": 1, "home": 1}])
    found = profiles.similarities({"printer": 1, "queue": 1}, [1, 2])
    assert found[1] == pytest.approx(1.0, abs=1e-5)
    assert found[2] == 0.0


def test_the_centroid_pools_the_variants() -> None:
    profiles = EntryProfiles()
    profiles.add(1, [{"reset": 1, "password": 1}, {"forgot": 1, "password": 1}])
    profiles.add(2, [{"reset": 1, "router": 1}])
    found = profiles.similarities({"forgot": 1, "reset": 1}, [1, 2])
    # Each variant of entry 1 shares one word, entry 2 too, but entry 1 has both among its
    # variants.
    assert found[1] > found[2]


def test_unknown_words_lower_the_similarity() -> None:
    profiles = EntryProfiles()
    profiles.add(1, [{"printer": 1}])
    profiles.add(2, [{"vpn": 1}])
    alone = profiles.similarities({"printer": 1}, [1])[1]
    diluted = profiles.similarities({"printer": 1, "borscht": 1, "recipe": 1}, [1])[1]
    assert diluted < alone


def test_remove_and_re_add_keep_statistics_consistent() -> None:
    profiles = EntryProfiles()
    for entry_id in range(1, 200):  # enough features to grow the arrays past their first size
        profiles.add(entry_id, [{f"word{entry_id}": 1, f"other{entry_id}": 1, "common": 1}])
    profiles.remove(5)
    assert len(profiles) == 198
    assert profiles.similarities({"word5": 1}, [5]) == {5: 0.0}
    profiles.add(5, [{"word5": 1}])
    assert profiles.similarities({"word5": 1}, [5])[5] == pytest.approx(1.0, abs=1e-5)


def test_a_question_made_of_function_words_finds_its_entry() -> None:
    matcher = FuzzyMatcher(
        [
            FaqEntry(1, "what is your name", "I am the helpdesk bot.", "en"),
            FaqEntry(2, "what is my account name", "See your profile.", "en"),
            FaqEntry(3, "how old are you", "Two years.", "en"),
        ]
    )
    assert matcher.match("what's your name", "en")[0].entry_id == 1
    details = matcher.match("what is your name", "en")[0].details
    assert details["word_profile"] > 0.5 and details["char_profile"] > 0.5


def test_variants_of_an_entry_add_up() -> None:
    """An entry whose variants together cover the question beats one whose single phrasing
    shares as many words."""
    matcher = FuzzyMatcher(
        [
            FaqEntry(1, "card payment declined", "", "en", ("my card was refused at checkout",)),
            FaqEntry(2, "refused delivery of a parcel", "", "en"),
        ]
    )
    assert matcher.match("card refused at checkout", "en")[0].entry_id == 1
