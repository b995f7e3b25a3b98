"""The VK adapter through the real vkbottle client against the fake VK, in both receiving modes
(Bots Long Poll and the Callback API served on 127.0.0.1), with the whole helpdesk around it.
The staff chat is a VK group chat (peer 2000000001); agents answer by replying to a ticket's
announcement there."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from channels.vk import VkChannel
from channels.vk_inbound import VkEventParser, button_command
from channels.vk_outbound import random_id_for, render_keyboard
from core import telemetry
from core.conversation.channel_memory import StoredChannelMemory
from core.domain import OutboxStatus, TicketStatus
from core.messages import Attachment, Button, ConversationRef, IncomingMessage, OutgoingMessage
from core.ports import PermanentSendError, RateLimits, RetryAfter, TransientSendError
from core.work import utc_now
from tests.e2e import RunningHelpdesk, running_helpdesk
from tests.fakes.vk import CHAT_PEER_OFFSET, FakeVK

pytest_plugins = ["tests.fakes.fixtures"]

USER = 5
OTHER_USER = 6
AGENT = 77
STAFF = CHAT_PEER_OFFSET + 1
SECRET = "s3cret-callback"
ENGLISH = 3  # VK client_info.lang_id
# The tests are about behaviour, not pacing (the outbox's limiter, tested in the core): the real
# one-message-a-second-per-chat guard would only make them slow.
QUICK_LIMITS = RateLimits(per_chat=50, per_chat_window=1.0, overall=100)


@dataclass
class VkWorld:
    """The fake VK, the adapter under test, and how events reach it in this mode."""

    fake: FakeVK
    channel: VkChannel
    mode: str
    callback_url: str | None = None

    def say(self, from_id: int, text: str = "", **fields: Any) -> dict[str, Any]:
        event = self.fake.make_message_new(from_id, text, **fields)
        event["object"]["client_info"]["lang_id"] = ENGLISH
        return event

    async def deliver(self, event: dict[str, Any]) -> None:
        """Deliver an event and return once the adapter has handled it (the long poll asked
        VK for what comes after it; the callback answered "ok")."""
        if self.mode == "callback":
            assert self.callback_url is not None
            answer = await self.fake.post_callback(self.callback_url, event, SECRET)
            assert answer == (200, "ok")
            return
        self.fake.inject(event)
        await self.long_poll_passed(len(self.fake.events))

    async def long_poll_passed(self, event_number: int) -> None:
        def asked_beyond() -> bool:
            return any(
                int(r.params.get("ts") or 0) > event_number for r in self.fake.calls("longpoll")
            )

        await self.fake.wait_until(asked_beyond)

    def texts_to(self, peer_id: int) -> list[str]:
        return [m["text"] for m in self.fake.sent_to(peer_id)]


def make_channel(fake: FakeVK, mode: str, **options: Any) -> VkChannel:
    options.setdefault("rate_limits", QUICK_LIMITS)
    return VkChannel(
        fake.token,
        fake.group_id,
        mode,  # type: ignore[arg-type]
        api_base_url=fake.base_url,
        callback_path="/vk/callback",
        confirmation_code=fake.confirmation_code,
        secret=SECRET,
        long_poll_wait=5,
        **options,
    )


@asynccontextmanager
async def served(channel: VkChannel) -> AsyncIterator[str]:
    """The channel's web routes on an ephemeral 127.0.0.1 port; yields the base URL."""
    app = web.Application()
    for method, path, handler in channel.web_routes():
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def vk_world_for(fake: FakeVK, mode: str, **options: Any) -> AsyncIterator[VkWorld]:
    channel = make_channel(fake, mode, **options)
    try:
        async with served(channel) as base_url:
            yield VkWorld(fake, channel, mode, f"{base_url}{channel.callback_path}")
    finally:
        await channel.close()


@pytest.fixture(params=["longpoll", "callback"])
async def vk_world(
    request: pytest.FixtureRequest, fake_vk: FakeVK, tmp_path, monkeypatch
) -> AsyncIterator[VkWorld]:
    monkeypatch.chdir(tmp_path)  # to prove nothing is written into the working directory
    fake_vk.add_user(USER, "Ivan", "Petrov")
    fake_vk.add_user(AGENT, "Olga", "Agentova")
    async with vk_world_for(fake_vk, request.param) as world:
        yield world
    assert not (tmp_path / ".vkbottle").exists()


