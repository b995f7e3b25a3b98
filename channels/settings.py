"""What a messenger module declares about itself for the configuration, and the pydantic pieces
its settings section is made of.

Each messenger module (or a light `*_settings.py` next to it, when the adapter's SDK is big)
defines its `[section]` model and a `ChannelKind` naming it; `channels.registry` lists the
kinds. `bot.config` builds the settings file's channel sections, the environment overrides of
secrets, the staff chat checks and the web server's paths from that list, so adding a messenger
touches `channels/` and the registry line only.

Errors raised here (`rule`, `required`) carry their own wording; `bot.config` turns them into
the one-line "<file>: [section] key: what is wrong" messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, SecretStr
from pydantic_core import PydanticCustomError

from core.ports import Channel

ENV_PREFIX = "HELPDESK"
RULE_ERROR = "config_rule"  # the pydantic error type of `rule`


def env_var_name(section: str, key: str) -> str:
    """The environment variable that overrides a secret key: HELPDESK_<SECTION>_<KEY>."""
    return f"{ENV_PREFIX}_{section}_{key}".upper()


# --------------------------------------------------------------------------------------------
# Validation helpers


def rule(message: str, path: str | None = None) -> PydanticCustomError:
    """An error with our own wording. `path` ("token" or "staff.chat_id") names the key when the
    check runs on a whole section or on all settings, where pydantic only knows the section."""
    context: dict[str, Any] = {"message": message}
    if path is not None:
        context["path"] = path
    return PydanticCustomError(RULE_ERROR, "{message}", context)


def required(settings: BaseModel, section: str, key: str, condition: str) -> PydanticCustomError:
    """The error "must be set <condition>"; for a secret key of `settings` it also names the
    environment variable that may set it."""
    secret = key in secret_keys(type(settings))
    hint = f" (or set {env_var_name(section, key)})" if secret else ""
    return rule(f"must be set {condition}{hint}", key)


def blank_is_unset(value: Any) -> Any:
    """An empty string in the file means "not set" (handy in templates and env files)."""
    return None if value == "" else value


def _check_http_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise rule(f'must be an http:// or https:// address, got "{value}"')
    return value


def _check_base_url(value: str) -> str:
    """An API root: the SDKs append their own paths ("/bot<token>/...", "/method/", "/api/")."""
    _check_http_url(value)
    return value.rstrip("/")


def _check_url_path(value: str) -> str:
    if not value.startswith("/") or any(ch.isspace() for ch in value):
        raise rule(f'must be a URL path starting with "/", got "{value}"')
    return value


def plain(secret: SecretStr | None) -> str | None:
    """The value of an optional secret."""
    return None if secret is None else secret.get_secret_value()


# A secret: hidden in reprs, logs and error messages, and settable from the environment.
OptionalSecret = Annotated[SecretStr | None, BeforeValidator(blank_is_unset)]
OptionalUrl = Annotated[
    str | None, BeforeValidator(blank_is_unset), AfterValidator(_check_http_url)
]
BaseUrl = Annotated[str, AfterValidator(_check_base_url)]
UrlPath = Annotated[str, AfterValidator(_check_url_path)]


class Section(BaseModel):
    """A [section] of the settings file."""

    # strict: TOML values are already typed, so "10" for an integer is a mistake worth reporting.
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid", validate_default=True)


def secret_keys(model: type[BaseModel]) -> tuple[str, ...]:
    """The keys of a section typed as secrets (`OptionalSecret`)."""
    return tuple(
        name
        for name, field in model.model_fields.items()
        if field.annotation is SecretStr or SecretStr in get_args(field.annotation)
    )


# --------------------------------------------------------------------------------------------
# Channel kinds


@dataclass(frozen=True)
class ChatIdFormat:
    """What a staff chat id looks like on a platform; `description` completes "must be ...",
    e.g. 'the staff channel\\'s id, e.g. "C0123ABCD"'."""

    pattern: re.Pattern[str]
    description: str

    def accepts(self, chat_id: str) -> bool:
        return self.pattern.fullmatch(chat_id) is not None


@dataclass(frozen=True)
class StaffChat:
    """What a channel's factory is told about the staff chat."""

    chat_id: str | None  # the first support line's staff chat, when it is on this channel
    use_topics: bool  # [staff] use_topics: a thread/topic per ticket where the chat allows it


SettingsT = TypeVar("SettingsT", bound=Section)


@dataclass(frozen=True)
class ChannelKind(Generic[SettingsT]):
    """A messenger as the configuration sees it.

    `settings` is the model of its [name] section; it has `enabled: bool` and a `needs_http`
    property (True when the channel, as configured, receives updates over the web server).
    Its keys typed `OptionalSecret` are its secrets: hidden in reprs and errors, and settable
    from HELPDESK_<NAME>_<KEY>.
    """

    name: str  # the [section] name, the channel name in ConversationRef and in "channel:user_id"
    settings: type[SettingsT]
    # Builds the channel `helpdesk run` starts when the section is enabled (import the SDK inside:
    # the settings are read without it). None: not a service (the console is a terminal session).
    build: Callable[[SettingsT, StaffChat], Channel] | None
    staff_chat_id: ChatIdFormat | None = None  # None: any non-empty id
    http_path_key: str | None = None  # the key of the path it serves when `needs_http`
    user_id_example: str | None = None  # a user id, for examples in error messages

    @property
    def secret_keys(self) -> tuple[str, ...]:
        return secret_keys(self.settings)
