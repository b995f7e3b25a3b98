"""Import and export of the whole knowledge base as YAML or CSV (chosen by file extension).

Both formats carry the same fields per entry: id (optional: present in an export, absent in a
hand-written file), language ("ru" or "en"), category, question, answer, variants, enabled.

- YAML (.yaml/.yml): a list of mappings; `variants` is a list of strings.
- CSV (.csv, UTF-8, a BOM is accepted): a header row with those column names; `variants` holds
  all variants in one cell separated by " | " (a variant therefore cannot contain "|");
  `enabled` is true/false (also yes/no, 1/0, да/нет); an empty cell means true.

Problems are reported as `KnowledgeFileError` naming the file and the row or entry.
"""

from __future__ import annotations

import csv
import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from io import StringIO
from pathlib import Path
from typing import Any

import yaml

from core.domain import FaqDraft, FaqEntry

__all__ = [
    "FIELDS",
    "LANGUAGES",
    "VARIANT_SEPARATOR",
    "KnowledgeFileError",
    "read_entries",
    "write_entries",
]

FIELDS = ("id", "language", "category", "question", "answer", "variants", "enabled")
REQUIRED_FIELDS = ("language", "question", "answer")
LANGUAGES = ("ru", "en")
VARIANT_SEPARATOR = " | "

_TRUE = frozenset({"true", "yes", "y", "1", "да", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "нет", "off"})

Fail = Callable[[str], "KnowledgeFileError"]


class KnowledgeFileError(ValueError):
    """A knowledge-base file that cannot be read or written; the message says where and why."""

    def __init__(self, path: str | os.PathLike[str], problem: str, where: str | None = None):
        self.path = str(path)
        self.where = where
        self.problem = problem
        location = f"{self.path}, {where}" if where else self.path
        super().__init__(f"{location}: {problem}")


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".csv":
        return "csv"
    raise KnowledgeFileError(
        path, f"unknown format {suffix or '(no extension)'!r}; use .yaml, .yml or .csv"
    )


# ---------------------------------------------------------------------------------------------
# Reading


