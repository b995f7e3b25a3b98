"""Runs the bot against the terminal: each typed (or scripted) line is one message (so are lines
pasted at once); after each, the outbox is drained so the transcript shows every reply in order."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator, Iterable
from typing import TextIO

from bot.app import App
from channels.console import ConsoleAdapter, ConsoleInput

PROMPT = "> "
PASTE_WINDOW = 0.05  # seconds


async def lines_from(source: Iterable[str]) -> AsyncIterator[str]:
    for line in source:
        yield line


async def lines_from_terminal(out: TextIO, source: TextIO | None = None) -> AsyncIterator[str]:
    """Typed lines, one message each; lines pasted together are one message, as in a messenger
    (so a multi-line /faq_add can be pasted as it is)."""
    lines = _LinesReader(source or sys.stdin)
    while True:
        out.write(PROMPT)
        out.flush()
        message = await lines.get()
        if not message:
            return
        # Pasted lines follow one another within milliseconds; typed ones never do.
        while (more := await lines.next_within(PASTE_WINDOW)) is not None:
            if not more:
                lines.end()
                break
            message += more
        yield message


class _LinesReader:
    """Reads lines in a daemon thread, so that Ctrl-C never waits for a blocked read (a read in
    the event loop's executor would hold up its shutdown until Enter)."""

    def __init__(self, source: TextIO) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, args=(source,), daemon=True).start()

    def _read(self, source: TextIO) -> None:
        while True:
            line = source.readline()
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
            except RuntimeError:  # the loop is closed: the session is over
                return
            if not line:
                return

    async def get(self) -> str:
        """The next line; "" at the end of input."""
        return await self._queue.get()

    async def next_within(self, seconds: float) -> str | None:
        """The next line if it comes within `seconds`, else None."""
        try:
            async with asyncio.timeout(seconds):
                return await self._queue.get()
        except TimeoutError:
            return None

    def end(self) -> None:
        self._queue.put_nowait("")  # seen again by the next get()


async def run_console(
    app: App,
    adapter: ConsoleAdapter,
    lines: AsyncIterator[str],
    *,
    echo: bool,
    language_hint: str = "en",
) -> int:
    """Returns the number of messages handled."""
    console = ConsoleInput(adapter, language_hint=language_hint)
    handled = 0
    async with app.ingest:
        async for line in lines:
            message = console.parse(line)
            if message is None:
                continue
            if echo:
                adapter.out.write(f"» {line.rstrip()}\n")
            await app.ingest.submit(message)
            handled += 1
            while await app.sender.deliver_due():
                pass
    return handled
