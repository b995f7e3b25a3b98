"""User-visible texts, per language, from gettext catalogs (core/locales/<lang>.po).

Message ids are stable keys (e.g. ``ticket.opened``), not English sentences, so that a wording
change in one language never orphans the other. Placeholders use ``str.format`` syntax.

Plurals: a text whose wording depends on a number is a gettext plural entry (``msgid_plural``
repeats the key; ``msgstr[0..]`` are the forms). Its form is chosen by the ``count`` parameter
with the catalog's own ``Plural-Forms`` rule, and every form shows it:
``texts.get("ru", "report.csat", count=21, ...)`` -> "... по 21 оценке ...". A count that is not
a whole number takes the last form ("1.5 hours"; gettext has no form for fractions).

Numbers and dates are written the way the text's language writes them (Babel):

- ``{x:n}``: a quantity, "1,234.5" in English, "1 234,5" in Russian (non-breaking spaces);
- ``{x:%}``: a ratio as a percentage, "90%" / "90 %";
- floats, dates and datetimes are localized wherever they appear;
- other ints are shown as they are: ticket numbers and ids stay "#1234", as typed in commands.

A placeholder asking for a number shows anything else (a "—" for no figure) as it is.
"""

from __future__ import annotations

import gettext
import logging
import string
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeGuard

from babel import dates, numbers
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
SUPPORTED_LANGUAGES = ("en", "ru")

Entry = str | tuple[str, ...]  # a text, or the forms of a plural text
Number = int | float | Decimal


def normalize_language(hint: str | None) -> str | None:
    """'ru-RU' -> 'ru'; None for anything the catalogs do not cover."""
    if not hint:
        return None
    code = hint.strip().lower().replace("_", "-").split("-")[0]
    return code if code in SUPPORTED_LANGUAGES else None


class Texts:
    """All catalogs, loaded once. ``texts.get("ru", "ticket.opened", number=5)``."""

    def __init__(self, default_language: str = "en", locales_dir: Path = LOCALES_DIR) -> None:
        self.default_language = default_language
        self.catalogs: dict[str, dict[str, Entry]] = {}
        self.plural_rules: dict[str, Callable[[int], int]] = {}
        for lang in SUPPORTED_LANGUAGES:
            self.catalogs[lang], self.plural_rules[lang] = self._load(locales_dir / f"{lang}.po")
        self._formatters = {lang: _Formatter(lang) for lang in SUPPORTED_LANGUAGES}

    @staticmethod
    def _load(path: Path) -> tuple[dict[str, Entry], Callable[[int], int]]:
        with path.open("rb") as fh:
            catalog = read_po(fh)
        entries: dict[str, Entry] = {}
        for message in catalog:
            if not message.id:
                continue  # the header
            if message.pluralizable:
                if all(message.string):
                    entries[message.id[0]] = tuple(message.string)
            elif message.string:
                entries[message.id] = message.string
        # The catalog's own rule (stdlib gettext's compiler, as GNUTranslations uses it).
        return entries, gettext.c2py(catalog.plural_expr)

    def get(self, language: str | None, key: str, /, **params: object) -> str:
        lang = language if language in self.catalogs else self.default_language
        if key not in self.catalogs[lang]:
            if key not in self.catalogs["en"]:
                log.error("missing text", extra={"key": key, "language": lang})
                return key
            lang = "en"  # untranslated: the English text, with English numbers
        entry = self.catalogs[lang][key]
        if isinstance(entry, str):
            template = entry
        elif _is_number(count := params.get("count")):
            template = self._form(lang, entry, count)
        else:
            log.error("plural text without a count", extra={"key": key, "language": lang})
            return entry[-1]  # unformatted: a visible slip rather than a failed turn
        return self._formatters[lang].format(template, **params) if params else template

    def _form(self, lang: str, forms: tuple[str, ...], count: Number) -> str:
        if count != int(count):
            return forms[-1]
        return forms[min(self.plural_rules[lang](int(count)), len(forms) - 1)]

    # Babel's formatting for one language; the catalogs' placeholders use these (see above).

    @staticmethod
    def number(language: str, value: Number) -> str:
        return numbers.format_decimal(value, locale=language)

    @staticmethod
    def percent(language: str, ratio: Number) -> str:
        return numbers.format_percent(ratio, locale=language)

    @staticmethod
    def date(language: str, day: date) -> str:
        return dates.format_date(day, "medium", locale=language)

    @staticmethod
    def datetime(language: str, moment: datetime) -> str:
        """Medium date, short time, in the moment's own time zone: "Mar 2, 2026, 1:00 PM",
        "2 мар. 2026 г., 13:00"."""
        pattern = dates.get_datetime_format("medium", locale=language).replace("'", "")
        day = dates.format_date(moment, "medium", locale=language)
        time = dates.format_time(moment, "short", locale=language)
        return pattern.replace("{1}", day).replace("{0}", time)


class _Formatter(string.Formatter):
    """``str.format`` with numbers and dates written per language (see the module docstring)."""

    def __init__(self, language: str) -> None:
        self.language = language

    def format_field(self, value: object, format_spec: str) -> str:
        if format_spec in ("n", "%"):
            if not _is_number(value):
                return str(value)
            if format_spec == "%":
                return Texts.percent(self.language, value)
            return Texts.number(self.language, value)
        if not format_spec:
            if isinstance(value, datetime):
                return Texts.datetime(self.language, value)
            if isinstance(value, date):
                return Texts.date(self.language, value)
            if isinstance(value, float | Decimal):
                return Texts.number(self.language, value)
        return super().format_field(value, format_spec)


def _is_number(value: object) -> TypeGuard[Number]:
    return isinstance(value, Number) and not isinstance(value, bool)
