"""The Slack adapter through the real slack-bolt / slack-sdk against the fake Slack, in Socket
Mode (envelopes over the fake's websocket) and in HTTP mode (signed events posted to the
adapter's aiohttp route on 127.0.0.1), around the whole helpdesk (engine, ingest, outbox).
The staff chat is a Slack channel with one thread per ticket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError

from channels.slack import SlackChannel
from channels.slack_errors import to_send_error
from channels.slack_format import (
    MAX_BUTTON_LABEL,
    MAX_SECTION_TEXT,
    escape,
    message_blocks,
    split_escaped,
    unescape,
)
from channels.slack_inbound import UserDirectory
from core import telemetry
from core.delivery.outbox import OutboxConfig, OutboxSender
from core.domain import NewTicket, OutboxStatus, Priority, TicketStatus
from core.messages import (
    Attachment,
    Button,
    ConversationRef,
    IncomingMessage,
    OutgoingMessage,
    Sender,
)
from core.ports import PermanentSendError, RateLimits, RetryAfter, ThreadGone, TransientSendError
from core.work import utc_now
from tests.e2e import RunningHelpdesk, running_helpdesk
from tests.fakes.slack import FakeSlack, SlackError
from tests.harness import FakeClock

pytest_plugins = ["tests.fakes.fixtures"]

USER = "U1ANN"
OTHER_USER = "U3BOB"
AGENT = "U2AGENT"
STAFF = "C0STAFF"
MODES = ("socket", "http")
# No pacing in tests (the outbox's pacing has its own tests); Slack's own 429s still apply.
UNPACED = RateLimits(per_chat=1_000, per_chat_window=1.0, overall=1_000)
PASSWORD_ANSWER = "Click 'Forgot password?' on the sign-in page."


def plain(slack_text: str) -> str:
    """What a Slack client shows for a message text the bot posted with mrkdwn off."""
    return slack_text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def make_channel(fake: FakeSlack, mode: str) -> SlackChannel:
    return SlackChannel(
        fake.bot_token,
        mode,
        app_token=fake.app_token,
        signing_secret=fake.signing_secret,
        api_base_url=fake.base_url,
        events_path="/slack/events",
        rate_limits=UNPACED,
        stop_timeout=5.0,
    )


@asynccontextmanager
async def serving(channel: SlackChannel) -> AsyncIterator[str | None]:
    """The channel's web routes on 127.0.0.1 (HTTP mode); yields the events URL."""
    routes = channel.web_routes()
    if not routes:
        yield None
        return
    app = web.Application()
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}{channel.events_path}"
    finally:
        await runner.cleanup()


@dataclass
class SlackWorld:
    """The test's side of Slack: people writing and pressing buttons, and what they see."""

    fake: FakeSlack
    channel: SlackChannel
    mode: str
    events_url: str | None
    helpdesk: RunningHelpdesk | None = None

    async def deliver(self, payload: dict[str, Any], *, retry: int = 0) -> int | None:
        """Deliver an event or a button press the way Slack does in this mode, and wait for the
        acknowledgement. Returns the HTTP status (HTTP mode), or 200 once the envelope was
        acknowledged / None when it was not (Socket Mode)."""
        if self.mode == "http":
            assert self.events_url is not None
            status, _ = await self.fake.post_event(
                self.events_url, payload, retry_num=retry or None
            )
            return status
        if payload.get("type") == "block_actions":
            envelope = await self.fake.send_interactive(payload)
        else:
            envelope = await self.fake.send_envelope(payload, retry_attempt=retry)
        try:
            await self.fake.wait_for_ack(envelope, within=5.0)
        except AssertionError:
            return None
        return 200

    async def user_says(self, text: str, user: str = USER) -> dict[str, Any]:
        payload = self.fake.make_dm_event(user, escape(text))  # Slack escapes what people type
        assert await self.deliver(payload) == 200
        return payload

    async def agent_says(self, text: str, thread_ts: str | None, agent: str = AGENT) -> None:
        payload = self.fake.make_channel_message_event(
            STAFF, agent, escape(text), thread_ts=thread_ts
        )
        assert await self.deliver(payload) == 200

    async def press(self, label: str, user: str = USER) -> None:
        """Press the button with that label under the newest message in the user's DM."""
        dm = self.fake.dm_channel(user)
        for message in reversed(self.fake.sent_to(dm)):
            for block in message.get("blocks") or ():
                for element in block.get("elements") or ():
                    if plain(element["text"]["text"]) == label:
                        payload = self.fake.make_block_actions(
                            user,
                            element["action_id"],
                            element["value"],
                            channel=dm,
                            message_ts=message["ts"],
                        )
                        assert await self.deliver(payload) == 200
                        return
        raise AssertionError(f"no button {label!r} in {user}'s DM")

    async def settle(self) -> None:
        assert self.helpdesk is not None
        await self.helpdesk.settle()

    def dm(self, user: str = USER) -> list[str]:
        return [plain(m["text"]) for m in self.fake.sent_to(self.fake.dm_channel(user))]

    def announcement(self, number: int) -> dict[str, Any]:
        for message in self.fake.sent_to(STAFF):
            if "thread_ts" not in message and f"Ticket #{number} " in plain(message["text"]):
                return message
        raise AssertionError(f"ticket #{number} was not announced")

    def thread(self, thread_ts: str) -> list[str]:
        return [plain(m["text"]) for m in self.fake.sent_to(STAFF, thread_ts=thread_ts)]


