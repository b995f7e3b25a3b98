"""The [telegram] section and how `helpdesk run` builds the Telegram channel from it.

Kept apart from `channels.telegram` so that reading the settings does not import aiogram."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from channels.settings import (
    BaseUrl,
    ChannelKind,
    ChatIdFormat,
    OptionalSecret,
    OptionalUrl,
    Section,
    StaffChat,
    UrlPath,
    plain,
    required,
    rule,
)
from core.ports import Channel

NAME = "telegram"

_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramSettings(Section):
    enabled: bool = False
    token: OptionalSecret = None
    mode: Literal["polling", "webhook"] = "polling"
    api_base_url: BaseUrl = "https://api.telegram.org"
    webhook_url: OptionalUrl = None
    webhook_path: UrlPath = "/telegram/webhook"
    webhook_secret: OptionalSecret = None
    polling_timeout: int = Field(30, ge=0)

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> TelegramSettings:
        if not self.enabled:
            return self
        token = plain(self.token)
        if token is None:
            raise required(self, NAME, "token", f"when {NAME} is enabled")
        if not _TOKEN.fullmatch(token):
            raise rule('must look like "123456:ABC-DEF..." (the token from @BotFather)', "token")
        if self.mode == "webhook":
            if self.webhook_url is None:
                raise required(self, NAME, "webhook_url", 'in mode "webhook"')
            secret = plain(self.webhook_secret)
            if secret is None:
                raise required(self, NAME, "webhook_secret", 'in mode "webhook"')
            if not _WEBHOOK_SECRET.fullmatch(secret):
                raise rule("must be 1-256 characters from A-Z, a-z, 0-9, _ and -", "webhook_secret")
        return self

    @property
    def needs_http(self) -> bool:
        return self.enabled and self.mode == "webhook"


def build(settings: TelegramSettings, staff: StaffChat) -> Channel:
    from channels.telegram import TelegramChannel

    return TelegramChannel(
        token=plain(settings.token) or "",
        mode=settings.mode,
        api_base_url=settings.api_base_url,
        webhook_url=settings.webhook_url,
        webhook_path=settings.webhook_path,
        webhook_secret=plain(settings.webhook_secret),
        polling_timeout=settings.polling_timeout,
        staff_chat_id=staff.chat_id,
        use_topics=staff.use_topics,
    )


KIND = ChannelKind(
    name=NAME,
    settings=TelegramSettings,
    build=build,
    staff_chat_id=ChatIdFormat(
        re.compile(r"-?\d+|@\w+"), 'the staff group\'s chat id, e.g. "-1001234567890"'
    ),
    http_path_key="webhook_path",
    user_id_example="123456",
)
