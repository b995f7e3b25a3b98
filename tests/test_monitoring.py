"""A deployment you can watch: /healthz and /metrics of a real `helpdesk run` process, JSON
logs, and the health check when the database does not answer."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.monitoring import Monitor
from core.domain import Priority
from storage import SqlStore
from storage.urls import parse_database_url
from tests.fakes.telegram import FakeTelegram
from tests.process import helpdesk_process, telegram_config
from tests.test_sla import TARGETS, berlin, check_at, helpdesk

USER, OTHER = 4242, 4343


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a Prometheus exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_a_running_process_reports_its_health_and_metrics(tmp_path):
    port = free_port()
    async with FakeTelegram() as telegram:
        telegram.add_user(USER, "Olga", language_code="en")
        telegram.add_user(OTHER, "Oleg", language_code="en")
        monitoring = f"""
[bot]
log_format = "json"

[http]
port = {port}
monitoring = true
"""
        async with helpdesk_process(telegram_config(tmp_path, telegram, monitoring)) as process:
            telegram.inject(
                telegram.make_text_update(USER, "How do I reset a forgotten password?"),
                telegram.make_text_update(OTHER, "/new the printer on floor 3 is jammed"),
            )
            await telegram.wait_until(
                lambda: telegram.sent_messages(USER) and telegram.sent_messages(OTHER), within=60
            )
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                for _ in range(50):  # the last send's record commits just after the send
                    async with http.get(f"{base}/metrics") as response:
                        assert response.status == 200
                        metrics = samples(await response.text())
                    if metrics[("helpdesk_outbox_depth", ())] == 0:
                        break
                    await asyncio.sleep(0.1)
                async with http.get(f"{base}/healthz") as response:
                    health = (response.status, await response.json())
        stderr = (await process.stderr.read()).decode()

    telegram_label = (("channel", "telegram"),)
    assert metrics[("helpdesk_messages_in_total", telegram_label)] == 2
    assert metrics[("helpdesk_handling_seconds_count", telegram_label)] == 2
    # The answer, the ticket's number to Oleg, its announcement to the staff.
    assert metrics[("helpdesk_messages_out_total", telegram_label)] == 3
    assert metrics[("helpdesk_kb_decisions_total", (("decision", "answer"),))] == 1
    assert metrics[("helpdesk_database_up", ())] == 1
    assert metrics[("helpdesk_outbox_oldest_seconds", ())] == 0
    status, body = health
    assert status == 200 and body["status"] == "ok" and body["outbox_pending"] == 0
    assert body["channels"]["telegram"]["last_contact"] is not None  # getUpdates answered
    assert metrics[("helpdesk_channel_last_contact_timestamp_seconds", telegram_label)] > 0
    assert body["channels"]["telegram"]["last_inbound"] is not None
    assert body["channels"]["telegram"]["last_outbound"] is not None
    records = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    running = next(r for r in records if r["message"] == "helpdesk running")
    assert running["level"] == "INFO" and running["channels"] == ["telegram"]


async def test_health_is_unavailable_while_the_database_does_not_answer():
    """A store whose PostgreSQL server is down (nothing listens on port 1)."""
    store = SqlStore(parse_database_url("postgresql://nobody@127.0.0.1:1/none"))
    monitor = Monitor(store, ["telegram"])
    try:
        response = await monitor.healthz(None)
        assert response.status == 503
        body = json.loads(response.body)
        assert body["status"] == "unavailable" and body["outbox_pending"] is None
        metrics = samples((await monitor.metrics(None)).body.decode())
        assert metrics[("helpdesk_database_up", ())] == 0
    finally:
        await store.close()


async def test_sla_warnings_and_breaches_are_counted(store):
    bot = helpdesk(store, berlin(2026, 3, 2, 9, 0))
    monitor = Monitor(store, ["memory"])
    monitor.start()
    try:
        await bot.user_says("/new the VPN drops every five minutes")
        assert TARGETS[Priority.NORMAL].first_response.total_seconds() == 3600
        await check_at(bot, berlin(2026, 3, 2, 9, 50))  # 80% of the hour: a warning
        await check_at(bot, berlin(2026, 3, 2, 10, 1))  # the hour passed: a breach
    finally:
        monitor.stop()
    metrics = samples((await monitor.metrics(None)).body.decode())
    assert metrics[("helpdesk_sla_events_total", (("event", "response_warning"),))] == 1
    assert metrics[("helpdesk_sla_events_total", (("event", "response_breach"),))] == 1