@asynccontextmanager
async def helpdesk(
    store, world: VkWorld, admins: tuple[tuple[str, str], ...] = ()
) -> AsyncIterator[RunningHelpdesk]:
    staff = ConversationRef("vk", str(STAFF))
    async with running_helpdesk(
        store, {"vk": world.channel}, staff_chat=staff, admins=admins
    ) as desk:
        if world.mode == "longpoll":
            await world.fake.wait_for_long_poll()
        yield desk


def keyboard_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [button["action"] for row in message["keyboard"]["buttons"] for button in row]


async def open_ticket(world: VkWorld, desk: RunningHelpdesk, user: int, text: str) -> int:
    """Opens a ticket by /new; returns the announcement's conversation_message_id."""
    before = len(world.fake.sent_to(STAFF))
    await world.deliver(world.say(user, f"/new {text}"))
    await desk.settle()
    announcement = world.fake.sent_to(STAFF)[before]
    return announcement["conversation_message_id"]


# ------------------------------------------------------------------ the helpdesk through VK


async def test_answer_button_ticket_reply_note_and_close(store, vk_world: VkWorld):
    fake, world = vk_world.fake, vk_world
    async with helpdesk(store, world) as desk:
        await world.deliver(world.say(USER, "How do I reset my password?"))
        await desk.settle()
        answer = fake.sent_to(USER)[-1]
        buttons = keyboard_buttons(answer)
        assert "Forgot password?" in answer["text"]
        assert [b["label"] for b in buttons] == ["👍 Helped", "👎 Didn't help"]
        assert {b["type"] for b in buttons} == {"callback"}
        assert answer["keyboard"]["inline"] is True

        press = fake.make_message_event(
            USER,
            json.loads(buttons[1]["payload"]),
            conversation_message_id=answer["conversation_message_id"],
        )
        await world.deliver(press)
        await desk.settle()
        ticket = await desk.ticket(1)
        assert ticket is not None and ticket.status == TicketStatus.NEW
        assert [a["event_id"] for a in fake.event_answers] == [press["object"]["event_id"]]
        assert "opened ticket #1" in world.texts_to(USER)[-1]
        announcement = fake.sent_to(STAFF)[0]
        assert "Ticket #1" in announcement["text"] and "reset my password" in announcement["text"]
        assert "Ivan Petrov" in announcement["text"]  # the name came from users.get
        anchor = announcement["conversation_message_id"]

        await world.deliver(
            world.say(
                AGENT, "Use the link we just mailed you.", peer_id=STAFF, reply_to_cmid=anchor
            )
        )
        await desk.settle()
        assert world.texts_to(USER)[-1].endswith("Use the link we just mailed you.")

        to_user = len(fake.sent_to(USER))
        await world.deliver(
            world.say(AGENT, "// VIP customer, be nice", peer_id=STAFF, reply_to_cmid=anchor)
        )
        await world.deliver(world.say(AGENT, "/close", peer_id=STAFF, reply_to_cmid=anchor))
        await desk.settle()
        ticket = await desk.ticket(1)

    assert ticket is not None and ticket.status == TicketStatus.CLOSED
    user_texts = world.texts_to(USER)[to_user:]
    assert len(user_texts) == 1 and "closed by support" in user_texts[0]  # the note stayed inside
    assert not any("VIP" in text for text in world.texts_to(USER))
    staff = fake.sent_to(STAFF)
    assert "closed by Olga Agentova" in staff[-1]["text"]
    # Everything after the announcement hangs under it: the ticket's reply chain.
    assert staff[1:] and all(
        m["reply_message"]["conversation_message_id"] == anchor for m in staff[1:]
    )


async def test_repeated_deliveries_have_one_effect(store, vk_world: VkWorld):
    fake, world = vk_world.fake, vk_world
    async with helpdesk(store, world) as desk:
        question = world.say(USER, "How do I reset my password?")
        await world.deliver(question)
        await world.deliver(question)  # VK redelivers the same event_id
        await desk.settle()
        answer = fake.sent_to(USER)[-1]
        payload = json.loads(keyboard_buttons(answer)[1]["payload"])
        press = fake.make_message_event(USER, payload)
        await world.deliver(press)
        await world.deliver(press)
        await desk.settle()
        second_ticket = await desk.ticket(2)

    assert sum("Forgot password?" in text for text in world.texts_to(USER)) == 1
    assert sum("opened ticket #1" in text for text in world.texts_to(USER)) == 1
    assert second_ticket is None and len(fake.sent_to(STAFF)) == 1


