"""The [slack] section and how `helpdesk run` builds the Slack channel from it.

Kept apart from `channels.slack` so that reading the settings does not import slack-bolt."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import model_validator

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
    rule,
)
from core.ports import Channel

NAME = "slack"


class SlackSettings(Section):
    enabled: bool = False
    bot_token: OptionalSecret = None
    mode: Literal["socket", "http"] = "socket"
    app_token: OptionalSecret = None
    signing_secret: OptionalSecret = None
    api_base_url: BaseUrl = "https://slack.com"
    events_path: UrlPath = "/slack/events"

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> SlackSettings:
        if not self.enabled:
            return self
        bot_token = plain(self.bot_token)
        if bot_token is None:
            raise required(self, NAME, "bot_token", f"when {NAME} is enabled")
        # Without a bot token Bolt cannot learn its own user id and answers its own messages.
        if not bot_token.startswith("xoxb-"):
            raise rule('must be a bot token starting with "xoxb-"', "bot_token")
        if self.mode == "socket":
            app_token = plain(self.app_token)
            if app_token is None:
                raise required(self, NAME, "app_token", 'in mode "socket"')
            if not app_token.startswith("xapp-"):
                raise rule('must be an app-level token starting with "xapp-"', "app_token")
        elif plain(self.signing_secret) is None:
            raise required(self, NAME, "signing_secret", 'in mode "http"')
        return self

    @property
    def needs_http(self) -> bool:
        return self.enabled and self.mode == "http"


def build(settings: SlackSettings, staff: StaffChat) -> Channel:
    from channels.slack import SlackChannel

    return SlackChannel(
        bot_token=plain(settings.bot_token) or "",
        mode=settings.mode,
        app_token=plain(settings.app_token),
        signing_secret=plain(settings.signing_secret),
        api_base_url=settings.api_base_url,
        events_path=settings.events_path,
    )


KIND = ChannelKind(
    name=NAME,
    settings=SlackSettings,
    build=build,
    staff_chat_id=ChatIdFormat(
        re.compile(r"[A-Z0-9]+"), 'the staff channel\'s id, e.g. "C0123ABCD"'
    ),
    http_path_key="events_path",
    user_id_example="U0123ABCD",
)
