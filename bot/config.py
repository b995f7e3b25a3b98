"""Settings: one TOML file validated at start-up into typed, frozen models.

`load_settings(path)` reads the file (or nothing, when `path` is None), lets environment variables
`HELPDESK_<SECTION>_<KEY>` override the secret keys, validates everything and returns `Settings`.
Any problem raises `ConfigError` whose message is one line naming the file and the key, so the
operator sees what to fix instead of a traceback or a pydantic dump.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import socket
import tomllib
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    create_model,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from channels.registry import CHANNEL_KINDS
from channels.settings import (
    RULE_ERROR,
    ChannelKind,
    Section,
    SettingsT,
    StaffChat,
    blank_is_unset,
    env_var_name,
    rule,
)
from core.domain import Role
from core.tickets.events import EVENT_TYPES
from storage.store import StoreOptions

logger = logging.getLogger(__name__)

CHANNELS: tuple[str, ...] = tuple(kind.name for kind in CHANNEL_KINDS)

# Keys whose values may come from the environment (HELPDESK_<SECTION>_<KEY>) and whose values
# never appear in reprs or error messages: the database URL and each channel's secrets.
SECRET_KEYS: frozenset[tuple[str, str]] = frozenset(
    {("database", "url")} | {(kind.name, key) for kind in CHANNEL_KINDS for key in kind.secret_keys}
)

_NO_FILE_LABEL = "<no config file>"


class ConfigError(Exception):
    """A configuration problem. `str(error)` is one line: "<file>: <key>: <what is wrong>".

    `problems` holds every problem found (the message is the first of them), one line each.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or (message,)

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------------------------
# Validation helpers (those channel sections need too are in channels.settings)


