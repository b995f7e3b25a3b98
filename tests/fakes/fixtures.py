"""Pytest fixtures for the fake platform servers and real SDK clients pointed at them.

Import the ones you need into a test module or conftest:

    from tests.fakes.fixtures import fake_telegram, telegram_bot  # noqa: F401

(or list "tests.fakes.fixtures" in `pytest_plugins` of the root conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from slack_sdk.web.async_client import AsyncWebClient
from vkbottle import API

from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.fakes.vk import FakeVK


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake
    assert not fake.internal_errors, fake.internal_errors


@pytest.fixture
async def telegram_bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    """An aiogram Bot whose session talks to `fake_telegram`."""
    bot = telegram_bot_for(fake_telegram)
    yield bot
    await close_telegram_bot(bot)


def telegram_bot_for(fake: FakeTelegram) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    return Bot(fake.token, session=session)


async def close_telegram_bot(bot: Bot) -> None:
    """Close the bot's HTTP session without AiohttpSession.close()'s 250 ms TLS grace sleep
    (nothing here uses TLS); keeps suites with many bots fast."""
    client_session = getattr(bot.session, "_session", None)
    if client_session is not None and not client_session.closed:
        await client_session.close()
    else:
        await bot.session.close()


@pytest.fixture
async def fake_vk() -> AsyncIterator[FakeVK]:
    async with FakeVK() as fake:
        yield fake
    assert not fake.internal_errors, fake.internal_errors


@pytest.fixture
async def vk_api(fake_vk: FakeVK) -> AsyncIterator[API]:
    """A vkbottle API bound to `fake_vk` (its own HTTP client, closed afterwards)."""
    api = vk_api_for(fake_vk)
    yield api
    await api.http_client.close()


def vk_api_for(fake: FakeVK) -> API:
    from vkbottle.http import AiohttpClient

    # A private client: the default SingleAiohttpClient is a process-wide singleton whose
    # session would outlive this test's event loop.
    api = API(fake.token, http_client=AiohttpClient())
    api.API_URL = fake.api_url
    return api


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake
    assert not fake.internal_errors, fake.internal_errors


@pytest.fixture
async def slack_client(fake_slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    client = AsyncWebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url)
    yield client
    if client.session is not None:
        await client.session.close()
