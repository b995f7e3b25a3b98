"""`helpdesk run` wiring: channels built from the TOML settings, one process, clean stop.

Cross-platform: a Telegram user (long polling) with the staff chat in a Slack channel (Socket
Mode), everything configured the way an operator would write config.toml."""

from __future__ import annotations

import asyncio
import signal

from bot.config import load_settings
from bot.runner import build_channels, run_service
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.process import helpdesk_process, telegram_config

STAFF = "C0STAFF"
USER = 4242


def _config(tmp_path, telegram: FakeTelegram, slack: FakeSlack):
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[database]
url = "sqlite+aiosqlite:///helpdesk.sqlite3"

[staff]
channel = "slack"
chat_id = "{STAFF}"

[telegram]
enabled = true
token = "{telegram.token}"
api_base_url = "{telegram.base_url}"
polling_timeout = 1

[slack]
enabled = true
mode = "socket"
bot_token = "{slack.bot_token}"
app_token = "{slack.app_token}"
api_base_url = "{slack.base_url}"

[console]
enabled = false
""",
        encoding="utf-8",
    )
    return load_settings(path, env={})


async def test_telegram_user_with_slack_staff_channel_through_helpdesk_run(tmp_path):
    async with FakeTelegram() as telegram, FakeSlack() as slack:
        settings = _config(tmp_path, telegram, slack)
        assert sorted(build_channels(settings)) == ["slack", "telegram"]
        telegram.add_user(USER, "Olga", language_code="en")
        stop = asyncio.Event()
        service = asyncio.create_task(run_service(settings, stop=stop))
        try:
            await slack.wait_for_socket()
            telegram.inject(
                telegram.make_text_update(USER, "/new the printer on floor 3 is jammed")
            )

            await slack.wait_until(lambda: slack.sent_to(STAFF), within=10)
            announcement = slack.sent_to(STAFF)[0]
            assert "Ticket #1" in announcement["text"] and "Olga" in announcement["text"]

            await slack.send_event(
                slack.make_channel_message_event(
                    STAFF,
                    "UAGENT",
                    "Hi Olga, a technician is on the way",
                    thread_ts=announcement["ts"],
                )
            )
            await telegram.wait_until(
                lambda: any("technician is on the way" in m.get("text", "")
                            for m in telegram.sent_messages(USER)),
                within=10,
            )  # fmt: skip
        finally:
            stop.set()
            await asyncio.wait_for(service, timeout=20)
    assert service.exception() is None


async def test_helpdesk_run_process_answers_and_stops_cleanly_on_sigterm(tmp_path):
    """The real command in its own process: answers a Telegram user, then SIGTERM stops it
    with exit status 0 (channels stopped, outbox drained, database closed)."""
    async with FakeTelegram() as telegram:
        telegram.add_user(USER, "Olga", language_code="en")
        async with helpdesk_process(telegram_config(tmp_path, telegram)) as process:
            telegram.inject(telegram.make_text_update(USER, "How do I reset a forgotten password?"))
            await telegram.wait_until(lambda: telegram.sent_messages(USER), within=30)
            process.send_signal(signal.SIGTERM)
            status = await asyncio.wait_for(process.wait(), timeout=30)
        stderr = (await process.stderr.read()).decode()
    assert status == 0, stderr
    assert "stopped" in stderr
    assert "Forgot password" in telegram.sent_messages(USER)[-1]["text"]


async def test_housekeeping_forgets_old_deliveries_and_sent_messages(store):
    from datetime import UTC, datetime, timedelta

    from bot.runner import RETENTION, forget_old_records
    from core.messages import ConversationRef, OutgoingMessage

    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    async with store.transaction() as tx:
        await tx.updates.claim("telegram", "old-1", long_ago)
        item = await tx.outbox.enqueue(
            OutgoingMessage(ConversationRef("telegram", "1"), "hi"), long_ago
        )
        await tx.outbox.mark_sent_many([(item, 1)], long_ago)
        await tx.outbox.enqueue(
            OutgoingMessage(ConversationRef("telegram", "1"), "pending"), long_ago
        )
    now = long_ago + RETENTION + timedelta(days=1)
    assert await forget_old_records(store, now) == (1, 1)
    async with store.transaction() as tx:
        assert await tx.updates.claim("telegram", "old-1", now)  # forgotten
        assert await tx.outbox.count_pending() == 1  # unsent messages are never pruned
