"""Settings loading: the example file, error messages, environment overrides, path resolution."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path
from typing import get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from bot.config import (
    SECRET_KEYS,
    ConfigError,
    Settings,
    env_var_name,
    load_settings,
)
from core.domain import Role

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "config.example.toml"

TELEGRAM_ON = '[telegram]\nenabled = true\ntoken = "123:abc"\n'


def write_config(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    return load_settings(write_config(tmp_path, text), env=env or {})


def error_for(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=env or {})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


# --- the example file ---------------------------------------------------------------------------


def test_example_loads_and_keeps_every_messenger_disabled() -> None:
    settings = load_settings(EXAMPLE, env={})

    assert settings.enabled_channels == ("console",)
    assert not settings.needs_http_server
    assert settings.staff.channel == "console"
    assert settings.source_path == EXAMPLE


def test_example_shows_the_real_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    # The example's relative SQLite path and the default's resolve to the same file only when
    # the working directory is the example's directory.
    monkeypatch.chdir(EXAMPLE.parent)

    from_example = load_settings(EXAMPLE, env={})
    defaults = load_settings(None, env={})

    assert from_example.model_dump() == defaults.model_dump()


def _documented_keys(text: str) -> set[tuple[str, str]]:
    documented: set[tuple[str, str]] = set()
    section = ""
    for line in text.splitlines():
        header = re.fullmatch(r"\[(\w+)\]|#\s*\[\[(\w+)\]\]", line.strip())
        if header:
            section = header[1] or header[2]  # [[webhooks]] is shown commented out
            continue
        key = re.match(r"#?\s*(\w+)\s*=", line)
        if key and section:
            documented.add((section, key[1]))
    return documented


def test_example_documents_every_key_with_a_comment() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    documented = _documented_keys(text)

    for section_name, field in Settings.model_fields.items():
        section_model = field.annotation
        if get_origin(section_model) is list:  # an array of tables: [[webhooks]]
            (section_model,) = get_args(section_model)
        assert isinstance(section_model, type) and issubclass(section_model, BaseModel)
        for key in section_model.model_fields:
            assert (section_name, key) in documented, f"[{section_name}] {key} not in example"
    for section, key in SECRET_KEYS:
        assert env_var_name(section, key) in text


# --- defaults without a file --------------------------------------------------------------------


def test_no_file_means_defaults_with_sqlite_next_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    settings = load_settings(None, env={})

    assert settings.source_path is None
    assert settings.bot.name == "Helpdesk"
    assert settings.bot.default_language == "en"
    assert settings.database.url == f"sqlite+aiosqlite:///{tmp_path}/data/helpdesk.sqlite3"
    assert settings.knowledge.answer_threshold is None  # the matcher's own default
    assert settings.knowledge.suggest_threshold is None
    assert settings.roles.admins == ("console:admin",)
    assert settings.roles.agents == ("console:agent",)
    assert settings.outbox.max_attempts == 12
    assert settings.http.port == 8080
    assert settings.enabled_channels == ("console",)


def test_thresholds_left_out_come_from_the_matcher_in_use(tmp_path: Path) -> None:
    from bot.app import engine_config
    from knowledge.matcher import FuzzyMatcher
    from knowledge.semantic import SemanticMatcher

    defaults = load_settings(None, env={})
    fuzzy = engine_config(defaults, {}, FuzzyMatcher.default_thresholds)
    assert (fuzzy.answer_threshold, fuzzy.suggest_threshold) == FuzzyMatcher.default_thresholds
    semantic = engine_config(defaults, {}, SemanticMatcher.default_thresholds)
    assert (semantic.answer_threshold, semantic.suggest_threshold) == (0.975, 0.43)

    own = load_text(tmp_path, "[knowledge]\nanswer_threshold = 0.3\n")
    assert own.knowledge.thresholds((0.9, 0.43)) == (0.3, 0.3)  # suggest never above answer
    high = load_text(tmp_path, "[knowledge]\nsuggest_threshold = 0.95\n")
    with pytest.raises(ConfigError) as caught:
        high.knowledge.thresholds((0.9, 0.43))
    assert str(caught.value) == (
        "[knowledge] suggest_threshold: must not exceed the matcher's answer threshold (0.9), "
        "got 0.95"
    )


def test_settings_are_frozen() -> None:
    settings = load_settings(None, env={})

    with pytest.raises(ValidationError):
        settings.bot.name = "Other"  # type: ignore[misc]


# --- file and syntax errors ---------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"

    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})

    assert str(caught.value) == f"{path}: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, env={})

    assert str(caught.value) == f"{tmp_path}: is a directory, not a file"


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[bot]\nname = "x"\nlog_level = \n')

    assert message == "invalid TOML at line 3: invalid value (column 13)"


def test_unterminated_string_at_end_of_file(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[bot]\nname = "x')

    assert message == "invalid TOML at the end of the file: unterminated string"


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[bot]\nname = "\xff"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})

    assert str(caught.value) == f"{path}: invalid TOML: the file is not UTF-8 text"


# --- types and unknown keys ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[outbox]\nmax_attempts = "ten"\n',
            '[outbox] max_attempts: expected an integer, got "ten"',
        ),
        ("[outbox]\nmax_attempts = 1.5\n", "[outbox] max_attempts: expected an integer, got 1.5"),
        # TOML has real types: a quoted number is a mistake, not a number.
        ('[http]\nport = "8080"\n', '[http] port: expected an integer, got "8080"'),
        (
            '[outbox]\npoll_interval_seconds = "1s"\n',
            '[outbox] poll_interval_seconds: expected a number, got "1s"',
        ),
        ('[console]\nenabled = "no"\n', '[console] enabled: expected true or false, got "no"'),
        ("[console]\nenabled = 1\n", "[console] enabled: expected true or false, got 1"),
        ("[bot]\nname = 5\n", "[bot] name: expected a string, got 5"),
        ('bot = "Helpdesk"\n', '[bot]: expected a table, got "Helpdesk"'),
        ('[roles]\nadmins = "telegram:1"\n', '[roles] admins: expected an array, got "telegram:1"'),
        ("[roles]\nadmins = [5]\n", "[roles] admins[0]: expected a string, got 5"),
        ("[engine]\nworkers = 0\n", "[engine] workers: must be at least 1, got 0"),
        (
            '[bot]\ndefault_language = "de"\n',
            '[bot] default_language: must be "ru" or "en", got "de"',
        ),
        (
            '[telegram]\nmode = "hook"\n',
            '[telegram] mode: must be "polling" or "webhook", got "hook"',
        ),
        ("[vk]\ngroup_id = -5\n", "[vk] group_id: must be greater than 0, got -5"),
    ],
)
def test_wrong_type_or_value_names_file_key_and_value(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert error_for(tmp_path, text) == expected


def test_unknown_key(tmp_path: Path) -> None:
    assert error_for(tmp_path, '[bot]\ncolour = "red"\n') == "unknown key [bot] colour"


def test_unknown_key_suggests_a_close_one(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[bot]\nnmae = "x"\n')

    assert message == "unknown key [bot] nmae (did you mean name?)"


def test_unknown_section(tmp_path: Path) -> None:
    assert error_for(tmp_path, "[colours]\nred = 1\n") == "unknown section [colours]"


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, 'name = "x"\n')

    assert message.startswith("unknown key name")


def test_every_problem_is_kept_and_the_message_is_the_first(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[bot]\ncolour = 1\n[outbox]\nmax_attempts = "x"\n')

    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})

    assert caught.value.problems == (
        f"{path}: unknown key [bot] colour",
        f'{path}: [outbox] max_attempts: expected an integer, got "x"',
    )
    assert str(caught.value) == caught.value.problems[0]


# --- values and cross-field rules -------------------------------------------------------------


def test_log_level_is_case_insensitive_and_checked(tmp_path: Path) -> None:
    assert load_text(tmp_path, '[bot]\nlog_level = "debug"\n').bot.log_level == "DEBUG"
    assert error_for(tmp_path, '[bot]\nlog_level = "LOUD"\n').startswith("[bot] log_level: ")


def test_timezone_is_checked_with_zoneinfo(tmp_path: Path) -> None:
    settings = load_text(tmp_path, '[bot]\ntimezone = "Europe/Moscow"\n')
    assert settings.bot.tzinfo.key == "Europe/Moscow"

    message = error_for(tmp_path, '[bot]\ntimezone = "Mars/Base"\n')
    assert message.startswith('[bot] timezone: unknown time zone "Mars/Base"')


def test_suggest_threshold_may_not_exceed_answer_threshold(tmp_path: Path) -> None:
    text = "[knowledge]\nanswer_threshold = 0.5\nsuggest_threshold = 0.6\n"

    assert error_for(tmp_path, text) == (
        "[knowledge] suggest_threshold: must not exceed answer_threshold (0.5), got 0.6"
    )


def test_equal_thresholds_are_fine_and_integers_count_as_numbers(tmp_path: Path) -> None:
    settings = load_text(tmp_path, "[knowledge]\nanswer_threshold = 1\nsuggest_threshold = 1\n")

    assert settings.knowledge.answer_threshold == 1.0
    assert settings.knowledge.suggest_threshold == 1.0


def test_thresholds_are_between_zero_and_one(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[knowledge]\nanswer_threshold = 1.5\n")

    assert message == "[knowledge] answer_threshold: must be at most 1.0, got 1.5"


def test_backoff_max_may_not_be_below_base(tmp_path: Path) -> None:
    text = "[outbox]\nbackoff_base_seconds = 10\nbackoff_max_seconds = 5\n"

    assert error_for(tmp_path, text).startswith("[outbox] backoff_max_seconds: ")


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        ("bob", '[roles] agents: "bob" must look like "channel:user_id", e.g. "telegram:123456"'),
        ("telegram:", '[roles] agents: "telegram:" must look like "channel:user_id"'),
        ("telegram:1 2", '[roles] agents: "telegram:1 2" must look like "channel:user_id"'),
        ("discord:42", '[roles] agents: "discord:42": unknown channel "discord"'),
    ],
)
def test_role_members_must_be_channel_and_user_id(
    tmp_path: Path, member: str, expected: str
) -> None:
    message = error_for(tmp_path, f'[roles]\nagents = ["telegram:1", "{member}"]\n')

    assert message.startswith(expected)


def test_role_grants(tmp_path: Path) -> None:
    text = '[roles]\nadmins = ["telegram:1"]\nsupervisors = ["slack:U2"]\nagents = ["vk:3"]\n'

    grants = list(load_text(tmp_path, text).roles.grants())

    assert grants == [
        (Role.ADMIN, "telegram", "1"),
        (Role.SUPERVISOR, "slack", "U2"),
        (Role.AGENT, "vk", "3"),
    ]


def test_telegram_enabled_without_token(tmp_path: Path) -> None:
    assert error_for(tmp_path, "[telegram]\nenabled = true\n") == (
        "[telegram] token: must be set when telegram is enabled (or set HELPDESK_TELEGRAM_TOKEN)"
    )


def test_disabled_channel_needs_no_token(tmp_path: Path) -> None:
    settings = load_text(tmp_path, '[telegram]\nenabled = false\nmode = "webhook"\n')

    assert settings.telegram.token is None
    assert settings.enabled_channels == ("console",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[telegram]\nenabled = true\ntoken = "abc"\n',
            '[telegram] token: must look like "123456:ABC-DEF..." (the token from @BotFather)',
        ),
        (
            TELEGRAM_ON + 'mode = "webhook"\n',
            '[telegram] webhook_url: must be set in mode "webhook"',
        ),
        (
            TELEGRAM_ON + 'mode = "webhook"\nwebhook_url = "https://h.example/tg"\n',
            '[telegram] webhook_secret: must be set in mode "webhook" '
            "(or set HELPDESK_TELEGRAM_WEBHOOK_SECRET)",
        ),
        (
            TELEGRAM_ON
            + 'mode = "webhook"\nwebhook_url = "https://h.example/tg"\nwebhook_secret = "a b"\n',
            "[telegram] webhook_secret: must be 1-256 characters from A-Z, a-z, 0-9, _ and -",
        ),
        (
            TELEGRAM_ON + 'webhook_url = "h.example/tg"\n',
            '[telegram] webhook_url: must be an http:// or https:// address, got "h.example/tg"',
        ),
        (
            '[telegram]\nwebhook_path = "telegram"\n',
            '[telegram] webhook_path: must be a URL path starting with "/", got "telegram"',
        ),
        (
            '[vk]\nenabled = true\ntoken = "t"\n',
            "[vk] group_id: must be set when vk is enabled (the community id, a number)",
        ),
        (
            '[vk]\nenabled = true\ntoken = "t"\ngroup_id = 1\nmode = "callback"\n',
            '[vk] confirmation_code: must be set in mode "callback" '
            "(or set HELPDESK_VK_CONFIRMATION_CODE)",
        ),
        (
            '[vk]\nenabled = true\ntoken = "t"\ngroup_id = 1\nmode = "callback"\n'
            'confirmation_code = "c"\n',
            '[vk] secret: must be set in mode "callback" (or set HELPDESK_VK_SECRET)',
        ),
        (
            '[slack]\nenabled = true\nbot_token = "xoxp-1"\n',
            '[slack] bot_token: must be a bot token starting with "xoxb-"',
        ),
        (
            '[slack]\nenabled = true\nbot_token = "xoxb-1"\n',
            '[slack] app_token: must be set in mode "socket" (or set HELPDESK_SLACK_APP_TOKEN)',
        ),
        (
            '[slack]\nenabled = true\nbot_token = "xoxb-1"\napp_token = "xoxb-2"\n',
            '[slack] app_token: must be an app-level token starting with "xapp-"',
        ),
        (
            '[slack]\nenabled = true\nbot_token = "xoxb-1"\nmode = "http"\n',
            '[slack] signing_secret: must be set in mode "http" '
            "(or set HELPDESK_SLACK_SIGNING_SECRET)",
        ),
    ],
)
def test_messenger_requirements(tmp_path: Path, text: str, expected: str) -> None:
    assert error_for(tmp_path, text) == expected


def test_staff_channel_must_be_enabled(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[staff]\nchannel = "telegram"\nchat_id = "-100123"\n')

    assert message.startswith('[staff] channel: is "telegram" but [telegram] enabled = false')


def test_staff_on_console_needs_the_console(tmp_path: Path) -> None:
    message = error_for(tmp_path, TELEGRAM_ON + "[console]\nenabled = false\n")

    assert message.startswith('[staff] channel: is "console" but [console] enabled = false')


def test_telegram_staff_chat_id_must_be_a_chat_id(tmp_path: Path) -> None:
    message = error_for(tmp_path, TELEGRAM_ON + '[staff]\nchannel = "telegram"\n')

    assert message.startswith("[staff] chat_id: must be the staff group's chat id")
    assert message.endswith('got "staff"')


def test_staff_chat_id_may_be_a_bare_integer(tmp_path: Path) -> None:
    text = TELEGRAM_ON + '[staff]\nchannel = "telegram"\nchat_id = -1001234567890\n'

    assert load_text(tmp_path, text).staff.chat_id == "-1001234567890"


def test_some_channel_must_be_enabled(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[console]\nenabled = false\n")

    assert message == (
        "[console] enabled: no channel is enabled; enable the console or a messenger"
    )


def test_http_channels_need_distinct_paths(tmp_path: Path) -> None:
    text = (
        TELEGRAM_ON + 'mode = "webhook"\nwebhook_url = "https://h.example/x"\n'
        'webhook_secret = "s"\nwebhook_path = "/hooks"\n'
        '[slack]\nenabled = true\nbot_token = "xoxb-1"\nmode = "http"\n'
        'signing_secret = "s"\nevents_path = "/hooks"\n'
    )

    assert error_for(tmp_path, text) == (
        '[slack] events_path: "/hooks" is already used by [telegram] webhook_path; '
        "each channel needs its own path"
    )


def test_full_production_config(tmp_path: Path) -> None:
    text = """
