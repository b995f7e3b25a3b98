"""Knowledge-base files: YAML and CSV round trips, hand-written files, and clear errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.domain import FaqDraft, FaqEntry
from knowledge import sample_faq_path
from knowledge.io import KnowledgeFileError, read_entries, write_entries
from knowledge.matcher import DEFAULT_ANSWER_THRESHOLD, FuzzyMatcher

NOW = datetime(2026, 12, 1, tzinfo=UTC)

ENTRIES = [
    FaqEntry(
        id=3,
        question="Как сбросить пароль?",
        answer='Нажмите «Забыли пароль?», затем ссылку в письме.\nВторая строка, с "кавычками".',
        language="ru",
        variants=("Забыл пароль", "Восстановление пароля, срочно"),
        category="доступ",
    ),
    FaqEntry(
        id=7,
        question="How do I book a meeting room?",
        answer="Use the Rooms tab in Outlook; rooms up to 10 people need no approval.",
        language="en",
        variants=(),
        category=None,
        enabled=False,
        hits=42,  # counters are not part of the file
    ),
]


def as_draft(entry: FaqEntry) -> tuple[int, FaqDraft]:
    return entry.id, FaqDraft(
        question=entry.question,
        answer=entry.answer,
        language=entry.language,
        variants=entry.variants,
        category=entry.category,
        enabled=entry.enabled,
    )


@pytest.mark.parametrize("name", ["kb.yaml", "kb.yml", "kb.csv", "KB.CSV"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_entries(path, ENTRIES)
    assert read_entries(path) == [as_draft(e) for e in ENTRIES]


def test_yaml_export_is_readable_by_people(tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    write_entries(path, ENTRIES)
    text = path.read_text(encoding="utf-8")
    assert "Как сбросить пароль?" in text  # not \\u-escaped
    assert "- Забыл пароль" in text  # variants as a YAML list


def test_csv_export_has_the_documented_columns(tmp_path: Path) -> None:
    path = tmp_path / "kb.csv"
    write_entries(path, ENTRIES)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id,language,category,question,answer,variants,enabled"
    assert "Забыл пароль | Восстановление пароля, срочно" in path.read_text(encoding="utf-8")


def test_hand_written_yaml_without_ids(tmp_path: Path) -> None:
    path = tmp_path / "faq.yaml"
    path.write_text(
        """
- question: Где мой заказ?
  answer: Смотрите «Мои заказы».
  language: RU
  variants: [Статус заказа]
- question: Support hours?
  answer: 9 to 6 on weekdays.
  language: en
  variants: Working hours
  enabled: no
