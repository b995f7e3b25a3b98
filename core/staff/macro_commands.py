"""Canned replies: `/macro add NAME` + text, `/macro list`, `/macro del NAME`, and `/m NAME` in
a ticket's thread, which sends the macro to the user in their language as an agent reply (the
ticket stays as it is, unlike /faq_send).

    /macro add reset
    en: Hi {name}, your password is reset. {agent}
    ru: {name}, пароль сброшен. {agent}

Lines starting "en:" or "ru:" begin that language's text (it may span lines); a text without
them is for every language. Placeholders: {name} (the user), {ticket} (its number), {agent}
(who sends it); anything else in braces is sent as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.commands import Command
from core.domain import Role, Ticket
from core.domain_toolkit import Macro
from core.i18n import SUPPORTED_LANGUAGES
from core.router import Place, Router
from core.text import shorten
from core.tickets.desk import TicketDesk
from core.turn import Turn

ANY_LANGUAGE = ""
NAME = re.compile(r"^[\w-]{1,32}$")
MACRO_TEXT_LENGTH = 4000
_LANGUAGE_LINE = re.compile(rf"^({'|'.join(SUPPORTED_LANGUAGES)}):[ \t]?(.*)$", re.I)
_PLACEHOLDER = re.compile(r"{(name|ticket|agent)}")


def parse_texts(body: str) -> dict[str, str]:
    """The texts of a macro by language ("" for a text without a language line)."""
    texts: dict[str, list[str]] = {}
    language = ANY_LANGUAGE
    for line in body.splitlines():
        if match := _LANGUAGE_LINE.match(line.strip()):
            language = match.group(1).lower()
            line = match.group(2)
        texts.setdefault(language, []).append(line)
    joined = {lang: "\n".join(lines).strip() for lang, lines in texts.items()}
    return {lang: text for lang, text in joined.items() if text}


def fill(text: str, **values: str) -> str:
    """The placeholders filled; other braces are left as typed (no str.format surprises)."""
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


@dataclass(eq=False)
class MacroCommands:
    desk: TicketDesk

    def register(self, router: Router) -> None:
        router.add("macro", self.macro, role=Role.AGENT, place=Place.STAFF, help="help.staff.macro")
        router.add(
            "m", self.send, role=Role.AGENT, place=Place.STAFF, ticket=True,
            help="help.staff.m", usage="staff.usage.m",
        )  # fmt: skip

    def text(self, key: str, **params: object) -> str:
        return self.desk.tell.staff_text(key, **params)

    async def macro(self, turn: Turn, command: Command) -> None:
        action, name, body = [*command.args.split(None, 2), "", "", ""][:3]
        name = name.lower()
        if action == "list":
            await self._list(turn)
        elif action == "add" and NAME.match(name) and parse_texts(body):
            await self._add(turn, name, parse_texts(body))
        elif action == "del" and NAME.match(name):
            await self._delete(turn, name)
        else:
            await turn.reply(self.text("staff.usage.macro"))

    async def _add(self, turn: Turn, name: str, texts: dict[str, str]) -> None:
        if any(len(text) > MACRO_TEXT_LENGTH for text in texts.values()):
            await turn.reply(self.text("staff.macro_too_long", limit=MACRO_TEXT_LENGTH))
            return
        new = await turn.tx.macros.put(name, texts, turn.actor or "", turn.now)
        await turn.audit("macro.add" if new else "macro.edit", "macro", name, after=texts)
        key = "staff.macro_added" if new else "staff.macro_replaced"
        languages = ", ".join(sorted(lang or "*" for lang in texts))
        await turn.reply(self.text(key, name=name, languages=languages))

    async def _delete(self, turn: Turn, name: str) -> None:
        macro = await turn.tx.macros.get(name)
        if macro is None:
            await turn.reply(self.text("staff.macro_missing", name=name))
            return
        await turn.tx.macros.delete(name)
        await turn.audit("macro.delete", "macro", name, before=macro.texts)
        await turn.reply(self.text("staff.macro_deleted", name=name))

    async def _list(self, turn: Turn) -> None:
        macros = await turn.tx.macros.list()
        if not macros:
            await turn.reply(self.text("staff.macro_none"))
            return
        lines = [self.text("staff.macro_list_header", count=len(macros))]
        for macro in macros:
            first = next(iter(macro.texts.values()))
            languages = ", ".join(sorted(lang or "*" for lang in macro.texts))
            lines.append(
                self.text(
                    "staff.macro_list_line", name=macro.name, languages=languages,
                    text=shorten(first.replace("\n", " "), 60),
                )
            )  # fmt: skip
        await turn.reply("\n".join(lines))

    async def send(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        name = command.args.strip().lower()
        macro = await turn.tx.macros.get(name) if name else None
        if macro is None:
            await turn.reply(self.text("staff.macro_missing", name=name or "—"))
            return
        user = await turn.tx.users.get(ticket.user_id)
        language = await self.desk.tell.owner_language(turn, ticket)
        text = fill(
            _in_language(macro, language, self.desk.staff_language),
            name=user.name if user else "",
            ticket=str(ticket.number),
            agent=turn.user.name,
        )
        await self.desk.relay_agent_reply(turn, ticket, text, ())
        await turn.audit("macro.send", "ticket", ticket.id, after={"macro": name})


def _in_language(macro: Macro, language: str, fallback: str) -> str:
    """The user's language, else the one for every language, else the staff's, else any."""
    texts = macro.texts
    for choice in (language, ANY_LANGUAGE, fallback):
        if choice in texts:
            return texts[choice]
    return next(iter(texts.values()))
