"""The multi-line format admins use to write FAQ entries from a phone:

    /faq_add
    Q: How do I reset my password?
    A: Click "Forgot password?" on the sign-in page.
       Lines that do not start with a key continue the previous field.
    V: forgot my password
    V: password recovery
    lang: en
    cat: access

Keys are case-insensitive and have Russian aliases (вопрос, ответ, вариант, язык, категория).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_KEYS = {
    "q": "question", "question": "question", "вопрос": "question", "в": "question",
    "a": "answer", "answer": "answer", "ответ": "answer", "о": "answer",
    "v": "variant", "variant": "variant", "вариант": "variant",
    "lang": "language", "language": "language", "язык": "language",
    "cat": "category", "category": "category", "категория": "category",
    "enabled": "enabled", "включено": "enabled",
}  # fmt: skip
_KEY_LINE = re.compile(r"^\s*([^\W\d_]+)\s*:\s?(.*)$")
CATEGORY_LENGTH = 64  # as long as a ticket's category may be
_YES = {"yes", "y", "true", "on", "1", "да", "вкл"}
_NO = {"no", "n", "false", "off", "0", "нет", "выкл"}


@dataclass
class FaqFields:
    """What an admin wrote; None means "not given" (for /faq_edit: keep the current value)."""

    question: str | None = None
    answer: str | None = None
    variants: list[str] = field(default_factory=list)
    language: str | None = None
    category: str | None = None
    enabled: bool | None = None


class FaqFormatError(ValueError):
    """`field` names the key that is wrong, for the usage hint."""

    def __init__(self, field_name: str) -> None:
        super().__init__(field_name)
        self.field = field_name


def parse_faq_fields(text: str) -> FaqFields:
    collected: dict[str, list[str]] = {}
    variants: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        match = _KEY_LINE.match(line)
        key = _KEYS.get(match.group(1).lower()) if match else None
        if key is None:
            if current is not None:
                current.append(line.strip())
            elif line.strip():
                raise FaqFormatError("question")
            continue
        current = [match.group(2).strip()]
        if key == "variant":
            variants.append(current)
        else:
            collected[key] = current

    def joined(name: str) -> str | None:
        lines = collected.get(name)
        if lines is None:
            return None
        value = "\n".join(lines).strip()
        if not value:
            raise FaqFormatError(name)
        return value

    fields = FaqFields(
        question=joined("question"),
        answer=joined("answer"),
        variants=[v for v in (" ".join(p).strip() for p in variants) if v],
        category=joined("category"),
    )
    if fields.category is not None and (
        len(fields.category) > CATEGORY_LENGTH or "\n" in fields.category
    ):
        raise FaqFormatError("category")
    language = joined("language")
    if language is not None:
        fields.language = language.lower()
        if fields.language not in ("ru", "en"):
            raise FaqFormatError("language")
    enabled = joined("enabled")
    if enabled is not None:
        if enabled.lower() not in _YES | _NO:
            raise FaqFormatError("enabled")
        fields.enabled = enabled.lower() in _YES
    return fields