def read_entries(path: str | os.PathLike[str]) -> list[tuple[int | None, FaqDraft]]:
    """Read and validate a knowledge-base file. Returns (id or None, draft) in file order."""
    file = Path(path)
    kind = file_format(file)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise KnowledgeFileError(file, "file not found") from None
    except UnicodeDecodeError as error:
        raise KnowledgeFileError(file, f"not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise KnowledgeFileError(file, f"cannot read: {error.strerror}") from None
    records = _yaml_records(file, text) if kind == "yaml" else _csv_records(file, text)
    entries: list[tuple[int | None, FaqDraft]] = []
    seen_ids: dict[int, str] = {}
    for where, record in records:
        entry_id, draft = _parse_record(file, where, record, from_csv=kind == "csv")
        if entry_id is not None:
            if entry_id in seen_ids:
                raise KnowledgeFileError(
                    file, f"id {entry_id} is used twice (also in {seen_ids[entry_id]})", where
                )
            seen_ids[entry_id] = where
        entries.append((entry_id, draft))
    return entries


def _yaml_records(path: Path, text: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}" if mark is not None else None
        raise KnowledgeFileError(path, f"invalid YAML: {error.problem}", where) from None
    except yaml.YAMLError as error:
        raise KnowledgeFileError(path, f"invalid YAML: {error}") from None
    if data is None:
        return
    if not isinstance(data, list):
        raise KnowledgeFileError(path, "expected a list of entries at the top level")
    for number, item in enumerate(data, start=1):
        where = f"entry {number}"
        if not isinstance(item, Mapping):
            raise KnowledgeFileError(path, "expected a mapping with question, answer...", where)
        yield where, item


def _csv_records(path: Path, text: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = reader.fieldnames
    if not header:
        return
    columns = [name.strip().lower() if name else "" for name in header]
    unknown = [name for name in columns if name not in FIELDS]
    if unknown:
        raise KnowledgeFileError(
            path,
            f"unknown column(s) {', '.join(map(repr, unknown))}; expected {', '.join(FIELDS)}",
            "line 1",
        )
    missing = [name for name in REQUIRED_FIELDS if name not in columns]
    if missing:
        raise KnowledgeFileError(path, f"missing column(s) {', '.join(missing)}", "line 1")
    reader.fieldnames = columns
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise KnowledgeFileError(path, f"invalid CSV: {error}", f"line {start}") from None
        if None in row:
            raise KnowledgeFileError(path, "more cells than columns", f"line {start}")
        if all(not (value or "").strip() for value in row.values()):
            continue  # blank line
        yield f"line {start}", row


def _parse_record(
    path: Path, where: str, record: Mapping[str, Any], *, from_csv: bool
) -> tuple[int | None, FaqDraft]:
    unknown = [str(key) for key in record if key not in FIELDS]
    if unknown:
        raise KnowledgeFileError(path, f"unknown field(s) {', '.join(map(repr, unknown))}", where)

    def fail(problem: str) -> KnowledgeFileError:
        return KnowledgeFileError(path, problem, where)

    def optional_text(name: str) -> str | None:
        value = record.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise fail(f"{name} must be text")
        return str(value).strip()

    def required_text(name: str) -> str:
        value = optional_text(name)
        if value is None:
            raise fail(f"{name} is missing or empty")
        return value

    question = required_text("question")
    answer = required_text("answer")
    language = required_text("language").lower()
    if language not in LANGUAGES:
        raise fail(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    return (
        _parse_id(record.get("id"), fail),
        FaqDraft(
            question=question,
            answer=answer,
            language=language,
            variants=_parse_variants(record.get("variants"), fail, from_csv=from_csv),
            category=optional_text("category"),
            enabled=_parse_enabled(record.get("enabled"), fail),
        ),
    )


def _parse_id(value: Any, fail: Fail) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise fail(f"id must be a positive whole number, not {value!r}")
    try:
        entry_id = int(str(value).strip())
    except ValueError:
        raise fail(f"id must be a positive whole number, not {value!r}") from None
    if entry_id <= 0:
        raise fail(f"id must be a positive whole number, not {value!r}")
    return entry_id


def _parse_variants(value: Any, fail: Fail, *, from_csv: bool) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        parts = value.split("|") if from_csv else [value]
    elif isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise fail("variants must be a list of texts")
        parts = value
    else:
        raise fail("variants must be a list of texts")
    variants = [part.strip() for part in parts]
    return tuple(dict.fromkeys(v for v in variants if v))  # drop blanks and repeats, keep order


def _parse_enabled(value: Any, fail: Fail) -> bool:
    if value is None or isinstance(value, bool):
        return value is not False
    word = str(value).strip().lower()
    if not word or word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise fail(f"enabled must be true or false, not {value!r}")


# ---------------------------------------------------------------------------------------------
# Writing


def _as_record(entry: FaqEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "language": entry.language,
        "category": entry.category,
        "question": entry.question,
        "answer": entry.answer,
        # Learned wordings too (an import makes them admin wordings): nothing is lost.
        "variants": [*entry.variants, *entry.learned],
        "enabled": entry.enabled,
    }


def write_entries(path: str | os.PathLike[str], entries: Sequence[FaqEntry]) -> None:
    """Write the entries (with their ids) to a YAML or CSV file, replacing it atomically."""
    file = Path(path)
    kind = file_format(file)
    records = [_as_record(entry) for entry in entries]
    if kind == "yaml":
        content = yaml.safe_dump(
            records, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
        )
    else:
        content = _csv_text(file, records)
    _write_atomically(file, content)


def _csv_text(path: Path, records: list[dict[str, Any]]) -> str:
    rows = []
    for record in records:
        bad = [v for v in record["variants"] if "|" in v]
        if bad:
            raise KnowledgeFileError(
                path,
                f"variant {bad[0]!r} contains '|', which CSV uses between variants",
                f"entry id {record['id']}",
            )
        rows.append(
            {
                **record,
                "category": record["category"] or "",
                "variants": VARIANT_SEPARATOR.join(record["variants"]),
                "enabled": "true" if record["enabled"] else "false",
            }
        )
    buffer = StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _write_atomically(path: Path, content: str) -> None:
    """Write next to the target and rename, so a crash never leaves half a knowledge base."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise KnowledgeFileError(path, f"cannot write: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise KnowledgeFileError(path, f"cannot write: {error.strerror or error}") from None
