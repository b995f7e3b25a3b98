"""`/faq`: the user browses the knowledge base (topics, then their articles) or searches it
(`/faq WORDS`). Reading an article this way is not a question: nothing is logged, learned or
ticketed, and the article comes with the usual "helped / did not help" buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.commands import Command, command_text
from core.domain import FaqEntry
from core.knowledge_base import KnowledgeBase
from core.messages import Button
from core.text import shorten
from core.turn import Turn

PAGE = 8  # article buttons per message
LABEL_LENGTH = 60
SEARCH_RESULTS = 5
# How sure the matcher must be that a search result is about the words (the suggestion floor
# would drop nothing but noise; a search shows what is near, the user picks).
SEARCH_FLOOR = 0.2


@dataclass(eq=False)
class FaqBrowser:
    knowledge: KnowledgeBase
    # How the chosen article is sent (the user flow's way, with its buttons).
    send_article: Callable[[Turn, FaqEntry], Awaitable[None]]

    async def faq(self, turn: Turn, command: Command) -> None:
        if command.args:
            await self._search(turn, command.args)
            return
        entries = self._entries(turn)
        if not entries:
            await turn.reply(turn.t("faq.empty"))
            return
        # A topic's button names it by its first article: short, and stable across edits of
        # the other topics (Telegram allows 64 bytes of button data).
        first: dict[str, FaqEntry] = {}
        for entry in entries:
            first.setdefault(self._topic_of(turn, entry), entry)
        rows = tuple(
            (Button(shorten(name, LABEL_LENGTH), command_text("topic", entry.id)),)
            for name, entry in sorted(first.items(), key=lambda item: item[0].casefold())
        )
        await turn.reply(turn.t("faq.topics"), rows)

    async def topic(self, turn: Turn, command: Command) -> None:
        anchor = self.knowledge.get(command.int_arg() or 0)
        page = max(command.int_arg(1) or 1, 1)
        if anchor is None:
            await turn.reply(turn.t("user.article_gone"))
            return
        name = self._topic_of(turn, anchor)
        articles = [e for e in self._entries(turn) if self._topic_of(turn, e) == name]
        start = (page - 1) * PAGE
        shown = articles[start : start + PAGE]
        rows = [_read_button(entry) for entry in shown]
        if start + PAGE < len(articles):
            more = command_text("topic", anchor.id, page + 1)
            rows.append((Button(turn.t("button.more"), more),))
        await turn.reply(turn.t("faq.in_topic", topic=name), tuple(rows))

    async def read(self, turn: Turn, command: Command) -> None:
        entry = self.knowledge.get(command.int_arg() or 0)
        if entry is None:
            await turn.reply(turn.t("user.article_gone"))
            return
        await self.send_article(turn, entry)

    async def _search(self, turn: Turn, words: str) -> None:
        found = [
            match
            for match in self.knowledge.search(words, turn.language, limit=SEARCH_RESULTS)
            if match.confidence >= SEARCH_FLOOR
        ]
        entries = [e for m in found if (e := self.knowledge.get(m.entry_id)) is not None]
        if not entries:
            await turn.reply(turn.t("faq.nothing_found", words=shorten(words, LABEL_LENGTH)))
            return
        await turn.reply(turn.t("faq.found"), tuple(_read_button(e) for e in entries))

    def _entries(self, turn: Turn) -> list[FaqEntry]:
        """The articles in the user's language (all of them when none is), by number."""
        entries = sorted(self.knowledge.entries.values(), key=lambda e: e.id)
        own = [e for e in entries if e.language == turn.language]
        return own or entries

    @staticmethod
    def _topic_of(turn: Turn, entry: FaqEntry) -> str:
        return entry.category or turn.t("faq.other_topic")


def _read_button(entry: FaqEntry) -> tuple[Button]:
    return (Button(shorten(entry.question, LABEL_LENGTH), command_text("read", entry.id)),)