""",
        encoding="utf-8",
    )
    assert read_entries(path) == [
        (None, FaqDraft("Где мой заказ?", "Смотрите «Мои заказы».", "ru", ("Статус заказа",))),
        (
            None,
            FaqDraft(
                "Support hours?", "9 to 6 on weekdays.", "en", ("Working hours",), None, False
            ),
        ),  # fmt: skip
    ]


def test_hand_written_csv_with_bom_and_minimal_columns(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(
        "\ufeffquestion,answer,language,variants\n"
        'Принтер не печатает,"Проверьте бумагу, затем очередь.",ru,Не печатает | | Принтер\n'
        "\n"
        "VPN down,Restart the client,en,\n",
        encoding="utf-8",
    )
    assert read_entries(path) == [
        (
            None,
            FaqDraft(
                "Принтер не печатает",
                "Проверьте бумагу, затем очередь.",
                "ru",
                ("Не печатает", "Принтер"),
            ),
        ),  # fmt: skip
        (None, FaqDraft("VPN down", "Restart the client", "en")),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- question: Q\n  language: ru\n", "faq.yaml, entry 1: answer is missing or empty"),
        (
            "- {question: Q, answer: A, language: ru}\n- {question: Q2, answer: A, language: de}\n",
            "faq.yaml, entry 2: language must be one of ru, en, not 'de'",
        ),
        ("- {question: Q, answer: A, language: ru, colour: red}\n", "entry 1: unknown field"),
        ("- {question: Q, answer: A, language: ru, id: -4}\n", "entry 1: id must be a positive"),
        ("- {question: Q, answer: A, language: ru, enabled: maybe}\n", "enabled must be true"),
        ("- {question: Q, answer: A, language: ru, variants: {a: 1}}\n", "variants must be a list"),
        (
            "- {question: Q, answer: A, language: ru, id: 5}\n"
            "- {question: R, answer: B, language: en, id: 5}\n",
            "entry 2: id 5 is used twice (also in entry 1)",
        ),
        ("question: Q\nanswer: A\n", "expected a list of entries"),
        ("- [just, a, list]\n", "entry 1: expected a mapping"),
        ("- question: [unclosed\n", "invalid YAML"),
    ],
)
def test_yaml_errors_name_the_file_and_entry(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "faq.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(KnowledgeFileError, match="faq.yaml") as error:
        read_entries(path)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("question,answer,language\nQ,,ru\n", "faq.csv, line 2: answer is missing or empty"),
        ("question,answer,language\nQ,A,ru\nQ2,A2,fr\n", "line 3: language must be one of ru, en"),
        ("question,answer,lang\nQ,A,ru\n", "line 1: unknown column(s) 'lang'"),
        ("question,answer\nQ,A\n", "line 1: missing column(s) language"),
        ("id,question,answer,language\nabc,Q,A,ru\n", "line 2: id must be a positive whole number"),
        ("question,answer,language\nQ,A,ru,extra\n", "line 2: more cells than columns"),
        (
            'question,answer,language\n"Q\nwith newline",A,ru\nQ2,A2,xx\n',
            "line 4: language must be one of",  # line numbers count physical lines
        ),
    ],
)
def test_csv_errors_name_the_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(KnowledgeFileError) as error:
        read_entries(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_unknown_format_missing_file_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeFileError, match="unknown format '.txt'"):
        read_entries(tmp_path / "faq.txt")
    with pytest.raises(KnowledgeFileError, match="file not found"):
        read_entries(tmp_path / "missing.yaml")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("question,answer,language\nCaf\xe9,A,en\n".encode("latin-1"))
    with pytest.raises(KnowledgeFileError, match="not UTF-8"):
        read_entries(latin1)
    with pytest.raises(KnowledgeFileError, match="unknown format"):
        write_entries(tmp_path / "out.json", ENTRIES)


def test_csv_export_refuses_a_variant_with_the_separator(tmp_path: Path) -> None:
    bad = FaqEntry(1, "Q", "A", "en", variants=("either | or",))
    path = tmp_path / "kb.csv"
    with pytest.raises(KnowledgeFileError, match="entry id 1: variant 'either | or'"):
        write_entries(path, [bad])
    assert not path.exists()  # nothing half-written


def test_empty_files_hold_no_entries(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    assert read_entries(tmp_path / "empty.yaml") == []
    assert read_entries(tmp_path / "empty.csv") == []


def test_the_sample_knowledge_base_is_valid_and_answers_its_own_questions() -> None:
    records = read_entries(sample_faq_path())
    assert 18 <= len(records) <= 30
    assert {draft.language for _, draft in records} == {"ru", "en"}
    assert all(draft.category and len(draft.variants) >= 2 for _, draft in records)
    entries = [FaqEntry(id=i + 1, **vars(draft)) for i, (_, draft) in enumerate(records)]
    matcher = FuzzyMatcher(entries)
    for source in entries:
        top = matcher.match(source.question, source.language)[0]
        assert top.entry_id == source.id
        assert top.confidence >= DEFAULT_ANSWER_THRESHOLD


async def test_two_processes_starting_on_an_empty_database_load_the_sample_once(database_url):
    """Regression: both loaded it, and the knowledge base held every article twice."""
    from bot.knowledge_files import seed_sample_if_empty
    from storage import open_store

    first, second = await open_store(database_url), await open_store(database_url)
    try:
        loaded = await asyncio.gather(
            seed_sample_if_empty(first, NOW), seed_sample_if_empty(second, NOW)
        )
        async with first.transaction() as tx:
            entries = await tx.faq.list()
    finally:
        await first.close()
        await second.close()
    assert sorted(loaded) == [False, True]
    assert len(entries) == len(read_entries(sample_faq_path()))
