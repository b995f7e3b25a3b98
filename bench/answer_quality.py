"""Answer-quality benchmark: FuzzyMatcher against two baselines on three public data sets, following
the protocol of /work/shared/eval/README.md.

- helpdesk_ru_en: knowledge base = canonical question + 2 variants per language (and the answer
  text, as an admin writes it). dev.jsonl is split in two halves, stratified by intent, language
  and kind; thresholds are chosen on half A and every figure is reported on half B.
- CLINC150: knowledge base = the first k training examples per intent (k=1 and k=5); thresholds
  chosen on val + oos_val, reported on test + oos_test.
- BANKING77: the first k training examples per category; thresholds chosen on a held-out tenth
  of train (no out-of-scope queries exist in this set), reported on test.

Baselines, measured in the same run: rapidfuzz `process.extractOne` with its defaults (WRatio)
over every phrasing, and Okapi BM25 over Snowball-stemmed phrasings. A baseline's confidence is its
own score; its threshold is chosen on validation the same way.

    python bench/answer_quality.py [--data /work/shared/eval] [--only helpdesk,clinc,banking]
                                   [--fit]   # print confidence coefficients fitted on half A
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from rapidfuzz import process  # noqa: E402

from core.domain import FaqEntry  # noqa: E402
from knowledge.matcher import (  # noqa: E402
    DEFAULT_ANSWER_THRESHOLD,
    DEFAULT_SUGGEST_THRESHOLD,
    FuzzyMatcher,
)
from knowledge.normalize import normalize, stem  # noqa: E402

DEFAULT_DATA = Path("/work/shared/eval")


@dataclass(frozen=True)
class Query:
    text: str
    language: str
    intent: str | None  # None: out of scope, a ticket is the right outcome
    kind: str = "paraphrase"


@dataclass(frozen=True)
class Dataset:
    name: str
    entries: list[FaqEntry]
    intent_of: dict[int, str]  # entry id -> intent
    validation: list[Query]
    test: list[Query]
    min_precision: float  # the precision the answer threshold must reach on validation
    max_oos_answered: float  # share of out-of-scope queries that may be answered on validation


@dataclass(frozen=True)
class Outcome:
    query: Query
    top: tuple[str, ...]  # intents of the top 3, best first
    confidence: float

    @property
    def in_scope(self) -> bool:
        return self.query.intent is not None

    @property
    def correct(self) -> bool:
        return bool(self.top) and self.top[0] == self.query.intent

    @property
    def in_top3(self) -> bool:
        return self.query.intent in self.top


# ---------------------------------------------------------------------------------------------
# Scorers


class Scorer:
    name = ""

    def rank(self, query: Query) -> tuple[tuple[str, ...], float]:
        raise NotImplementedError


class FuzzyScorer(Scorer):
    name = "FuzzyMatcher"

    def __init__(self, dataset: Dataset) -> None:
        self.matcher = FuzzyMatcher(dataset.entries)
        self.intent_of = dataset.intent_of
        self.last_details: dict = {}

    def rank(self, query: Query) -> tuple[tuple[str, ...], float]:
        matches = self.matcher.match(query.text, query.language, limit=3)
        self.last_details = matches[0].details if matches else {}
        intents = tuple(dict.fromkeys(self.intent_of[m.entry_id] for m in matches))
        return intents, matches[0].confidence if matches else 0.0


class ExtractOneScorer(Scorer):
    name = "rapidfuzz extractOne"

    def __init__(self, dataset: Dataset) -> None:
        self.choices = [text for e in dataset.entries for text in e.phrasings]
        self.intents = [dataset.intent_of[e.id] for e in dataset.entries for _ in e.phrasings]

    def rank(self, query: Query) -> tuple[tuple[str, ...], float]:
        found = process.extractOne(query.text, self.choices)
        if found is None:
            return (), 0.0
        _, score, position = found
        return (self.intents[position],), score / 100.0


class BM25Scorer(Scorer):
    """Okapi BM25 (k1=1.5, b=0.75) over stemmed phrasings; an entry scores its best phrasing."""

    name = "BM25"

    def __init__(self, dataset: Dataset, k1: float = 1.5, b: float = 0.75) -> None:
        self.docs = [
            (dataset.intent_of[e.id], Counter(self.tokens(text)))
            for e in dataset.entries
            for text in e.phrasings
        ]
        df: Counter[str] = Counter()
        for _, terms in self.docs:
            df.update(terms.keys())
        count = len(self.docs)
        self.idf = {t: math.log(1 + (count - n + 0.5) / (n + 0.5)) for t, n in df.items()}
        average = sum(sum(t.values()) for _, t in self.docs) / count
        self.k1, self.b, self.average = k1, b, average

    @staticmethod
    def tokens(text: str) -> list[str]:
        return [stem(word) for word in normalize(text).split()]

    def rank(self, query: Query) -> tuple[tuple[str, ...], float]:
        best: dict[str, float] = {}
        words = self.tokens(query.text)
        for intent, terms in self.docs:
            length = sum(terms.values())
            score = 0.0
            for word in words:
                tf = terms.get(word)
                if tf:
                    norm = self.k1 * (1 - self.b + self.b * length / self.average)
                    score += self.idf[word] * tf * (self.k1 + 1) / (tf + norm)
            if score > best.get(intent, 0.0):
                best[intent] = score
        ranked = sorted(best.items(), key=lambda item: -item[1])[:3]
        return tuple(i for i, _ in ranked), ranked[0][1] if ranked else 0.0


SCORERS: list[Callable[[Dataset], Scorer]] = [FuzzyScorer, ExtractOneScorer, BM25Scorer]


# ---------------------------------------------------------------------------------------------
# Metrics


def evaluate(scorer: Scorer, queries: Sequence[Query]) -> list[Outcome]:
    return [Outcome(q, *scorer.rank(q)) for q in queries]


def answer_metrics(outcomes: Sequence[Outcome], threshold: float) -> dict[str, float]:
    answered = [o for o in outcomes if o.confidence >= threshold and o.top]
    in_scope = [o for o in outcomes if o.in_scope]
    out_of_scope = [o for o in outcomes if not o.in_scope]
    right = sum(1 for o in answered if o.correct)
    return {
        "precision": right / len(answered) if answered else float("nan"),
        "coverage": right / len(in_scope) if in_scope else float("nan"),
        "oos_answered": (
            sum(1 for o in answered if not o.in_scope) / len(out_of_scope)
            if out_of_scope
            else float("nan")
        ),
    }


def choose_answer_threshold(
    outcomes: Sequence[Outcome], min_precision: float, max_oos_answered: float
) -> float:
    """The threshold with the best coverage among those meeting both constraints (an
    unreachable threshold when none does)."""
    best_threshold, best_coverage = math.inf, -1.0
    for threshold in sorted({round(o.confidence, 6) for o in outcomes}):
        metrics = answer_metrics(outcomes, threshold)
        oos = metrics["oos_answered"]
        if metrics["precision"] >= min_precision and (math.isnan(oos) or oos <= max_oos_answered):
            if metrics["coverage"] > best_coverage:
                best_threshold, best_coverage = threshold, metrics["coverage"]
    return best_threshold


def suggestion_hit_rate(outcomes: Sequence[Outcome], low: float, high: float) -> float:
    band = [o for o in outcomes if low <= o.confidence < high]
    return sum(1 for o in band if o.in_top3) / len(band) if band else float("nan")


def choose_suggest_threshold(
    outcomes: Sequence[Outcome],
    answer_threshold: float,
    min_hit_rate: float = 0.5,
    window: int = 40,
) -> float:
    """Walk down from the answer threshold while buttons stay useful at the margin: among the
    `window` questions just above a candidate threshold, the right article must be among the
    buttons for at least `min_hit_rate` of them (out-of-scope questions count as misses)."""
    below = sorted(
        (o for o in outcomes if o.confidence < answer_threshold),
        key=lambda o: -o.confidence,
    )
    threshold = answer_threshold
    for position in range(window - 1, len(below)):
        recent = below[position - window + 1 : position + 1]
        if sum(1 for o in recent if o.in_top3) / window < min_hit_rate:
            break
        threshold = below[position].confidence
    return threshold


def top1(outcomes: Sequence[Outcome], keep: Callable[[Outcome], bool] = lambda o: True) -> float:
    selected = [o for o in outcomes if o.in_scope and keep(o)]
    return sum(1 for o in selected if o.correct) / len(selected) if selected else float("nan")


def fit_confidence(features: np.ndarray, correct: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """Logistic regression (Newton's method): weights for each feature column, then intercept."""
    design = np.c_[features, np.ones(len(features))]
    weights = np.zeros(design.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-design @ weights))
        gradient = design.T @ (p - correct) / len(correct) + l2 * np.r_[weights[:-1], 0]
        hessian = (design * (p * (1 - p))[:, None]).T @ design / len(correct)
        weights -= np.linalg.solve(hessian + l2 * np.eye(len(weights)), gradient)
    return weights


