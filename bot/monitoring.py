"""A deployment you can watch (`[http] monitoring = true`): `GET /healthz` says whether the
database answers, when each channel last heard from its platform (a poll answered, a webhook
request that proved to come from it) and when it last received and delivered a message;
`GET /metrics`
gives Prometheus the counters of this process (messages in and out per channel, how long
handling took, knowledge-base decisions, SLA warnings and breaches) and the outbox's backlog,
which is read from the database at each scrape (it is shared by every process)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from core import telemetry
from core.messages import IncomingMessage
from core.ports import InboundHandler
from core.store import Store

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 5.0  # seconds a health check waits for the database
# Handling (from the platform's delivery to its commit), in seconds.
HANDLING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Monitor:
    """The metrics of one `helpdesk run` process and its two HTTP endpoints."""

    def __init__(self, store: Store, channels: Collection[str]) -> None:
        self.store = store
        self.channels = sorted(channels)
        self.registry = CollectorRegistry()
        self.last_contact: dict[str, datetime] = {}
        self.last_inbound: dict[str, datetime] = {}
        self.last_outbound: dict[str, datetime] = {}
        self._detach: Callable[[], None] | None = None

        def metric(kind, name: str, text: str, labels: tuple[str, ...] = (), **options):
            return kind(name, text, labels, registry=self.registry, **options)

        self.messages_in = metric(
            Counter, "helpdesk_messages_in", "Messages handled, per channel", ("channel",)
        )
        self.messages_out = metric(
            Counter, "helpdesk_messages_out", "Outbox items delivered, per channel", ("channel",)
        )
        self.handling = metric(
            Histogram,
            "helpdesk_handling_seconds",
            "From a delivery handed over to its commit",
            ("channel",),
            buckets=HANDLING_BUCKETS,
        )
        self.decisions = metric(
            Counter,
            "helpdesk_kb_decisions",
            "Knowledge-base decisions on users' questions",
            ("decision",),
        )
        self.sla_events = metric(
            Counter, "helpdesk_sla_events", "SLA warnings and breaches announced", ("event",)
        )
        self.outbox_depth = metric(Gauge, "helpdesk_outbox_depth", "Outbox items still to send")
        self.outbox_oldest = metric(
            Gauge, "helpdesk_outbox_oldest_seconds", "Age of the oldest item still to send"
        )
        self.database_up = metric(Gauge, "helpdesk_database_up", "1 if the database answered")
        self.contact = metric(
            Gauge,
            "helpdesk_channel_last_contact_timestamp_seconds",
            "When the platform last answered a poll or sent a request that proved to be its own",
            ("channel",),
        )

    # -- what is counted

    def start(self) -> None:
        self._detach = telemetry.attach(self._on_event)

    def stop(self) -> None:
        if self._detach is not None:
            self._detach()
            self._detach = None

    def _on_event(self, name: str, labels: dict[str, str]) -> None:
        if name == "channel_contact":
            self.last_contact[labels["channel"]] = datetime.now(UTC)
            self.contact.labels(**labels).set_to_current_time()
        elif name == "message_out":
            self.messages_out.labels(**labels).inc()
            self.last_outbound[labels["channel"]] = datetime.now(UTC)
        elif name == "kb_decision":
            self.decisions.labels(**labels).inc()
        elif name == "sla_event":
            self.sla_events.labels(**labels).inc()

    def counted(self, handle: InboundHandler) -> InboundHandler:
        """`handle` (what channels hand deliveries to), counting what it handled and how long
        that took; a delivery that failed is not counted (the platform brings it again)."""

        async def counted_handle(message: IncomingMessage) -> None:
            started = time.perf_counter()
            await handle(message)
            channel = message.conversation.channel
            self.handling.labels(channel=channel).observe(time.perf_counter() - started)
            self.messages_in.labels(channel=channel).inc()
            self.last_inbound[channel] = datetime.now(UTC)

        return counted_handle

    # -- HTTP

    def routes(self) -> list[tuple[str, str, Callable]]:
        return [("GET", "/healthz", self.healthz), ("GET", "/metrics", self.metrics)]

    async def healthz(self, request: web.Request) -> web.Response:
        """200 while the database answers, else 503; each channel's last message in and out."""
        backlog = await self._backlog()
        channels = {
            name: {
                "last_contact": _iso(self.last_contact.get(name)),
                "last_inbound": _iso(self.last_inbound.get(name)),
                "last_outbound": _iso(self.last_outbound.get(name)),
            }
            for name in self.channels
        }
        body = {
            "status": "ok" if backlog is not None else "unavailable",
            "database": "ok" if backlog is not None else "unavailable",
            "outbox_pending": backlog[0] if backlog is not None else None,
            "channels": channels,
        }
        return web.json_response(body, status=200 if backlog is not None else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        backlog = await self._backlog()
        self.database_up.set(1 if backlog is not None else 0)
        if backlog is not None:
            depth, oldest = backlog
            self.outbox_depth.set(depth)
            age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
            self.outbox_oldest.set(max(age, 0.0))
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _backlog(self) -> tuple[int, datetime | None] | None:
        """(items to send, when the oldest was queued), or None when the database fails."""
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT), self.store.transaction() as tx:
                return await tx.outbox.count_pending(), await tx.outbox.oldest_pending()
        except Exception as error:  # noqa: BLE001 - reported as unavailable, and logged
            log.warning("health check: the database did not answer", extra={"error": repr(error)})
            return None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
