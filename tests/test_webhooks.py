"""Outbound webhooks: ticket events posted to a local receiver, signed, in order, retried after a
failure, kept across a restart; `/webhooks` shows how each endpoint is doing; and the same
through a real `helpdesk run` process."""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from channels.webhook import WebhookChannel, WebhookTarget, signature
from core.tickets.events import Endpoint
from tests.fakes.telegram import FakeTelegram
from tests.harness import Harness
from tests.process import helpdesk_process, telegram_config
from tests.test_sla import berlin, check_at
from tests.test_sla import helpdesk as sla_helpdesk

SECRET = "a-long-random-webhook-secret"


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1: records every request, answers with `answers` first."""

    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # what it answered to each request
    answers: list[int] = field(default_factory=list)  # statuses for the next requests

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        self.statuses.append(self.answers.pop(0) if self.answers else 200)
        return web.Response(status=self.statuses[-1])

    @property
    def events(self) -> list[dict[str, Any]]:
        """The bodies of the requests it accepted, in order."""
        return [
            json.loads(body)
            for (_, body), status in zip(self.requests, self.statuses, strict=True)
            if status == 200
        ]


@asynccontextmanager
async def receiver(port: int = 0) -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield found
    finally:
        await runner.cleanup()


@asynccontextmanager
async def desk(
    store, url: str, events: frozenset[str] = frozenset(), make=Harness, **options
) -> AsyncIterator[Harness]:
    """The helpdesk (`make`: Harness or a helper building one) with the "crm" endpoint."""
    channel = WebhookChannel({"crm": WebhookTarget("crm", url, SECRET)})
    try:
        yield make(
            store,
            more_adapters={channel.name: channel},
            webhooks=(Endpoint("crm", events),),
            **options,
        )
    finally:
        await channel.close()


def verified(headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: the signature over the raw body, compared in constant time."""
    expected = signature(SECRET, headers["X-Helpdesk-Timestamp"], body)
    return hmac.compare_digest(expected, headers["X-Helpdesk-Signature"])


async def test_ticket_events_arrive_signed_and_in_order(store):
    async with receiver() as hook, desk(store, hook.url) as bot:
        await bot.user_says("/new the printer on floor 3 is on fire")
        await bot.agent_replies("Unplug it, we are coming", 1)
        await bot.deliver(bot.staff_message("/priority urgent", thread=bot.thread_of(1)))
        await bot.user_says("it is out, thanks")
    kinds = [(event["type"], event.get("message", {}).get("direction")) for event in hook.events]
    assert kinds == [
        ("ticket.created", "from_user"),
        ("ticket.message", "to_user"),
        ("ticket.status_changed", None),
        ("ticket.priority_changed", None),
        ("ticket.message", "from_user"),
    ]
    created, reply, status, priority, _ = hook.events
    assert created["ticket"]["number"] == 1 and created["ticket"]["status"] == "new"
    assert created["message"]["text"] == "the printer on floor 3 is on fire"
    assert reply["message"]["text"] == "Unplug it, we are coming"
    assert reply["actor"] == "memory:agent1"
    assert status["change"] == {"from": "new", "to": "open"}
    assert priority["change"]["to"] == "urgent"
    assert len({event["id"] for event in hook.events}) == 5
    for headers, body in hook.requests:
        assert headers["Content-Type"] == "application/json"
        assert verified(headers, body)
        assert not verified(headers, body.replace(b"fire", b"FIRE"))  # tampered: refused


async def test_a_failing_endpoint_is_retried_and_its_order_kept(store):
    async with receiver() as hook, desk(store, hook.url) as bot:
        hook.answers = [500]
        await bot.user_says("/new the VPN drops")
        await bot.agent_replies("Which office?", 1)
        assert hook.statuses == [500]  # the first event failed; the next ones wait behind it
        bot.clock.advance(seconds=5)
        await bot.flush()
    first_try, *_ = hook.requests
    assert [event["type"] for event in hook.events] == [
        "ticket.created",
        "ticket.message",
        "ticket.status_changed",
    ]
    assert json.loads(first_try[1])["id"] == hook.events[0]["id"]  # the same event again


async def test_an_endpoint_gets_only_the_events_it_asked_for(store):
    async with receiver() as hook, desk(store, hook.url, frozenset({"ticket.created"})) as bot:
        await bot.user_says("/new the VPN drops")
        await bot.agent_replies("Which office?", 1)
    assert [event["type"] for event in hook.events] == ["ticket.created"]


async def test_a_restart_loses_no_event(store):
    with socket.socket() as probe:  # a port where nothing listens yet: the endpoint is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hook"
    async with desk(store, url) as first:
        await first.user_says("/new the VPN drops")
    async with store.transaction() as tx:
        assert await tx.outbox.count_pending() == 1  # the event waits for its endpoint
    async with receiver(port) as hook, desk(store, url, clock=first.clock) as restarted:
        restarted.clock.advance(seconds=5)
        await restarted.flush()
    assert [event["type"] for event in hook.events] == ["ticket.created"]


async def test_slas_and_ratings_are_events_too(store):
    wanted = frozenset({"ticket.sla_warning", "ticket.rated"})
    start = berlin(2026, 3, 2, 9, 0)
    async with (
        receiver() as hook,
        desk(store, hook.url, wanted, lambda store, **o: sla_helpdesk(store, start, **o)) as bot,
    ):
        await bot.user_says("/new the VPN drops every five minutes")
        await check_at(bot, berlin(2026, 3, 2, 9, 50))  # 80% of the first-response hour
        await bot.agent_replies("Fixed", 1)
        await bot.agent_replies("/close Restarted the router", 1)
        await bot.press("5 ⭐")
    warning, rated = hook.events
    assert (warning["type"], warning["sla_clock"]) == ("ticket.sla_warning", "response")
    assert (rated["type"], rated["rating"]["score"]) == ("ticket.rated", 5)


async def test_webhooks_command_shows_waiting_and_failed_events(store):
    roles = {("memory", "boss"): frozenset({"admin"})}
    async with receiver() as hook, desk(store, hook.url, bootstrap_roles=roles) as bot:
        hook.answers = [404]  # refused for good
        await bot.user_says("/new the VPN drops")
        await bot.deliver(bot.staff_message("/webhooks", agent="boss"))
    report = bot.to_staff()[-1].message.text
    assert "crm: 0 waiting, 1 failed" in report
    assert "HTTP 404" in report


async def test_a_running_process_posts_signed_events(tmp_path):
    user = 4242
    async with receiver() as hook, FakeTelegram() as telegram:
        telegram.add_user(user, "Olga", language_code="en")
        webhook = f"""
[[webhooks]]
name = "crm"
url = "{hook.url}"
secret = "{SECRET}"
events = ["ticket.created"]
"""
        async with helpdesk_process(telegram_config(tmp_path, telegram, webhook)):
            telegram.inject(telegram.make_text_update(user, "/new the printer is jammed"))
            for _ in range(300):
                if hook.events:
                    break
                await asyncio.sleep(0.1)
    [(headers, body)] = hook.requests
    assert verified(headers, body)
    event = json.loads(body)
    assert event["type"] == "ticket.created" and event["ticket"]["user_channel"] == "telegram"
    sent = datetime.fromtimestamp(int(headers["X-Helpdesk-Timestamp"]), UTC)
    assert abs((datetime.now(UTC) - sent).total_seconds()) < 120
