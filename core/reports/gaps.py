"""Knowledge gaps: the questions that ended in a ticket, grouped by similarity, biggest group
first, so admins see which FAQ entries to write next.

Two questions are alike when they share their rare words: each question becomes its set of
word stems (`terms`: the matcher's own normalization, stop words left out); a word weighs
log(1 + N / df) over the N questions grouped, so "printer" counts for more than "works"; the
similarity is the weighted Jaccard of the two sets, with stems within a typo of each other
counting as shared; words nearly every support question has ("works", "problem") are left out.
A question joins the first group whose first question is at least
`SIMILAR` alike, else it starts a group.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from core.domain import QuestionRecord

SIMILAR = 0.34  # weighted Jaccard; checked on Russian and English paraphrases in the tests
# Words nearly every support question has: they say nothing about the topic. (In a long period
# their weight is low anyway; in a short one they would glue unrelated questions together.)
GENERIC_WORDS = (
    "work works working problem problems issue help please need every always again "
    "работает работать не работает проблема проблемы помогите помощь пожалуйста нужно "
    "каждый всегда опять снова"
)
TYPO_RATIO = 85  # rapidfuzz ratio above which two stems are one word misspelt


@dataclass(frozen=True)
class Gap:
    example: str  # the group's first question
    count: int
    ticket_ids: tuple[int, ...]
    languages: tuple[str, ...]


def group_gaps(
    questions: Sequence[QuestionRecord],
    terms: Callable[[str], frozenset[str]],
    limit: int = 10,
) -> list[Gap]:
    """The biggest groups (ties: the earliest first), at most `limit`."""
    generic = terms(GENERIC_WORDS)
    sets = [terms(q.text) - generic for q in questions]
    document_frequency = Counter(term for words in sets for term in words)
    total = max(len(sets), 1)
    weight = {t: math.log(1 + total / df) for t, df in document_frequency.items()}
    groups: list[list[int]] = []
    for index, words in enumerate(sets):
        if not words:
            continue
        for members in groups:
            if _similarity(sets[members[0]], words, weight) >= SIMILAR:
                members.append(index)
                break
        else:
            groups.append([index])
    groups.sort(key=lambda members: (-len(members), members[0]))
    return [
        Gap(
            example=questions[members[0]].text,
            count=len(members),
            ticket_ids=tuple(
                dict.fromkeys(
                    questions[i].ticket_id for i in members if questions[i].ticket_id is not None
                )
            ),
            languages=tuple(sorted({questions[i].language or "?" for i in members})),
        )
        for members in groups[:limit]
    ]


def _similarity(first: frozenset[str], second: frozenset[str], weight: dict[str, float]) -> float:
    shared = 0.0
    matched: set[str] = set()
    for term in first:
        partner = term if term in second else _typo_partner(term, second - matched)
        if partner is not None:
            matched.add(partner)
            shared += (weight[term] + weight[partner]) / 2
    union = sum(weight[t] for t in first) + sum(weight[t] for t in second) - shared
    return shared / union if union else 0.0


def _typo_partner(term: str, candidates: frozenset[str] | set[str]) -> str | None:
    if len(term) < 4:
        return None
    best = max(candidates, key=lambda c: fuzz.ratio(term, c), default=None)
    return best if best is not None and fuzz.ratio(term, best) >= TYPO_RATIO else None
