"""Runs the bot against the terminal: each typed (or scripted) line is one message; after each,
the outbox is drained so the transcript shows every reply in order."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterable
from typing import TextIO

from bot.app import App
from channels.console import ConsoleAdapter, ConsoleInput

PROMPT = "> "


async def lines_from(source: Iterable[str]) -> AsyncIterator[str]:
    for line in source:
        yield line


async def lines_from_terminal(out: TextIO) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    while True:
        out.write(PROMPT)
        out.flush()
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        yield line


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