async def test_markup_arrives_literally(store, vk_world: VkWorld):
    fake, world = vk_world.fake, vk_world
    markup = "<b>bold</b> *star* _under_ & &amp; `code` [id1|link]"
    async with helpdesk(store, world) as desk:
        anchor = await open_ticket(world, desk, USER, markup)
        await world.deliver(world.say(AGENT, f"Re: {markup}", peer_id=STAFF, reply_to_cmid=anchor))
        await desk.settle()

    assert markup in fake.sent_to(STAFF)[0]["text"]
    assert world.texts_to(USER)[-1].endswith(f"Re: {markup}")
    sends = fake.calls("messages.send")
    assert all(r.params.get("disable_mentions") == "1" for r in sends)
    assert not any("parse_mode" in r.params or "format_data" in r.params for r in sends)


async def test_rate_limit_storm_delivers_everything_in_order(store, vk_world: VkWorld):
    fake, world = vk_world.fake, vk_world
    fake.rate_limit_ratio(1 / 3)  # every third messages.send answers error 6
    async with helpdesk(store, world) as desk:
        for user in (USER, OTHER_USER):
            await world.deliver(world.say(user, f"/new Printer {user} is on fire"))
            await world.deliver(world.say(user, f"detail {user}.1"))
        await desk.settle()

    assert any(r.fault == "api_error" for r in fake.calls("messages.send"))
    staff = world.texts_to(STAFF)
    for user in (USER, OTHER_USER):
        mine = [t for t in staff if f"Printer {user}" in t or f"detail {user}." in t]
        assert len(mine) == 2
        assert f"Printer {user}" in mine[0] and mine[1].endswith(f"detail {user}.1")
        assert any("opened ticket" in text for text in world.texts_to(user))


async def test_blocked_user_fails_alone(store, vk_world: VkWorld):
    fake, world = vk_world.fake, vk_world
    fake.block_peer(OTHER_USER)
    async with helpdesk(store, world) as desk:
        await world.deliver(world.say(OTHER_USER, "How do I reset my password?"))
        await world.deliver(world.say(USER, "How do I reset my password?"))
        await desk.settle()
        items = []
        async with store.transaction() as tx:
            for item_id in range(1, 20):
                item = await tx.outbox.get(item_id)
                if item is not None:
                    items.append(item)

    blocked = [i for i in items if i.message.conversation.chat_id == str(OTHER_USER)]
    assert blocked and {i.status for i in blocked} == {OutboxStatus.FAILED}
    assert "901" in (blocked[0].last_error or "")
    assert any("Forgot password?" in text for text in world.texts_to(USER))


async def test_files_travel_both_ways_by_vk_id(store, vk_world: VkWorld):
    fake, world = vk_world.fake, vk_world
    photo = fake.make_photo_attachment(b"USER-PHOTO", owner_id=USER)
    doc = fake.make_doc_attachment(b"%PDF-log", title="error.log", owner_id=USER)
    agent_doc = fake.make_doc_attachment(b"FIX", title="fix.txt", owner_id=AGENT)
    async with helpdesk(store, world) as desk:
        await world.deliver(world.say(USER, attachments=[photo, doc]))  # files alone: a ticket
        await desk.settle()
        announcement = fake.sent_to(STAFF)[0]
        await world.deliver(
            world.say(
                AGENT,
                "Here is the fix",
                peer_id=STAFF,
                reply_to_cmid=announcement["conversation_message_id"],
                attachments=[agent_doc],
            )
        )
        await desk.settle()

    sent_files = [(a["type"], a[a["type"]]["id"]) for a in announcement["attachments"]]
    assert sent_files == [("photo", photo["photo"]["id"]), ("doc", doc["doc"]["id"])]
    reply = fake.sent_to(USER)[-1]
    assert reply["text"].endswith("Here is the fix")
    assert [a["doc"]["id"] for a in reply["attachments"]] == [agent_doc["doc"]["id"]]
    assert not fake.calls("upload.photo") and not fake.calls("upload.doc")  # re-sent by id


async def test_long_agent_reply_is_split_without_losing_text(store, vk_world: VkWorld):
    fake, world = vk_world.fake, vk_world
    long_reply = " ".join(f"word{number:05d}" for number in range(1000))  # 9,999 characters
    async with helpdesk(store, world) as desk:
        anchor = await open_ticket(world, desk, USER, "Need help")
        before = len(fake.sent_to(USER))
        await world.deliver(world.say(AGENT, long_reply, peer_id=STAFF, reply_to_cmid=anchor))
        await desk.settle()
    parts = [m["text"] for m in fake.sent_to(USER)[before:]]

    assert len(parts) == 3 and all(len(part) <= 4096 for part in parts)
    assert " ".join(" ".join(parts).split()).endswith(long_reply)


