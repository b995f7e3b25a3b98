"""Close calls: when the two best articles nearly tie, the bot asks "Do you mean A or B?" (two
buttons) instead of listing three articles. Measured on the helpdesk validation set (the halves
of `answer_quality.py`), for the questions in the suggestion band (confidence between the
suggest and answer thresholds):

- how often the close-call question is asked (the best entry's score margin under the margin);
- in those cases, how often the right article is one of the two offered (the user's choice can
  be right), against one of today's three buttons (the baseline, same questions, same run) and
  against the best article alone (what answering outright would give).

The margin is chosen on half A: the largest of the candidates at which the two are right as
often as the three; the figures for half B are then read at that margin.

    python bench/confusables.py [--data /work/shared/eval]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answer_quality import DEFAULT_DATA, load_helpdesk  # noqa: E402

from knowledge.matcher import FuzzyMatcher  # noqa: E402

CANDIDATE_MARGINS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5)


def band(matcher, dataset, queries) -> list[tuple[float, list[str], str]]:
    """(best entry's margin, intents of the top 3, the right intent) per in-scope question of
    the suggestion band."""
    answer, suggest = matcher.default_thresholds
    found = []
    for query in queries:
        if query.intent is None:
            continue
        matches = matcher.match(query.text, query.language, limit=3)
        if matches and suggest <= matches[0].confidence < answer and len(matches) > 1:
            intents = [dataset.intent_of[m.entry_id] for m in matches]
            found.append((matches[0].details["margin"], intents, query.intent))
    return found


def rates(cases, margin: float) -> tuple[int, float, float, float]:
    fired = [(intents, right) for m, intents, right in cases if m < margin]
    if not fired:
        return 0, float("nan"), float("nan"), float("nan")

    def share(k: int) -> float:
        return sum(1 for intents, right in fired if right in intents[:k]) / len(fired)

    return len(fired), share(2), share(3), share(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    dataset = load_helpdesk(parser.parse_args().data)
    from knowledge.semantic import SemanticMatcher

    print("| matcher | half | margin | asked / questions in the band | right among the two "
          "| baseline: among today's three | the best alone |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for matcher in (SemanticMatcher(), FuzzyMatcher()):
        matcher.rebuild(dataset.entries)
        half_a = band(matcher, dataset, dataset.validation)
        half_b = band(matcher, dataset, dataset.test)
        even = [m for m in CANDIDATE_MARGINS if (r := rates(half_a, m))[0] and r[1] >= r[2]]
        chosen = max(even, default=None)
        name = type(matcher).__name__
        if chosen is None:
            print(f"| {name} | A | none | two lost against three at every candidate | | | |")
            chosen = min(CANDIDATE_MARGINS)  # show what the smallest would do on B
        for half, cases in (("A", half_a), ("B", half_b)):
            asked, two, three, one = rates(cases, chosen)
            print(
                f"| {name} | {half} | {chosen:g} | {asked} / {len(cases)} | {two:.1%} | "
                f"{three:.1%} | {one:.1%} |"
            )


if __name__ == "__main__":
    main()
