"""Small pure pieces of the core: text splitting, command parsing, the FAQ format (the text
catalogs: tests/test_i18n_catalogs.py)."""

from __future__ import annotations

import pytest

from core.commands import parse_command
from core.staff.faq_format import FaqFormatError, parse_faq_fields
from core.text import split_text, utf16_len


class TestSplitText:
    def test_short_text_is_one_part(self):
        assert split_text("hello", 10) == ["hello"]
        assert split_text("", 10) == [""]

    def test_splits_at_word_boundaries(self):
        parts = split_text("alpha beta gamma delta", 11)
        assert parts == ["alpha beta", "gamma delta"]

    def test_prefers_paragraphs(self):
        text = "first paragraph here\n\nsecond one"
        assert split_text(text, 25) == ["first paragraph here", "second one"]

    def test_long_word_is_cut_hard(self):
        assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]

    def test_limit_counts_utf16_units(self):
        text = "😀" * 10  # 20 UTF-16 units
        parts = split_text(text, 6)
        assert all(utf16_len(p) <= 6 for p in parts)
        assert "".join(parts) == text

    def test_no_content_is_lost(self):
        text = " ".join(f"w{i}" for i in range(3000))
        parts = split_text(text, 100)
        assert all(len(p) <= 100 for p in parts)
        assert " ".join(parts) == text


class TestParseCommand:
    def test_plain_and_with_bot_name(self):
        assert parse_command("/close 12").name == "close"
        assert parse_command("/close@HelpBot 12").args == "12"

    def test_multiline_arguments(self):
        command = parse_command("/faq_add\nQ: a\nA: b")
        assert command.name == "faq_add" and command.args == "Q: a\nA: b"

    @pytest.mark.parametrize(
        "text", ["", None, "hello", "/", "/ close", "/usr/bin broken", "/1abc"]
    )
    def test_not_commands(self, text):
        assert parse_command(text) is None

    def test_int_arg(self):
        assert parse_command("/ticket #12").int_arg() == 12
        assert parse_command("/ticket twelve").int_arg() is None


class TestFaqFormat:
    def test_full_entry_with_multiline_answer_and_russian_keys(self):
        fields = parse_faq_fields(
            "Вопрос: Как сбросить пароль?\nОтвет: Нажмите кнопку.\nПотом войдите.\n"
            "Вариант: забыл пароль\nВариант: сброс\nЯзык: ru\nКатегория: доступ"
        )
        assert fields.question == "Как сбросить пароль?"
        assert fields.answer == "Нажмите кнопку.\nПотом войдите."
        assert fields.variants == ["забыл пароль", "сброс"]
        assert (fields.language, fields.category) == ("ru", "доступ")

    def test_unknown_keys_continue_the_answer(self):
        fields = parse_faq_fields("Q: q\nA: first\nNote: keep this line")
        assert fields.answer == "first\nNote: keep this line"

    @pytest.mark.parametrize(
        "text, field", [("Q:\nA: b", "question"), ("Q: a\nlang: fr", "language"),
                        ("Q: a\nenabled: maybe", "enabled"), ("garbage first", "question")]
    )  # fmt: skip
    def test_errors_name_the_field(self, text, field):
        with pytest.raises(FaqFormatError) as error:
            parse_faq_fields(text)
        assert error.value.field == field
