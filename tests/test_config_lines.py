"""Support lines and automatic assignment in the config: parsed into the engine's settings and
checked with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import engine_config
from bot.config import ConfigError, load_settings
from core.messages import ConversationRef
from core.tickets.lines import SupportLine
from core.tickets.policy import AutoAssign

SLACK_ON = '[slack]\nenabled = true\nbot_token = "xoxb-1"\napp_token = "xapp-1"\n'
TWO_LINES = (
    SLACK_ON + '[staff]\nline = "First"\nauto_assign = "least_loaded"\n'
    '[[staff.lines]]\nname = "L2"\nchannel = "slack"\nchat_id = "C0SECOND"\n'
    '[[staff.lines]]\nname = "L3"\nchannel = "console"\nchat_id = "experts"\n'
    "[sla]\nenabled = true\nescalate_on_breach = true\n"
)


def load(tmp_path: Path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "sqlite:///x.sqlite3"\n{text}', encoding="utf-8")
    return load_settings(path, env={})


def error_for(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def test_lines_reach_the_engine_config(tmp_path):
    config = engine_config(load(tmp_path, TWO_LINES), {})
    lines = list(config.support_lines())
    assert lines == [
        SupportLine("First", ConversationRef("console", "staff")),
        SupportLine("L2", ConversationRef("slack", "C0SECOND")),
        SupportLine("L3", ConversationRef("console", "experts")),
    ]
    assert config.auto_assign == AutoAssign.LEAST_LOADED
    assert config.escalate_on_breach is True


def test_defaults_one_line_no_auto_assignment(tmp_path):
    config = engine_config(load(tmp_path, ""), {})
    assert [line.name for line in config.support_lines()] == ["L1"]
    assert config.auto_assign is None and config.escalate_on_breach is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[staff.lines]]\nname = "L1"\nchannel = "console"\nchat_id = "x"\n',
            '"L1" is already the name of staff.line',
        ),
        (
            '[[staff.lines]]\nname = "L2"\nchannel = "console"\nchat_id = "staff"\n',
            "is already the staff chat of staff.chat_id",
        ),
        (
            '[[staff.lines]]\nname = "L2"\nchannel = "slack"\nchat_id = "C1"\n',
            'is "slack" but [slack] enabled = false',
        ),
        ('[[staff.lines]]\nname = "two words"\nchannel = "console"\nchat_id = "x"\n', "name"),
        ('[staff]\nauto_assign = "random"\n', "auto_assign"),
    ],
)
def test_bad_lines_are_refused_with_one_line(tmp_path, text, expected):
    message = error_for(tmp_path, text)
    assert expected in message
    assert "\n" not in message
