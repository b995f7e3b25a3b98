"""The daily digest with a controllable clock (once per day, from its hour, even with two
processes) and `helpdesk report` writing the text, the CSV and the chart."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime, time, timedelta

from bot.cli import main
from core.messages import ConversationRef
from core.tickets.lines import SupportLine
from storage.database import open_store
from tests.harness import CHANNEL, FakeClock, Harness

DAY1 = datetime(2026, 3, 2, 9, tzinfo=UTC)


async def some_history(bot: Harness) -> None:
    await bot.seed()
    bot.clock.now = DAY1
    await bot.user_says("/new printer broken", user="u1")
    await bot.user_says("How do I reset my password?", user="u2")
    bot.clock.advance(minutes=30)
    await bot.agent_replies("Turn it off and on", ticket=1)
    await bot.agent_replies("/close", ticket=1)


async def test_the_digest_goes_out_once_a_day_from_its_hour(store):
    bot = Harness(store, FakeClock(DAY1), digest_at=time(9, 0))
    await some_history(bot)
    digest = bot.jobs.digest
    assert digest is not None
    staff_before = len(bot.to_staff())

    bot.clock.now = datetime(2026, 3, 3, 8, 59, tzinfo=UTC)
    assert not await digest.check()
    bot.clock.now = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert await digest.check()
    assert not await digest.check()  # once a day
    await bot.flush()
    text, chart = (d.message for d in bot.to_staff()[staff_before:])
    assert text.text.startswith("🗓 Daily digest\n📊 Report Mar 2, 2026 – Mar 2, 2026 · all lines")
    assert "Tickets: 1 opened, 1 resolved, 1 closed" in text.text
    assert "answered without a ticket: 1 (100%)" in text.text
    assert chart.attachments[0].content.startswith(b"\x89PNG")

    # A restart at noon still sends the next day's digest (nothing was missed for good).
    bot.clock.now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    assert await digest.check()


async def test_two_processes_send_one_digest(store):
    clock = FakeClock(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    first = Harness(store, clock, digest_at=time(9, 0))
    second = Harness(store, clock, digest_at=time(9, 0))
    results = await asyncio.gather(first.jobs.digest.check(), second.jobs.digest.check())
    assert sorted(results) == [False, True]


async def test_each_line_gets_its_own_digest(store):
    l2 = SupportLine("L2", ConversationRef(CHANNEL, "l2-chat"))
    bot = Harness(store, FakeClock(DAY1), digest_at=time(9, 0), more_lines=(l2,))
    await some_history(bot)
    bot.clock.now = DAY1 + timedelta(days=1)
    assert await bot.jobs.digest.check()
    await bot.flush()
    l1_text = bot.to_staff()[-2].message.text
    l2_text = bot.adapter.to_chat("l2-chat")[0].message.text
    assert "· L1" in l1_text and "Tickets: 1 opened" in l1_text
    assert "· L2" in l2_text and "Tickets: 0 opened" in l2_text


def test_helpdesk_report_writes_text_csv_and_chart(tmp_path, capsys):
    database = f"sqlite+aiosqlite:///{tmp_path}/helpdesk.sqlite3"

    async def seed() -> None:
        store = await open_store(database)
        try:
            await some_history(Harness(store, FakeClock(DAY1)))
        finally:
            await store.close()

    asyncio.run(seed())
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{database}"\n', encoding="utf-8")
    figures, chart = tmp_path / "figures.csv", tmp_path / "chart.png"
    code = main(
        ["--config", str(config), "report", "--from", "2026-03-01", "--to", "2026-03-02",
         "--csv", str(figures), "--png", str(chart)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("📊 Report Mar 1, 2026 – Mar 2, 2026 · all lines")
    assert "Tickets: 1 opened, 1 resolved, 1 closed" in out
    rows = dict(csv.reader(figures.open(encoding="utf-8")))
    assert rows["metric"] == "value"
    assert rows["tickets.opened"] == "1" and rows["first_response.median_seconds"] == "1800"
    assert rows["day.2026-03-01.opened"] == "0" and rows["day.2026-03-02.opened"] == "1"
    assert chart.read_bytes().startswith(b"\x89PNG")

    assert main(["--config", str(config), "report", "--from", "2026-03-05", "--to", "x"]) == 1
    assert "--from and --to" in capsys.readouterr().err
    assert (
        main(["--config", str(config), "report", "--from", "2026-03-01", "--to", "2026-03-02",
              "--line", "L9"])
        == 1
    )  # fmt: skip
    assert "no support line 'L9'" in capsys.readouterr().err
