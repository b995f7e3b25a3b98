"""Text normalization for matching: pure functions, no state except memo caches.

Pipeline used by the matcher: `normalize` (case, ё, punctuation, emoji, whitespace) ->
`canonicalize` (slang and multi-word synonyms) -> `tokenize` -> drop `is_stopword` ->
`term_of` (language-aware Snowball stem + stem-level synonyms). Russian typed in Latin letters is
turned back into Cyrillic with `transliterate_to_cyrillic`; text typed with the wrong keyboard
layout is fixed with `switch_keyboard_layout`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache

import snowballstemmer

from knowledge.lexicon import (
    LATIN_TECH_TERMS,
    PHRASE_SYNONYMS,
    STOPWORDS_EN,
    STOPWORDS_RU,
    WORD_SYNONYMS,
)

__all__ = [
    "canonicalize",
    "char_ngrams",
    "cyrillic_to_latin",
    "detect_language",
    "is_stopword",
    "looks_like_translit",
    "normalize",
    "prepare",
    "script_of",
    "spell_out_russian_slang",
    "stem",
    "switch_keyboard_layout",
    "term_of",
    "tokenize",
    "transliterate_to_cyrillic",
]

# An apostrophe inside a word is dropped ("can't" -> "cant", "pol'zovatel'" -> "polzovatel")
# instead of splitting the word in two.
_INNER_APOSTROPHE = re.compile(r"(?<=\w)['’`ʼ](?=\w)")
# Anything that is not a letter or a digit separates words; this also removes emoji.
_NON_WORD = re.compile(r"[^\w]+|_+")


def normalize(text: str) -> str:
    """Lowercase, ё -> е, punctuation and emoji -> space, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    text = _INNER_APOSTROPHE.sub("", text)
    return _NON_WORD.sub(" ", text).strip()


def tokenize(text: str) -> list[str]:
    """Words of already-normalized text."""
    return text.split()


def _phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


_PHRASES = _phrase_pattern(PHRASE_SYNONYMS)


def canonicalize(normalized: str) -> str:
    """Replace multi-word spellings and slang words with their canonical word."""
    text = _PHRASES.sub(lambda m: PHRASE_SYNONYMS[m.group(0)], normalized)
    return " ".join(WORD_SYNONYMS.get(word, word) for word in text.split())


def prepare(text: str) -> str:
    """`normalize` then `canonicalize`: the text form every comparison uses."""
    return canonicalize(normalize(text))


# ---------------------------------------------------------------------------------------------
# Scripts and languages

_CYRILLIC = re.compile(r"[а-я]")
_LATIN = re.compile(r"[a-z]")


def script_of(word: str) -> str | None:
    """ "cyrillic", "latin" or None (digits only / other scripts), by the majority of letters."""
    cyrillic = len(_CYRILLIC.findall(word))
    latin = len(_LATIN.findall(word))
    if cyrillic == latin == 0:
        return None
    return "cyrillic" if cyrillic >= latin else "latin"


_WORD = re.compile(r"\w+")
_RUSSIAN_PHRASES = re.compile(
    "|".join(
        rf"(?<!\w){re.escape(phrase).replace('е', '[её]')}(?!\w)"
        for phrase in sorted(PHRASE_SYNONYMS, key=len, reverse=True)
        if _CYRILLIC.search(phrase)
    ),
    re.IGNORECASE,
)


def spell_out_russian_slang(text: str) -> str:
    """Russian slang, abbreviations and Cyrillic spellings of technical words ("впн", "ноут",
    "учетка") replaced by their canonical words, everything else left as typed: for a sentence
    encoder, which knows standard Russian but not this vocabulary. English words are kept, as
    the encoder knows their variants."""

    def word(match: re.Match[str]) -> str:
        found = match.group(0)
        key = found.lower().replace("ё", "е")
        return WORD_SYNONYMS.get(key, found) if _CYRILLIC.search(key) else found

    def phrase(match: re.Match[str]) -> str:
        return PHRASE_SYNONYMS[match.group(0).lower().replace("ё", "е")]

    return _WORD.sub(word, _RUSSIAN_PHRASES.sub(phrase, text))