def _int_as_string(value: Any) -> Any:
    """Chat ids are strings, but people write numeric ids as bare TOML integers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


# As pydantic words the choices of a Literal: "'a', 'b' or 'c'".
_CHANNEL_CHOICES = " or ".join((", ".join(map(repr, CHANNELS[:-1])), repr(CHANNELS[-1])))


def _known_channel(value: Any) -> Any:
    """A channel name from the registry, refused as a Literal of the names would refuse it."""
    if value not in CHANNELS:
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": _CHANNEL_CHOICES}
        )
    return value


ChannelName = Annotated[str, BeforeValidator(_known_channel)]


# --------------------------------------------------------------------------------------------
# Sections


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class BotSettings(Section):
    name: str = "Helpdesk"
    default_language: Literal["ru", "en"] = "en"
    log_level: str = "INFO"
    log_format: Literal["plain", "json"] = "plain"
    timezone: str = "UTC"

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise rule("must not be empty")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in _LOG_LEVELS:
            choices = ", ".join(_LOG_LEVELS)
            raise rule(f'must be one of {choices}, got "{value}"')
        return level

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise rule(
                f'unknown time zone "{value}"; use an IANA name such as "UTC" or "Europe/Moscow"'
            ) from None
        return value

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/helpdesk.sqlite3"
# Plain dialect names people copy from other tools, mapped to the async driver we ship.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


class DatabaseSettings(Section):
    url: str = DEFAULT_DATABASE_URL
    echo: bool = False
    sqlite_synchronous: Literal["full", "normal"] = "full"
    statement_timeout_seconds: float = Field(30.0, ge=0, strict=False)
    lock_timeout_seconds: float = Field(10.0, ge=0, strict=False)

    def store_options(self) -> StoreOptions:
        return StoreOptions(
            echo=self.echo,
            sqlite_synchronous=self.sqlite_synchronous,
            statement_timeout_seconds=self.statement_timeout_seconds,
            lock_timeout_seconds=self.lock_timeout_seconds,
        )

    @field_validator("url")
    @classmethod
    def _async_url_with_absolute_sqlite_path(cls, value: str, info: ValidationInfo) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise rule(
                "is not a database URL; use sqlite+aiosqlite:///path/to/file.sqlite3 "
                "or postgresql+asyncpg://user:password@host/dbname"
            ) from None
        driver = _ASYNC_DRIVERS.get(url.drivername)
        if driver is None:
            raise rule(
                f'unsupported database "{url.drivername}"; use sqlite+aiosqlite:// or '
                "postgresql+asyncpg://"
            )
        # Edit the text rather than re-render the URL: rendering would percent-escape it.
        rest = value.split("://", 1)[1]
        if driver == "sqlite+aiosqlite" and _is_sqlite_file(url):
            rest = _absolute_sqlite_path(rest, _base_dir(info))
        return f"{driver}://{rest}"

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def url_for_logs(self) -> str:
        """The URL with its password replaced by ***."""
        return make_url(self.url).render_as_string(hide_password=True)

    def __repr_args__(self) -> Iterator[tuple[str, Any]]:
        # The URL may carry a password: show it masked in repr/str (and so in logs).
        for name, value in super().__repr_args__():
            yield name, (self.url_for_logs if name == "url" else value)

    @field_serializer("url", when_used="json")
    def _mask_url_in_json(self, value: str) -> str:
        return self.url_for_logs


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    base = context.get("base_dir")
    return Path(base) if base is not None else Path.cwd()


def _is_sqlite_file(url: URL) -> bool:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return False
    return url.query.get("uri") != "true"


def _absolute_sqlite_path(rest: str, base_dir: Path) -> str:
    """Relative SQLite paths are relative to the config file, not to wherever the bot starts.

    `rest` is what follows "sqlite+aiosqlite://": "/<path>[?query]", where <path> is absolute
    when it starts with another "/".
    """
    path, question_mark, query = rest[1:].partition("?")
    if path.startswith("/"):
        return rest
    if path.startswith("~"):
        return f"/{os.path.expanduser(path)}{question_mark}{query}"
    absolute = os.path.normpath(f"{quote(str(base_dir.absolute()))}/{path}")
    return f"/{absolute}{question_mark}{query}"


Threshold = Annotated[
    Annotated[float, Field(ge=0.0, le=1.0)] | None, BeforeValidator(blank_is_unset)
]


class KnowledgeSettings(Section):
    # None: the default of the matcher in use (see `thresholds`).
    answer_threshold: Threshold = None
    suggest_threshold: Threshold = None
    load_sample_when_empty: bool = True
    min_question_chars: int = Field(6, ge=0)
    semantic: bool = True

    @model_validator(mode="after")
    def _suggest_below_answer(self) -> KnowledgeSettings:
        answer, suggest = self.answer_threshold, self.suggest_threshold
        if answer is not None and suggest is not None and suggest > answer:
            raise rule(
                f"must not exceed answer_threshold ({answer:g}), got {suggest:g}",
                "suggest_threshold",
            )
        return self

    def thresholds(self, defaults: tuple[float, float]) -> tuple[float, float]:
        """(answer, suggest): the configured ones, else the matcher's `defaults` (a default
        suggest threshold never exceeds a configured answer threshold)."""
        answer = self.answer_threshold if self.answer_threshold is not None else defaults[0]
        if self.suggest_threshold is None:
            return answer, min(defaults[1], answer)
        if self.suggest_threshold > answer:
            raise ConfigError(
                f"[knowledge] suggest_threshold: must not exceed the matcher's answer threshold "
                f"({answer:g}), got {self.suggest_threshold:g}"
            )
        return answer, self.suggest_threshold


LineName = Annotated[str, Field(pattern=r"^[^\s/]{1,32}$")]


class StaffLineSettings(Section):
    """A support line above the first: its name and its own staff chat."""

    name: LineName
    channel: ChannelName
    chat_id: Annotated[str, BeforeValidator(_int_as_string)]


class StaffSettings(Section):
    channel: ChannelName = "console"
    chat_id: Annotated[str, BeforeValidator(_int_as_string)] = "staff"
    use_topics: bool = True
    require_agent_role: bool = False
    line: LineName = "L1"  # the name of the first support line (the chat above)
    auto_assign: Literal["off", "round_robin", "least_loaded"] = "off"
    lines: Annotated[tuple[StaffLineSettings, ...], Field(strict=False)] = ()

    @field_validator("chat_id")
    @classmethod
    def _chat_id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise rule("must not be empty")
        return value


_ROLE_MEMBER = re.compile(r"(?P<channel>[a-z]+):(?P<user_id>\S+)")
# "channel:user_id" of the first channel kind that gives an example user id.
_MEMBER_EXAMPLE = next(
    f"{kind.name}:{kind.user_id_example}" for kind in CHANNEL_KINDS if kind.user_id_example
)


def _channel_user_pairs(members: tuple[str, ...]) -> tuple[str, ...]:
    for member in members:
        match = _ROLE_MEMBER.fullmatch(member)
        if match is None:
            raise rule(f'"{member}" must look like "channel:user_id", e.g. "{_MEMBER_EXAMPLE}"')
        if match["channel"] not in CHANNELS:
            raise rule(
                f'"{member}": unknown channel "{match["channel"]}" (known: {", ".join(CHANNELS)})'
            )
    return members


# People as "channel:user_id"; a TOML array arrives as a list.
RoleList = Annotated[tuple[str, ...], Field(strict=False), AfterValidator(_channel_user_pairs)]


class RolesSettings(Section):
    admins: RoleList = ("console:admin",)
    supervisors: RoleList = ()
    agents: RoleList = ("console:agent",)

    def grants(self) -> Iterator[tuple[Role, str, str]]:
        """Every configured (role, channel, user_id), e.g. (Role.ADMIN, "console", "admin")."""
        for role, members in (
            (Role.ADMIN, self.admins),
            (Role.SUPERVISOR, self.supervisors),
            (Role.AGENT, self.agents),
        ):
            for member in members:
                channel, user_id = member.split(":", 1)
                yield role, channel, user_id


Keywords = Annotated[tuple[str, ...], Field(strict=False, min_length=1)]


def _keywords_not_blank(keywords: tuple[str, ...]) -> tuple[str, ...]:
    if any(not keyword.strip() for keyword in keywords):
        raise rule("must not contain empty keywords")
    return keywords


class PriorityRuleSettings(Section):
    keywords: Annotated[Keywords, AfterValidator(_keywords_not_blank)]
    priority: Literal["low", "normal", "high", "urgent"]


class UserGroupSettings(Section):
    name: str = Field(min_length=1, max_length=64)
    members: RoleList
    priority: Literal["low", "normal", "high", "urgent"]


class CategoryRuleSettings(Section):
    keywords: Annotated[Keywords, AfterValidator(_keywords_not_blank)]
    category: str = Field(min_length=1, max_length=64)


class TicketsSettings(Section):
    reopen_window_hours: float = Field(72.0, ge=0, strict=False)
    remind_waiting_after_hours: float = Field(48.0, ge=0, strict=False)
    resolve_waiting_after_hours: float = Field(96.0, ge=0, strict=False)
    close_resolved_after_hours: float = Field(168.0, ge=0, strict=False)
    priority_rules: Annotated[tuple[PriorityRuleSettings, ...], Field(strict=False)] = ()
    category_rules: Annotated[tuple[CategoryRuleSettings, ...], Field(strict=False)] = ()
    user_groups: Annotated[tuple[UserGroupSettings, ...], Field(strict=False)] = ()
    # With [sla.business_hours] set, a ticket opened outside them tells the user when the team
    # is back.
    out_of_hours_notice: bool = True

    @model_validator(mode="after")
    def _reminder_before_resolution(self) -> TicketsSettings:
        remind, resolve = self.remind_waiting_after_hours, self.resolve_waiting_after_hours
        if resolve > 0 and remind >= resolve:
            raise rule(
                f"must be less than resolve_waiting_after_hours ({resolve:g}), got {remind:g}",
                "remind_waiting_after_hours",
            )
        close, window = self.close_resolved_after_hours, self.reopen_window_hours
        if 0 < close < window:
            raise rule(
                f"must be at least reopen_window_hours ({window:g}) or 0, got {close:g}",
                "close_resolved_after_hours",
            )
        return self


_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _parse_duration(value: Any) -> Any:
    """ "30m", "4h", "1h30m", "2d" (d = 24 h of counted time) -> timedelta."""
    if not isinstance(value, str):
        return value
    match = _DURATION.fullmatch(value.replace(" ", "").lower())
    if not value.strip() or match is None:
        raise rule(f'expected a duration such as "30m", "4h" or "1h30m", got "{value}"')
    days, hours, minutes = (int(part or 0) for part in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes)
    if duration <= timedelta(0):
        raise rule(f'must be longer than zero, got "{value}"')
    return duration


def _check_clock_time(value: str) -> str:
    if not _CLOCK_TIME.fullmatch(value):
        raise rule(f'expected a time of day as "HH:MM", got "{value}"')
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]
ClockTime = Annotated[str, AfterValidator(_check_clock_time)]


class SlaTargetSettings(Section):
    first_response: Duration
    resolution: Duration


class BusinessHoursSettings(Section):
    days: Annotated[
        tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...],
        Field(strict=False, min_length=1),
    ] = ("mon", "tue", "wed", "thu", "fri")
    start: ClockTime = "09:00"
    end: ClockTime = "18:00"
    holidays: Annotated[tuple[date, ...], Field(strict=False)] = ()

    @model_validator(mode="after")
    def _start_before_end(self) -> BusinessHoursSettings:
        if self.start >= self.end:
            raise rule(f'must be later than start ("{self.start}"), got "{self.end}"', "end")
        return self

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(_WEEKDAYS.index(day) for day in self.days)

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)


_DEFAULT_SLA_TARGETS = {
    "urgent": SlaTargetSettings(first_response="30m", resolution="4h"),
    "high": SlaTargetSettings(first_response="1h", resolution="8h"),
    "normal": SlaTargetSettings(first_response="4h", resolution="24h"),
    "low": SlaTargetSettings(first_response="8h", resolution="72h"),
}


class SlaSettings(Section):
    enabled: bool = False
    warn_at: float = Field(0.8, gt=0, lt=1, strict=False)
    check_interval_seconds: float = Field(30.0, gt=0, strict=False)
    targets: Annotated[
        dict[Literal["low", "normal", "high", "urgent"], SlaTargetSettings], Field(strict=False)
    ] = Field(default_factory=lambda: dict(_DEFAULT_SLA_TARGETS))
    # category -> priority -> target, overriding `targets` for tickets of that category.
    category_targets: Annotated[
        dict[
            Annotated[str, Field(min_length=1, max_length=64)],
            dict[Literal["low", "normal", "high", "urgent"], SlaTargetSettings],
        ],
        Field(strict=False),
    ] = Field(default_factory=dict)
    business_hours: BusinessHoursSettings | None = None  # None: 24/7
    escalate_on_breach: bool = False
    goal: float = Field(0.9, gt=0, le=1, strict=False)


class ReportsSettings(Section):
    # "HH:MM" in [bot] timezone; empty: no daily digest.
    digest_time: Annotated[ClockTime | None, BeforeValidator(blank_is_unset)] = None

    @property
    def digest_at(self) -> time | None:
        return time.fromisoformat(self.digest_time) if self.digest_time else None


class EngineSettings(Section):
    batch_size: int = Field(64, ge=1)
    workers: int = Field(1, ge=1)
    instance: str = Field("", max_length=100)  # "": the host's name
    user_messages_per_minute: int = Field(30, ge=0)

    @property
    def instance_name(self) -> str:
        return self.instance or socket.gethostname()


class OutboxSettings(Section):
    poll_interval_seconds: float = Field(1.0, gt=0)
    max_attempts: int = Field(12, ge=1)
    backoff_base_seconds: float = Field(1.0, gt=0)
    backoff_max_seconds: float = Field(600.0, gt=0)
    lease_seconds: int = Field(60, ge=1)
    concurrency: int = Field(8, ge=1)

    @model_validator(mode="after")
    def _backoff_max_above_base(self) -> OutboxSettings:
        if self.backoff_max_seconds < self.backoff_base_seconds:
            raise rule(
                f"must be at least backoff_base_seconds ({self.backoff_base_seconds:g}), "
                f"got {self.backoff_max_seconds:g}",
                "backoff_max_seconds",
            )
        return self


class WebhookSettings(Section):
    """One [[webhooks]] endpoint: ticket events posted as signed JSON (channels/webhook.py)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    secret: Annotated[str, Field(min_length=16)]  # the HMAC key: long and random
    events: list[str] = Field(default_factory=list)  # empty: every event

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(EVENT_TYPES))
        if unknown:
            raise rule(f"unknown events {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
        return value


class HttpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)  # 0 picks a free port (tests)
    monitoring: bool = False  # GET /healthz and /metrics (bot.monitoring)
    api: bool = False  # the HTTP API at /api/v1 (bot.api)
    api_requests_per_minute: int = Field(120, ge=1, le=100_000)  # per token, per process
    api_max_body_kb: int = Field(256, ge=1, le=65_536)


