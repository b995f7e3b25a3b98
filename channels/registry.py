"""Every messenger the helpdesk knows, in the order the settings list and start them.

A messenger is added here, with one `ChannelKind` (see `channels.settings`); the settings file's
sections, the environment overrides of its secrets, the staff chat checks and `helpdesk run`
follow from it."""

from __future__ import annotations

from typing import Any

from channels import console, email_settings, slack_settings, telegram_settings, vk_settings
from channels.settings import ChannelKind

CHANNEL_KINDS: tuple[ChannelKind[Any], ...] = (
    console.KIND,
    telegram_settings.KIND,
    vk_settings.KIND,
    slack_settings.KIND,
    email_settings.KIND,
)
