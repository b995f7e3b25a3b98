"""`helpdesk run` as a process of its own, the way an operator starts it, for the tests that
need the real command: a Telegram user on the fake server, the staff chat in a forum."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.fakes.telegram import FakeTelegram


def telegram_config(
    directory: Path, telegram: FakeTelegram, more: str = "", staff: str = ""
) -> Path:
    """config.toml with SQLite, Telegram against `telegram` and the console off; `more`: further
    TOML (sections of the test's own); `staff`: further keys of [staff]."""
    config = directory / "config.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///helpdesk.sqlite3"

[telegram]
enabled = true
token = "{telegram.token}"
api_base_url = "{telegram.base_url}"
polling_timeout = 1

[staff]
channel = "telegram"
chat_id = "-1001234567890"
{staff}
[console]
enabled = false
{more}""",
        encoding="utf-8",
    )
    return config


@asynccontextmanager
async def helpdesk_process(config: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """The running process (stdout and stderr piped); SIGTERM when the block ends, if the test
    did not stop it itself."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "run",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()