def test_declared_limits():
    assert VkChannel.max_text_length == 4096
    assert VkChannel.max_file_size == 200 * 1024 * 1024
    assert VkChannel.rate_limits == RateLimits(per_chat=1, per_chat_window=1.0, overall=20)


async def test_refused_reply_to_a_gone_announcement_starts_a_new_chain(store, vk_world: VkWorld):
    fake, world = vk_world.fake, vk_world
    async with helpdesk(store, world) as desk:
        await open_ticket(world, desk, USER, "My printer is on fire")
        # The announcement was deleted: VK refuses a reply to it (invalid parameter).
        fake.api_error_next(100, method="messages.send")
        await world.deliver(world.say(USER, "It is still burning"))
        await desk.settle()
        follow_up = fake.sent_to(STAFF)[-1]
        await world.deliver(
            world.say(
                AGENT,
                "Water, not foam",
                peer_id=STAFF,
                reply_to_cmid=follow_up["conversation_message_id"],
            )
        )
        await desk.settle()

    assert follow_up["text"].endswith("It is still burning")
    assert "reply_message" not in follow_up  # a new chain starts here ...
    assert world.texts_to(USER)[-1].endswith("Water, not foam")  # ... and replies to it map


# ------------------------------------------------------------------ callback security


async def test_callback_confirms_and_refuses_wrong_secret(store, fake_vk: FakeVK):
    async with vk_world_for(fake_vk, "callback") as world:
        url = world.callback_url
        assert url is not None
        question = world.say(USER, "How do I reset my password?")
        not_started = await fake_vk.post_callback(url, question, SECRET)
        async with helpdesk(store, world) as desk:
            confirmation = await fake_vk.post_callback(url, fake_vk.make_confirmation_event())
            wrong = await fake_vk.post_callback(url, question, "guess")
            missing = await fake_vk.post_callback(url, question)
            other_group = await fake_vk.post_callback(url, question | {"group_id": 999}, SECRET)
            await desk.settle()
            nothing_sent = list(fake_vk.sent)
            accepted = await fake_vk.post_callback(url, question, SECRET)
            await desk.settle()

    assert not_started[0] == 503
    assert confirmation == (200, fake_vk.confirmation_code)
    assert wrong[0] == missing[0] == other_group[0] == 403
    assert nothing_sent == []
    # The refused deliveries recorded nothing: the same event_id is still new afterwards.
    assert accepted == (200, "ok")
    assert any("Forgot password?" in m["text"] for m in fake_vk.sent_to(USER))


async def test_callback_does_not_say_ok_when_handling_failed(fake_vk: FakeVK):
    async def failing(message: IncomingMessage) -> None:
        raise RuntimeError("database is down")

    async with vk_world_for(fake_vk, "callback") as world:
        await world.channel.start(failing)
        assert world.callback_url is not None
        answer = await fake_vk.post_callback(world.callback_url, world.say(USER, "hi"), SECRET)
        await world.channel.stop()

    assert answer[0] == 500


def test_long_poll_mode_has_no_routes_and_callback_needs_secrets(fake_vk: FakeVK):
    assert make_channel(fake_vk, "longpoll").web_routes() == []
    with pytest.raises(ValueError):
        VkChannel("token", 1, "callback", confirmation_code="code")


# ------------------------------------------------------------------ long poll robustness


class Recorder:
    """An on_message that records, can fail on demand and can be held."""

    def __init__(self) -> None:
        self.messages: list[IncomingMessage] = []
        self.fail_next = 0
        self.hold: asyncio.Event | None = None
        self.changed = asyncio.Event()

    async def __call__(self, message: IncomingMessage) -> None:
        self.messages.append(message)
        self.changed.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("database is down")

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    def texts(self) -> list[str]:
        return [m.text for m in self.messages]


