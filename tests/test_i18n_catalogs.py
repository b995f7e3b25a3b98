"""The text catalogs: both languages have every text, translated, with the same placeholders;
plural entries agree with CLDR's plural rules and render "1 ticket" / "2 tickets", "1 обращение"
/ "2 обращения" / "5 обращений"; numbers and dates are written the language's way, in chats."""

from __future__ import annotations

import logging
import re
import string
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.pofile import read_po

from core.i18n import LOCALES_DIR, SUPPORTED_LANGUAGES, Texts, normalize_language
from tests.harness import Harness
from tests.test_reports import helpdesk as reports_helpdesk
from tests.test_reports import play_history
from tests.test_sla import berlin, check_at
from tests.test_sla import helpdesk as sla_helpdesk

NBSP = "\u00a0"  # Russian groups thousands and sets off "%" with it (CLDR)


def _catalog(language: str):
    with (LOCALES_DIR / f"{language}.po").open("rb") as fh:
        return read_po(fh)


def _messages(language: str) -> dict[str, tuple[str, ...]]:
    """Every entry as its forms (one for a plain text), empty ones included."""
    messages = {}
    for message in _catalog(language):
        if not message.id:
            continue
        if message.pluralizable:
            messages[message.id[0]] = tuple(message.string)
        else:
            messages[message.id] = (message.string,)
    return messages


def _placeholders(forms: tuple[str, ...]) -> set[tuple[str, str]]:
    return {
        (name, spec)
        for form in forms
        for _, name, spec, _ in string.Formatter().parse(form)
        if name is not None
    }


EN, RU = _messages("en"), _messages("ru")
PLURALS = {message.id[0] for message in _catalog("en") if message.pluralizable}


class TestCatalogs:
    def test_every_key_is_in_both_languages(self):
        assert EN.keys() == RU.keys()

    def test_no_text_is_empty(self):
        for language, messages in (("en", EN), ("ru", RU)):
            empty = [key for key, forms in messages.items() if not all(forms)]
            assert not empty, (language, empty)

    def test_no_russian_text_is_left_in_english(self):
        # Texts with words (placeholders aside) are written in Cyrillic; the same text in both
        # catalogs is allowed only without words ("• {text}", "{score} ⭐").
        for key, forms in RU.items():
            for form in forms:
                words = re.findall(r"[^\W\d_]{2,}", re.sub(r"{[^}]*}", "", form))
                if words:
                    assert re.search("[а-яё]", form, re.IGNORECASE), (key, form)
                    assert form not in EN[key], (key, form)

    def test_the_same_placeholders_in_both_languages(self):
        for key, forms in EN.items():
            assert _placeholders(forms) == _placeholders(RU[key]), key

    def test_plural_entries_match_and_every_form_shows_the_count(self):
        assert "report.first_response" in PLURALS
        for language, messages in (("en", EN), ("ru", RU)):
            catalog = _catalog(language)
            for key, forms in messages.items():
                plural = catalog[key].pluralizable
                assert plural == (key in PLURALS), (language, key)
                if plural:
                    assert len(forms) == catalog.num_plurals, (language, key)
                    assert all("{count:n}" in form for form in forms), (language, key)

    @pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
    def test_the_plural_forms_header_agrees_with_cldr(self, language):
        # The .po's own rule picks msgstr[i]; CLDR's categories (Babel) must land on the same i.
        texts = Texts()
        locale = Locale(language)
        order = {"en": ("one", "other"), "ru": ("one", "few", "many")}[language]
        assert _catalog(language).num_plurals == len(order)
        for n in range(250):
            assert texts.plural_rules[language](n) == order.index(locale.plural_form(n)), n

    def test_every_key_used_in_code_exists(self):
        used = set()
        for path in (Path(__file__).parents[1] / "core").rglob("*.py"):
            # Texts are looked up by t(...), staff_text(...), texts.get(lang, ...), notify_user()
            lookup = r'(?:\bt|_text|get\(\w+,|notify_user\(\w+, \w+,)\(?\s*"(\w+\.[\w.]+)"'
            used |= set(re.findall(lookup, path.read_text()))
        known = Texts().catalogs["en"].keys()
        assert used and used <= known, used - known

    def test_language_hints(self):
        assert normalize_language("ru-RU") == "ru"
        assert normalize_language("EN_us") == "en"
        assert normalize_language("de") is None
        assert normalize_language(None) is None


