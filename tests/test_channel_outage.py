"""A platform that cannot be reached (connection refused) delays delivery: every adapter reports
it as a passing failure, so the outbox retries instead of dropping the message."""

from __future__ import annotations

import socket

import pytest

from channels.slack import SlackChannel
from channels.telegram import TelegramChannel
from channels.vk import VkChannel
from core.messages import ConversationRef, OutgoingMessage
from core.ports import TransientSendError


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


def _telegram(url: str) -> TelegramChannel:
    return TelegramChannel("123456:TEST-TOKEN", "polling", api_base_url=url)


def _vk(url: str) -> VkChannel:
    return VkChannel("vk-token", 1, "longpoll", api_base_url=url, request_timeout=5)


def _slack(url: str) -> SlackChannel:
    return SlackChannel("xoxb-test", "socket", app_token="xapp-test", api_base_url=url)


@pytest.mark.parametrize(("make", "chat"), [(_telegram, "42"), (_vk, "5"), (_slack, "D01")])
async def test_connection_refused_is_a_passing_failure(make, chat, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    channel = make(_closed_port_url())
    message = OutgoingMessage(ConversationRef(channel.name, chat), "hello")
    try:
        with pytest.raises(TransientSendError):
            await channel.send(message, "1.0")
    finally:
        close = getattr(channel, "close", None) or channel.stop
        await close()
