"""The fake Slack speaks the Web API, Socket Mode and signed HTTP events well enough for the real
slack_sdk / slack_bolt."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import FakeSlack

pytest_plugins = ["tests.fakes.fixtures"]

USER = "U1ANN"
STAFF = "C0STAFF"


async def test_history_and_replies_show_metadata_only_when_asked(
    fake_slack: FakeSlack, slack_client: AsyncWebClient
):
    metadata = {"event_type": "helpdesk_outbox", "event_payload": {"key": "7.0"}}
    root = await slack_client.chat_postMessage(channel=STAFF, text="root", metadata=metadata)
    first = await slack_client.chat_postMessage(channel=STAFF, text="1", thread_ts=root["ts"])
    await slack_client.chat_postMessage(channel=STAFF, text="2", thread_ts=root["ts"])
    await slack_client.chat_postMessage(channel=STAFF, text="later", metadata=metadata)
    await slack_client.chat_postMessage(channel="C0OTHER", text="elsewhere")

    history = await slack_client.conversations_history(channel=STAFF, include_all_metadata=True)
    plain = await slack_client.conversations_history(channel=STAFF, limit=1)
    replies = await slack_client.conversations_replies(
        channel=STAFF, ts=root["ts"], oldest=first["ts"], include_all_metadata=True
    )
    with pytest.raises(SlackApiError) as missing:
        await slack_client.conversations_replies(channel=STAFF, ts="1.000000")

    assert [m["text"] for m in history["messages"]] == ["later", "root"]  # newest first
    assert history["messages"][1]["metadata"] == metadata
    assert [m["text"] for m in plain["messages"]] == ["later"] and plain["has_more"]
    assert "metadata" not in plain["messages"][0]
    assert [m["text"] for m in replies["messages"]] == ["2"]  # oldest first, after `oldest`
    assert missing.value.response["error"] == "thread_not_found"


async def test_post_thread_update_and_lookups(fake_slack: FakeSlack, slack_client: AsyncWebClient):
    auth = await slack_client.auth_test()
    root = await slack_client.chat_postMessage(channel=STAFF, text="Ticket #1")
    reply = await slack_client.chat_postMessage(channel=STAFF, text="more", thread_ts=root["ts"])
    await slack_client.chat_update(channel=STAFF, ts=root["ts"], text="Ticket #1 (closed)")
    dm = await slack_client.conversations_open(users=USER)
    profile = await slack_client.users_info(user=USER)
    with pytest.raises(SlackApiError) as missing:
        await slack_client.chat_update(channel=STAFF, ts="1.000000", text="x")

    assert auth["user_id"] == fake_slack.bot_user_id
    assert float(reply["ts"]) > float(root["ts"])
    assert [m["text"] for m in fake_slack.sent_to(STAFF, thread_ts=root["ts"])] == ["more"]
    assert fake_slack.sent_to(STAFF)[0]["text"] == "Ticket #1 (closed)"
    assert dm["channel"]["id"] == fake_slack.dm_channel(USER)
    assert profile["user"]["id"] == USER
    assert missing.value.response["error"] == "message_not_found"
    assert fake_slack.calls("chat.postMessage")[1].params["thread_ts"] == root["ts"]


async def test_auth_errors(fake_slack: FakeSlack, slack_client: AsyncWebClient):
    with pytest.raises(SlackApiError) as wrong_type:
        await slack_client.apps_connections_open(app_token=fake_slack.bot_token)
    stranger = AsyncWebClient(token="xoxb-nope", base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError) as invalid:
        await stranger.auth_test()
    await stranger.session.close() if stranger.session else None

    assert wrong_type.value.response["error"] == "not_allowed_token_type"
    assert invalid.value.response["error"] == "invalid_auth"


async def test_rate_limit_raises_then_retry_handler_retries(
    fake_slack: FakeSlack, slack_client: AsyncWebClient, monkeypatch
):
    fake_slack.rate_limit_next(method="chat.postMessage", retry_after=3)
    with pytest.raises(SlackApiError) as limited:
        await slack_client.chat_postMessage(channel=STAFF, text="x")

    # The handler sleeps Retry-After + random(); make it instant but keep the retry.
    monkeypatch.setattr("slack_sdk.http_retry.builtin_async_handlers.random.random", lambda: 0)
    slack_client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    fake_slack.rate_limit_next(method="chat.postMessage", retry_after=0)
    posted = await slack_client.chat_postMessage(channel=STAFF, text="y")

    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "3"
    assert limited.value.response["error"] == "ratelimited"
    assert posted["ok"]
    assert [c.status for c in fake_slack.calls("chat.postMessage")] == [429, 429, 200]


async def test_server_error_and_ratio(fake_slack: FakeSlack, slack_client: AsyncWebClient):
    fake_slack.server_error_next(status=503)
    with pytest.raises(SlackApiError) as failed:
        await slack_client.chat_postMessage(channel=STAFF, text="x")
    fake_slack.rate_limit_ratio(1 / 2)
    outcomes = []
    for _ in range(4):
        try:
            await slack_client.chat_postMessage(channel=STAFF, text="x")
            outcomes.append("ok")
        except SlackApiError:
            outcomes.append("429")

    assert failed.value.response.status_code == 503
    assert outcomes == ["ok", "429", "ok", "429"]


async def test_file_upload_and_private_download(
    fake_slack: FakeSlack, slack_client: AsyncWebClient
):
    root = await slack_client.chat_postMessage(channel=STAFF, text="Ticket #2")
    await slack_client.files_upload_v2(
        channel=STAFF,
        thread_ts=root["ts"],
        content=b"log line",
        filename="log.txt",
        initial_comment="attached",
    )
    shared = fake_slack.add_file(b"\x89PNG", "shot.png", "image/png", user=USER)
    async with aiohttp.ClientSession() as http:
        with_token = await http.get(
            shared["url_private"], headers={"Authorization": f"Bearer {fake_slack.bot_token}"}
        )
        without_token = await http.get(shared["url_private"])
        content, login_page = await with_token.read(), await without_token.text()

    upload_message = fake_slack.sent_to(STAFF, thread_ts=root["ts"])[0]
    assert upload_message["text"] == "attached"
    assert fake_slack.file_content(upload_message["files"][0]["id"]) == b"log line"
    assert content == b"\x89PNG"
    assert without_token.status == 200 and "<html>" in login_page  # Slack's pitfall


async def test_socket_mode_delivers_events_and_collects_acks(
    fake_slack: FakeSlack, slack_client: AsyncWebClient
):
    app = AsyncApp(client=slack_client, signing_secret=fake_slack.signing_secret)
    seen: list[tuple[str, str]] = []

    @app.event("message")
    async def on_message(event, say) -> None:
        seen.append((event["channel_type"], event["text"]))
        await say("got it")

    @app.action("close")
    async def on_close(ack, respond, body) -> None:
        await ack()
        await respond(f"closed by {body['user']['id']}")

    handler = AsyncSocketModeHandler(app, app_token=fake_slack.app_token)
    await handler.connect_async()
    try:
        await fake_slack.wait_for_socket()
        event_envelope = await fake_slack.send_event(fake_slack.make_dm_event(USER, "help"))
        await fake_slack.wait_for_ack(event_envelope)
        await fake_slack.wait_until(lambda: len(fake_slack.sent) == 1)
        press = fake_slack.make_block_actions(
            USER,
            "close",
            "ticket-1",
            channel=fake_slack.dm_channel(USER),
            message_ts=fake_slack.sent[0]["ts"],
        )
        action_envelope = await fake_slack.send_interactive(press)
        await fake_slack.wait_for_ack(action_envelope)
        await fake_slack.wait_until(lambda: len(fake_slack.responses) == 1)
    finally:
        await handler.close_async()

    assert seen == [("im", "help")]
    assert fake_slack.sent[0]["channel"] == fake_slack.dm_channel(USER)
    assert fake_slack.responses[0]["text"] == f"closed by {USER}"
    assert fake_slack.calls("apps.connections.open")


async def test_signed_http_events_reach_bolt(fake_slack: FakeSlack, slack_client: AsyncWebClient):
    app = AsyncApp(
        client=slack_client,
        signing_secret=fake_slack.signing_secret,
        process_before_response=True,
    )
    seen: list[str] = []

    @app.event("message")
    async def on_message(event) -> None:
        seen.append(event["text"])

    runner = web.AppRunner(app.web_app(path="/slack/events"))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    try:
        body = fake_slack.make_channel_message_event(STAFF, USER, "reply", thread_ts="1.000001")
        good = await fake_slack.post_event(url, body)
        retried = await fake_slack.post_event(url, body, retry_num=1)
        bad = await fake_slack.post_event(url, body, bad_signature=True)
        stale = await fake_slack.post_event(url, body, timestamp=int(time.time()) - 600)
        challenge = await fake_slack.post_event(
            url, {"type": "url_verification", "challenge": "abc", "token": "t"}
        )
    finally:
        await runner.cleanup()

    assert (good[0], retried[0], bad[0], stale[0]) == (200, 200, 401, 401)
    assert seen == ["reply", "reply"]  # Bolt does not deduplicate retries: key on event_id
    assert challenge[0] == 200 and json.loads(challenge[1])["challenge"] == "abc"


async def test_socket_reconnect_and_file_share(fake_slack: FakeSlack, slack_client: AsyncWebClient):
    app = AsyncApp(client=slack_client, signing_secret=fake_slack.signing_secret)
    shared: list[list[str]] = []

    @app.event("message")
    async def on_message(event) -> None:
        shared.append([f["name"] for f in event.get("files", [])])

    handler = AsyncSocketModeHandler(app, app_token=fake_slack.app_token)
    await handler.connect_async()
    try:
        await fake_slack.wait_for_socket()
        await fake_slack.request_reconnect()
        await fake_slack.wait_for_socket(connections=2)
        file = fake_slack.add_file(b"data", "notes.txt", user=USER)
        envelope = await fake_slack.send_event(fake_slack.make_file_share_event(USER, [file]))
        await fake_slack.wait_for_ack(envelope)
        await fake_slack.wait_until(lambda: bool(shared))
    finally:
        await handler.close_async()

    assert shared == [["notes.txt"]]
    assert len(fake_slack.calls("apps.connections.open")) == 2
