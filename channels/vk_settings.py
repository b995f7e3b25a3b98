"""The [vk] section and how `helpdesk run` builds the VK channel from it.

Kept apart from `channels.vk` so that reading the settings does not import vkbottle."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from channels.settings import (
    BaseUrl,
    ChannelKind,
    ChatIdFormat,
    OptionalSecret,
    Section,
    StaffChat,
    UrlPath,
    plain,
    required,
)
from core.ports import Channel

NAME = "vk"


class VkSettings(Section):
    enabled: bool = False
    token: OptionalSecret = None
    group_id: int | None = Field(None, gt=0)
    mode: Literal["longpoll", "callback"] = "longpoll"
    api_base_url: BaseUrl = "https://api.vk.ru"
    callback_path: UrlPath = "/vk/callback"
    confirmation_code: OptionalSecret = None
    secret: OptionalSecret = None

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> VkSettings:
        if not self.enabled:
            return self
        if plain(self.token) is None:
            raise required(self, NAME, "token", f"when {NAME} is enabled")
        if self.group_id is None:
            raise required(
                self, NAME, "group_id", f"when {NAME} is enabled (the community id, a number)"
            )
        if self.mode == "callback":
            for key in ("confirmation_code", "secret"):
                if plain(getattr(self, key)) is None:
                    raise required(self, NAME, key, 'in mode "callback"')
        return self

    @property
    def needs_http(self) -> bool:
        return self.enabled and self.mode == "callback"


def build(settings: VkSettings, staff: StaffChat) -> Channel:
    from channels.vk import VkChannel

    assert settings.group_id is not None  # required when enabled
    return VkChannel(
        token=plain(settings.token) or "",
        group_id=settings.group_id,
        mode=settings.mode,
        api_base_url=settings.api_base_url,
        callback_path=settings.callback_path,
        confirmation_code=plain(settings.confirmation_code),
        secret=plain(settings.secret),
    )


KIND = ChannelKind(
    name=NAME,
    settings=VkSettings,
    build=build,
    staff_chat_id=ChatIdFormat(re.compile(r"\d+"), 'the staff chat\'s peer id, e.g. "2000000001"'),
    http_path_key="callback_path",
    user_id_example="123456",
)
