"""The composition root: builds the store, knowledge base, engine, ingest and outbox sender from
the settings. The only place that knows every package."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from bot.config import Settings
from bot.engine import EngineConfig, Jobs, build_api, build_engine, build_jobs
from bot.knowledge_files import seed_sample_if_empty
from core.api.service import ApiService
from core.conversation.channel_memory import StoredChannelMemory
from core.conversation.engine import ConversationEngine
from core.conversation.ingest import Ingest
from core.delivery.outbox import OutboxConfig, OutboxSender
from core.domain import Priority
from core.jobs.auto_close import AutoClosePolicy
from core.knowledge_base import KnowledgeBase
from core.messages import ConversationRef
from core.ports import ChannelAdapter, ThreadAddresses
from core.store import Store, StoreUnavailable
from core.tickets.business_hours import BusinessCalendar, WorkingHours
from core.tickets.events import WEBHOOK_CHANNEL, Endpoint
from core.tickets.lines import SupportLine
from core.tickets.policy import AutoAssign, KeywordRule, TicketPolicy, UserGroupRule
from core.tickets.sla_policy import SlaPolicy, SlaTarget
from core.work import Clock, utc_now
from knowledge.matcher import FuzzyMatcher
from knowledge.semantic import create_matcher
from storage.database import open_store
from storage.errors import is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")
START_WAIT_SECONDS = 300.0  # how long start-up waits for the database


@dataclass
class App:
    settings: Settings
    store: Store
    engine: ConversationEngine
    jobs: Jobs
    ingest: Ingest
    sender: OutboxSender
    memory: StoredChannelMemory  # positions and staged parts channels keep in the database
    api: ApiService  # what the HTTP API does (bot.api serves it when [http] api is on)

    async def close(self) -> None:
        await self.ingest.stop()
        await self.store.close()


async def build_app(
    settings: Settings,
    adapters: Mapping[str, ChannelAdapter],
    *,
    clock: Clock = utc_now,
    store: Store | None = None,
) -> App:
    store = store or await _when_the_store_answers(
        lambda: open_store(settings.database.url, options=settings.database.store_options())
    )
    outbox = settings.outbox
    sender = OutboxSender(
        store,
        adapters,
        OutboxConfig(
            poll_interval=outbox.poll_interval_seconds,
            max_attempts=outbox.max_attempts,
            backoff_base=outbox.backoff_base_seconds,
            backoff_max=outbox.backoff_max_seconds,
            lease_seconds=outbox.lease_seconds,
            concurrency=outbox.concurrency,
            owner=settings.engine.instance_name,
        ),
        clock,
    )
    matcher = create_matcher(semantic=settings.knowledge.semantic)
    config = engine_config(
        settings,
        {name: a.max_file_size for name, a in adapters.items()},
        matcher.default_thresholds,
        thread_urls={
            name: adapter.thread_url
            for name, adapter in adapters.items()
            if isinstance(adapter, ThreadAddresses)
        },
    )
    engine = build_engine(config, store, KnowledgeBase(matcher, store), clock, sender.wake)
    if settings.knowledge.load_sample_when_empty:
        await _when_the_store_answers(lambda: seed_sample_if_empty(store, clock()))
    count = await _when_the_store_answers(engine.load_state)
    log.info("knowledge base loaded", extra={"entries": count})
    ingest = Ingest(engine, lanes=settings.engine.workers, batch_size=settings.engine.batch_size)
    jobs = build_jobs(engine, config)
    api = build_api(engine, config, reachable=set(adapters) - {WEBHOOK_CHANNEL})
    memory = StoredChannelMemory(store, clock)
    return App(settings, store, engine, jobs, ingest, sender, memory, api)


async def _when_the_store_answers(step: Callable[[], Awaitable[T]]) -> T:
    """A start-up step that waits for a database that is away (locked by another process,
    restarting) instead of ending the process: up to `START_WAIT_SECONDS`."""
    delay, waited = 0.1, 0.0
    while True:
        try:
            return await step()
        except Exception as error:
            if not isinstance(error, StoreUnavailable) and not is_transient(error):
                raise
            if waited >= START_WAIT_SECONDS:
                raise
            log.warning(
                "database unavailable at start, waiting",
                extra={"error": str(error), "retry_in": delay},
            )
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)


def engine_config(
    settings: Settings,
    max_file_sizes: Mapping[str, int],
    default_thresholds: tuple[float, float] = FuzzyMatcher.default_thresholds,
    thread_urls: Mapping[str, Callable[[str, str], str | None]] | None = None,
) -> EngineConfig:
    """`default_thresholds`: those of the matcher in use, for thresholds the config leaves out;
    `thread_urls`: per channel, the addresses of threads (the adapters that have them)."""
    answer, suggest = settings.knowledge.thresholds(default_thresholds)
    roles: dict[tuple[str, str], set[str]] = {}
    for role, channel, user_id in settings.roles.grants():
        roles.setdefault((channel, user_id), set()).add(role.value)
    return EngineConfig(
        staff_chat=ConversationRef(settings.staff.channel, str(settings.staff.chat_id)),
        answer_threshold=answer,
        suggest_threshold=suggest,
        default_language=settings.bot.default_language,
        bot_name=settings.bot.name,
        min_question_chars=settings.knowledge.min_question_chars,
        bootstrap_roles={k: frozenset(v) for k, v in roles.items()},
        max_file_sizes=max_file_sizes,
        tickets=ticket_policy(settings),
        sla=sla_policy(settings),
        auto_close=auto_close_policy(settings),
        first_line=settings.staff.line,
        more_lines=tuple(
            SupportLine(line.name, ConversationRef(line.channel, line.chat_id))
            for line in settings.staff.lines
        ),
        auto_assign=(
            AutoAssign(settings.staff.auto_assign) if settings.staff.auto_assign != "off" else None
        ),
        escalate_on_breach=settings.sla.escalate_on_breach,
        timezone=settings.bot.tzinfo,
        digest_at=settings.reports.digest_at,
        sla_check_seconds=settings.sla.check_interval_seconds,
        user_messages_per_minute=settings.engine.user_messages_per_minute,
        thread_urls=dict(thread_urls or {}),
        webhooks=tuple(
            Endpoint(webhook.name, frozenset(webhook.events)) for webhook in settings.webhooks
        ),
    )


def auto_close_policy(settings: Settings) -> AutoClosePolicy | None:
    """None when every step is off (0 hours)."""
    tickets = settings.tickets
    resolve, remind = tickets.resolve_waiting_after_hours, tickets.remind_waiting_after_hours
    close = tickets.close_resolved_after_hours
    if resolve <= 0 and close <= 0:
        return None
    return AutoClosePolicy(
        resolve_after=timedelta(hours=resolve) if resolve > 0 else None,
        remind_after=timedelta(hours=remind) if remind > 0 and resolve > 0 else None,
        close_resolved_after=timedelta(hours=close) if close > 0 else None,
    )


def sla_policy(settings: Settings) -> SlaPolicy | None:
    sla = settings.sla
    if not sla.enabled:
        return None
    calendar = business_calendar(settings)
    targets = {
        Priority(name): SlaTarget(target.first_response, target.resolution)
        for name, target in sla.targets.items()
    }
    by_category = {
        category: {
            Priority(name): SlaTarget(target.first_response, target.resolution)
            for name, target in priorities.items()
        }
        for category, priorities in sla.category_targets.items()
    }
    return SlaPolicy(targets, calendar, sla.warn_at, by_category, sla.goal)


def business_calendar(settings: Settings) -> BusinessCalendar:
    """[sla.business_hours] in the bot's time zone (24/7 when not set)."""
    hours = settings.sla.business_hours
    return BusinessCalendar(
        settings.bot.tzinfo,
        WorkingHours(hours.weekdays, hours.start_time, hours.end_time) if hours else None,
        frozenset(hours.holidays) if hours else frozenset(),
    )


def ticket_policy(settings: Settings) -> TicketPolicy:
    tickets = settings.tickets
    tell_hours = tickets.out_of_hours_notice and settings.sla.business_hours is not None
    return TicketPolicy(
        open_hours=business_calendar(settings) if tell_hours else None,
        reopen_window=timedelta(hours=tickets.reopen_window_hours),
        require_agent_role=settings.staff.require_agent_role,
        priority_rules=tuple(KeywordRule(r.keywords, r.priority) for r in tickets.priority_rules),
        category_rules=tuple(KeywordRule(r.keywords, r.category) for r in tickets.category_rules),
        user_groups=tuple(
            UserGroupRule(
                group.name,
                frozenset(tuple(m.split(":", 1)) for m in group.members),  # type: ignore[misc]
                Priority(group.priority),
            )
            for group in tickets.user_groups
        ),
    )
