"""`helpdesk run`: every enabled messenger, the web server for webhooks, and the outbox sender in
one process, stopped cleanly by SIGINT/SIGTERM.

Shutdown order: stop receiving (each channel finishes what it already handed to the engine),
let the outbox sender finish its round, then close connections. Whatever was not sent stays in
the outbox and goes out after the next start.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import build_app
from bot.config import Settings
from bot.engine import Check
from bot.monitoring import Monitor
from channels.registry import CHANNEL_KINDS
from channels.webhook import WebhookChannel, WebhookTarget
from core.ports import Channel

log = logging.getLogger(__name__)

# How often FAQ edits made by another process (same database) reach this one's index.
KNOWLEDGE_REFRESH_SECONDS = 5.0
# How long delivery ids (de-duplication) and sent/failed outbox rows are kept.
RETENTION = timedelta(days=30)


def build_channels(settings: Settings) -> dict[str, Channel]:
    """The enabled channels of every kind `helpdesk run` starts, each built by its own factory
    (which imports its SDK only then: each SDK is big)."""
    return {
        kind.name: kind.build(settings.channel_section(kind), settings.staff_chat(kind))
        for kind in CHANNEL_KINDS
        if kind.build is not None and settings.channel_section(kind).enabled
    }


async def run_service(
    settings: Settings,
    channels: Mapping[str, Channel] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until `stop` is set (by default: until SIGINT or SIGTERM)."""
    channels = dict(channels if channels is not None else build_channels(settings))
    stop = stop or _stop_on_signals()
    webhooks = WebhookChannel(
        {w.name: WebhookTarget(w.name, w.url, w.secret) for w in settings.webhooks}
    )
    app = await build_app(settings, {**channels, webhooks.name: webhooks})
    monitor = Monitor(app.store, channels) if settings.http.monitoring else None
    routes = [route for channel in channels.values() for route in channel.web_routes()]
    routes += monitor.routes() if monitor is not None else []
    if settings.http.api:
        from bot.api import ApiHandlers  # its models and OpenAPI document only when it is on

        http = settings.http
        routes += ApiHandlers(
            app.api, http.api_requests_per_minute, http.api_max_body_kb * 1024
        ).routes()
    web_runner = await _start_web_server(settings, routes)
    submit = app.ingest.submit
    if monitor is not None:
        monitor.start()
        submit = monitor.counted(submit)
    sender_task = asyncio.create_task(app.sender.run(stop), name="outbox-sender")
    refresh_task = asyncio.create_task(_refresh_knowledge(app, stop), name="knowledge-refresh")
    scheduler = _start_scheduler(app)
    started: list[Channel] = []
    try:
        async with app.ingest:
            for channel in channels.values():
                await channel.start(submit, app.memory)
                started.append(channel)
            log.info("helpdesk running", extra={"channels": sorted(channels)})
            await stop.wait()
            log.info("stopping")
            for channel in reversed(started):
                await channel.stop()
    finally:
        stop.set()
        if monitor is not None:
            monitor.stop()
        scheduler.shutdown(wait=False)
        await sender_task
        await refresh_task
        if web_runner is not None:
            await web_runner.cleanup()
        for adapter in (*channels.values(), webhooks):
            close = getattr(adapter, "close", None)
            if close is not None:
                await close()
        await app.store.close()
    log.info("stopped")


async def _refresh_knowledge(app, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=KNOWLEDGE_REFRESH_SECONDS)
        except TimeoutError:
            pass
        try:
            changed = await app.engine.refresh_knowledge()
        except Exception:  # noqa: BLE001 - e.g. the database restarting: try next time
            log.exception("knowledge refresh failed")
            continue
        if changed:
            log.info("knowledge base changed elsewhere", extra={"entries_changed": changed})


def _start_scheduler(app) -> AsyncIOScheduler:
    """Periodic jobs: the SLA check (when SLA timers are on), the auto-close check and the daily
    digest (when on) and housekeeping. Every process may run them: the checks claim each
    warning/breach/reminder/resolution/digest in the database, so none is sent twice."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    # A slow run is not started again on top of itself; missed runs are merged into one.
    once = {"max_instances": 1, "coalesce": True, "next_run_time": datetime.now(UTC)}
    for job_id, checker, seconds in app.jobs.every():
        scheduler.add_job(
            _run_check, "interval", args=(job_id, checker), seconds=seconds, id=job_id, **once
        )
    scheduler.add_job(
        forget_old_records, "interval", args=(app.store,), hours=1, id="housekeeping", **once
    )
    scheduler.start()
    return scheduler


async def forget_old_records(store, now: datetime | None = None) -> tuple[int, int]:
    """Delivery ids older than any platform's redelivery and finished outbox rows are only
    history: without this both tables grow forever. Returns (deliveries, outbox rows) removed."""
    before = (now or datetime.now(UTC)) - RETENTION
    try:
        async with store.transaction() as tx:
            deliveries = await tx.updates.prune(before)
            staged = await tx.staged.prune(before)  # with their deliveries: none turns pending
            sent = await tx.outbox.prune(before)
    except Exception:  # noqa: BLE001 - the next run tries again
        log.exception("housekeeping failed")
        return 0, 0
    log.info(
        "housekeeping",
        extra={
            "deliveries_forgotten": deliveries,
            "parts_forgotten": staged,
            "outbox_pruned": sent,
        },
    )
    return deliveries, sent


async def _run_check(job_id: str, checker: Check) -> None:
    try:
        await checker.check()
    except Exception:  # noqa: BLE001 - e.g. the database restarting: the next run catches up
        log.exception("periodic check failed", extra={"job": job_id})


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _start_web_server(
    settings: Settings, routes: list[tuple[str, str, Callable]]
) -> web.AppRunner | None:
    """The [http] server: the channels' webhook routes and, when on, /healthz and /metrics and
    the API; none when there is nothing to serve."""
    if not routes:
        return None
    application = web.Application()
    for method, path, handler in routes:
        application.router.add_route(method, path, handler)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http.host, settings.http.port).start()
    log.info("web server listening", extra={"host": settings.http.host, "port": settings.http.port})
    return runner