# Words that are common in Russian typed in Latin letters and rare in English.
_TRANSLIT_MARKERS = frozenset(
    """
    ne net na v k s po ot do za iz bez kak chto cto shto pochemu pochmu gde kogda mozhno mogu
    nado nuzhno ya menya mne u nas
    vas vy ty eto eta etot dlya pri posle ili ili no uzhe eshe eshche vse vsyo tolko rabotaet
    rabotat ne rabotaet zdravstvuyte zdravstvujte privet pomogite podskazhite pozhaluysta
    pozhalujsta spasibo khochu hochu sdelat sdelal mozhet kto chem tak tam tut gde-to
    """.split()
)
_TRANSLIT_ENDINGS = re.compile(
    r"(?:aya|yaya|oye|iye|ogo|ego|omu|yye|iyu|ayu|ish|ysh|yat|at|it|et|ut|yut|etsya|itsya|"
    r"atsya|tsya|ost|ovat|irovat|nyy|nyi|nij|kiy|kii|skiy|oy|yy|ij|ej)$"
)
_TRANSLIT_CLUSTERS = re.compile(r"zh|kh|shch|sch|ts|yu|ya|yo|iy|yy")


def looks_like_translit(text: str) -> bool:
    """Heuristic: is this Latin-letter text Russian typed in Latin letters?"""
    words = [w for w in tokenize(normalize(text)) if script_of(w) == "latin"]
    if not words:
        return False
    english = sum(1 for w in words if w in STOPWORDS_EN)
    russian = sum(1 for w in words if w in _TRANSLIT_MARKERS)
    russian += 0.5 * sum(
        1
        for w in words
        if w not in STOPWORDS_EN
        and w not in LATIN_TECH_TERMS
        and (_TRANSLIT_ENDINGS.search(w) or _TRANSLIT_CLUSTERS.search(w))
    )
    return russian > english


def detect_language(text: str) -> str | None:
    """ "ru" or "en" from the letters used (and translit heuristics), None when there are none."""
    normalized = normalize(text)
    cyrillic = len(_CYRILLIC.findall(normalized))
    latin = len(_LATIN.findall(normalized))
    if cyrillic == latin == 0:
        return None
    if cyrillic >= latin:
        return "ru"
    return "ru" if looks_like_translit(normalized) else "en"


# ---------------------------------------------------------------------------------------------
# Stemming and terms

_STEMMERS = {
    "cyrillic": snowballstemmer.stemmer("russian"),
    "latin": snowballstemmer.stemmer("english"),
}


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball stem in the language of the word's script; other words are returned as they are."""
    stemmer = _STEMMERS.get(script_of(word) or "")
    if stemmer is None:
        return word
    return stemmer.stemWord(word)


def _stem_synonyms() -> dict[str, str]:
    """Slang caught in any inflection: stem of the slang word -> stem of the canonical word."""
    table: dict[str, str] = {}
    for slang, canonical in WORD_SYNONYMS.items():
        if " " in canonical:
            continue  # expansions into several words only apply to the exact spelling
        slang_stem, canonical_stem = stem(slang), stem(canonical)
        if slang_stem != canonical_stem and len(slang_stem) >= 2:
            table.setdefault(slang_stem, canonical_stem)
    return table


_STEM_SYNONYMS = _stem_synonyms()


@lru_cache(maxsize=200_000)
def term_of(word: str) -> str:
    """The index term of a canonicalized word: its stem, with slang stems mapped to canonical."""
    stemmed = stem(word)
    return _STEM_SYNONYMS.get(stemmed, stemmed)


def is_stopword(word: str) -> bool:
    return word in STOPWORDS_RU or word in STOPWORDS_EN


# ---------------------------------------------------------------------------------------------
# Transliteration

