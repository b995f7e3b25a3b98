"""Matcher latency benchmark: FuzzyMatcher (and SemanticMatcher when the `semantic` extra is
installed) against brute-force rapidfuzz on synthetic knowledge bases of 150, 10,000 and 100,000
entries.

Prints a markdown table, per size: build time, peak memory of the build (resident set growth,
each size in a fresh process), p50/p99 per query, the cost of one upsert followed by a question,
and the baseline (rapidfuzz `process.extractOne` with its defaults over every phrasing).
SemanticMatcher is measured up to SEMANTIC_MAX_SIZE entries (encoding 300,000 phrasings takes
minutes).

    python bench/matcher_latency.py [--sizes 150,10000,100000] [--queries 500] [--no-semantic]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rapidfuzz import process  # noqa: E402

from core.domain import FaqEntry  # noqa: E402
from knowledge.matcher import FuzzyMatcher  # noqa: E402

DEFAULT_SIZES = (150, 10_000, 100_000)
SEMANTIC_MAX_SIZE = 10_000

_SYLLABLES_EN = "ka lo mi ne ro ta vi su pe da fo gi ha ju ze bo cy wu xa ly tr st pr ch sh".split()
_SYLLABLES_RU = "ка ло ми не ро та ви су пе да фо ги ха жу зе бо цы шу ча лы тр ст пр".split()
_COMMON_EN = "how do i my the to can not with on error access work account app".split()
_COMMON_RU = "как не что делать мой на в с ошибка доступ работа аккаунт приложение".split()


def _vocabulary(rng: random.Random, syllables: list[str], size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    ordered = sorted(words)
    rng.shuffle(ordered)  # frequency rank must not follow the alphabet
    return ordered


class SyntheticBase:
    """Entries whose words follow a Zipf-like distribution over a pseudo-word vocabulary, as in a
    real knowledge base a few words are everywhere and most are rare."""

    def __init__(self, seed: int = 7, vocabulary_size: int = 30_000) -> None:
        self.rng = random.Random(seed)
        self.words = {
            "en": _vocabulary(self.rng, _SYLLABLES_EN, vocabulary_size),
            "ru": _vocabulary(self.rng, _SYLLABLES_RU, vocabulary_size),
        }
        ranks = range(1, vocabulary_size + 1)
        # Cumulative once: random.choices would sum the 30,000 weights again on every call.
        self.cumulative = list(itertools.accumulate(1.0 / rank for rank in ranks))

    def _sentence(self, language: str, low: int, high: int) -> str:
        count = self.rng.randint(low, high)
        topical = self.rng.choices(self.words[language], cum_weights=self.cumulative, k=count)
        common = _COMMON_EN if language == "en" else _COMMON_RU
        filler = self.rng.sample(common, k=min(3, count // 2))
        words = topical + filler
        self.rng.shuffle(words)
        return " ".join(words)

    def entries(self, count: int) -> list[FaqEntry]:
        result = []
        for entry_id in range(1, count + 1):
            language = "ru" if entry_id % 2 else "en"
            result.append(
                FaqEntry(
                    id=entry_id,
                    question=self._sentence(language, 5, 9) + "?",
                    answer=self._sentence(language, 20, 35) + ".",
                    language=language,
                    variants=(self._sentence(language, 3, 5), self._sentence(language, 3, 5)),
                )
            )
        return result

    def queries(self, entries: list[FaqEntry], count: int) -> list[tuple[str, str]]:
        """Reworded phrasings with a typo, plus one query in five made of random words."""
        queries = []
        for _ in range(count):
            entry = self.rng.choice(entries)
            if self.rng.random() < 0.2:
                text = self._sentence(entry.language, 3, 8)
            else:
                words = self.rng.choice(entry.phrasings).rstrip("?").split()
                self.rng.shuffle(words)
                words = words[: self.rng.randint(2, len(words))]
                victim = self.rng.randrange(len(words))
                word = words[victim]
                if len(word) > 4:  # one typo: drop a letter
                    cut = self.rng.randrange(len(word))
                    words[victim] = word[:cut] + word[cut + 1 :]
                text = " ".join(words)
            queries.append((text, entry.language))
        return queries


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return p50 * 1000, p99 * 1000


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _rss_mb() -> float:
    """The resident set now (the peak above would hide a build smaller than the data set)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return _max_rss_mb()