# ---------------------------------------------------------------------------------------------
# Data sets


def _stratified_halves(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Alternate rows within each (intent, language, kind) group, starting the alternation on
    a different side for consecutive groups, so single-row groups split evenly too."""
    halves: tuple[list[dict], list[dict]] = ([], [])
    group_numbers: dict[tuple, int] = {}
    seen: Counter[tuple] = Counter()
    for row in rows:
        group = (row["intent"], row["lang"], row["kind"])
        number = group_numbers.setdefault(group, len(group_numbers))
        halves[(seen[group] + number) % 2].append(row)
        seen[group] += 1
    return halves


def load_helpdesk(root: Path) -> Dataset:
    folder = root / "helpdesk_ru_en"
    entries: list[FaqEntry] = []
    intent_of: dict[int, str] = {}
    for line in (folder / "faq.jsonl").read_text(encoding="utf-8").splitlines():
        article = json.loads(line)
        for language in ("ru", "en"):
            entry_id = len(entries) + 1
            entries.append(
                FaqEntry(
                    id=entry_id,
                    question=article["question"][language],
                    answer=article["answer"][language],
                    language=language,
                    variants=tuple(article["variants"][language][:2]),
                    category=article["category"],
                )
            )
            intent_of[entry_id] = article["id"]
    rows = [json.loads(line) for line in (folder / "dev.jsonl").read_text().splitlines()]
    half_a, half_b = _stratified_halves(rows)

    def queries(part: list[dict]) -> list[Query]:
        return [Query(r["text"], r["lang"], r["intent"], r["kind"]) for r in part]

    return Dataset(
        "helpdesk_ru_en",
        entries,
        intent_of,
        queries(half_a),
        queries(half_b),
        min_precision=0.95,
        max_oos_answered=0.03,
    )


def _examples_as_entries(
    examples: dict[str, list[str]], k: int
) -> tuple[list[FaqEntry], dict[int, str]]:
    entries: list[FaqEntry] = []
    intent_of: dict[int, str] = {}
    for intent, texts in examples.items():
        entry_id = len(entries) + 1
        # No answer text: these sets have none, and the intent name would leak the label.
        entries.append(FaqEntry(entry_id, texts[0], "", "en", tuple(texts[1:k])))
        intent_of[entry_id] = intent
    return entries, intent_of


def load_clinc(root: Path, k: int) -> Dataset:
    data = json.loads((root / "clinc150" / "data_full.json").read_text())
    examples: dict[str, list[str]] = defaultdict(list)
    for text, intent in data["train"]:
        examples[intent].append(text)
    entries, intent_of = _examples_as_entries(examples, k)

    def queries(in_scope: str, out_of_scope: str) -> list[Query]:
        return [Query(t, "en", i) for t, i in data[in_scope]] + [
            Query(t, "en", None, "oos") for t, _ in data[out_of_scope]
        ]

    return Dataset(
        f"CLINC150 k={k}",
        entries,
        intent_of,
        queries("val", "oos_val"),
        queries("test", "oos_test"),
        min_precision=0.90,
        max_oos_answered=1.0,
    )


def load_banking(root: Path, k: int) -> Dataset:
    def read(name: str) -> list[tuple[str, str]]:
        with open(root / "banking77" / name, encoding="utf-8") as stream:
            return [(row["text"], row["category"]) for row in csv.DictReader(stream)]

    examples: dict[str, list[str]] = defaultdict(list)
    validation: list[Query] = []
    seen: Counter[str] = Counter()
    for text, category in read("train.csv"):
        if len(examples[category]) < k:
            examples[category].append(text)
        elif seen[category] % 10 == 0:  # every tenth remaining example: validation
            validation.append(Query(text, "en", category))
        seen[category] += 1
    entries, intent_of = _examples_as_entries(examples, k)
    test = [Query(t, "en", c) for t, c in read("test.csv")]
    return Dataset(
        f"BANKING77 k={k}",
        entries,
        intent_of,
        validation,
        test,
        min_precision=0.90,
        max_oos_answered=1.0,
    )


# ---------------------------------------------------------------------------------------------
# Reporting


def _pct(value: float) -> str:
    return "   n/a" if math.isnan(value) else f"{100 * value:5.1f}%"


ON_VALIDATION = "--on-validation" in sys.argv


def run_dataset(dataset: Dataset, *, product_thresholds: bool) -> None:
    if ON_VALIDATION:
        dataset = Dataset(**{**dataset.__dict__, "test": dataset.validation})
    print(
        f"\n== {dataset.name}: {len(dataset.entries)} entries, "
        f"{len(dataset.validation)} validation / {len(dataset.test)} test queries"
    )
    languages = sorted({q.language for q in dataset.test})
    header = f"{'matcher':<22} {'top-1':>6}"
    if len(languages) > 1:
        header += "".join(f" {'top-1 ' + lang:>9}" for lang in languages)
    if any(q.kind == "translit" for q in dataset.test):
        header += f" {'translit':>8}"
    header += f" {'thresh':>7} {'prec':>6} {'cover':>6} {'OOS tkt':>7} {'ms/q':>6}"
    print(header)
    for make in SCORERS:
        scorer = make(dataset)
        validation = evaluate(scorer, dataset.validation)
        started = time.perf_counter()
        test = evaluate(scorer, dataset.test)
        per_query_ms = (time.perf_counter() - started) / len(dataset.test) * 1000
        threshold = choose_answer_threshold(
            validation, dataset.min_precision, dataset.max_oos_answered
        )
        metrics = answer_metrics(test, threshold)
        row = f"{scorer.name:<22} {_pct(top1(test)):>6}"
        if len(languages) > 1:
            row += "".join(
                f" {_pct(top1(test, lambda o, la=la: o.query.language == la)):>9}"
                for la in languages
            )
        if any(q.kind == "translit" for q in dataset.test):
            row += f" {_pct(top1(test, lambda o: o.query.kind == 'translit')):>8}"
        row += (
            f" {threshold:>7.3f} {_pct(metrics['precision']):>6} {_pct(metrics['coverage']):>6}"
            f" {_pct(1 - metrics['oos_answered']):>7} {per_query_ms:>6.2f}"
        )
        print(row, flush=True)
        if isinstance(scorer, FuzzyScorer) and product_thresholds:
            _print_product_thresholds(validation, test, dataset)


def _print_product_thresholds(
    validation: list[Outcome], test: list[Outcome], dataset: Dataset
) -> None:
    answer = choose_answer_threshold(validation, dataset.min_precision, dataset.max_oos_answered)
    suggest = choose_suggest_threshold(validation, answer)
    print(
        f"   thresholds chosen on validation: answer {answer:.3f}, suggest {suggest:.3f} "
        f"(module defaults: {DEFAULT_ANSWER_THRESHOLD}, {DEFAULT_SUGGEST_THRESHOLD})"
    )
    metrics = answer_metrics(test, DEFAULT_ANSWER_THRESHOLD)
    oos = [o for o in test if not o.in_scope]
    ticketed = sum(1 for o in oos if o.confidence < DEFAULT_SUGGEST_THRESHOLD) / len(oos)
    band = [o for o in test if DEFAULT_SUGGEST_THRESHOLD <= o.confidence < DEFAULT_ANSWER_THRESHOLD]
    in_scope = [o for o in test if o.in_scope]
    print(
        f"   at the module defaults on test: answer precision {_pct(metrics['precision'])}, "
        f"coverage {_pct(metrics['coverage'])}, OOS not answered "
        f"{_pct(1 - metrics['oos_answered'])}, OOS straight to a ticket {_pct(ticketed)}"
    )
    print(
        f"   suggestions: {len(band)} questions get buttons, right article among them "
        f"{_pct(suggestion_hit_rate(test, DEFAULT_SUGGEST_THRESHOLD, DEFAULT_ANSWER_THRESHOLD))}; "
        f"in-scope questions answered or with the right button "
        f"{_pct(sum(1 for o in in_scope if (o.correct and o.confidence >= DEFAULT_ANSWER_THRESHOLD) or (o.in_top3 and DEFAULT_SUGGEST_THRESHOLD <= o.confidence < DEFAULT_ANSWER_THRESHOLD)) / len(in_scope))}"  # noqa: E501
    )


def fit_helpdesk_confidence(dataset: Dataset) -> None:
    scorer = FuzzyScorer(dataset)
    features, correct = [], []
    for query in dataset.validation:
        intents, _ = scorer.rank(query)
        details = scorer.last_details
        features.append([details.get("score", 0.0), details.get("margin", 0.0)])
        correct.append(1.0 if intents and intents[0] == query.intent else 0.0)
    weights = fit_confidence(np.array(features), np.array(correct))
    print(
        f"confidence fitted on {dataset.name} half A: "
        f"CONFIDENCE_SLOPE_SCORE = {weights[0]:.3f}, CONFIDENCE_SLOPE_MARGIN = {weights[1]:.3f},"
        f" CONFIDENCE_INTERCEPT = {weights[2]:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", default="helpdesk,clinc,banking")
    parser.add_argument("--fit", action="store_true", help="fit the confidence on half A")
    parser.add_argument("--on-validation", action="store_true")
    options = parser.parse_args()
    chosen = set(options.only.split(","))
    started = time.perf_counter()
    if options.fit:
        fit_helpdesk_confidence(load_helpdesk(options.data))
        return
    print(
        "top-1: in-scope queries whose best entry is right; prec/cover: answers given at the "
        "threshold chosen on validation (precision and in-scope coverage on test); OOS tkt: "
        "out-of-scope test queries not answered"
    )
    if "helpdesk" in chosen:
        run_dataset(load_helpdesk(options.data), product_thresholds=True)
    if "clinc" in chosen:
        for k in (1, 5):
            run_dataset(load_clinc(options.data, k), product_thresholds=False)
    if "banking" in chosen:
        for k in (1, 5):
            run_dataset(load_banking(options.data, k), product_thresholds=False)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