@asynccontextmanager
async def slack_world(
    store, fake: FakeSlack, mode: str, **engine_options
) -> AsyncIterator[SlackWorld]:
    channel = make_channel(fake, mode)
    async with serving(channel) as url:
        world = SlackWorld(fake, channel, mode, url)
        async with running_helpdesk(
            store, {"slack": channel}, staff_chat=ConversationRef("slack", STAFF), **engine_options
        ) as helpdesk:
            world.helpdesk = helpdesk
            if mode == "socket":
                await fake.wait_for_socket()
            yield world


@pytest.fixture(params=MODES)
async def world(request: pytest.FixtureRequest, store, fake_slack: FakeSlack):
    async with slack_world(store, fake_slack, request.param) as running:
        yield running


# ------------------------------------------------------------------ the conversation


async def test_question_answered_ticket_relayed_noted_and_closed(world: SlackWorld):
    await world.user_says("How do I reset my password?")
    await world.settle()
    answer = world.fake.sent_to(world.fake.dm_channel(USER))[-1]
    buttons = [e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert plain(answer["text"]).endswith(f"\n\n{PASSWORD_ANSWER}")  # after the greeting
    assert [plain(b["text"]["text"]) for b in buttons] == ["👍 Helped", "👎 Didn't help"]
    assert len({b["action_id"] for b in buttons}) == 2

    await world.press("👎 Didn't help")
    await world.settle()
    ticket = await world.helpdesk.ticket(1)
    root = world.announcement(1)
    assert ticket is not None and ticket.status == TicketStatus.NEW
    assert "How do I reset my password?" in plain(root["text"])
    assert "opened ticket #1" in world.dm()[-1]

    await world.agent_says("Try the link in the e-mail we sent.", root["ts"])
    await world.agent_says("// she tried twice already", root["ts"])
    await world.settle()
    assert world.dm()[-1] == "💬 Support (ticket #1):\nTry the link in the e-mail we sent."
    assert not any("tried twice" in text for text in world.dm())

    await world.agent_says("/close", root["ts"])
    await world.settle()
    closed = await world.helpdesk.ticket(1)
    assert closed.status == TicketStatus.CLOSED
    assert "closed by support" in world.dm()[-1]
    # Every staff message about the ticket went into its thread, none to the channel itself.
    assert [m["ts"] for m in world.fake.sent_to(STAFF) if "thread_ts" not in m] == [root["ts"]]
    assert any("#1" in text for text in world.thread(root["ts"]))
    posts = world.fake.ok_calls("chat.postMessage")
    assert all(call.params.get("mrkdwn") is False for call in posts)


async def test_each_event_from_slack_counts_as_contact_for_monitoring(world: SlackWorld):
    heard: list[tuple[str, dict[str, str]]] = []
    detach = telemetry.attach(lambda name, labels: heard.append((name, labels)))
    try:
        await world.user_says("How do I reset my password?")
        await world.settle()
    finally:
        detach()
    assert ("channel_contact", {"channel": "slack"}) in heard  # an envelope or an Events request


async def test_repeated_delivery_has_one_effect(world: SlackWorld):
    payload = world.fake.make_dm_event(USER, "/new my printer is on fire")
    assert await world.deliver(payload) == 200
    assert await world.deliver(payload, retry=1) == 200  # Slack's retry: same event_id
    await world.settle()
    (opened,) = world.dm()  # a second handling would add "ticket #1 is still open"
    assert opened.startswith("Hello!") and "opened ticket #1" in opened
    assert len([m for m in world.fake.sent_to(STAFF) if "thread_ts" not in m]) == 1

    press = await _a_press(world)
    assert await world.deliver(press) == 200
    assert await world.deliver(press) == 200
    await world.settle()
    assert world.dm().count("Glad it helped! Write again if you have more questions.") == 1
    async with world.helpdesk.store.transaction() as tx:
        helpful = [e.helpful for e in await tx.faq.list()]
    assert sum(helpful) == 1


async def _a_press(world: SlackWorld) -> dict[str, Any]:
    """A press of "👍 Helped" under a fresh answer (after the ticket: the user asks again)."""
    await world.user_says("/close")
    await world.user_says("How do I reset my password?")
    await world.settle()
    answer = world.fake.sent_to(world.fake.dm_channel(USER))[-1]
    button = answer["blocks"][-1]["elements"][0]
    return world.fake.make_block_actions(
        USER,
        button["action_id"],
        button["value"],
        channel=world.fake.dm_channel(USER),
        message_ts=answer["ts"],
    )


async def test_markup_characters_arrive_literally(world: SlackWorld):
    tricky = "<b>bold</b> *star* _under_ ~strike~ `code` & <@U9> &amp;"
    await world.user_says(f"/new {tricky}")
    await world.settle()
    root = world.announcement(1)
    await world.agent_says(f"You wrote: {tricky}", root["ts"])
    await world.settle()

    assert tricky in plain(root["text"])
    assert "&lt;b&gt;" in root["text"] and "&amp;amp;" in root["text"]
    assert world.dm()[-1].endswith(f"You wrote: {tricky}")
    async with world.helpdesk.store.transaction() as tx:
        stored = await tx.messages.list(1)
    assert stored[0].text == tricky


async def test_long_texts_arrive_whole_or_split_without_loss(world: SlackWorld):
    await world.user_says("/new long answers please")
    await world.settle()
    root = world.announcement(1)
    ordinary = " ".join(f"word{i}" for i in range(1_700))[:9_990]  # engine limit: 10,000
    await world.agent_says(ordinary, root["ts"])
    await world.settle()
    assert world.dm()[-1] == f"💬 Support (ticket #1):\n{ordinary}"

    # Escaping makes "&" five times longer: 9,000 characters of them do not fit 40,000.
    dense = " ".join(["&" * 20] * 430)[:9_000]
    assert len(escape(dense)) > 40_000
    before = len(world.dm())
    await world.agent_says(dense, root["ts"])
    await world.settle()
    parts = world.fake.sent_to(world.fake.dm_channel(USER))[before:]
    assert len(parts) == 2
    assert all(len(p["text"]) <= 40_000 for p in parts)
    rejoined = " ".join(plain(p["text"]) for p in parts)
    assert rejoined == f"💬 Support (ticket #1):\n{dense}"


async def test_a_long_announcement_is_split_once_by_the_adapter_and_every_part_linked(
    world: SlackWorld,
):
    received: list[OutgoingMessage] = []
    send = world.channel.send

    async def recording_send(message: OutgoingMessage, idempotency_key: str):
        received.append(message)
        return await send(message, idempotency_key)

    world.channel.send = recording_send  # type: ignore[method-assign]
    dense = " ".join(["&" * 20] * 430)[:9_000]  # five times longer once escaped
    await world.user_says(f"/new {dense}")
    await world.settle()

    posts = world.fake.sent_to(STAFF)
    to_staff = [m for m in received if m.conversation.chat_id == STAFF]
    assert len(to_staff) == len(posts) == 2
    # What the outbox handed over was already split by the adapter's escaping-aware `parts`;
    # send posted each part as it came, with no second split.
    assert [m["text"] for m in posts] == [escape(m.text) for m in to_staff]
    assert all(len(m["text"]) <= 40_000 for m in posts)
    # The first part opened the ticket's thread; the rest of the announcement went into it.
    root, rest = posts
    assert "thread_ts" not in root and rest["thread_ts"] == root["ts"]
    async with world.helpdesk.store.transaction() as tx:
        linked = [await tx.links.find_ticket("slack", STAFF, m["ts"]) for m in posts]
        anchor = await tx.links.find_anchor(1, "slack", STAFF)
    assert linked == [1, 1]
    assert anchor is not None and anchor.message_id == root["ts"] == anchor.thread_id


async def test_rate_limit_storm_delivers_everything_in_order(world: SlackWorld):
    users = [USER, OTHER_USER, "U4CAT"]
    for user in users:
        await world.user_says("/new first", user)
    # Every third post refused with 429; Retry-After 0 keeps the storm fast (the wait itself
    # is checked in test_retry_after_is_honoured).
    world.fake.rate_limit_ratio(1 / 3, retry_after=0)
    for user in users:
        await world.user_says("/status", user)
        await world.user_says("/help", user)
        await world.user_says("/ticket 99", user)
    await world.settle()

    limited = [c for c in world.fake.calls("chat.postMessage") if c.status == 429]
    assert len(limited) >= 3, "the storm did not happen"
    for user in users:
        texts = world.dm(user)
        assert len(texts) == 4
        assert texts[0].startswith("Hello!") and "opened ticket" in texts[0]
        assert texts[1].startswith("Your tickets:")
        assert texts[2].startswith("How I can help:")
        assert "#99" in texts[3]


async def test_retry_after_is_honoured(store, fake_slack: FakeSlack):
    async with slack_world(store, fake_slack, "socket") as world:
        fake_slack.rate_limit_next(method="chat.postMessage", retry_after=1)
        await world.user_says("/help")
        await world.settle()
        limited, *retried = fake_slack.calls("chat.postMessage")
        assert limited.status == 429 and [c.status for c in retried] == [200]
        # The greeting (with the help) waited the full second Slack asked for, posted once.
        assert retried[0].at - limited.at >= 0.99
        (greeting,) = world.dm()
        assert greeting.startswith("Hello!") and "How I can help:" in greeting


async def test_unreachable_user_fails_alone(world: SlackWorld):
    world.fake.missing_channels.add(world.fake.dm_channel(OTHER_USER))
    await world.user_says("How do I reset my password?", OTHER_USER)
    await world.user_says("How do I reset my password?", USER)
    await world.settle()

    assert world.dm(USER)[-1].endswith(PASSWORD_ANSWER)
    async with world.helpdesk.store.transaction() as tx:
        items = [await tx.outbox.get(i) for i in range(1, 10)]
    to_other = [
        i
        for i in items
        if i and i.message.conversation.chat_id == world.fake.dm_channel(OTHER_USER)
    ]
    assert to_other and all(i.status == OutboxStatus.FAILED for i in to_other)
    assert all(i.attempts == 1 and "channel_not_found" in (i.last_error or "") for i in to_other)


async def test_files_cross_both_ways_by_reupload(world: SlackWorld):
    photo = world.fake.add_file(b"\x89PNG user screenshot", "screen.png", "image/png", user=USER)
    share = world.fake.make_file_share_event(USER, [photo], text=escape("/new it looks like this"))
    assert await world.deliver(share) == 200
    await world.settle()
    root = world.announcement(1)
    in_thread = [m for m in world.fake.sent_to(STAFF, thread_ts=root["ts"]) if m.get("files")]
    assert len(in_thread) == 1
    copy = in_thread[0]["files"][0]
    assert copy["id"] != photo["id"] and copy["name"] == "screen.png"
    assert world.fake.file_content(copy["id"]) == b"\x89PNG user screenshot"

    log = world.fake.add_file(b"agent's fix.sh", "fix.sh", "text/x-sh", user=AGENT)
    reply = world.fake.make_file_share_event(
        AGENT, [log], text="run this", channel=STAFF, thread_ts=root["ts"], channel_type="channel"
    )
    assert await world.deliver(reply) == 200
    await world.settle()
    dm = world.fake.sent_to(world.fake.dm_channel(USER))
    assert plain(dm[-2]["text"]) == "💬 Support (ticket #1):\nrun this"
    assert world.fake.file_content(dm[-1]["files"][0]["id"]) == b"agent's fix.sh"
    downloads = world.fake.calls("download")
    assert downloads and all(
        d.headers.get("Authorization") == f"Bearer {world.fake.bot_token}" for d in downloads
    )


# ------------------------------------------------------------------ delivery guarantees


@pytest.mark.parametrize("mode", MODES)
async def test_acknowledged_only_after_commit(fake_slack: FakeSlack, mode: str):
    """The platform hears "got it" only once on_message returned; a failure leaves the
    delivery unacknowledged (Slack redelivers), and stop() lets in-flight work finish."""
    channel = make_channel(fake_slack, mode)
    entered, release = asyncio.Event(), asyncio.Event()
    outcomes: list[str] = ["fail"]  # the first delivery fails, later ones wait for `release`
    seen: list[IncomingMessage] = []

    async def on_message(message: IncomingMessage) -> None:
        seen.append(message)
        if outcomes and outcomes.pop(0) == "fail":
            raise ConnectionError("database is down")
        entered.set()
        await release.wait()

    async with serving(channel) as url:
        world = SlackWorld(fake_slack, channel, mode, url)
        await channel.start(on_message)
        if mode == "socket":
            await fake_slack.wait_for_socket()
        payload = fake_slack.make_dm_event(USER, "hello")
        failed = asyncio.create_task(world.deliver(payload))
        if mode == "http":
            assert await failed == 500
        else:
            await fake_slack.wait_until(lambda: len(seen) == 1)
        redelivered = asyncio.create_task(world.deliver(payload, retry=1))
        await entered.wait()
        stopping = asyncio.create_task(channel.stop())
        await asyncio.sleep(0.05)  # give a premature ack or stop every chance to happen
        premature = {e["envelope_id"] for e in fake_slack.envelopes} & set(fake_slack.acks)
        assert not redelivered.done() and not stopping.done() and not premature
        release.set()
        assert await redelivered == 200
        await stopping
        if mode == "socket":
            failed.cancel()
            assert fake_slack.envelopes[0]["envelope_id"] not in fake_slack.acks

    assert [m.update_id for m in seen] == [payload["event_id"]] * 2


async def test_http_signature_and_freshness_checked(store, fake_slack: FakeSlack):
    async with slack_world(store, fake_slack, "http") as world:
        payload = fake_slack.make_dm_event(USER, "How do I reset my password?")
        bad = await fake_slack.post_event(world.events_url, payload, bad_signature=True)
        stale = await fake_slack.post_event(
            world.events_url, payload, timestamp=int(time.time()) - 600
        )
        press = fake_slack.make_block_actions(
            USER, "helpdesk-0-0", "/new forged", channel="D1ANN", message_ts="1.000001"
        )
        forged = await fake_slack.post_event(world.events_url, press, bad_signature=True)
        challenge = await fake_slack.post_event(
            world.events_url, {"type": "url_verification", "challenge": "c-123", "token": "t"}
        )
        await world.settle()
        async with store.transaction() as tx:
            nobody = await tx.users.find("slack", USER)

        assert (bad[0], stale[0], forged[0]) == (401, 401, 401)
        assert challenge[0] == 200 and "c-123" in challenge[1]
        assert nobody is None and fake_slack.sent == []
        assert await world.deliver(payload) == 200  # the genuine delivery still works
        await world.settle()
        assert world.dm()[-1].endswith(f"\n\n{PASSWORD_ANSWER}")  # after the greeting


async def test_bots_edits_and_own_messages_ignored(world: SlackWorld):
    own = world.fake.make_dm_event(world.fake.bot_user_id, "echo of myself")
    other_bot = world.fake.make_dm_event("U7BOT", "beep")
    other_bot["event"]["bot_id"] = "B7OTHER"
    edited = world.fake.make_dm_event(USER, "edited")
    edited["event"]["subtype"] = "message_changed"
    mention = world.fake.make_event_callback(
        {"type": "app_mention", "user": USER, "text": "<@U0BOT> hi", "channel": STAFF, "ts": "1.5"}
    )
    for payload in (own, other_bot, edited, mention):
        assert await world.deliver(payload) == 200  # acknowledged, so Slack does not retry
    await world.settle()
    assert world.fake.sent == []
    async with world.helpdesk.store.transaction() as tx:
        assert await tx.users.find("slack", USER) is None


async def test_deleted_thread_opens_a_new_one(store):
    async with DeletingFakeSlack() as fake, slack_world(store, fake, "socket") as world:
        await world.user_says("/new thread will vanish")
        await world.settle()
        first = world.announcement(1)
        fake.deleted_threads.add(first["ts"])
        await world.user_says("are you there?")
        await world.settle()

        # The user's message, refused in the vanished thread, opened a new one.
        roots = [m for m in fake.sent_to(STAFF) if "thread_ts" not in m]
        assert [r["ts"] == first["ts"] for r in roots] == [True, False]
        assert "are you there?" in plain(roots[1]["text"])
        await world.agent_says("yes, here", roots[1]["ts"])
        await world.settle()
        assert world.dm()[-1].endswith("yes, here")


class DeletingFakeSlack(FakeSlack):
    """Slack where some threads' parents were deleted: posting into them fails."""

    def __init__(self) -> None:
        super().__init__()
        self.deleted_threads: set[str] = set()

    async def _post_message(self, request):  # noqa: ANN001 - the fake's handler signature
        if str(request.params.get("thread_ts") or "") in self.deleted_threads:
            raise SlackError("thread_not_found")
        return await super()._post_message(request)


async def test_display_name_and_locale_looked_up_once(world: SlackWorld):
    person = world.fake.add_user(USER, "ann", real_name="Ann Lee")
    person["locale"] = "ru-RU"
    person["profile"]["display_name"] = "Annie"
    await world.user_says("Как сбросить пароль?")
    await world.user_says("/new помогите")
    await world.settle()
    async with world.helpdesk.store.transaction() as tx:
        user = await tx.users.find("slack", USER)
    assert user.display_name == "Annie" and user.language == "ru"
    assert len(world.fake.calls("users.info")) == 1
    assert world.dm()[0].endswith("\n\nНажмите «Забыли пароль?» на странице входа.")


# ------------------------------------------------------------------ pieces


def test_escape_and_unescape():
    assert escape("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d"
    assert unescape(escape("<b>&amp;</b>")) == "<b>&amp;</b>"
    assert unescape("<https://x.io/a|x.io>, <https://y.io>") == "https://x.io/a, https://y.io"
    assert unescape("<https://x.io/a|the guide>") == "the guide (https://x.io/a)"
    assert unescape("hi <@U12|ann> in <#C1|general> <!here> <mailto:a@b.c|a@b.c>") == (
        "hi @ann in #general @here a@b.c"
    )


def test_split_escaped_fits_every_part():
    text = "&" * 10_000
    parts = split_escaped(text, 40_000)
    assert "".join(parts) == text
    assert all(len(escape(p)) <= 40_000 for p in parts) and len(parts) == 2
    assert split_escaped("short", 100) == ["short"]


def test_blocks_respect_slack_limits():
    text = "x" * 2_000 + "\n\n" + "<" * 2_000
    buttons = ((Button("&" * 100, "/a 1"), Button("ok", "/b 2")),)
    blocks = message_blocks(text, buttons)
    sections = [b for b in blocks if b["type"] == "section"]
    actions = [b for b in blocks if b["type"] == "actions"]
    assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in sections)
    assert plain("".join(b["text"]["text"] for b in sections)) == text.replace("\n\n", "")
    labels = [e["text"]["text"] for e in actions[0]["elements"]]
    assert all(len(label) <= MAX_BUTTON_LABEL for label in labels)
    assert [e["value"] for e in actions[0]["elements"]] == ["/a 1", "/b 2"]


def test_error_mapping():
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

    def api_error(error: str | None, status: int = 200, headers: dict | None = None):
        response = AsyncSlackResponse(
            client=None,
            http_verb="POST",
            api_url="https://slack.com/api/chat.postMessage",
            req_args={},
            data={"ok": False, "error": error} if error else "<html>",
            headers=headers or {},
            status_code=status,
        )
        return SlackApiError("failed", response)

    limited = to_send_error(api_error("ratelimited", 429, {"Retry-After": "7"}))
    assert isinstance(limited, RetryAfter) and limited.seconds == 7
    for code in ("channel_not_found", "not_in_channel", "is_archived", "user_not_found"):
        assert isinstance(to_send_error(api_error(code)), PermanentSendError)
    assert isinstance(to_send_error(api_error("thread_not_found")), ThreadGone)
    assert isinstance(to_send_error(api_error(None, 503)), TransientSendError)
    assert isinstance(to_send_error(api_error("invalid_auth")), TransientSendError)
    assert isinstance(to_send_error(ConnectionResetError()), TransientSendError)


async def test_download_refuses_foreign_hosts_and_sign_in_pages(fake_slack: FakeSlack):
    channel = make_channel(fake_slack, "http")
    shared = fake_slack.add_file(b"secret", "a.txt", user=USER)
    good = Attachment("document", shared["id"], url=shared["url_private"], channel="slack")
    assert await channel.download(good) == b"secret"
    with pytest.raises(PermanentSendError):
        await channel.download(Attachment("document", "F1", url="https://evil.example/x"))
    wrong_token = SlackChannel(
        "xoxb-wrong", "http", signing_secret="s", api_base_url=fake_slack.base_url
    )
    with pytest.raises(PermanentSendError, match="sign-in"):
        await wrong_token.download(good)


async def test_send_before_start_and_empty_messages(fake_slack: FakeSlack):
    channel = make_channel(fake_slack, "socket")
    sent = await channel.send(OutgoingMessage(ConversationRef("slack", STAFF), "hi"), "k")
    assert sent.message_id == fake_slack.sent[-1]["ts"] and sent.thread_id is None
    with pytest.raises(PermanentSendError):
        await channel.send(OutgoingMessage(ConversationRef("slack", STAFF), "  "), "k2")


async def test_user_directory_asks_once_keeps_order_and_expires():
    asked: list[str] = []
    answer = asyncio.Event()
    now = [0.0]

    async def lookup(user_id: str) -> dict[str, Any]:
        asked.append(user_id)
        await answer.wait()
        if user_id == "U404":
            raise ConnectionError("slack unreachable")
        return {"name": "ann", "locale": "en-GB", "profile": {"display_name": "Annie"}}

    directory = UserDirectory(lookup, ttl=60, clock=lambda: now[0])
    order: list[int] = []

    async def message(number: int) -> None:
        await directory.sender("U1")
        order.append(number)

    waiting = [asyncio.create_task(message(n)) for n in range(5)]
    await asyncio.sleep(0)
    answer.set()
    await asyncio.gather(*waiting)
    assert asked == ["U1"] and order == [0, 1, 2, 3, 4]
    assert await directory.sender("U1") == Sender("U1", "Annie", "en-GB", "ann")

    assert (await directory.sender("U404", "bob")).display_name == "bob"  # fallback, not kept
    await directory.sender("U404", "bob")
    now[0] = 61.0
    await directory.sender("U1")
    assert asked == ["U1", "U404", "U404", "U1"]


@pytest.mark.parametrize("mode", MODES)
async def test_start_fails_on_a_wrong_token(fake_slack: FakeSlack, mode: str):
    channel = SlackChannel(
        "xoxb-revoked",
        mode,
        app_token=fake_slack.app_token,
        signing_secret="s",
        api_base_url=fake_slack.base_url,
    )

    async def never(message: IncomingMessage) -> None:
        raise AssertionError("nothing should arrive")

    with pytest.raises(SlackApiError, match="invalid_auth"):
        await channel.start(never)
    assert fake_slack.socket_connections == 0
    await channel.stop()  # harmless after a failed start


async def test_rate_limits_left_to_the_outbox_for_posts_retried_inline_for_uploads(
    fake_slack: FakeSlack,
):
    channel = make_channel(fake_slack, "http")
    staff = ConversationRef("slack", STAFF)
    fake_slack.rate_limit_next(method="chat.postMessage", retry_after=1)
    with pytest.raises(RetryAfter) as limited:
        await channel.send(OutgoingMessage(staff, "hi"), "k1")
    assert limited.value.seconds == 1 and len(fake_slack.calls("chat.postMessage")) == 1

    fake_slack.rate_limit_next(method="files.completeUploadExternal", retry_after=0)
    file = Attachment("document", file_name="log.txt", content=b"log", channel="telegram")
    sent = await channel.send(OutgoingMessage(staff, "with a file", attachments=(file,)), "k2")
    completions = fake_slack.calls("files.completeUploadExternal")
    assert [c.status for c in completions] == [429, 200]
    assert fake_slack.sent[-1]["files"][0]["name"] == "log.txt"
    assert sent.message_id == fake_slack.sent[-2]["ts"]  # the text message, not the upload


async def test_retry_after_a_failed_upload_does_not_post_the_text_twice(fake_slack: FakeSlack):
    channel = make_channel(fake_slack, "http")
    file = Attachment("photo", file_name="a.png", content=b"png", channel="vk")
    message = OutgoingMessage(ConversationRef("slack", "D1ANN"), "see file", attachments=(file,))
    fake_slack.server_error_next(method="files.getUploadURLExternal", status=503)
    with pytest.raises(TransientSendError):
        await channel.send(message, "7.0")
    sent = await channel.send(message, "7.0")  # the outbox's retry of the same part

    posts = fake_slack.ok_calls("chat.postMessage")
    assert len(posts) == 1 and sent.message_id == fake_slack.sent[0]["ts"]
    assert fake_slack.file_content(fake_slack.sent[1]["files"][0]["id"]) == b"png"


# ------------------------------------------------------------------ a send whose record was lost


class Killed(BaseException):
    """The process dies: nothing after it runs, nothing is recorded."""


def _dies_after_sending(channel: SlackChannel) -> None:
    send = channel.send

    async def send_then_die(message: OutgoingMessage, idempotency_key: str):
        await send(message, idempotency_key)
        raise Killed

    channel.send = send_then_die  # type: ignore[method-assign]


async def _ticket_in(store, clock: FakeClock) -> int:
    async with store.transaction() as tx:
        user, _ = await tx.users.upsert("slack", USER, "Ann", "en", None, clock())
        dm = ConversationRef("slack", "D1ANN")
        new = NewTicket(user.id, dm, "s", None, Priority.NORMAL, clock())
        return (await tx.tickets.create(new)).id


async def _lost_and_found(store, fake: FakeSlack, message: OutgoingMessage) -> int:
    """Process A posts `message` through the outbox and dies before recording it; its lease
    lapses and process B (a new adapter: nothing remembered in memory) delivers the queue."""
    clock = FakeClock(utc_now())
    async with store.transaction() as tx:
        item = await tx.outbox.enqueue(message, clock())
    first = make_channel(fake, "http")
    _dies_after_sending(first)
    with pytest.raises(Killed):
        await OutboxSender(store, {"slack": first}, OutboxConfig(owner="a"), clock).deliver_due()
    clock.advance(seconds=61)
    second = make_channel(fake, "http")
    await OutboxSender(store, {"slack": second}, OutboxConfig(owner="b"), clock).deliver_due()
    return item


@pytest.mark.parametrize("place", ["dm", "thread"])
async def test_a_post_whose_record_was_lost_is_found_by_its_metadata(
    store, fake_slack: FakeSlack, place: str
):
    ticket = await _ticket_in(store, FakeClock(utc_now()))
    if place == "thread":  # an agent's message starts a thread the bot answers in
        parent = fake_slack.make_channel_message_event(STAFF, AGENT, "question")["event"]["ts"]
        to = ConversationRef("slack", STAFF, parent)
        lookup = "conversations.replies"
    else:
        to = ConversationRef("slack", fake_slack.dm_channel(USER))
        lookup = "conversations.history"

    item = await _lost_and_found(store, fake_slack, OutgoingMessage(to, "once", ticket_id=ticket))

    [post] = fake_slack.ok_calls("chat.postMessage")
    [posted] = fake_slack.sent
    assert post.params["metadata"] == {
        "event_type": "helpdesk_outbox",
        "event_payload": {"key": f"{item}.0"},
    }
    [looked] = fake_slack.ok_calls(lookup)
    assert looked.params["include_all_metadata"] in ("1", "true")
    async with store.transaction() as tx:
        row = await tx.outbox.get(item)
        linked = await tx.links.find_ticket("slack", to.chat_id, posted["ts"])
    assert (row.status, row.maybe_sent) == (OutboxStatus.SENT, False)
    assert linked == ticket


async def test_an_announcement_found_sent_keeps_its_thread(store, fake_slack: FakeSlack):
    ticket = await _ticket_in(store, FakeClock(utc_now()))
    staff = ConversationRef("slack", STAFF)
    announcement = OutgoingMessage(staff, "Ticket #1", ticket_id=ticket, to_staff=True)
    await _lost_and_found(store, fake_slack, announcement)
    [posted] = fake_slack.sent
    async with store.transaction() as tx:
        anchor = await tx.links.find_anchor(ticket, "slack", STAFF)
    assert anchor.message_id == anchor.thread_id == posted["ts"]


async def test_a_text_found_sent_is_not_posted_again_but_its_files_are(
    store, fake_slack: FakeSlack
):
    """Files carry no metadata: whether they followed the text is unknown, so they are
    uploaded again (a file may show twice; nothing is lost), the text is not posted again."""
    chart = Attachment.generated("photo", "chart.png", "image/png", b"png")
    dm = ConversationRef("slack", fake_slack.dm_channel(USER))
    message = OutgoingMessage(dm, "see", attachments=(chart,))
    item = await _lost_and_found(store, fake_slack, message)
    [post] = fake_slack.ok_calls("chat.postMessage")
    assert post.params["metadata"]["event_payload"] == {"key": f"{item}.0", "files": True}
    uploads = [m for m in fake_slack.sent if m.get("upload")]
    assert [m["files"][0]["name"] for m in uploads] == ["chart.png", "chart.png"]
    async with store.transaction() as tx:
        assert (await tx.outbox.get(item)).status == OutboxStatus.SENT


async def test_the_queue_links_each_ticket_to_its_thread_by_permalink(store, fake_slack: FakeSlack):
    channel_urls = {}
    async with slack_world(store, fake_slack, "socket", thread_urls=channel_urls) as world:
        channel_urls["slack"] = world.channel.thread_url  # learned from auth.test at start
        await world.user_says("/new the printer on floor 3 is jammed")
        await world.settle()
        root = world.announcement(1)
        await world.agent_says("/queue", None)
        await world.settle()
        listing = plain(world.fake.sent_to(STAFF)[-1]["text"])
    permalink = f"https://fake.slack.com/archives/{STAFF}/p{root['ts'].replace('.', '')}"
    assert listing.splitlines()[1].endswith(permalink)


async def test_edits_reach_the_other_side(world: SlackWorld):
    """A user's edit reaches the ticket's thread with the new text; an agent's edit of a reply
    edits the user's copy (chat.update); a bot's own update or an unchanged text is not an
    edit."""
    first = await world.user_says("/new the printer on floor 3 is jammed")
    await world.settle()
    root = world.announcement(1)
    dm = world.fake.dm_channel(USER)
    edit = world.fake.make_edit_event(dm, first["event"]["ts"], "/new floor 4, sorry")
    assert await world.deliver(edit) == 200
    await world.settle()
    assert (
        world.thread(root["ts"])[-1]
        == "✏️ #1 u1ann edited a message; it now reads:\n/new floor 4, sorry"
    )

    reply = world.fake.make_channel_message_event(
        STAFF, AGENT, "On my way to flor 4", thread_ts=root["ts"]
    )
    assert await world.deliver(reply) == 200
    await world.settle()
    copy = world.fake.sent_to(dm)[-1]
    sent = len(world.dm())
    fixed = world.fake.make_edit_event(STAFF, reply["event"]["ts"], "On my way to floor 4")
    assert await world.deliver(fixed) == 200
    await world.settle()
    [update] = world.fake.ok_calls("chat.update")  # the user's copy is edited in place
    assert update.params["ts"] == copy["ts"] and len(world.dm()) == sent
    assert world.dm()[-1] == "💬 Support (ticket #1):\nOn my way to floor 4"

    seen = len(world.dm())
    preview = world.fake.make_edit_event(STAFF, reply["event"]["ts"], "On my way to floor 4")
    assert await world.deliver(preview) == 200  # same text (a link preview): nothing
    await world.settle()
    assert len(world.dm()) == seen


async def test_deletions_are_noted_never_passed_on_silently(world: SlackWorld):
    await world.user_says("/new the printer on floor 3 is jammed")
    second = await world.user_says("it also smells of smoke")
    await world.settle()
    root = world.announcement(1)
    dm = world.fake.dm_channel(USER)
    assert await world.deliver(world.fake.make_delete_event(dm, second["event"]["ts"])) == 200
    await world.settle()
    assert world.thread(root["ts"])[-1] == (
        "🗑 #1 u1ann deleted a message; it read:\nit also smells of smoke"
    )
    reply = world.fake.make_channel_message_event(STAFF, AGENT, "Evacuate!", thread_ts=root["ts"])
    assert await world.deliver(reply) == 200
    await world.settle()
    sent = len(world.dm())
    assert await world.deliver(world.fake.make_delete_event(STAFF, reply["event"]["ts"])) == 200
    await world.settle()
    assert len(world.dm()) == sent  # the user's copy stays
    assert world.thread(root["ts"])[-1].startswith("🗑 u2agent deleted a message here")


async def test_an_announcement_reaches_each_user_through_the_web_api(store, fake_slack: FakeSlack):
    admins = (("slack", AGENT),)
    async with slack_world(store, fake_slack, "socket", admins=admins) as world:
        await world.user_says("/status")
        await world.user_says("/status", user="U3BOB")
        await world.settle()
        await world.agent_says("/announce The VPN is down until 18:00.", None)
        await world.settle()
        preview = world.fake.sent_to(STAFF)[-1]
        assert plain(preview["text"]).startswith("📣 Announcement #1, to all: 2 users will get")
        [send, _cancel] = [
            e for b in preview["blocks"] if b["type"] == "actions" for e in b["elements"]
        ]
        press = world.fake.make_block_actions(
            AGENT, send["action_id"], send["value"], channel=STAFF, message_ts=preview["ts"]
        )
        assert await world.deliver(press) == 200
        await world.settle()
        for user in (USER, "U3BOB"):
            assert world.dm(user)[-1].startswith("📣 The VPN is down until 18:00.")