def _make_matcher(kind: str, entries: list[FaqEntry]) -> FuzzyMatcher:
    if kind == "semantic":
        from knowledge.semantic import SemanticMatcher

        return SemanticMatcher(entries)
    return FuzzyMatcher(entries)


def run_size(size: int, query_count: int, baseline_queries: int, kind: str) -> dict[str, float]:
    base = SyntheticBase()
    entries = base.entries(size)
    queries = base.queries(entries, query_count)
    if kind == "semantic":
        _make_matcher(kind, entries[:2])  # load the model before measuring the build
    rss_before = _rss_mb()
    started = time.perf_counter()
    matcher = _make_matcher(kind, entries)
    build_seconds = time.perf_counter() - started
    rss_after = _rss_mb()

    for text, language in queries[:20]:  # warm caches the way a running bot has them
        matcher.match(text, language)
    timings = []
    for text, language in queries:
        started = time.perf_counter()
        matcher.match(text, language)
        timings.append(time.perf_counter() - started)
    p50, p99 = _percentiles(timings)

    edit_timings = []
    for entry in entries[:: max(1, size // 20)][:20]:
        edited = FaqEntry(
            entry.id, entry.question, entry.answer, entry.language, (*entry.variants, "x y z")
        )
        started = time.perf_counter()
        matcher.upsert(edited)
        matcher.match(entry.question, entry.language)  # the edit must be visible at once
        edit_timings.append(time.perf_counter() - started)
    edit_p50, _ = _percentiles(edit_timings)

    base_p50 = base_p99 = float("nan")
    if baseline_queries:
        choices = [text for entry in entries for text in entry.phrasings]
        baseline_timings = []
        for text, _ in queries[:baseline_queries]:
            started = time.perf_counter()
            process.extractOne(text, choices)
            baseline_timings.append(time.perf_counter() - started)
        base_p50, base_p99 = _percentiles(baseline_timings)
    return {
        "size": size,
        "build_s": build_seconds,
        "build_mb": rss_after - rss_before,
        "peak_mb": _max_rss_mb(),
        "p50": p50,
        "p99": p99,
        "edit_p50": edit_p50,
        "base_p50": base_p50,
        "base_p99": base_p99,
        "base_n": baseline_queries,
    }


def _run_in_child(args: tuple[int, int, int, str]) -> dict[str, float]:
    return run_size(*args)


def print_table(sizes: tuple[int, ...] | list[int], queries: int, semantic: bool) -> None:
    """Run each size in a fresh process (honest memory figures) and print a markdown row."""
    print(
        "| matcher | entries | build s | build MB (peak RSS MB) | p50 ms | p99 ms | "
        "upsert + question ms | extractOne p50 / p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    kinds = ["fuzzy", "semantic"] if semantic else ["fuzzy"]
    context = multiprocessing.get_context("spawn")
    for kind in kinds:
        for size in sizes:
            if kind == "semantic" and size > SEMANTIC_MAX_SIZE:
                print(
                    f"| SemanticMatcher | {size} | not measured (encoding takes minutes) |"
                    " | | | | |"
                )
                continue
            baseline_queries = (
                max(20, min(queries, 2_000_000 // (size * 3))) if kind == "fuzzy" else 0
            )
            with context.Pool(1) as pool:
                row = pool.apply(_run_in_child, ((size, queries, baseline_queries, kind),))
            name = "SemanticMatcher" if kind == "semantic" else "FuzzyMatcher"
            baseline = f"{row['base_p50']:.2f} / {row['base_p99']:.2f}" if baseline_queries else "-"
            print(
                f"| {name} | {row['size']} | {row['build_s']:.2f} | {row['build_mb']:.0f} "
                f"({row['peak_mb']:.0f}) | {row['p50']:.3f} | {row['p99']:.3f} | "
                f"{row['edit_p50']:.3f} | {baseline} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(size) for size in DEFAULT_SIZES))
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--no-semantic", action="store_true")
    options = parser.parse_args()
    semantic = False
    if not options.no_semantic:
        from knowledge.semantic import semantic_available

        semantic = semantic_available()
    print_table([int(size) for size in options.sizes.split(",")], options.queries, semantic)


if __name__ == "__main__":
    main()
