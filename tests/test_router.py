"""The command router: one registry of commands with their roles and places, /help generated
from it and showing each person only what they may use."""

from __future__ import annotations

import pytest

from core.commands import Command
from core.i18n import Texts
from core.roles import Roles
from core.router import Place, Router
from tests.harness import ADMIN, AGENT, Harness


async def test_user_help_lists_the_users_commands_only(store):
    bot = Harness(store)
    await bot.user_says("/help")
    help_text = bot.to_user()[-1]
    assert "How I can help:" in help_text
    assert "/new [text]" in help_text and "/lang ru|en" in help_text
    assert "/faq_add" not in help_text and "/take" not in help_text
    assert "/helped" not in help_text  # what buttons send is not listed


async def test_an_admin_sees_the_admin_commands_in_private_help(store):
    bot = Harness(store)
    await bot.user_says("/help", user=ADMIN)
    help_text = bot.to_user(ADMIN)[-1]
    assert "/new [text]" in help_text and "/faq_add" in help_text and "/grant" in help_text


async def test_staff_help_shows_what_the_speaker_may_use(store):
    bot = Harness(store)
    await bot.deliver(bot.staff_message("/help", agent=AGENT))
    agent_help = bot.to_staff()[-1].message.text
    assert agent_help.startswith("Staff chat:")
    assert "/take" in agent_help and "/stats" in agent_help
    assert "/gaps" not in agent_help and "/faq_add" not in agent_help  # supervisors, admins
    await bot.deliver(bot.staff_message("/help", agent=ADMIN))
    admin_help = bot.to_staff()[-1].message.text
    assert "/gaps" in admin_help and "/faq_learn" in admin_help and "/faq_add" in admin_help


async def test_russian_help_comes_from_the_russian_catalog(store):
    bot = Harness(store)
    await bot.user_says("/help", language="ru")
    assert "Чем я могу помочь:" in bot.to_user()[-1]


def test_every_listed_command_has_its_help_line_in_every_language(store):
    bot = Harness(store)
    texts = Texts("en")
    keys = [route.help for route in bot.engine.router._order if route.help]
    assert len(keys) > 30
    for language in ("en", "ru"):
        catalog = texts.catalogs[language]
        missing = [key for key in keys if key not in catalog]
        assert not missing, (language, missing)


def test_a_command_is_registered_once_per_place():
    router = Router(Roles())

    async def handler(turn, command):
        return None

    router.add("close", handler, place=Place.PRIVATE)
    router.add("close", handler, place=Place.STAFF)  # the same name elsewhere is another command
    with pytest.raises(ValueError, match="registered twice"):
        router.add("close", handler, place=Place.ANYWHERE)
    assert router.find("close", Place.STAFF) is not None
    assert router.find("take", Place.STAFF) is None


async def test_an_unknown_command_is_not_dispatched(store):
    router = Router(Roles())
    assert not await router.dispatch(None, Command("nothing"), Place.PRIVATE)  # type: ignore[arg-type]
