"""The channel registry: every messenger declares its settings section, its factory, its secrets,
its staff chat id format and its webhook path, and the settings and `helpdesk run` follow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import CHANNELS, SECRET_KEYS, ConfigError, Settings, env_var_name, load_settings
from bot.runner import build_channels
from channels.registry import CHANNEL_KINDS
from channels.settings import ChannelKind, StaffChat

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
KIND_IDS = [kind.name for kind in CHANNEL_KINDS]

# A minimal enabled section of each messenger (what an operator must write at least).
ENABLED = {
    "console": "enabled = true\n",
    "telegram": 'enabled = true\ntoken = "123:abc"\n',
    "vk": 'enabled = true\ntoken = "vk-token"\ngroup_id = 1\n',
    "slack": 'enabled = true\nbot_token = "xoxb-1"\napp_token = "xapp-1"\n',
    "email": 'enabled = true\naddress = "help@example.com"\nimap_host = "imap.example.com"\n'
    'imap_password = "pw"\nsmtp_host = "smtp.example.com"\n',
}


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, env={})


def test_the_registry_names_each_channel_once_console_first() -> None:
    assert CHANNELS == tuple(KIND_IDS) == ("console", "telegram", "vk", "slack", "email")
    assert len(set(KIND_IDS)) == len(KIND_IDS)
    assert all(isinstance(kind, ChannelKind) for kind in CHANNEL_KINDS)


@pytest.mark.parametrize("kind", CHANNEL_KINDS, ids=KIND_IDS)
def test_every_kind_declares_what_the_settings_need(kind: ChannelKind) -> None:
    fields = kind.settings.model_fields
    assert "enabled" in fields
    defaults = kind.settings()
    assert isinstance(defaults.needs_http, bool) and not defaults.needs_http
    if kind.http_path_key is not None:
        assert fields[kind.http_path_key].default.startswith(f"/{kind.name}/")
    for key in kind.secret_keys:
        assert (kind.name, key) in SECRET_KEYS
    assert {key for section, key in SECRET_KEYS if section == kind.name} == set(kind.secret_keys)
    # A messenger is started by `helpdesk run`; the console is the terminal session instead.
    assert (kind.build is None) == (kind.name == "console")


@pytest.mark.parametrize("kind", CHANNEL_KINDS, ids=KIND_IDS)
def test_settings_accept_each_kinds_section(tmp_path: Path, kind: ChannelKind) -> None:
    field = Settings.model_fields[kind.name]
    assert field.annotation is kind.settings

    defaults = load_settings(None, env={})
    assert isinstance(getattr(defaults, kind.name), kind.settings)
    assert defaults.channel_section(kind) is getattr(defaults, kind.name)

    settings = load(tmp_path, f"[{kind.name}]\n{ENABLED[kind.name]}")
    section = settings.channel_section(kind)
    assert isinstance(section, kind.settings) and section.enabled
    assert kind.name in settings.enabled_channels

    message = str(pytest.raises(ConfigError, load, tmp_path, f"[{kind.name}]\ncolour = 1\n").value)
    assert message.endswith(f"unknown key [{kind.name}] colour")


@pytest.mark.parametrize(
    "kind", [k for k in CHANNEL_KINDS if k.secret_keys], ids=lambda kind: kind.name
)
def test_each_secret_can_come_from_the_environment(tmp_path: Path, kind: ChannelKind) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in kind.secret_keys:
        env = {env_var_name(kind.name, key): "from-env-1"}
        settings = load_settings(None, env=env)
        value = getattr(settings.channel_section(kind), key)
        assert isinstance(value, SecretStr) and value.get_secret_value() == "from-env-1"
        assert "from-env-1" not in repr(settings)
        assert env_var_name(kind.name, key) in text


@pytest.mark.parametrize(
    "kind", [k for k in CHANNEL_KINDS if k.staff_chat_id is not None], ids=lambda kind: kind.name
)
def test_the_staff_chat_id_is_checked_in_each_kinds_format(
    tmp_path: Path, kind: ChannelKind
) -> None:
    assert kind.staff_chat_id is not None
    text = f'[{kind.name}]\n{ENABLED[kind.name]}[staff]\nchannel = "{kind.name}"\n'

    message = str(
        pytest.raises(ConfigError, load, tmp_path, text + 'chat_id = "not an id"\n').value
    )

    assert message.endswith(
        f"[staff] chat_id: must be {kind.staff_chat_id.description} when staff.channel = "
        f'"{kind.name}", got "not an id"'
    )


def test_staff_channel_names_come_from_the_registry(tmp_path: Path) -> None:
    message = str(pytest.raises(ConfigError, load, tmp_path, '[staff]\nchannel = "irc"\n').value)

    choices = ", ".join(f'"{name}"' for name in CHANNELS[:-1]) + f' or "{CHANNELS[-1]}"'
    assert message.endswith(f'[staff] channel: must be {choices}, got "irc"')


def test_webhook_paths_of_every_http_kind_must_differ(tmp_path: Path) -> None:
    served = [kind for kind in CHANNEL_KINDS if kind.http_path_key is not None]
    assert [kind.name for kind in served] == ["telegram", "vk", "slack"]
    http_modes = {
        "telegram": 'mode = "webhook"\nwebhook_url = "https://h.example/t"\nwebhook_secret = "s"\n',
        "vk": 'mode = "callback"\nconfirmation_code = "c"\nsecret = "s"\n',
        "slack": 'mode = "http"\nsigning_secret = "s"\n',
    }
    text = "".join(
        f"[{kind.name}]\n{ENABLED[kind.name]}{http_modes[kind.name]}"
        f'{kind.http_path_key} = "/hook"\n'
        for kind in served
    )

    message = str(pytest.raises(ConfigError, load, tmp_path, text).value)

    first, second = served[0], served[1]
    assert message.endswith(
        f'[{second.name}] {second.http_path_key}: "/hook" is already used by '
        f"[{first.name}] {first.http_path_key}; each channel needs its own path"
    )


async def test_run_builds_every_enabled_messenger_with_its_own_factory(tmp_path: Path) -> None:
    text = "".join(f"[{name}]\n{section}" for name, section in ENABLED.items())
    text += '[staff]\nchannel = "telegram"\nchat_id = "-100123"\nuse_topics = false\n'
    settings = load(tmp_path, text)

    channels = build_channels(settings)

    assert list(channels) == ["telegram", "vk", "slack", "email"]  # the console is no service
    for name, channel in channels.items():
        assert channel.name == name
        assert channel.web_routes() == []  # polling, long poll, Socket Mode
    telegram = channels["telegram"]
    assert (telegram.staff_chat_id, telegram.use_topics) == ("-100123", False)
    assert settings.staff_chat(CHANNEL_KINDS[2]) == StaffChat(chat_id=None, use_topics=False)
    for channel in channels.values():
        close = getattr(channel, "close", None) or getattr(channel, "_close_session", None)
        if close is not None:
            await close()


def test_disabled_messengers_are_not_built(tmp_path: Path) -> None:
    assert build_channels(load_settings(None, env={})) == {}


def test_reading_the_settings_imports_no_messenger_sdk() -> None:
    code = (
        "import sys, bot.config, bot.runner\n"
        "sdks = ('aiogram', 'vkbottle', 'slack_bolt', 'slack_sdk')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(sdks)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