class TestPlurals:
    texts = Texts()

    def tickets(self, language: str, count: int | float) -> str:
        text = self.texts.get(language, "report.first_response", median="1", p90="2", count=count)
        return text.rpartition("(")[2].rstrip(")")

    def test_english(self):
        assert [self.tickets("en", n) for n in (0, 1, 2, 21)] == [
            "0 tickets", "1 ticket", "2 tickets", "21 tickets",
        ]  # fmt: skip

    def test_russian(self):
        assert [self.tickets("ru", n) for n in (1, 2, 5, 11, 21, 22, 111)] == [
            "1 обращение", "2 обращения", "5 обращений", "11 обращений", "21 обращение",
            "22 обращения", "111 обращений",
        ]  # fmt: skip

    def test_a_large_count_is_grouped_and_a_fraction_takes_the_last_form(self):
        assert self.tickets("ru", 1021) == f"1{NBSP}021 обращение"
        assert self.tickets("en", 1021) == "1,021 tickets"
        assert self.tickets("en", 1.5) == "1.5 tickets"
        assert self.tickets("ru", 1.5) == "1,5 обращений"

    def test_a_plural_text_without_a_count_is_logged_not_raised(self, caplog):
        with caplog.at_level(logging.ERROR, logger="core.i18n"):
            text = self.texts.get("en", "admin.faq_list_more", n=3)
        assert text == "…and {count:n} more entries."
        assert "plural text without a count" in caplog.text

    def test_durations_read_in_words(self):
        def text(language: str, key: str, count: int) -> str:
            return self.texts.get(language, key, number=7, count=count)

        assert "в течение 1 часа —" in text("ru", "ticket.resolved", 1)
        assert "в течение 3 часов —" in text("ru", "ticket.resolved", 3)
        assert "в течение 72 часов —" in text("ru", "ticket.resolved", 72)
        assert "within 1 hour and" in text("en", "ticket.resolved", 1)
        assert "решено 1 день назад" in text("ru", "ticket.auto_closed", 1)
        assert "решено 3 дня назад" in text("ru", "ticket.auto_closed", 3)
        assert "решено 7 дней назад" in text("ru", "ticket.auto_closed", 7)
        assert "resolved 7 days ago" in text("en", "ticket.auto_closed", 7)


class TestNumbersAndDates:
    texts = Texts()

    def test_helpers(self):
        assert Texts.number("ru", 12345.5) == f"12{NBSP}345,5"
        assert Texts.number("en", 12345.5) == "12,345.5"
        assert Texts.percent("ru", 0.9) == f"90{NBSP}%"
        assert Texts.percent("en", 0.9) == "90%"
        assert Texts.date("ru", date(2026, 3, 2)) == "2 мар. 2026\u202fг."
        moment = datetime(2026, 3, 2, 13, 5, tzinfo=UTC)
        assert Texts.datetime("ru", moment) == "2 мар. 2026\u202fг., 13:05"
        assert Texts.datetime("en", moment) == "Mar 2, 2026, 1:05\u202fPM"

    def test_ids_stay_as_typed_and_quantities_are_grouped(self):
        text = self.texts.get("ru", "admin.faq_list_line", id=12345, language="ru",
                              category="—", question="Q", off="", count=12345)  # fmt: skip
        assert text == f"№12345 [ru, —] Q · 12{NBSP}345 показов"

    def test_a_dash_stands_in_for_a_missing_figure(self):
        text = self.texts.get("ru", "report.share", rate="—", met=0, total=0)
        assert text == "— (0 из 0)"


async def test_a_russian_user_hears_the_limit_in_russian_numbers(store):
    bot = Harness(store)
    await bot.user_says("x" * 100_001, language="ru")
    assert bot.to_user()[-1].startswith(
        f"Сообщение слишком длинное (100{NBSP}001 символ, предел — 10{NBSP}000)."
    )


async def test_a_russian_staff_chat_reads_sla_due_times_in_russian(store):
    bot = sla_helpdesk(store, berlin(2026, 3, 2, 10, 0), default_language="ru")
    await bot.user_says("/new the VPN drops every few minutes")
    await check_at(bot, berlin(2026, 3, 2, 10, 48))
    warning = bot.to_staff()[-1].message.text
    # Berlin's local time, written the Russian way.
    assert warning == (
        "⏳ SLA: на обращение №1 (обычный) ещё не ответили; "
        "срок первого ответа — 2 мар. 2026\u202fг., 11:00."
    )


async def test_a_russian_staff_chat_gets_the_report_in_russian(store):
    bot = reports_helpdesk(store, default_language="ru")
    await bot.seed()
    await play_history(bot)
    await bot.deliver(bot.staff_message("/stats 2026-03-02..2026-03-03", agent="agent1"))
    text, chart = (d.message for d in bot.to_staff()[-2:])
    lines = text.text.splitlines()
    assert lines[:5] == [
        "📊 Отчёт 2 мар. 2026\u202fг. – 3 мар. 2026\u202fг. · L1",
        "Обращения: открыто 4, решено 2, закрыто 2",
        f"Вопросов боту: 2, решено без обращения: 1 (50{NBSP}%)",
        "Первый ответ: медиана 43 мин, 90% — не дольше 56 мин (2 обращения)",
        "Решение: медиана 1 ч 43 мин, 90% — не дольше 2 ч 0 мин (2 обращения)",
    ]
    assert f"• обычный: 33{NBSP}% (1 из 3) / 50{NBSP}% (1 из 2)" in lines
    assert "Удовлетворённость: 3,5 из 5 по 2 оценкам (2★ 1, 5★ 1)" in lines
    assert "• Agent1: решено 1, первый ответ 30 мин, оценка 5 (1 оценка)" in lines
    assert (
        chart.text
        == "📈 Обращения по дням и выполнение SLA, 2 мар. 2026\u202fг. – 3 мар. 2026\u202fг."
    )
