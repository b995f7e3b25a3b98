"""Ticket categories: a new ticket takes the category of the nearest knowledge-base article only
when the matcher is confident enough (else the `[tickets] category_rules` keywords, else none).
Measured on the helpdesk validation set (the halves of `answer_quality.py`) for the messages
that end in a ticket at the default thresholds (not answered outright):

- in-scope messages: right category (the category of the message's own article), wrong, none;
- out-of-scope messages: how many are given a category at all (none is right for them).

The baseline, in the same run, is the old rule: always the nearest article's category. The
confidence is chosen on half A: the lowest candidate at which at least 90% of the categories
given to in-scope messages are right; half B is then read at it.

    python bench/categories.py [--data /work/shared/eval]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answer_quality import DEFAULT_DATA, load_helpdesk  # noqa: E402

from knowledge.matcher import FuzzyMatcher  # noqa: E402

CANDIDATES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MIN_PRECISION = 0.90


def ticket_bound(matcher, dataset, queries) -> list[tuple[float, str | None, str | None]]:
    """(best confidence, nearest article's category, the right category or None) for each
    message the bot would not answer outright."""
    category = {e.id: e.category for e in dataset.entries}
    of_intent = {dataset.intent_of[e.id]: e.category for e in dataset.entries}
    answer, _ = matcher.default_thresholds
    found = []
    for query in queries:
        matches = matcher.match(query.text, query.language, limit=1)
        best = matches[0].confidence if matches else 0.0
        if best >= answer:
            continue
        nearest = category[matches[0].entry_id] if matches else None
        found.append((best, nearest, of_intent.get(query.intent) if query.intent else None))
    return found


def figures(cases, confidence: float) -> dict[str, float]:
    in_scope = [c for c in cases if c[2] is not None]
    out_of_scope = [c for c in cases if c[2] is None]
    given = [c for c in in_scope if c[0] >= confidence and c[1] is not None]
    right = sum(1 for c in given if c[1] == c[2])
    return {
        "right": right / len(in_scope),
        "wrong": (len(given) - right) / len(in_scope),
        "none": 1 - len(given) / len(in_scope),
        "precision": right / len(given) if given else float("nan"),
        "oos_given": sum(1 for c in out_of_scope if c[0] >= confidence) / len(out_of_scope),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    dataset = load_helpdesk(parser.parse_args().data)
    from knowledge.semantic import SemanticMatcher

    print("| matcher | half | rule | in-scope right | wrong | none | right of those given "
          "| out-of-scope given a category |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for matcher in (SemanticMatcher(), FuzzyMatcher()):
        matcher.rebuild(dataset.entries)
        halves = {
            "A": ticket_bound(matcher, dataset, dataset.validation),
            "B": ticket_bound(matcher, dataset, dataset.test),
        }
        chosen = next(
            (c for c in CANDIDATES if figures(halves["A"], c)["precision"] >= MIN_PRECISION),
            CANDIDATES[-1],
        )
        for half, cases in halves.items():
            for rule, confidence in (("always (baseline)", 0.0), (f">= {chosen:g}", chosen)):
                f = figures(cases, confidence)
                print(
                    f"| {type(matcher).__name__} | {half} | {rule} | {f['right']:.1%} | "
                    f"{f['wrong']:.1%} | {f['none']:.1%} | {f['precision']:.1%} | "
                    f"{f['oos_given']:.1%} |"
                )


if __name__ == "__main__":
    main()
