"""Assembling the core: `build_engine` wires the ticket desk, the roles, the command router
with every command group, and the two sides of a conversation around a store and a knowledge
base; `build_jobs` makes the scheduled checks. `bot.app` calls them with the settings; tests
and benchmarks call them with a small `EngineConfig`."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, time, tzinfo
from typing import Protocol

from core.api.directory import DirectoryApi
from core.api.service import ApiService
from core.api.tickets import TicketApi
from core.conversation.engine import STORE_WAIT_SECONDS, ConversationEngine
from core.conversation.ticket_choice import HeldMessagesJob
from core.conversation.user_flow import UserFlow
from core.i18n import Texts
from core.jobs.auto_close import AutoClose, AutoClosePolicy
from core.jobs.digest import DailyDigest
from core.jobs.sla_monitor import SlaMonitor
from core.knowledge_base import KnowledgeBase, Thresholds
from core.messages import ConversationRef
from core.reports.commands import ReportCommands
from core.roles import Roles
from core.router import Router
from core.staff.admin_commands import AdminCommands
from core.staff.announcements import AnnouncementCommands, AnnouncementsJob
from core.staff.ban_commands import BanCommands
from core.staff.chat import StaffFlow
from core.staff.duty_commands import DutyCommands
from core.staff.gap_commands import GapCommands
from core.staff.incidents import IncidentCommands, IncidentWatch
from core.staff.macro_commands import MacroCommands
from core.staff.queue_commands import QueueCommands
from core.staff.role_commands import RoleCommands
from core.staff.ticket_commands import TicketCommands
from core.staff.webhook_commands import WebhookCommands
from core.staff.write_commands import WriteCommands
from core.store import Store
from core.tickets.desk import TicketDesk
from core.tickets.events import Endpoint, TicketEvents
from core.tickets.lines import SupportLine, SupportLines
from core.tickets.policy import AutoAssign, TicketPolicy
from core.tickets.sla_policy import SlaPolicy
from core.work import Clock, UnitOfWork, utc_now
from knowledge.matcher import FuzzyMatcher
from knowledge.smalltalk import classify_small_talk

# A question is about an incident from this confidence of the fuzzy matcher over the incidents'
# wordings (a few short lines): "cannot connect to vpn from home" reaches 0.87 for "VPN is down",
# questions sharing no word with any wording are not matched at all.
INCIDENT_CONFIDENCE = 0.85


@dataclass(frozen=True)
class EngineConfig:
    staff_chat: ConversationRef  # the first support line's
    answer_threshold: float
    suggest_threshold: float
    default_language: str = "en"
    bot_name: str = "Helpdesk"
    min_question_chars: int = 6
    bootstrap_roles: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    max_file_sizes: Mapping[str, int] = field(default_factory=dict)  # per channel, bytes
    tickets: TicketPolicy = field(default_factory=TicketPolicy)
    sla: SlaPolicy | None = None  # None: no SLA timers
    auto_close: AutoClosePolicy | None = None  # None: waiting tickets stay waiting
    first_line: str = "L1"  # the name of the first support line (staff_chat)
    more_lines: tuple[SupportLine, ...] = ()  # the lines above it, in escalation order
    auto_assign: AutoAssign | None = None  # None: new tickets wait for /take or /assign
    escalate_on_breach: bool = False  # an SLA breach moves the ticket to the next line up
    timezone: tzinfo = UTC  # the days of reports
    digest_at: time | None = None  # local time of the daily digest; None: no digest
    sla_check_seconds: float = 30.0  # how often SLA warnings and breaches are looked for
    # How long a batch waits for the database to come back before it is left unacknowledged.
    store_wait_seconds: float = STORE_WAIT_SECONDS
    user_messages_per_minute: int = 30  # past it a user is asked once to slow down; 0: off
    # Per channel: (chat_id, thread id) -> the address of a ticket's thread, for /queue.
    thread_urls: Mapping[str, Callable[[str, str], str | None]] = field(default_factory=dict)
    webhooks: tuple[Endpoint, ...] = ()  # where ticket events go (channels.webhook posts them)

    def support_lines(self) -> SupportLines:
        return SupportLines((SupportLine(self.first_line, self.staff_chat), *self.more_lines))


def build_engine(
    config: EngineConfig,
    store: Store,
    knowledge: KnowledgeBase,
    clock: Clock = utc_now,
    on_committed: Callable[[], None] = lambda: None,
    small_talk: Callable[[str], str | None] = classify_small_talk,
) -> ConversationEngine:
    """`on_committed` runs after every unit of work that queued replies (wakes the sender)."""
    texts = Texts(config.default_language)
    unit_of_work = UnitOfWork(store, texts, clock, on_committed)
    desk = TicketDesk(
        config.support_lines(),
        texts,
        config.default_language,
        config.max_file_sizes,
        config.tickets,
        config.sla,
        config.auto_assign,
        TicketEvents(config.webhooks),
    )
    roles = Roles(
        config.bootstrap_roles,
        config.default_language,
        everyone_in_staff_is_agent=not config.tickets.require_agent_role,
    )
    thresholds = _thresholds(config)
    incidents = IncidentWatch(FuzzyMatcher, INCIDENT_CONFIDENCE)
    router = Router(roles)
    users = UserFlow(
        desk,
        knowledge,
        thresholds,
        router,
        small_talk,
        config.min_question_chars,
        config.bot_name,
        config.user_messages_per_minute,
        incidents,
    )
    staff = StaffFlow(desk, roles, router)
    admin = AdminCommands(knowledge, thresholds)
    # The order of registration is the order of /help.
    for group in (
        users,
        staff,
        TicketCommands(desk, roles, knowledge),
        DutyCommands(desk),
        QueueCommands(desk, config.thread_urls),
        MacroCommands(desk),
        AnnouncementCommands(desk),
        WriteCommands(desk),
        IncidentCommands(desk, incidents),
        WebhookCommands(desk),
        BanCommands(desk, roles, config.timezone),
        ReportCommands(desk, roles, config.timezone),
        GapCommands(desk, admin),
        admin,
        RoleCommands(roles),
    ):
        group.register(router)
    return ConversationEngine(
        unit_of_work,
        knowledge,
        desk,
        users,
        staff,
        router,
        config.default_language,
        store_wait_seconds=config.store_wait_seconds,
    )


def build_api(
    engine: ConversationEngine, config: EngineConfig, reachable: Collection[str]
) -> ApiService:
    """The HTTP API's operations on the engine's desk and knowledge base; `reachable`: the
    channels that can reach users (tickets may be opened there)."""
    roles, unit, desk = engine.staff.roles, engine.unit_of_work, engine.desk
    return ApiService(
        tickets=TicketApi(unit, desk, roles, frozenset(reachable)),
        directory=DirectoryApi(
            unit,
            desk,
            AdminCommands(engine.knowledge, _thresholds(config)),
            BanCommands(desk, roles, config.timezone),
            config.timezone,
        ),
    )


def _thresholds(config: EngineConfig) -> Thresholds:
    return Thresholds(config.answer_threshold, config.suggest_threshold)


# Hours-long delays: a minute late does not matter.
AUTO_CLOSE_CHECK_SECONDS = 60.0
DIGEST_CHECK_SECONDS = 60.0  # the digest goes out within a minute of its time
HELD_CHECK_SECONDS = 15.0  # a held message waits CHOICE_WAIT, then at most this much more
ANNOUNCEMENTS_CHECK_SECONDS = 30.0  # the final count of an announcement comes this late at most


class Check(Protocol):
    async def check(self) -> object: ...


@dataclass(frozen=True)
class Jobs:
    """The scheduled checks; None when switched off. Each claims its work in the database, so
    every process may run them."""

    sla: SlaMonitor | None = None
    auto_close: AutoClose | None = None
    digest: DailyDigest | None = None
    held: HeldMessagesJob | None = None
    announcements: AnnouncementsJob | None = None
    sla_check_seconds: float = 30.0

    def every(self) -> list[tuple[str, Check, float]]:
        """(name, check, seconds between runs) of the jobs that are on: what bot.runner
        schedules."""
        jobs = (
            ("sla-check", self.sla, self.sla_check_seconds),
            ("auto-close-check", self.auto_close, AUTO_CLOSE_CHECK_SECONDS),
            ("daily-digest", self.digest, DIGEST_CHECK_SECONDS),
            ("held-messages", self.held, HELD_CHECK_SECONDS),
            ("announcements", self.announcements, ANNOUNCEMENTS_CHECK_SECONDS),
        )
        return [(name, job, seconds) for name, job, seconds in jobs if job is not None]


def build_jobs(engine: ConversationEngine, config: EngineConfig) -> Jobs:
    """The checks work through the engine's unit of work and ticket desk."""
    unit, desk = engine.unit_of_work, engine.desk
    return Jobs(
        sla=(
            SlaMonitor(
                unit,
                desk,
                config.sla,
                roles=engine.router.roles,
                escalate_on_breach=config.escalate_on_breach,
            )
            if config.sla is not None
            else None
        ),
        auto_close=(
            AutoClose(unit, desk, config.auto_close) if config.auto_close is not None else None
        ),
        digest=(
            DailyDigest(unit, desk, config.digest_at, config.timezone)
            if config.digest_at is not None
            else None
        ),
        held=HeldMessagesJob(unit, engine.users.choice),
        announcements=AnnouncementsJob(unit, desk),
        sla_check_seconds=config.sla_check_seconds,
    )