# --------------------------------------------------------------------------------------------
# All settings


class _SharedSettings(Section):
    """The sections every deployment has; `Settings` adds one per channel kind."""

    bot: BotSettings = Field(default_factory=BotSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    staff: StaffSettings = Field(default_factory=StaffSettings)
    roles: RolesSettings = Field(default_factory=RolesSettings)
    tickets: TicketsSettings = Field(default_factory=TicketsSettings)
    sla: SlaSettings = Field(default_factory=SlaSettings)
    reports: ReportsSettings = Field(default_factory=ReportsSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    webhooks: list[WebhookSettings] = Field(default_factory=list)

    _source_path: Path | None = PrivateAttr(default=None)

    @property
    def source_path(self) -> Path | None:
        """The file these settings came from (None: defaults and environment only)."""
        return self._source_path

    def channel_section(self, kind: ChannelKind[SettingsT]) -> SettingsT:
        """The [section] of a channel kind, typed (`settings.<name>` works too, untyped)."""
        section: SettingsT = getattr(self, kind.name)
        return section

    def staff_chat(self, kind: ChannelKind[Any]) -> StaffChat:
        """What the channel's factory is told about the staff chat."""
        staff = self.staff
        return StaffChat(
            chat_id=staff.chat_id if staff.channel == kind.name else None,
            use_topics=staff.use_topics,
        )

    @property
    def enabled_channels(self) -> tuple[str, ...]:
        """Enabled channels in the registry's order (console first)."""
        return tuple(kind.name for kind in CHANNEL_KINDS if self.channel_section(kind).enabled)

    @property
    def needs_http_server(self) -> bool:
        """True when some channel receives updates over HTTP (webhook, callback, events)."""
        return any(self.channel_section(kind).needs_http for kind in CHANNEL_KINDS)

    @model_validator(mode="after")
    def _consistent(self) -> _SharedSettings:
        if not self.enabled_channels:
            raise rule(
                "no channel is enabled; enable the console or a messenger", "console.enabled"
            )
        self._check_staff()
        self._check_http_paths()
        names = [webhook.name for webhook in self.webhooks]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise rule(f'"{name}" names two webhooks', f"webhooks.{index}.name")
        return self

    def _check_staff(self) -> None:
        staff = self.staff
        self._check_staff_chat(staff.channel, staff.chat_id, "staff")
        names = {staff.line.casefold(): "staff.line"}
        chats = {(staff.channel, staff.chat_id): "staff.chat_id"}
        for index, line in enumerate(staff.lines):
            where = f"staff.lines.{index}"
            self._check_staff_chat(line.channel, line.chat_id, where)
            if line.name.casefold() in names:
                raise rule(
                    f'"{line.name}" is already the name of {names[line.name.casefold()]}; '
                    "each support line needs its own name",
                    f"{where}.name",
                )
            if (line.channel, line.chat_id) in chats:
                raise rule(
                    f"is already the staff chat of {chats[(line.channel, line.chat_id)]}; "
                    "each support line needs its own chat",
                    f"{where}.chat_id",
                )
            names[line.name.casefold()] = f"{where}.name"
            chats[(line.channel, line.chat_id)] = f"{where}.chat_id"

    def _check_staff_chat(self, channel: str, chat_id: str, where: str) -> None:
        if channel not in self.enabled_channels:
            raise rule(
                f'is "{channel}" but [{channel}] enabled = false; the staff chat must be on an '
                f"enabled channel (enabled: {', '.join(self.enabled_channels)})",
                f"{where}.channel",
            )
        chat_format = _KINDS[channel].staff_chat_id
        if chat_format is not None and not chat_format.accepts(chat_id):
            raise rule(
                f'must be {chat_format.description} when {where}.channel = "{channel}", '
                f'got "{chat_id}"',
                f"{where}.chat_id",
            )

    def _check_http_paths(self) -> None:
        """Channels served by the one web server must not share a path."""
        seen: dict[str, str] = {}
        for kind in CHANNEL_KINDS:
            section = self.channel_section(kind)
            if kind.http_path_key is None or not section.needs_http:
                continue
            path = getattr(section, kind.http_path_key)
            if path in seen:
                raise rule(
                    f'"{path}" is already used by {seen[path]}; each channel needs its own path',
                    f"{kind.name}.{kind.http_path_key}",
                )
            seen[path] = f"[{kind.name}] {kind.http_path_key}"


_KINDS: dict[str, ChannelKind[Any]] = {kind.name: kind for kind in CHANNEL_KINDS}

# The channel sections come from the registry, so that adding a messenger touches no code here.
# At run time `settings.<name>` is the section's own model; for a type checker it is Any, and
# `settings.channel_section(kind)` is the typed way.
if TYPE_CHECKING:

    class Settings(_SharedSettings):
        def __getattr__(self, name: str) -> Any: ...

else:
    Settings = create_model(
        "Settings",
        __base__=_SharedSettings,
        __module__=__name__,
        **{
            kind.name: (kind.settings, Field(default_factory=kind.settings))
            for kind in CHANNEL_KINDS
        },
    )


# --------------------------------------------------------------------------------------------
# Loading


def load_settings(
    path: str | Path | None,
    env: Mapping[str, str] = os.environ,
    adjust: Callable[[dict[str, Any]], None] | None = None,
) -> Settings:
    """Read, override from `env`, `adjust` the raw tables, and validate. `path=None`: no file,
    defaults only.

    Raises ConfigError with a one-line message naming the file and the key.
    """
    label = _NO_FILE_LABEL if path is None else str(path)
    raw = {} if path is None else _read_toml(Path(path), label)
    if adjust is not None:
        adjust(raw)
    base_dir = Path.cwd() if path is None else Path(path).absolute().parent
    for section, field in Settings.model_fields.items():
        # Validate absent sections from {} too, so they see the context (the config's directory);
        # [[webhooks]] is an array of tables.
        raw.setdefault(section, [] if get_origin(field.annotation) is list else {})
    from_env = _apply_env_overrides(raw, env)
    try:
        settings = Settings.model_validate(raw, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems = tuple(
            _one_line(f"{label}: {_describe_error(error, from_env)}") for error in exc.errors()
        )
        raise ConfigError(problems[0], problems) from None
    settings._source_path = None if path is None else Path(path)
    if from_env:
        logger.debug("settings: taken from the environment: %s", ", ".join(from_env.values()))
    return settings


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{label}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{label}: is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(_one_line(f"{label}: cannot read the file: {exc.strerror}")) from None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{label}: invalid TOML: the file is not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_one_line(f"{label}: {_describe_toml_error(exc)}")) from None


_TOML_POSITION = re.compile(r"\s*\(at line (?P<line>\d+), column (?P<column>\d+)\)$")
_TOML_END = re.compile(r"\s*\(at end of document\)$")


def _describe_toml_error(exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    position = _TOML_POSITION.search(message)
    if position is not None:
        reason = _lower_first(message[: position.start()])
        return f"invalid TOML at line {position['line']}: {reason} (column {position['column']})"
    end = _TOML_END.search(message)
    if end is not None:
        return f"invalid TOML at the end of the file: {_lower_first(message[: end.start()])}"
    return f"invalid TOML: {message}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """Put secret values from the environment into `raw`; return which keys came from where.

    An empty variable is ignored, so `HELPDESK_TELEGRAM_TOKEN=` does not wipe the file's value.
    """
    applied: dict[tuple[str, str], str] = {}
    for section, key in sorted(SECRET_KEYS):
        name = env_var_name(section, key)
        value = env.get(name, "").strip()
        if not value:
            continue
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            continue  # "[section] is not a table" is reported by validation
        table[key] = value
        applied[(section, key)] = name
    webhooks = raw.get("webhooks")
    for table in webhooks if isinstance(webhooks, list) else ():
        if isinstance(table, dict) and isinstance(table.get("name"), str):
            name = webhook_secret_variable(table["name"])
            value = env.get(name, "").strip()
            if value:
                table["secret"] = value
                applied[("webhooks", f"{table['name']}.secret")] = name
    return applied


def webhook_secret_variable(name: str) -> str:
    """The variable that gives the [[webhooks]] endpoint `name` its secret, e.g.
    HELPDESK_WEBHOOKS_CRM_SECRET for "crm" (other characters than letters and digits: "_")."""
    return f"HELPDESK_WEBHOOKS_{re.sub(r'[^A-Za-z0-9]', '_', name).upper()}_SECRET"


# --------------------------------------------------------------------------------------------
# Turning pydantic errors into one line each


def _describe_error(error: Mapping[str, Any], from_env: Mapping[tuple[str, str], str]) -> str:
    loc = tuple(str(part) for part in error["loc"])
    context = error.get("ctx") or {}
    if error["type"] == RULE_ERROR and "path" in context:
        loc = loc + tuple(context["path"].split("."))
    if error["type"] == "extra_forbidden":
        return _describe_unknown(loc, error.get("input"))
    where = _describe_location(loc, from_env)
    return f"{where}: {_describe_problem(error, loc)}"


def _describe_location(loc: tuple[str, ...], from_env: Mapping[tuple[str, str], str]) -> str:
    if not loc:
        return "settings"
    if len(loc) == 1:
        return f"[{loc[0]}]"
    section, key, *rest = loc
    if key.isdigit() and rest:  # in the n-th table of an array of tables ([[webhooks]])
        key, rest = f"#{int(key) + 1} {rest[0]}", rest[1:]
        where = f"[[{section}]] {key}"
    else:
        where = f"[{section}] {key}"
    if rest:  # an item of an array
        where += "".join(f"[{part}]" for part in rest)
    if (section, key) in from_env:
        where += f" (from {from_env[(section, key)]})"
    return where


def _describe_unknown(loc: tuple[str, ...], value: Any) -> str:
    if len(loc) == 1:
        hint = _did_you_mean(loc[0], list(Settings.model_fields))
        if isinstance(value, dict):
            return f"unknown section [{loc[0]}]{hint}"
        return f"unknown key {loc[0]} (settings belong in a [section]){hint}"
    section, key = loc[0], loc[-1]
    return f"unknown key [{section}] {key}{_did_you_mean(key, _section_keys(section))}"


def _section_keys(section: str) -> list[str]:
    field = Settings.model_fields.get(section)
    model = field.annotation if field is not None else None
    if get_origin(model) is list:  # an array of tables: the keys of each table
        (model,) = get_args(model)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _did_you_mean(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "tuple_type": "an array",
    "list_type": "an array",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dict_type": "a table",
}

_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "greater than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


def _describe_problem(error: Mapping[str, Any], loc: tuple[str, ...]) -> str:
    kind = error["type"]
    context = error.get("ctx") or {}
    secret = tuple(loc[:2]) in SECRET_KEYS
    value = _describe_value(error.get("input"), hide=secret)
    if kind == RULE_ERROR:
        return str(context["message"])
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {value}"
    if kind in _BOUNDS:
        bound_name, words = _BOUNDS[kind]
        return f"must be {words} {context[bound_name]}, got {value}"
    if kind == "literal_error":
        choices = str(context.get("expected", "")).replace("'", '"')
        return f"must be {choices}, got {value}"
    if kind == "missing":
        return "is required"
    return f"{error['msg']} (got {value})"


def _describe_value(value: Any, *, hide: bool = False) -> str:
    """A value as the operator wrote it in TOML; secrets show only their type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    if hide:
        kinds = {str: "a string", int: "an integer", float: "a number"}
        return kinds.get(type(value), "a value of another type")
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return json.dumps(shown, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date | time):
        return f"a date/time ({value.isoformat()})"
    return repr(value)


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())
