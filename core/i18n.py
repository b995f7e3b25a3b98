"""User-visible texts, per language, from gettext catalogs (core/locales/<lang>.po).

Message ids are stable keys (e.g. ``ticket.opened``), not English sentences, so that a wording
change in one language never orphans the other. Placeholders use ``str.format`` syntax.
"""

from __future__ import annotations

import logging
from pathlib import Path

from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
SUPPORTED_LANGUAGES = ("en", "ru")


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
        self.catalogs: dict[str, dict[str, str]] = {
            lang: self._load(locales_dir / f"{lang}.po") for lang in SUPPORTED_LANGUAGES
        }

    @staticmethod
    def _load(path: Path) -> dict[str, str]:
        with path.open("rb") as fh:
            catalog = read_po(fh)
        return {str(m.id): str(m.string) for m in catalog if m.id and m.string}

    def get(self, language: str | None, key: str, /, **params: object) -> str:
        lang = language if language in self.catalogs else self.default_language
        template = self.catalogs[lang].get(key) or self.catalogs["en"].get(key)
        if template is None:
            log.error("missing text", extra={"key": key, "language": lang})
            return key
        return template.format(**params) if params else template
