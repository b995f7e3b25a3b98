"""Normalization: case, ё, punctuation, emoji, stemming, transliteration, keyboard layout."""

from __future__ import annotations

import pytest

from knowledge.normalize import (
    canonicalize,
    cyrillic_to_latin,
    detect_language,
    is_stopword,
    looks_like_translit,
    normalize,
    prepare,
    script_of,
    spell_out_russian_slang,
    stem,
    switch_keyboard_layout,
    term_of,
    tokenize,
    transliterate_to_cyrillic,
)


def test_normalize_lowercases_and_replaces_yo() -> None:
    assert normalize("ЁЛКА Ещё Всё") == "елка еще все"


def test_normalize_strips_punctuation_emoji_and_extra_whitespace() -> None:
    assert normalize("  Не работает VPN!!! 😡👋  ...почему?? ") == "не работает vpn почему"


def test_normalize_keeps_digits_and_joins_apostrophes() -> None:
    assert normalize("Can't open Excel 2016") == "cant open excel 2016"
    assert normalize("pol'zovatel'") == "polzovatel"


def test_normalize_of_only_emoji_is_empty() -> None:
    assert normalize("🙂🙂 !!!") == ""
    assert tokenize(normalize("🙂")) == []


def test_canonicalize_joins_spellings_and_maps_slang() -> None:
    assert canonicalize(normalize("Wi-Fi и e-mail")) == "wifi и email"
    assert prepare("вай-фай не ловит") == "wifi не ловит"
    assert prepare("учётная запись заблокирована") == "аккаунт заблокирована"
    assert prepare("Не работает впн на ноуте") == "не работает vpn на ноуте"


@pytest.mark.parametrize(
    ("word", "script"),
    [
        ("привет", "cyrillic"),
        ("hello", "latin"),
        ("2024", None),
        ("vpnклиент", "cyrillic"),  # the majority of letters decides
        ("wifiщ", "latin"),
    ],
)
def test_script_of(word: str, script: str | None) -> None:
    assert script_of(word) == script


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Не работает принтер", "ru"),
        ("printer is not working", "en"),
        ("ne rabotaet printer", "ru"),  # Russian typed in Latin letters
        ("kak sbrosit parol", "ru"),
        ("how do I reset my password", "en"),
        ("👍", None),
        ("12345", None),
    ],
)
def test_detect_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language


def test_stemming_is_language_aware() -> None:
    # Russian inflections share a stem.
    assert stem("принтер") == stem("принтера") == stem("принтеру")
    assert stem("подключается") == stem("подключаться")
    # English too, with the English stemmer (a Russian one would leave these apart).
    assert stem("connecting") == stem("connection") == stem("connected")
    assert stem("passwords") == stem("password")
    # Words of other scripts pass through.
    assert stem("2fa") == "2fa"


def test_term_of_maps_inflected_slang_to_the_canonical_term() -> None:
    assert term_of("компа") == term_of("компьютер")
    assert term_of("ноута") == term_of("ноутбук")
    assert term_of("stolen") == term_of("steal")  # irregular verbs


def test_stopwords_cover_both_languages() -> None:
    assert is_stopword("как") and is_stopword("the") and is_stopword("пожалуйста")
    assert not is_stopword("принтер") and not is_stopword("printer")


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        ("ne rabotaet vpn", "не работает vpn"),  # technical terms stay in Latin letters
        ("zabyl parol", "забыл парол"),
        ("moy noutbuk slomalsya", "мой ноутбук сломался"),
        ("kak podklyuchitsya k wifi", "как подключится к wifi"),
        ("shchetka", "щетка"),
        ("novyy", "новый"),
    ],
)
def test_transliterate_to_cyrillic(latin: str, cyrillic: str) -> None:
    assert transliterate_to_cyrillic(latin) == cyrillic


def test_transliterate_respects_custom_keep_list() -> None:
    assert transliterate_to_cyrillic("vpn ne rabotaet", keep=lambda w: False) == "впн не работает"


def test_looks_like_translit() -> None:
    assert looks_like_translit("ne prihodit sms s kodom")
    assert not looks_like_translit("sms code does not arrive")
    assert not looks_like_translit("не приходит смс")  # not Latin at all


def test_cyrillic_to_latin_recognises_loanwords() -> None:
    assert cyrillic_to_latin("впн") == "vpn"
    assert cyrillic_to_latin("зум") == "zum"


def test_switch_keyboard_layout_both_ways() -> None:
    assert switch_keyboard_layout("ghbdtn") == "привет"
    assert switch_keyboard_layout("Ghbynth yt gtxfnftn") == "принтер не печатает"
    assert switch_keyboard_layout("руддщ") == "hello"


def test_russian_slang_is_spelt_out_for_the_encoder_and_the_rest_kept_as_typed() -> None:
    assert spell_out_russian_slang("Удаленка, ВПН не цепляется!") == "Удаленка, vpn не цепляется!"
    assert spell_out_russian_slang("Учётная запись заблокирована") == "аккаунт заблокирована"
    assert spell_out_russian_slang("ноут не видит флешку") == "ноутбук не видит usb"
    assert spell_out_russian_slang("my PC is slow, text me") == "my PC is slow, text me"