async def test_long_poll_survives_failures_and_redelivers_unhandled(fake_vk: FakeVK):
    recorder = Recorder()
    heard: list[tuple[str, dict[str, str]]] = []
    detach = telemetry.attach(lambda name, labels: heard.append((name, labels)))
    async with vk_world_for(fake_vk, "longpoll") as world:
        await world.channel.start(recorder)
        await fake_vk.wait_for_long_poll()
        for code in (1, 2, 3):
            # The open poll gets the failure; the client's next poll comes after its recovery
            # (after "failed 3" events are lost until the client has a new server).
            await world.long_poll_passed(len(fake_vk.events))  # a poll is open and waiting
            polls = len(fake_vk.calls("longpoll"))
            fake_vk.long_poll_failure_next(code)
            await fake_vk.wait_until(lambda n=polls: len(fake_vk.calls("longpoll")) > n)
            fake_vk.inject(world.say(USER, f"after failure {code}"))
            await recorder.wait_for(lambda c=code: f"after failure {c}" in recorder.texts())

        fake_vk.server_error_next(method="longpoll", status=502)  # the poll after the open one
        fake_vk.inject(world.say(USER, "before a 502"))
        await fake_vk.wait_until(lambda: any(r.fault for r in fake_vk.calls("longpoll")))
        fake_vk.inject(world.say(USER, "after a 502"))
        await recorder.wait_for(lambda: "after a 502" in recorder.texts())

        recorder.fail_next = 1
        fake_vk.inject(world.say(USER, "first try fails"))
        await recorder.wait_for(lambda: recorder.texts().count("first try fails") == 2)
        await world.long_poll_passed(len(fake_vk.events))
        await world.channel.stop()

    detach()
    assert ("channel_contact", {"channel": "vk"}) in heard  # each answered poll is reported
    texts = recorder.texts()
    assert texts.count("after failure 2") == 1  # a new key kept our position: no repeat
    assert texts.count("first try fails") == 2  # not confirmed until handled, then fetched again
    ids = [m.update_id for m in recorder.messages if m.text == "first try fails"]
    assert ids[0] == ids[1]  # the same event: the core drops the repeat
    assert len(fake_vk.calls("groups.getLongPollServer")) == 3  # first, after failed 2 and 3


async def test_a_restart_resumes_where_the_last_run_stopped(store, fake_vk: FakeVK):
    """Regression: the long poll position lived in memory only, so every restart (even a clean
    one) skipped what users wrote while the bot was down."""
    positions = StoredChannelMemory(store, utc_now)
    first = Recorder()
    async with vk_world_for(fake_vk, "longpoll") as world:
        await world.channel.start(first, positions)
        await fake_vk.wait_for_long_poll()
        fake_vk.inject(world.say(USER, "before the restart"))
        await first.wait_for(lambda: "before the restart" in first.texts())
        await world.long_poll_passed(len(fake_vk.events))
        await world.channel.stop()
        fake_vk.inject(world.say(USER, "while the bot was down"))
        fake_vk.inject(world.say(USER, "and this too"))
    second = Recorder()
    async with vk_world_for(fake_vk, "longpoll") as world:
        await world.channel.start(second, positions)
        await second.wait_for(lambda: "and this too" in second.texts())
        await world.channel.stop()
    assert second.texts() == ["while the bot was down", "and this too"]


async def test_the_first_run_keeps_its_starting_position_before_anything_arrives(
    store, fake_vk: FakeVK
):
    """Regression: a first run kept no position until its first batch was handled, so a bot
    killed before then restarted from VK's newest position and skipped what users wrote."""
    positions = StoredChannelMemory(store, utc_now)
    async with vk_world_for(fake_vk, "longpoll") as world:
        await world.channel.start(Recorder(), positions)
        await fake_vk.wait_for_long_poll()
        await world.channel.stop()
    fake_vk.inject(fake_vk.make_message_new(USER, "while the bot was down"))
    second = Recorder()
    async with vk_world_for(fake_vk, "longpoll") as world:
        await world.channel.start(second, positions)
        await second.wait_for(lambda: "while the bot was down" in second.texts())
        await world.channel.stop()
    assert second.texts() == ["while the bot was down"]


async def test_a_position_vk_no_longer_has_is_counted_and_left_behind(store, fake_vk: FakeVK):
    positions = StoredChannelMemory(store, utc_now)
    await positions.save("vk", f"longpoll:{fake_vk.group_id}", "999")  # beyond VK's history
    recorder = Recorder()
    async with vk_world_for(fake_vk, "longpoll") as world:
        await world.channel.start(recorder, positions)
        await fake_vk.wait_until(lambda: len(fake_vk.calls("longpoll")) >= 2)
        fake_vk.inject(world.say(USER, "after the gap"))
        await recorder.wait_for(lambda: "after the gap" in recorder.texts())
        assert world.channel.long_poll is not None
        assert world.channel.long_poll.history_lost == 1
        await world.channel.stop()
    assert await positions.load("vk", f"longpoll:{fake_vk.group_id}") != "999"