# Longest spellings first; "c" is handled in code (ц before e/i/y, к otherwise).
_LATIN_TO_CYRILLIC: list[tuple[str, str]] = sorted(
    {
        "shch": "щ", "sch": "щ", "tsya": "тся", "sh": "ш", "ch": "ч", "zh": "ж",
        "kh": "х", "ts": "ц", "yo": "е", "jo": "е", "yu": "ю", "ju": "ю", "ya": "я", "ja": "я",
        "ye": "е", "je": "е", "ck": "к", "ph": "ф", "x": "кс", "w": "в", "q": "к", "a": "а",
        "b": "б", "v": "в", "g": "г", "d": "д", "e": "е", "z": "з", "i": "и", "k": "к", "l": "л",
        "m": "м", "n": "н", "o": "о", "p": "п", "r": "р", "s": "с", "t": "т", "u": "у", "f": "ф",
        "h": "х", "j": "й", "'": "ь",
    }.items(),
    key=lambda pair: len(pair[0]),
    reverse=True,
)  # fmt: skip
_CYRILLIC_VOWELS = frozenset("аеиоуыэюя")


@lru_cache(maxsize=100_000)  # every English question word passes here: cache the common ones
def _word_to_cyrillic(word: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(word):
        char = word[i]
        if char == "y" and word[i + 1 : i + 2] not in ("a", "e", "o", "u"):
            # "moy" -> мой, "vy" -> вы, "novyy" -> новый
            out.append("й" if out and out[-1] in _CYRILLIC_VOWELS else "ы")
            i += 1
            continue
        if char == "c" and not word.startswith("ch", i):
            following = word[i + 1 : i + 2]
            out.append("ц" if following in ("e", "i", "y") else "к")
            i += 1
            continue
        for latin, cyrillic in _LATIN_TO_CYRILLIC:
            if word.startswith(latin, i):
                out.append(cyrillic)
                i += len(latin)
                break
        else:
            out.append(char)  # digits and anything unknown stay
            i += 1
    return "".join(out)


def transliterate_to_cyrillic(text: str, keep: Callable[[str], bool] | None = None) -> str:
    """Russian typed in Latin letters back to Cyrillic, word by word, on normalized text.

    Words for which `keep` is true stay in Latin letters; by default these are technical terms
    that Russian speakers write in Latin anyway (vpn, outlook, wifi...).
    """
    if keep is None:
        keep = LATIN_TECH_TERMS.__contains__
    words = tokenize(normalize(text))
    return " ".join(
        w if script_of(w) != "latin" or keep(w) else _word_to_cyrillic(w) for w in words
    )


_CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s",
    "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip


def cyrillic_to_latin(word: str) -> str:
    """Latin spelling of a Cyrillic word, to recognise loanwords ("впн" -> "vpn")."""
    return "".join(_CYRILLIC_TO_LATIN.get(char, char) for char in word)


# ---------------------------------------------------------------------------------------------
# Keyboard layout

_QWERTY = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`"
_JCUKEN = "йцукенгшщзхъфывапролджэячсмитьбюё"
_TO_CYRILLIC_LAYOUT = str.maketrans(_QWERTY, _JCUKEN)
_TO_LATIN_LAYOUT = str.maketrans(_JCUKEN, _QWERTY)


def switch_keyboard_layout(text: str) -> str:
    """Retype text as if the other keyboard layout had been on ("ghbdtn" -> "привет",
    "руддщ" -> "hello"). Works on raw text: the keys for х ъ ж э б ю are punctuation in the
    Latin layout. The direction follows the majority script."""
    lowered = text.lower()
    if script_of(lowered) == "cyrillic":
        return lowered.translate(_TO_LATIN_LAYOUT)
    return lowered.translate(_TO_CYRILLIC_LAYOUT)


# ---------------------------------------------------------------------------------------------
# Character n-grams


def char_ngrams(text: str, n: int = 3) -> set[str]:
    """Character n-grams of each word padded with spaces; whole short words count as one gram."""
    grams: set[str] = set()
    for word in text.split():
        padded = f" {word} "
        if len(padded) <= n:
            grams.add(padded)
            continue
        grams.update(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams
