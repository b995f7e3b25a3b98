"""Priority from the user's group: configured, combined with the keyword rules (the highest
wins), and applied to a new ticket through the engine."""

from __future__ import annotations

import pytest

from bot.app import ticket_policy
from bot.config import ConfigError, load_settings
from core.domain import Priority
from core.tickets.policy import KeywordRule, TicketPolicy, UserGroupRule
from tests.harness import CHANNEL, Harness

VIP = UserGroupRule("vip", frozenset({(CHANNEL, "ceo"), ("telegram", "7")}), Priority.HIGH)
POLICY = TicketPolicy(
    priority_rules=(KeywordRule(("outage",), "urgent"), KeywordRule(("whenever",), "low")),
    user_groups=(VIP,),
)


def test_the_highest_of_keywords_and_groups_wins():
    assert POLICY.initial_priority("printer jammed", (CHANNEL, "ceo")) == Priority.HIGH
    assert POLICY.initial_priority("whenever you can", (CHANNEL, "ceo")) == Priority.HIGH
    assert POLICY.initial_priority("total outage", (CHANNEL, "ceo")) == Priority.URGENT
    assert POLICY.initial_priority("printer jammed", (CHANNEL, "intern")) == Priority.NORMAL
    assert POLICY.initial_priority("printer jammed", ("telegram", "7")) == Priority.HIGH
    assert POLICY.initial_priority("printer jammed", ("vk", "7")) == Priority.NORMAL
    assert POLICY.initial_priority("printer jammed") == Priority.NORMAL


async def test_a_vip_ticket_starts_high(store):
    bot = Harness(store, tickets=POLICY)
    await bot.user_says("/new my laptop will not start", user="ceo")
    await bot.user_says("/new my laptop will not start", user="intern")
    async with store.transaction() as tx:
        assert (await tx.tickets.get(1)).priority == Priority.HIGH
        assert (await tx.tickets.get(2)).priority == Priority.NORMAL
    assert "🆕 Ticket #1 · high" in bot.to_staff()[0].message.text


def write(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "sqlite:///x.sqlite3"\n{text}', encoding="utf-8")
    return path


def test_groups_come_from_the_config(tmp_path):
    settings = load_settings(
        write(
            tmp_path,
            '[[tickets.user_groups]]\nname = "vip"\nmembers = ["telegram:7", "slack:U1"]\n'
            'priority = "urgent"\n',
        ),
        env={},
    )
    (group,) = ticket_policy(settings).user_groups
    assert group == UserGroupRule(
        "vip", frozenset({("telegram", "7"), ("slack", "U1")}), Priority.URGENT
    )


@pytest.mark.parametrize(
    ("members", "priority", "problem"),
    [
        ('["telegram7"]', '"high"', 'must look like "channel:user_id"'),
        ('["icq:7"]', '"high"', 'unknown channel "icq"'),
        ('["telegram:7"]', '"top"', "priority"),
    ],
)
def test_bad_groups_are_one_line_errors(tmp_path, members, priority, problem):
    text = f'[[tickets.user_groups]]\nname = "vip"\nmembers = {members}\npriority = {priority}\n'
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), env={})
    assert problem in str(caught.value) and "\n" not in str(caught.value)