async def test_stop_waits_for_the_batch_being_handled(fake_vk: FakeVK):
    recorder = Recorder()
    recorder.hold = asyncio.Event()
    async with vk_world_for(fake_vk, "longpoll") as world:
        await world.channel.start(recorder)
        await fake_vk.wait_for_long_poll()
        fake_vk.inject(world.say(USER, "slow"))
        await recorder.wait_for(lambda: bool(recorder.messages))
        stopping = asyncio.create_task(world.channel.stop())
        await asyncio.sleep(0.05)  # give stop() a chance to (wrongly) finish early
        assert not stopping.done()
        recorder.hold.set()
        await stopping
        polls_after_stop = len(fake_vk.calls("longpoll"))
        await asyncio.sleep(0.05)

    assert len(fake_vk.calls("longpoll")) == polls_after_stop


# ------------------------------------------------------------------ sending


async def test_resend_with_same_key_is_deduplicated_by_vk(fake_vk: FakeVK):
    async with vk_world_for(fake_vk, "longpoll") as world:
        send = world.channel.send
        to_user = OutgoingMessage(ConversationRef("vk", str(USER)), "hello")
        to_chat = OutgoingMessage(ConversationRef("vk", str(STAFF)), "ticket", to_staff=True)
        first = await send(to_user, idempotency_key="7.0")
        repeat = await send(to_user, idempotency_key="7.0")
        other = await send(to_user, idempotency_key="8.0")
        in_chat = await send(to_chat, idempotency_key="9.0")
        in_chat_repeat = await send(to_chat, idempotency_key="9.0")

    assert first == repeat and other != first
    assert [m["text"] for m in fake_vk.sent_to(USER)] == ["hello", "hello"]
    assert in_chat == in_chat_repeat and len(fake_vk.sent_to(STAFF)) == 1
    assert in_chat.message_id == str(fake_vk.sent_to(STAFF)[0]["conversation_message_id"])
    assert in_chat.thread_id is None  # VK has no threads
    random_ids = {r.params["random_id"] for r in fake_vk.calls("messages.send")}
    assert random_ids == {
        str(random_id_for("7.0", USER, "hello")),
        str(random_id_for("8.0", USER, "hello")),
        str(random_id_for("9.0", STAFF, "ticket")),
    }
    assert all(0 < int(r) < 2**31 for r in random_ids)


async def test_replies_in_chats_use_conversation_message_ids(fake_vk: FakeVK):
    async with vk_world_for(fake_vk, "longpoll") as world:
        anchor = await world.channel.send(
            OutgoingMessage(ConversationRef("vk", str(STAFF)), "announcement"), "1.0"
        )
        await world.channel.send(
            OutgoingMessage(
                ConversationRef("vk", str(STAFF)),
                "in the chain",
                reply_to_message_id=anchor.message_id,
            ),
            "2.0",
        )
    reply = fake_vk.sent_to(STAFF)[1]
    forward = json.loads(fake_vk.calls("messages.send")[1].params["forward"])

    assert forward == {"peer_id": STAFF, "conversation_message_ids": [1], "is_reply": 1}
    assert reply["reply_message"]["conversation_message_id"] == int(anchor.message_id)


async def test_refused_reply_outside_tickets_is_sent_without_it(fake_vk: FakeVK):
    async with vk_world_for(fake_vk, "longpoll") as world:
        fake_vk.api_error_next(100, method="messages.send")
        sent = await world.channel.send(
            OutgoingMessage(ConversationRef("vk", str(STAFF)), "hi", reply_to_message_id="42"),
            "1.0",
        )
    calls = fake_vk.calls("messages.send")

    assert "forward" in calls[0].params and "forward" not in calls[1].params
    assert sent.message_id == str(fake_vk.sent_to(STAFF)[0]["conversation_message_id"])


async def test_send_errors_are_mapped(fake_vk: FakeVK):
    message = OutgoingMessage(ConversationRef("vk", str(USER)), "x")
    async with vk_world_for(fake_vk, "longpoll", request_timeout=0.5) as world:
        send = world.channel.send
        fake_vk.rate_limit_next(method="messages.send")
        with pytest.raises(RetryAfter):
            await send(message, "1")
        fake_vk.api_error_next(9, method="messages.send")
        with pytest.raises(RetryAfter):
            await send(message, "2")
        fake_vk.api_error_next(10, method="messages.send")
        with pytest.raises(TransientSendError):
            await send(message, "3")
        fake_vk.server_error_next(method="messages.send", status=502)
        started = time.monotonic()
        with pytest.raises(TransientSendError):  # not vkbottle's endless rescheduling
            await send(message, "4")
        assert time.monotonic() - started < 1.0
        fake_vk.slow_next(3.0, method="messages.send")
        with pytest.raises(TransientSendError):
            await send(message, "5")
        fake_vk.block_peer(USER)
        with pytest.raises(PermanentSendError, match="901"):
            await send(message, "6")
        fake_vk.block_peer(STAFF)
        with pytest.raises(PermanentSendError, match="901"):
            await send(OutgoingMessage(ConversationRef("vk", str(STAFF)), "x"), "7")
        with pytest.raises(PermanentSendError):
            await send(OutgoingMessage(ConversationRef("vk", "staff"), "x"), "8")


