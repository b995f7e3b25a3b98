"""Recognising messages that are not questions: greetings, thanks, a request for a person, noise.

The engine never answers these with an article; on "human" it opens a ticket straight away.
"""

from __future__ import annotations

import re
from functools import lru_cache

from knowledge.normalize import (
    normalize,
    script_of,
    switch_keyboard_layout,
    transliterate_to_cyrillic,
)

__all__ = ["SMALL_TALK_KINDS", "classify_small_talk"]

SMALL_TALK_KINDS = ("greeting", "thanks", "human", "noise")

# Words that may accompany a greeting or thanks without making the message a question.
_FILLER = frozenset(
    """
    всем все вам тебе и а ну да ок ладно еще раз очень большое огромное пребольшое добрый доброе
    доброго день дня вечер вечера утро утра ночи коллеги ребята друзья бот уважаемые уважаемый
    there all everyone guys folks team you so much very a lot bot good morning afternoon evening
    day again dear and ok okay much many really
    """.split()
)
_GREETING_WORDS = frozenset(
    """
    привет приветик приветствую здравствуйте здрасте здравствуй здрасьте хай салют ку йоу
    добрый доброе доброго hi hello hey hiya howdy greetings yo morning
    """.split()
)
_THANKS_WORDS = frozenset(
    """
    спасибо спс пасиб пасибо спасиб благодарю благодарствую сенкс мерси thanks thank thx ty tnx
    cheers appreciated appreciate помогло помогли получилось заработало работает разобрался
    разобралась helped worked works solved great perfect awesome супер отлично
    """.split()
)
# Words that mean thanks on their own; the others ("помогло", "great") only alongside them.
_THANKS_CORE = frozenset(
    "спасибо спс пасиб пасибо спасиб благодарю благодарствую сенкс мерси thanks thank thx ty tnx "
    "cheers appreciated appreciate".split()
)
_NOISE_WORDS = frozenset(
    """
    ок окей оке ok okay k kk ага угу ясно понял поняла понятно хорошо ладно да нет yes no yep
    nope yeah hmm хм хмм ммм эм test тест lol ух вау wow ну so
    """.split()
)
_LAUGHTER = re.compile(r"^(?:(?:а?ха)+х?|(?:ha)+h?|(?:хе)+|(?:he)+|lo+l|lmao|ахах\w*|хах\w*|)$")

# A request for a person. Strong words name one on their own ("оператор", "human"): a short
# message or any asking verb makes it a request. Weak words ("человек", "support") need a verb of
# contacting ("позовите", "talk to"), or "живой"/"real" in front.
_STRONG_PERSON = re.compile(
    r"(?<!\w)(?:оператор\w*|human|humans|operator|operators|agent|representative)(?!\w)"
)
_WEAK_PERSON = re.compile(
    r"(?<!\w)(?:человек\w*|люд(?:ей|и|ям)|сотрудник\w*|специалист\w*|менеджер\w*|"
    r"консультант\w*|поддержк\w*|саппорт\w*|person|people|someone|somebody|staff|support|"
    r"manager|rep)(?!\w)"
)
_LIVE = re.compile(
    r"(?<!\w)(?:жив\w*|реальн\w*|настоящ\w*|real|live|actual)\s+"
    r"(?:человек\w*|люд\w*|сотрудник\w*|оператор\w*|human|person|agent|people|operator)"
)
_CONTACT_VERB = re.compile(
    r"(?<!\w)(?:позов\w*|позвать|позвоните|соедин\w*|переключ\w*|свяж\w*|связат\w*|"
    r"поговорит\w*|пообщат\w*|вызов\w*|передайте|talk|speak|chat|connect|transfer|escalate|"
    r"contact)(?!\w)"
)
_ASK_VERB = re.compile(
    r"(?<!\w)(?:дайте|нужен|нужна|хочу|давайте|want|need|get|give|please|pls|plz)(?!\w)"
)
# At most this many words for a message that only names a person ("оператор!", "human please").
_SHORT_REQUEST_WORDS = 3
# Longer messages are questions, even if they mention a person.
_LONGEST_REQUEST_WORDS = 12


def _content(words: list[str], extra: frozenset[str] = frozenset()) -> list[str]:
    return [w for w in words if w not in _FILLER and w not in extra]


def _is_human_request(text: str, words: list[str]) -> bool:
    if len(words) > _LONGEST_REQUEST_WORDS:
        return False
    if _LIVE.search(text):
        return True
    if _STRONG_PERSON.search(text):
        return len(words) <= _SHORT_REQUEST_WORDS or bool(
            _ASK_VERB.search(text) or _CONTACT_VERB.search(text)
        )
    return bool(_WEAK_PERSON.search(text) and _CONTACT_VERB.search(text))


@lru_cache(maxsize=4096)  # a first message is classified twice (the welcome, then the flow)
def classify_small_talk(text: str) -> str | None:
    """ "greeting", "thanks", "human", "noise" or None (a real message worth matching)."""
    normalized = normalize(text)
    words = normalized.split()
    if not words or all(_LAUGHTER.match(w) for w in words):
        return "noise"
    readings = _readings(text, normalized, words)
    if any(_is_human_request(reading, reading.split()) for reading in readings):
        return "human"
    for reading in readings:
        kind = _pleasantry(reading.split())
        if kind is not _UNDECIDED:
            return kind
    if len(words) == 1 and len(words[0]) == 1:
        return "noise"  # a single letter or digit
    return None


_UNDECIDED = "undecided"


def _readings(text: str, normalized: str, words: list[str]) -> list[str]:
    """Russian typed in Latin letters ("pozovite operatora") or with the wrong keyboard layout
    ("ghbdtn"): those readings are checked too; English rarely reads as anything in them."""
    readings = [normalized, normalize(switch_keyboard_layout(text))]
    if any(script_of(w) == "latin" for w in words):
        readings.append(transliterate_to_cyrillic(normalized))
    return readings


def _pleasantry(words: list[str]) -> str | None:
    """What a message of greetings, thanks and filler is; `_UNDECIDED` for anything else."""
    if not _content(words, _GREETING_WORDS | _THANKS_WORDS):
        if any(w in _THANKS_CORE for w in words):
            return "thanks"
        if any(w in _GREETING_WORDS for w in words):
            return "greeting"
        if all(w in _THANKS_WORDS or w in _FILLER for w in words):
            return None if len(words) > 1 else "noise"
    if len(words) <= 3 and all(
        w in _NOISE_WORDS or _LAUGHTER.match(w) or w in _FILLER for w in words
    ):
        return "noise"
    return _UNDECIDED
