"""`helpdesk demo` as a newcomer meets it: their settings honoured, a clean transcript, pasted
lines taken as one message, and Ctrl-C that quits."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import re
import select
import signal
import sys
import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.console_session import PASTE_WINDOW, lines_from_terminal

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_faq_add() -> str:
    """The multi-line /faq_add the README tells admins to paste into the demo."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```\n(admin> /faq_add\n.*?)```", text, re.S)
    assert block, "README shows a /faq_add example for the demo"
    return block.group(1)


def test_the_demo_honours_the_config_but_talks_only_to_the_terminal(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[bot]
name = "Acme Desk"
[database]
url = "sqlite+aiosqlite:///{tmp_path}/production.sqlite3"
[knowledge]
semantic = false
[telegram]
enabled = true
token = "123:ABC"
[staff]
channel = "telegram"
chat_id = "-1001234"
lines = [{{ name = "billing", channel = "telegram", chat_id = "-1005678" }}]
[roles]
admins = ["telegram:1"]
""",
        encoding="utf-8",
    )
    script = tmp_path / "demo.txt"
    script.write_text("hello\nadmin> /faq_show 1\n", encoding="utf-8")

    assert main(["demo", "--config", str(config), "--script", str(script)]) == 0

    captured = capsys.readouterr()
    assert "I am the Acme Desk support bot" in captured.out  # [bot] name from the file
    assert "bot → staff" in captured.out  # the admin's command answered in the terminal
    assert not (tmp_path / "production.sqlite3").exists()  # the demo has its own database
    assert captured.err == ""  # the log went to the demo's log file


def test_lines_pasted_together_are_one_message_typed_ones_are_not():
    async def scenario() -> list[str]:
        read, write = os.pipe()
        source = os.fdopen(read, encoding="utf-8")
        messages: list[str] = []

        async def collect() -> None:
            async for message in lines_from_terminal(io.StringIO(), source):
                messages.append(message)

        task = asyncio.create_task(collect())
        os.write(write, b"admin> /faq_add\nQ: Wi-Fi?\nA: Choose Office.\n")  # a paste
        await asyncio.sleep(PASTE_WINDOW * 4)
        os.write(write, b"hello\n")  # typed later
        await asyncio.sleep(PASTE_WINDOW * 4)
        os.close(write)
        await asyncio.wait_for(task, 5)
        return messages

    assert asyncio.run(scenario()) == ["admin> /faq_add\nQ: Wi-Fi?\nA: Choose Office.\n", "hello\n"]


class Terminal:
    """`helpdesk demo` in a pseudo-terminal, as a person runs it."""

    def __init__(self, *args: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            os.execv(sys.executable, [sys.executable, "-m", "bot", "demo", *args])
        self.screen = ""

    def wait_for(self, text: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.screen:
            assert time.monotonic() < deadline, f"{text!r} did not appear:\n{self.screen}"
            if select.select([self.fd], [], [], 0.1)[0]:
                self.screen += os.read(self.fd, 65536).decode("utf-8", "replace")

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def exit_status(self, seconds: float) -> int | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            if select.select([self.fd], [], [], 0.1)[0]:
                try:
                    self.screen += os.read(self.fd, 65536).decode("utf-8", "replace")
                except OSError:
                    pass
        return None

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


@pytest.fixture
def terminal(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[knowledge]\nsemantic = false\n", encoding="utf-8")
    started = Terminal("--config", str(config))
    yield started
    started.kill()


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_a_pasted_faq_add_works_and_ctrl_c_quits(terminal):
    terminal.wait_for("Ctrl-C quits")
    terminal.wait_for("\n> ")
    terminal.type(_readme_faq_add())
    terminal.wait_for("Added FAQ entry #")
    terminal.type("How do I connect to the office Wi-Fi?\n")
    terminal.wait_for("sign in with your work account")
    terminal.type("\x03")  # Ctrl-C, with the demo waiting for the next line
    assert terminal.exit_status(seconds=10) == 130, terminal.screen
    assert "Traceback" not in terminal.screen