async def test_files_from_other_platforms_are_uploaded(fake_vk: FakeVK):
    files = (
        Attachment(
            "photo", "tg-photo", "cat.jpg", "image/jpeg", channel="telegram", content=b"JPG"
        ),
        Attachment("document", "F123", "report.pdf", channel="slack", content=b"%PDF-1.7"),
        Attachment(
            "voice", "tg-voice", "voice.ogg", "audio/ogg", channel="telegram", content=b"OGG"
        ),
    )
    async with vk_world_for(fake_vk, "longpoll") as world:
        await world.channel.send(
            OutgoingMessage(ConversationRef("vk", str(USER)), "files", attachments=files), "1.0"
        )
        sent = fake_vk.sent_to(USER)[0]
        received = [
            await world.channel.download(attachment)
            for attachment in VkEventParser("vk", fake_vk.group_id)
            .parse(fake_vk.make_message_new(USER, attachments=sent["attachments"]))
            .message.attachments
        ]

    assert [a["type"] for a in sent["attachments"]] == ["photo", "doc", "audio_message"]
    assert sent["attachments"][1]["doc"]["title"] == "report.pdf"
    assert received == [b"JPG", b"%PDF-1.7", b"OGG"]


async def test_download_errors(fake_vk: FakeVK):
    async with vk_world_for(fake_vk, "longpoll") as world:
        with pytest.raises(PermanentSendError):
            await world.channel.download(Attachment("video", "video1_2", channel="vk"))
        with pytest.raises(PermanentSendError):
            await world.channel.download(
                Attachment("photo", url=f"{fake_vk.base_url}/files/missing.jpg", channel="vk")
            )


async def test_download_refuses_a_file_over_the_cap(fake_vk: FakeVK, monkeypatch):
    import channels.vk_files as vk_files

    document = Attachment("document", "F1", "big.bin", channel="slack", content=b"0123456789")
    async with vk_world_for(fake_vk, "longpoll") as world:
        await world.channel.send(
            OutgoingMessage(ConversationRef("vk", str(USER)), "file", attachments=(document,)),
            "1.0",
        )
        sent = fake_vk.sent_to(USER)[0]
        [received] = (
            VkEventParser("vk", fake_vk.group_id)
            .parse(fake_vk.make_message_new(USER, attachments=sent["attachments"]))
            .message.attachments
        )
        assert await world.channel.download(received) == b"0123456789"
        monkeypatch.setattr(vk_files, "MAX_DOC_SIZE", 4)
        with pytest.raises(PermanentSendError, match="larger than 4 bytes"):
            await world.channel.download(received)


async def test_a_callback_event_that_cannot_be_parsed_does_not_log_the_secret(
    fake_vk: FakeVK, caplog
):
    async with vk_world_for(fake_vk, "callback") as world:
        await world.channel.start(Recorder())
        broken = world.say(USER, "hello")
        broken["object"]["message"] = "not a message"
        with caplog.at_level("ERROR"):
            await world.deliver(broken)
    assert "vk event could not be parsed" in caplog.text
    records = [r for r in caplog.records if r.getMessage() == "vk event could not be parsed"]
    assert records and SECRET not in repr(records[0].__dict__)


# ------------------------------------------------------------------ parsing and rendering


def test_events_are_normalized(fake_vk: FakeVK):
    parser = VkEventParser("vk", fake_vk.group_id)
    photo = fake_vk.make_photo_attachment(b"P", owner_id=USER)
    voice = fake_vk.make_voice_attachment(b"V", owner_id=USER)
    private = fake_vk.make_message_new(USER, "hi", attachments=[photo, voice])
    announcement = fake_vk.make_message_new(-fake_vk.group_id, "ticket", peer_id=STAFF)
    in_chat = fake_vk.make_message_new(
        AGENT,
        f"[club{fake_vk.group_id}|@helpdesk], /close",
        peer_id=STAFF,
        reply_to_cmid=announcement["object"]["message"]["conversation_message_id"],
    )
    text_button = fake_vk.make_message_new(USER, "Start", payload={"command": "start"})

    message = parser.parse(private).message
    chat_message = parser.parse(in_chat).message
    assert message.update_id == private["event_id"] and message.is_private
    assert message.conversation == ConversationRef("vk", str(USER))
    assert message.message_id == str(private["object"]["message"]["id"])
    assert message.sender.language_hint == "ru"  # lang_id 0
    assert [a.kind for a in message.attachments] == ["photo", "voice"]
    photo_body = photo["photo"]
    assert message.attachments[0].file_id == (
        f"photo{USER}_{photo_body['id']}_{photo_body['access_key']}"
    )
    assert message.attachments[0].url == photo_body["sizes"][-1]["url"]  # the largest size
    assert message.attachments[1].url == voice["audio_message"]["link_ogg"]
    assert chat_message.text == "/close" and not chat_message.is_private
    assert chat_message.conversation.chat_id == str(STAFF)
    assert chat_message.message_id == str(in_chat["object"]["message"]["conversation_message_id"])
    assert chat_message.reply_to_message_id == "1"
    assert parser.parse(announcement) is None  # the bot's own message
    assert parser.parse(text_button).message.button_payload == "/start"
    assert parser.parse({"type": "group_join", "event_id": "x", "object": {}}) is None


def test_button_payloads_and_keyboard_limits():
    assert button_command({"command": "/helped 3"}) == "/helped 3"
    assert button_command('{"command": "/article 2"}') == "/article 2"
    assert button_command("not json") is None and button_command({"button": "1"}) is None
    rows = tuple((Button("x" * 60, f"/article {n}"),) for n in range(8))
    keyboard = json.loads(render_keyboard(rows) or "{}")
    assert len(keyboard["buttons"]) == 6  # VK's inline keyboard limit
    action = keyboard["buttons"][0][0]["action"]
    assert len(action["label"]) <= 40 and json.loads(action["payload"]) == {"command": "/article 0"}
    assert render_keyboard(()) is None


async def test_edits_reach_the_other_side(store, vk_world: VkWorld):
    """A user's edit (message_edit) reaches the ticket's reply chain with the new text; an
    agent's edit of a reply edits the user's copy (messages.edit)."""
    fake, world = vk_world.fake, vk_world
    async with helpdesk(store, world) as desk:
        first = world.say(USER, "/new the printer on floor 3 is jammed")
        await world.deliver(first)
        await desk.settle()
        cmid = first["object"]["message"]["conversation_message_id"]
        await world.deliver(fake.make_message_edit(USER, cmid, "/new floor 4, sorry"))
        await desk.settle()
        assert world.texts_to(STAFF)[-1].endswith(
            "edited a message; it now reads:\n/new floor 4, sorry"
        )

        anchor = fake.sent_to(STAFF)[0]["conversation_message_id"]
        reply = world.say(AGENT, "On my way to flor 4", peer_id=STAFF, reply_to_cmid=anchor)
        await world.deliver(reply)
        await desk.settle()
        reply_cmid = reply["object"]["message"]["conversation_message_id"]
        sent = len(fake.sent_to(USER))
        await world.deliver(fake.make_message_edit(STAFF, reply_cmid, "On my way to floor 4"))
        await desk.settle()
        assert len(fake.calls("messages.edit")) == 1  # the user's copy is edited in place
        assert len(fake.sent_to(USER)) == sent
        assert fake.sent_to(USER)[-1]["text"] == "💬 Support (ticket #1):\nOn my way to floor 4"


async def test_an_announcement_reaches_each_user_through_the_vk_api(store, vk_world: VkWorld):
    fake, world = vk_world.fake, vk_world
    async with helpdesk(store, world, admins=(("vk", str(AGENT)),)) as desk:
        for user in (USER, OTHER_USER):
            await world.deliver(world.say(user, "/status"))
        await world.deliver(
            world.say(AGENT, "/announce The VPN is down until 18:00.", peer_id=STAFF)
        )
        await desk.settle()
        preview = fake.sent_to(STAFF)[-1]
        assert preview["text"].startswith("📣 Announcement #1, to all: 2 users will get")
        send = keyboard_buttons(preview)[0]
        assert send["label"] == "📣 Send to 2 users"
        press = fake.make_message_event(
            AGENT, json.loads(send["payload"]), peer_id=STAFF,
            conversation_message_id=preview["conversation_message_id"],
        )  # fmt: skip
        await world.deliver(press)
        await desk.settle()
        for user in (USER, OTHER_USER):
            assert world.texts_to(user)[-1].startswith("📣 The VPN is down until 18:00.")
