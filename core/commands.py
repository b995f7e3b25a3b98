"""Commands: what a user typed ("/close 12") or pressed (a button whose payload is "/close 12").

A button press and a typed command are the same action, so buttons carry the command text as their
payload and both go through `parse_command`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# "/cmd", "/cmd@BotName", then anything (arguments may span several lines).
_COMMAND = re.compile(
    r"^/([A-Za-z][A-Za-z0-9_]{0,31})(?:@[A-Za-z0-9_]+)?(?:[ \t]+|\n|$)(.*)\Z", re.S
)


@dataclass(frozen=True)
class Command:
    name: str
    args: str = ""

    @property
    def words(self) -> list[str]:
        return self.args.split()

    def int_arg(self, position: int = 0) -> int | None:
        """The argument at `position` as a ticket/entry number ("12" or "#12"), else None."""
        words = self.words
        if position >= len(words):
            return None
        word = words[position].lstrip("#")
        return int(word) if word.isdigit() and len(word) < 10 else None


def parse_command(text: str | None) -> Command | None:
    if not text:
        return None
    match = _COMMAND.match(text.strip())
    if not match:
        return None
    return Command(match.group(1).lower(), match.group(2).strip())


def command_text(name: str, *args: object) -> str:
    """The payload of a button that stands for a command."""
    return " ".join([f"/{name}", *(str(a) for a in args)])