[database]
url = "postgresql://helpdesk:pw@127.0.0.1:5432/helpdesk"
[staff]
channel = "slack"
chat_id = "C0123ABCD"
[roles]
admins = ["telegram:42", "slack:U1"]
[telegram]
enabled = true
token = "123456:ABC-DEF_ghi"
mode = "webhook"
webhook_url = "https://helpdesk.example.com/telegram/webhook/"
webhook_secret = "s3cr3t_-"
[vk]
enabled = true
token = "vk1.a.token"
group_id = 1234
mode = "callback"
confirmation_code = "abc"
secret = "vk-secret"
api_base_url = "http://127.0.0.1:9000/"
[slack]
enabled = true
bot_token = "xoxb-1"
app_token = "xapp-1"
[http]
host = "0.0.0.0"
port = 0
[console]
enabled = false
"""
    settings = load_text(tmp_path, text)

    assert settings.enabled_channels == ("telegram", "vk", "slack")
    assert settings.needs_http_server
    assert settings.telegram.needs_http and settings.vk.needs_http
    assert not settings.slack.needs_http
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "123456:ABC-DEF_ghi"
    assert settings.vk.group_id == 1234
    assert settings.vk.api_base_url == "http://127.0.0.1:9000"  # trailing slash dropped
    assert settings.database.url == "postgresql+asyncpg://helpdesk:pw@127.0.0.1:5432/helpdesk"
    assert not settings.database.is_sqlite


# --- environment ------------------------------------------------------------------------------


def test_environment_overrides_a_secret_from_the_file(tmp_path: Path) -> None:
    text = '[telegram]\nenabled = true\ntoken = "1:fromfile"\n'

    settings = load_text(tmp_path, text, env={"HELPDESK_TELEGRAM_TOKEN": "2:fromenv"})

    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "2:fromenv"


def test_environment_alone_provides_a_secret(tmp_path: Path) -> None:
    env = {"HELPDESK_SLACK_BOT_TOKEN": "xoxb-env", "HELPDESK_SLACK_APP_TOKEN": "xapp-env\n"}

    settings = load_text(tmp_path, "[slack]\nenabled = true\n", env=env)

    assert settings.slack.bot_token is not None
    assert settings.slack.bot_token.get_secret_value() == "xoxb-env"
    assert settings.slack.app_token is not None
    assert settings.slack.app_token.get_secret_value() == "xapp-env"  # newline stripped


def test_empty_environment_variable_is_ignored(tmp_path: Path) -> None:
    text = '[telegram]\nenabled = true\ntoken = "1:fromfile"\n'

    settings = load_text(tmp_path, text, env={"HELPDESK_TELEGRAM_TOKEN": ""})

    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "1:fromfile"


def test_environment_does_not_override_non_secret_keys(tmp_path: Path) -> None:
    settings = load_text(tmp_path, "", env={"HELPDESK_BOT_NAME": "Other"})

    assert settings.bot.name == "Helpdesk"


def test_bad_secret_from_environment_names_the_variable_not_the_value(tmp_path: Path) -> None:
    message = error_for(
        tmp_path,
        "[vk]\nenabled = true\ngroup_id = 1\n[telegram]\nenabled = true\n",
        env={"HELPDESK_TELEGRAM_TOKEN": "not-a-token", "HELPDESK_VK_TOKEN": "t"},
    )

    assert message == (
        "[telegram] token (from HELPDESK_TELEGRAM_TOKEN): "
        'must look like "123456:ABC-DEF..." (the token from @BotFather)'
    )
    assert "not-a-token" not in message


def test_wrong_type_of_a_secret_does_not_echo_it(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[telegram]\ntoken = 123456789\n")

    assert message == "[telegram] token: expected a string, got an integer"


def test_database_url_from_environment(tmp_path: Path) -> None:
    env = {"HELPDESK_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/test"}

    settings = load_settings(None, env=env)

    assert settings.database.url == "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def test_bad_database_url_from_environment_names_the_variable(tmp_path: Path) -> None:
    env = {"HELPDESK_DATABASE_URL": "mysql://root:hunter2@db/helpdesk"}

    with pytest.raises(ConfigError) as caught:
        load_settings(None, env=env)

    message = str(caught.value)
    assert message.startswith(
        "<no config file>: [database] url (from HELPDESK_DATABASE_URL): "
        'unsupported database "mysql"'
    )
    assert "hunter2" not in message


# --- SQLite paths -----------------------------------------------------------------------------


def test_relative_sqlite_path_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_config(
        tmp_path, '[database]\nurl = "sqlite+aiosqlite:///db/h.sqlite3"\n', "etc/c.toml"
    )

    settings = load_settings(path, env={})

    assert settings.database.url == f"sqlite+aiosqlite:///{tmp_path}/etc/db/h.sqlite3"
    assert settings.database.is_sqlite


def test_default_sqlite_path_is_relative_to_the_config_file_too(tmp_path: Path) -> None:
    path = write_config(tmp_path, "", "etc/c.toml")

    settings = load_settings(path, env={})

    assert settings.database.url == f"sqlite+aiosqlite:///{tmp_path}/etc/data/helpdesk.sqlite3"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite+aiosqlite:////srv/h.sqlite3", "sqlite+aiosqlite:////srv/h.sqlite3"),
        ("sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        ("sqlite+aiosqlite://", "sqlite+aiosqlite://"),
        ("sqlite:////srv/h.sqlite3", "sqlite+aiosqlite:////srv/h.sqlite3"),
        ("sqlite+aiosqlite:///file:h?mode=memory&uri=true", None),
        (
            "sqlite+aiosqlite:///h.sqlite3?timeout=5",
            "sqlite+aiosqlite:///{tmp}/h.sqlite3?timeout=5",
        ),
        ("sqlite+aiosqlite:///../up/h.sqlite3", "sqlite+aiosqlite:///{parent}/up/h.sqlite3"),
        ("postgresql+asyncpg://u:p%40ss@h:5432/db", None),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_urls_that_are_kept_or_get_the_async_driver(
    tmp_path: Path, url: str, expected: str | None
) -> None:
    settings = load_text(tmp_path, f'[database]\nurl = "{url}"\n')

    expected = url if expected is None else expected
    assert settings.database.url == expected.format(tmp=tmp_path, parent=tmp_path.parent)


def test_unparseable_database_url(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[database]\nurl = "not a url"\n')

    assert message.startswith("[database] url: is not a database URL")


# --- secrets stay out of logs -------------------------------------------------------------------


ALL_SECRETS_CONFIG = """
[database]
url = "postgresql+asyncpg://helpdesk:db-password-1@127.0.0.1/helpdesk"
[telegram]
enabled = true
token = "123:telegram-token-1"
mode = "webhook"
webhook_url = "https://h.example/tg"
webhook_secret = "telegram-hook-secret-1"
[vk]
enabled = true
token = "vk-token-1"
group_id = 1
mode = "callback"
confirmation_code = "vk-confirmation-1"
secret = "vk-secret-1"
[slack]
enabled = true
bot_token = "xoxb-slack-bot-1"
app_token = "xapp-slack-app-1"
signing_secret = "slack-signing-1"
[email]
enabled = true
address = "support@example.com"
imap_host = "imap.example.com"
imap_password = "imap-password-1"
smtp_host = "smtp.example.com"
smtp_password = "smtp-password-1"
"""
SECRET_VALUES = (
    "db-password-1",
    "telegram-token-1",
    "telegram-hook-secret-1",
    "vk-token-1",
    "vk-confirmation-1",
    "vk-secret-1",
    "slack-bot-1",
    "slack-app-1",
    "slack-signing-1",
    "imap-password-1",
    "smtp-password-1",
)


def test_secrets_are_hidden_in_repr_str_json_and_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_text(tmp_path, ALL_SECRETS_CONFIG)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings: %s / %r", settings, settings)

    for rendering in (repr(settings), str(settings), settings.model_dump_json(), caplog.text):
        for secret in SECRET_VALUES:
            assert secret not in rendering
    assert "helpdesk:***@127.0.0.1" in repr(settings)
    # ...while the code that needs them can read them.
    assert settings.database.url.endswith("helpdesk:db-password-1@127.0.0.1/helpdesk")
    assert settings.vk.secret is not None
    assert settings.vk.secret.get_secret_value() == "vk-secret-1"


def test_every_secret_key_can_come_from_the_environment(tmp_path: Path) -> None:
    file_values = tomllib.loads(ALL_SECRETS_CONFIG)
    env = {}
    for section, key in SECRET_KEYS:
        env[env_var_name(section, key)] = file_values[section][key]
        del file_values[section][key]
    text = "".join(
        f"[{section}]\n"
        + "".join(f"{key} = {_toml_value(value)}\n" for key, value in table.items())
        for section, table in file_values.items()
    )

    settings = load_text(tmp_path, text, env=env)

    assert settings.telegram.webhook_secret is not None
    assert settings.telegram.webhook_secret.get_secret_value() == "telegram-hook-secret-1"
    assert settings.vk.confirmation_code is not None
    assert settings.vk.confirmation_code.get_secret_value() == "vk-confirmation-1"
    assert settings.slack.signing_secret is not None
    assert settings.slack.signing_secret.get_secret_value() == "slack-signing-1"
    assert "db-password-1" in settings.database.url


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


async def test_resolved_sqlite_url_opens_the_file_next_to_the_config(tmp_path: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    config_dir = tmp_path / "my configs"  # a space: the URL must still name this directory
    path = write_config(config_dir, '[database]\nurl = "sqlite:///db/h.sqlite3"\n')
    (config_dir / "db").mkdir()
    settings = load_settings(path, env={})

    engine = create_async_engine(settings.database.url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("create table t (x int)"))
    finally:
        await engine.dispose()

    assert (config_dir / "db" / "h.sqlite3").is_file()


# --- webhooks -----------------------------------------------------------------------------------


def test_webhooks_are_an_array_of_checked_tables(tmp_path: Path) -> None:
    hook = (
        '[[webhooks]]\nname = "crm"\nurl = "https://crm.example/h"\nsecret = "0123456789abcdef"\n'
    )
    settings = load_text(tmp_path, hook + 'events = ["ticket.created"]\n')
    assert [(w.name, w.events) for w in settings.webhooks] == [("crm", ["ticket.created"])]
    assert load_text(tmp_path, "").webhooks == []
    wrong = error_for(tmp_path, hook + 'events = ["ticket.exploded"]\n')
    assert "[[webhooks]] #1 events: unknown events ticket.exploded" in wrong
    assert "[[webhooks]] #2 name" in error_for(tmp_path, hook + hook)
    typo = error_for(tmp_path, hook + 'evnts = ["ticket.created"]\n')
    assert "unknown key [webhooks] evnts" in typo and "events" in typo  # did you mean
    assert "names two webhooks" in error_for(tmp_path, hook + hook)
    from_env = load_text(
        tmp_path,
        '[[webhooks]]\nname = "crm-eu"\nurl = "https://crm.example/h"\n',
        env={"HELPDESK_WEBHOOKS_CRM_EU_SECRET": "fedcba9876543210"},
    )
    assert from_env.webhooks[0].secret == "fedcba9876543210"  # secrets stay out of the file
    short = hook.replace("0123456789abcdef", "short")  # an HMAC key must be long
    assert "secret" in error_for(tmp_path, short)
