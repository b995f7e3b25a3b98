"""Small talk: greetings, thanks, requests for a person, noise, and real questions left alone."""

from __future__ import annotations

import pytest

from knowledge.smalltalk import SMALL_TALK_KINDS, classify_small_talk


@pytest.mark.parametrize(
    "text",
    [
        "Привет!",
        "добрый день",
        "Здравствуйте 👋",
        "hello there",
        "Hi all",
        "good morning",
        "ghbdtn",
    ],
)
def test_greetings(text: str) -> None:
    assert classify_small_talk(text) == "greeting"


@pytest.mark.parametrize(
    "text",
    ["Спасибо!", "спасибо большое, помогло", "спс", "thanks!", "Thank you so much", "spasibo"],
)
def test_thanks(text: str) -> None:
    assert classify_small_talk(text) == "thanks"


@pytest.mark.parametrize(
    "text",
    [
        "оператор",
        "Оператор!!!",
        "позовите человека",
        "соедините с живым оператором",
        "хочу поговорить с сотрудником поддержки",
        "спасибо, но мне нужен оператор",
        "talk to a person",
        "human please",
        "I want to speak to a real person",
        "connect me with an agent",
        "pozovite operatora",  # translit
    ],
)
def test_requests_for_a_person(text: str) -> None:
    assert classify_small_talk(text) == "human"


@pytest.mark.parametrize("text", ["👍", "🙂🙂", "?", "...", "ok", "ок", "ага", "ахахах", "1", ""])
def test_noise(text: str) -> None:
    assert classify_small_talk(text) == "noise"


@pytest.mark.parametrize(
    "text",
    [
        "привет, не работает vpn",  # a greeting with a question is a question
        "Здравствуйте! Принтер не печатает",
        "thanks, but the printer still does not print",
        "хочу добавить человека в канал",  # mentions a person, asks for none
        "i need someone to fix my printer",
        "how do I reset my password",
        "Контакты персонального менеджера",
        "ne rabotaet vpn",
        "оператор связи не ловит в офисе, есть ли у нас wifi для гостей и как к нему подключиться",
    ],
)
def test_real_questions_are_not_small_talk(text: str) -> None:
    assert classify_small_talk(text) is None


def test_kinds_are_the_documented_ones() -> None:
    assert set(SMALL_TALK_KINDS) == {"greeting", "thanks", "human", "noise"}
