"""The Telegram channel through real aiogram over HTTP against the fake Bot API server.

End-to-end tests run the whole helpdesk (`running_helpdesk`) around the channel, once with long
polling and once with the webhook (the channel's aiohttp routes served on 127.0.0.1, the fake
posting updates to them), on every database backend of the `store` fixture.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SendMessage
from aiogram.types import Update
from aiohttp import web

from channels.telegram import TELEGRAM_RATE_LIMITS, TelegramChannel
from channels.telegram_albums import PolledAlbums, WebhookAlbums
from channels.telegram_errors import translate
from channels.telegram_updates import Received, convert_update
from core.domain import Direction, OutboxItem, OutboxStatus, TicketStatus
from core.messages import (
    Attachment,
    Button,
    ConversationRef,
    IncomingMessage,
    OutgoingMessage,
    Sender,
)
from core.ports import (
    PermanentSendError,
    RateLimits,
    RetryAfter,
    ThreadGone,
    TransientSendError,
)
from tests.e2e import RunningHelpdesk, running_helpdesk
from tests.fakes.telegram import FakeTelegram

pytest_plugins = ["tests.fakes.fixtures"]

USER = 42
OTHER_USER = 43
AGENT = 7
STAFF_FORUM = -1001234567890
STAFF_GROUP = -4001
SECRET = "s3cret-token_ok"
HOOK_PATH = "/telegram/hook"
# Pacing is the outbox's business and tested there; here it would only slow the tests down.
NO_PACING = RateLimits(per_chat=1000, per_chat_window=1.0, overall=1000)


# ---------------------------------------------------------------------------------------------
# Plumbing: the channel in either mode, and a way to deliver updates that works for both


@dataclass
class TelegramWorld:
    fake: FakeTelegram
    channel: TelegramChannel
    mode: str
    webhook_url: str

    async def deliver(self, *updates: dict[str, Any]) -> list[int]:
        """Bring updates to the channel the way the mode does; returns once they were handled
        (acknowledged to Telegram). Webhook: one POST each, concurrently; the HTTP statuses."""
        if self.mode == "webhook":
            await self.fake.wait_until(lambda: self.fake.webhook is not None)
            answers = await asyncio.gather(
                *(self.fake.post_webhook(self.webhook_url, u, SECRET) for u in updates)
            )
            return [status for status, _ in answers]
        last = max(u["update_id"] for u in updates)
        self.fake.inject(*updates)
        await self.fake.wait_until(lambda: self.fake.last_confirmed_update_id >= last)
        return [200] * len(updates)


@asynccontextmanager
async def telegram_world(
    fake: FakeTelegram, mode: str, staff_chat: int = STAFF_FORUM, **options: Any
) -> AsyncIterator[TelegramWorld]:
    """The channel (not started) and, in webhook mode, an HTTP server for its routes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    webhook_url = f"http://127.0.0.1:{listener.getsockname()[1]}{HOOK_PATH}"
    settings: dict[str, Any] = dict(
        token=fake.token,
        mode=mode,
        api_base_url=fake.base_url,
        webhook_url=webhook_url,
        webhook_path=HOOK_PATH,
        webhook_secret=SECRET,
        polling_timeout=5,
        staff_chat_id=str(staff_chat),
        use_topics=True,
        rate_limits=NO_PACING,
        album_wait=0.15,
        retry_delay=0.05,
    )
    settings.update(options)
    channel = TelegramChannel(**settings)
    app = web.Application()
    for method, path, handler in channel.web_routes():
        app.router.add_route(method, path, handler)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.SockSite(runner, listener).start()
    try:
        yield TelegramWorld(fake, channel, mode, webhook_url)
    finally:
        await runner.cleanup()


@asynccontextmanager
async def helpdesk_on_telegram(
    store,
    fake: FakeTelegram,
    mode: str,
    staff_chat: int = STAFF_FORUM,
    admins: tuple[tuple[str, str], ...] = (),
    **options: Any,
) -> AsyncIterator[tuple[TelegramWorld, RunningHelpdesk]]:
    async with (
        telegram_world(fake, mode, staff_chat, **options) as world,
        running_helpdesk(
            store,
            {"telegram": world.channel},
            staff_chat=ConversationRef("telegram", str(staff_chat)),
            admins=admins,
        ) as desk,
    ):
        yield world, desk


class Inbox:
    """An `on_message` that records what it got, and can fail like a database that is down."""

    def __init__(self) -> None:
        self.messages: list[IncomingMessage] = []
        self.failures_left = 0
        self.calls = 0

    async def __call__(self, message: IncomingMessage) -> None:
        self.calls += 1
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("database is down")
        self.messages.append(message)


@asynccontextmanager
async def receiving(fake: FakeTelegram, mode: str, **options: Any):
    """The channel started with a recording `on_message`, without the helpdesk."""
    inbox = Inbox()
    async with telegram_world(fake, mode, **options) as world:
        await world.channel.start(inbox)
        try:
            yield world, inbox
        finally:
            await world.channel.stop()


@pytest.fixture(params=["polling", "webhook"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def texts_to(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in fake.sent_messages(chat_id)]


def populate(fake: FakeTelegram, *, forum: bool = True) -> None:
    fake.add_user(USER, "Alice")
    fake.add_user(OTHER_USER, "Oscar")
    fake.add_user(AGENT, "Bob")
    if forum:
        fake.add_chat(STAFF_FORUM, title="Support", is_forum=True)
    else:
        fake.add_chat(STAFF_GROUP, title="Support")


async def open_ticket(world: TelegramWorld, desk: RunningHelpdesk, user: int, text: str) -> int:
    """The user opens a ticket with /new; returns the forum topic it got in the staff chat."""
    await world.deliver(world.fake.make_text_update(user, f"/new {text}"))
    await desk.settle()
    topics = [t for t in world.fake.topics.values() if not t.deleted]
    return max(t.thread_id for t in topics) if topics else 0


def in_topic(fake: FakeTelegram, topic: int) -> list[dict[str, Any]]:
    return [m for m in fake.sent_messages(STAFF_FORUM) if m.get("message_thread_id") == topic]


async def outbox_items(desk: RunningHelpdesk) -> list[OutboxItem]:
    items = []
    async with desk.store.transaction() as tx:
        item_id = 1
        while (item := await tx.outbox.get(item_id)) is not None:
            items.append(item)
            item_id += 1
    return items


# ---------------------------------------------------------------------------------------------
# The whole helpdesk, in both modes


async def test_answer_buttons_ticket_topic_reply_note_and_close(store, fake_telegram, mode):
    fake = fake_telegram
    populate(fake)
    async with helpdesk_on_telegram(store, fake, mode) as (world, desk):
        await world.deliver(fake.make_text_update(USER, "How do I reset my password?"))
        await desk.settle()
        answer = fake.sent_messages(USER)[-1]
        assert "Forgot password?" in answer["text"]
        buttons = answer["reply_markup"]["inline_keyboard"][0]
        assert [b["text"] for b in buttons] == ["👍 Helped", "👎 Didn't help"]

        press = fake.make_callback_update(USER, buttons[1]["callback_data"], answer["message_id"])
        await world.deliver(press)
        await desk.settle()
        ticket = await desk.ticket(1)
        assert ticket is not None and ticket.status == TicketStatus.NEW
        assert "opened ticket #1" in texts_to(fake, USER)[-1]
        await fake.wait_until(lambda: press["callback_query"]["id"] in fake.callback_answers)

        [create] = fake.calls("createForumTopic")
        assert create.params["name"].startswith("#1 Alice")
        topic = max(fake.topics)[1]
        [announcement] = in_topic(fake, topic)
        assert "Ticket #1" in announcement["text"]
        assert "How do I reset my password?" in announcement["text"]

        reply = fake.make_topic_message_update(STAFF_FORUM, topic, AGENT, "Use the e-mail link")
        await world.deliver(reply)
        await desk.settle()
        assert "Use the e-mail link" in texts_to(fake, USER)[-1]

        seen = len(fake.sent_messages(USER))
        note = fake.make_topic_message_update(STAFF_FORUM, topic, AGENT, "// she is confused")
        await world.deliver(note)
        await desk.settle()
        assert len(fake.sent_messages(USER)) == seen  # an internal note stays inside

        close = fake.make_topic_message_update(STAFF_FORUM, topic, AGENT, "/close")
        await world.deliver(close)
        await desk.settle()
        assert (await desk.ticket(1)).status == TicketStatus.CLOSED
        assert "closed by support" in texts_to(fake, USER)[-1]
        assert "closed by Bob" in in_topic(fake, topic)[-1]["text"]


async def test_stats_sends_the_report_and_uploads_the_chart(store, fake_telegram, mode):
    fake = fake_telegram
    populate(fake)
    async with helpdesk_on_telegram(store, fake, mode) as (world, desk):
        await open_ticket(world, desk, USER, "the printer is jammed")
        await world.deliver(fake.make_text_update(AGENT, "/stats week", chat_id=STAFF_FORUM))
        await desk.settle()
        report, chart = fake.sent_messages(STAFF_FORUM)[-2:]
        assert report["text"].startswith("📊 Report") and "Tickets: 1 opened" in report["text"]
        assert chart["caption"].startswith("📈") and chart["photo"]
        [upload] = [r for r in fake.requests if r.method == "sendPhoto" and r.files]
        (png,) = [f.content for f in upload.files.values()]
        assert png.startswith(b"\x89PNG\r\n\x1a\n")


async def test_plain_group_staff_chat_uses_a_reply_chain(store, fake_telegram, mode):
    fake = fake_telegram
    populate(fake, forum=False)
    async with helpdesk_on_telegram(store, fake, mode, STAFF_GROUP) as (world, desk):
        await open_ticket(world, desk, USER, "My printer is on fire")
        [announcement] = fake.sent_messages(STAFF_GROUP)
        assert "My printer is on fire" in announcement["text"]
        assert not fake.calls("createForumTopic")

        await world.deliver(fake.make_text_update(USER, "It is getting worse"))
        await desk.settle()
        follow_up = fake.sent_messages(STAFF_GROUP)[-1]
        assert "It is getting worse" in follow_up["text"]
        assert follow_up["reply_to_message"]["message_id"] == announcement["message_id"]

        reply_to = announcement["message_id"]
        answer = fake.make_group_reply_update(STAFF_GROUP, AGENT, "Unplug it", reply_to)
        await world.deliver(answer)
        await desk.settle()
        assert "Unplug it" in texts_to(fake, USER)[-1]

        close = fake.make_group_reply_update(STAFF_GROUP, AGENT, "/close fixed", reply_to)
        await world.deliver(close)
        await desk.settle()
        assert (await desk.ticket(1)).status == TicketStatus.CLOSED
        assert "fixed" in texts_to(fake, USER)[-1]


async def test_repeated_delivery_has_one_effect(store, fake_telegram, mode):
    fake = fake_telegram
    populate(fake)
    async with helpdesk_on_telegram(store, fake, mode) as (world, desk):
        update = fake.make_text_update(USER, "/new Nothing works")
        if mode == "webhook":
            assert await world.deliver(update) == [200]
            assert await world.deliver(update) == [200]  # Telegram's retry: acknowledged again
        else:
            await world.deliver(update, update)  # the same update fetched twice
        await desk.settle()
        assert await desk.ticket(2) is None
        assert sum("opened ticket #1" in t for t in texts_to(fake, USER)) == 1
        assert len(fake.calls("createForumTopic")) == 1


async def test_markup_characters_arrive_literally(store, fake_telegram, mode):
    fake = fake_telegram
    populate(fake)
    nasty = "<b>not bold</b> *star* _under_ & <i>unclosed a<b &amp; </code>"
    async with helpdesk_on_telegram(store, fake, mode) as (world, desk):
        topic = await open_ticket(world, desk, USER, nasty)
        [announcement] = in_topic(fake, topic)
        assert nasty in announcement["text"]
        assert "entities" not in announcement

        reply = fake.make_topic_message_update(STAFF_FORUM, topic, AGENT, f"Agent: {nasty}")
        await world.deliver(reply)
        await desk.settle()
        relayed = fake.sent_messages(USER)[-1]
        assert f"Agent: {nasty}" in relayed["text"]
        assert "entities" not in relayed
        request = fake.ok_calls("sendMessage")[-1]
        assert request.params["parse_mode"] == "HTML"
        assert "&lt;b&gt;not bold&lt;/b&gt;" in request.params["text"]


async def test_overlong_agent_reply_is_split_without_losing_text(store, fake_telegram, mode):
    fake = fake_telegram
    populate(fake)
    # Escaping makes "<" five characters long: the limit must apply to the visible text.
    words = [f"w{i:04}<&>" for i in range(1100)]
    long_reply = " ".join(words)
    assert 9_000 < len(long_reply) < 10_000
    async with helpdesk_on_telegram(store, fake, mode) as (world, desk):
        topic = await open_ticket(world, desk, USER, "Send me the logs")
        before = len(fake.sent_messages(USER))
        reply = fake.make_topic_message_update(STAFF_FORUM, topic, AGENT, long_reply)
        await world.deliver(reply)
        await desk.settle()
        parts = texts_to(fake, USER)[before:]
        assert len(parts) == 3
        assert all(len(part.encode("utf-16-le")) // 2 <= 4096 for part in parts)
        received_words = " ".join(parts).split()
        assert received_words[-len(words) :] == words


async def test_rate_limit_storm_delivers_everything_in_order(store, fake_telegram, mode):
    fake = fake_telegram
    populate(fake)
    async with helpdesk_on_telegram(store, fake, mode) as (world, desk):
        topic_a = await open_ticket(world, desk, USER, "Problem A")
        topic_b = await open_ticket(world, desk, OTHER_USER, "Problem B")
        fake.rate_limit_ratio(1 / 3)  # every third send answers 429, retry after 1 s
        updates = []
        for number in range(1, 5):
            updates.append(
                fake.make_topic_message_update(STAFF_FORUM, topic_a, AGENT, f"answer A{number}")
            )
            updates.append(
                fake.make_topic_message_update(STAFF_FORUM, topic_b, AGENT, f"answer B{number}")
            )
        for update in updates:  # one at a time: the agent writes them in this order
            await world.deliver(update)
        await desk.settle(within=20)
        assert any(r.fault == "rate_limit" for r in fake.calls("sendMessage"))
        for user, letter in ((USER, "A"), (OTHER_USER, "B")):
            lines = [t.split("\n")[-1] for t in texts_to(fake, user)]
            got = [line for line in lines if line.startswith("answer ")]
            assert got == [f"answer {letter}{n}" for n in range(1, 5)]


async def test_blocked_user_fails_only_their_message(store, fake_telegram, mode):
    fake = fake_telegram
    populate(fake)
    async with helpdesk_on_telegram(store, fake, mode) as (world, desk):
        topic_a = await open_ticket(world, desk, USER, "Problem A")
        topic_b = await open_ticket(world, desk, OTHER_USER, "Problem B")
        fake.block_chat(USER)
        await world.deliver(
            fake.make_topic_message_update(STAFF_FORUM, topic_a, AGENT, "answer for A"),
            fake.make_topic_message_update(STAFF_FORUM, topic_b, AGENT, "answer for B"),
        )
        await desk.settle()
        assert "answer for B" in texts_to(fake, OTHER_USER)[-1]
        assert not any("answer for A" in t for t in texts_to(fake, USER))
        [failed] = [i for i in await outbox_items(desk) if i.status == OutboxStatus.FAILED]
        assert failed.message.conversation.chat_id == str(USER)
        assert "blocked" in failed.last_error
        assert failed.attempts == 1  # failed for good at once, no retries


async def test_files_cross_by_file_id_both_ways(store, fake_telegram, mode):
    fake = fake_telegram
    populate(fake)
    async with helpdesk_on_telegram(store, fake, mode) as (world, desk):
        photo = fake.make_media_update(USER, "photo", b"JPEG screenshot", caption="See this")
        user_file_id = photo["message"]["photo"][-1]["file_id"]
        await world.deliver(photo)  # a picture is a problem report: it opens a ticket
        await desk.settle()
        topic = max(fake.topics)[1]
        [announcement] = in_topic(fake, topic)
        assert announcement["caption"].count("See this") == 1
        [send_photo] = fake.ok_calls("sendPhoto")
        assert send_photo.params["photo"] == user_file_id  # re-sent by id, not uploaded
        assert not send_photo.files

        manual = fake.make_media_update(
            AGENT,
            "document",
            b"%PDF manual",
            chat_id=STAFF_FORUM,
            thread_id=topic,
            caption="The manual",
            file_name="manual.pdf",
        )
        await world.deliver(manual)
        await desk.settle()
        [send_document] = fake.ok_calls("sendDocument")
        assert send_document.params["chat_id"] == str(USER)
        assert send_document.params["document"] == manual["message"]["document"]["file_id"]
        assert "The manual" in fake.sent_messages(USER)[-1]["caption"]


async def test_deleted_topic_is_recreated_and_the_message_resent(store, fake_telegram, mode):
    fake = fake_telegram
    populate(fake)
    async with helpdesk_on_telegram(store, fake, mode) as (world, desk):
        first_topic = await open_ticket(world, desk, USER, "Cannot log in")
        fake.delete_topic(STAFF_FORUM, first_topic)

        await world.deliver(fake.make_text_update(USER, "Are you there?"))
        await desk.settle()
        assert len(fake.ok_calls("createForumTopic")) == 2
        second_topic = max(t.thread_id for t in fake.topics.values() if not t.deleted)
        assert second_topic != first_topic
        assert any("Are you there?" in m["text"] for m in in_topic(fake, second_topic))

        reply = fake.make_topic_message_update(STAFF_FORUM, second_topic, AGENT, "Yes, here")
        await world.deliver(reply)
        await desk.settle()
        assert "Yes, here" in texts_to(fake, USER)[-1]


async def one_album_message(store, album: list[dict[str, Any]]) -> tuple[Attachment, ...]:
    """Ticket 1 holds "Broken screen", then the album as one message with every photo; its
    files."""
    async with store.transaction() as tx:
        messages = await tx.messages.list(1)
    from_user = [m for m in messages if m.direction == Direction.FROM_USER]
    assert [m.text for m in from_user] == ["Broken screen", "Three views"]
    files = from_user[1].attachments
    assert [a.file_id for a in files] == [u["message"]["photo"][-1]["file_id"] for u in album]
    return files


async def test_album_becomes_one_ticket_message_with_all_files(store, fake_telegram, mode):
    fake = fake_telegram
    populate(fake)
    async with helpdesk_on_telegram(store, fake, mode) as (world, desk):
        await open_ticket(world, desk, USER, "Broken screen")
        album = fake.make_album_updates(USER, [b"one", b"two", b"three"], caption="Three views")
        statuses = await world.deliver(*album)
        assert statuses == [200, 200, 200]
        await desk.settle()
        files = await one_album_message(store, album)
        [group] = fake.ok_calls("sendMediaGroup")
        media = group.json_param("media")
        assert [item["media"] for item in media] == [a.file_id for a in files]
        assert "Three views" in media[0]["caption"]


async def test_an_agent_writing_in_a_topic_before_its_announcement_arrives_is_heard(
    store, fake_telegram, mode
):
    """Regression (found by bench/chaos.py): the forum topic is created first and the
    announcement sent into it after; when that send failed, the topic had no link to its
    ticket, so an agent writing there was ignored and the retry opened a second topic."""
    fake = fake_telegram
    populate(fake)
    async with helpdesk_on_telegram(store, fake, mode) as (world, desk):
        fake.server_error_next(times=8, method="sendMessage")  # the announcement keeps failing
        await world.deliver(fake.make_text_update(USER, "/new the printer is on fire"))
        await fake.wait_until(lambda: bool(fake.topics))
        [topic] = [t.thread_id for t in fake.topics.values()]

        async def announcement_failed() -> bool:
            return any(i.message.to_staff and i.last_error for i in await outbox_items(desk))

        while not await announcement_failed():  # noqa: ASYNC110 - the store has no event
            await asyncio.sleep(0.01)
        answer = fake.make_topic_message_update(STAFF_FORUM, topic, AGENT, "Unplug it now")
        await world.deliver(answer)
        await desk.settle(within=30)
        assert any("Unplug it now" in text for text in texts_to(fake, USER))
        assert len(fake.topics) == 1  # the retry went into the same topic
        assert any("the printer is on fire" in m.get("text", "") for m in in_topic(fake, topic))


async def test_a_reply_to_any_photo_of_an_album_finds_the_ticket(store, fake_telegram, mode):
    """Every message a delivery took is linked to its ticket, not only the first: in a plain
    group an agent may answer the third photo of an album, or the text sent apart from it."""
    fake = fake_telegram
    populate(fake, forum=False)
    async with helpdesk_on_telegram(store, fake, mode, STAFF_GROUP) as (world, desk):
        await open_ticket(world, desk, USER, "Broken screen")
        album = fake.make_album_updates(USER, [b"one", b"two", b"three"], caption="Three views")
        await world.deliver(*album)
        await desk.settle()
        [group] = fake.ok_calls("sendMediaGroup")
        photos = [m for m in fake.sent_messages(STAFF_GROUP) if m.get("photo")]
        assert len(photos) == 3
        answer = fake.make_group_reply_update(
            STAFF_GROUP, AGENT, "The third one shows it", photos[2]["message_id"]
        )
        await world.deliver(answer)
        await desk.settle()
        assert "The third one shows it" in texts_to(fake, USER)[-1]


# ---------------------------------------------------------------------------------------------
# Receiving: acknowledgement, security, what becomes a message


async def test_polling_does_not_confirm_an_update_until_it_was_handled(fake_telegram):
    fake = fake_telegram
    async with receiving(fake, "polling") as (world, inbox):
        inbox.failures_left = 2
        update = fake.inject(fake.make_text_update(USER, "hello"))
        await fake.wait_until(lambda: inbox.calls >= 2)
        assert fake.last_confirmed_update_id < update["update_id"]
        await fake.wait_until(lambda: fake.last_confirmed_update_id >= update["update_id"])
        assert [m.text for m in inbox.messages] == ["hello"]
        assert inbox.calls == 3


async def test_webhook_answers_500_until_the_update_was_handled(fake_telegram):
    fake = fake_telegram
    async with receiving(fake, "webhook") as (world, inbox):
        await fake.wait_until(lambda: fake.webhook is not None)
        assert fake.webhook == {"url": world.webhook_url, "secret_token": SECRET}
        inbox.failures_left = 1
        update = fake.make_text_update(USER, "hello")
        assert await fake.post_webhook(world.webhook_url, update, SECRET) == (500, "not handled")
        assert (await fake.post_webhook(world.webhook_url, update, SECRET))[0] == 200
        assert [m.text for m in inbox.messages] == ["hello"]


async def test_webhook_refuses_a_wrong_secret_and_changes_nothing(store, fake_telegram):
    fake = fake_telegram
    populate(fake)
    async with helpdesk_on_telegram(store, fake, "webhook") as (world, desk):
        update = fake.make_text_update(USER, "/new let me in")
        for secret in (None, "wrong-secret", SECRET + "x"):
            status, _ = await fake.post_webhook(world.webhook_url, update, secret)
            assert status == 401
        await desk.settle()
        assert await desk.ticket(1) is None
        assert not fake.calls("sendMessage")
        async with store.transaction() as tx:
            assert await tx.users.find("telegram", str(USER)) is None
        assert await world.deliver(update) == [200]  # the right secret still works
        await desk.settle()
        assert await desk.ticket(1) is not None


async def test_migration_service_message_is_passed_on(fake_telegram, mode):
    fake = fake_telegram
    fake.add_chat(STAFF_GROUP, title="Support")
    async with receiving(fake, mode, staff_chat=STAFF_GROUP) as (world, inbox):
        statuses = await world.deliver(*fake.make_migration_updates(STAFF_GROUP, STAFF_FORUM))
        assert statuses == [200, 200]
    [migration] = inbox.messages  # migrate_from_chat_id in the new chat is not needed
    assert migration.conversation == ConversationRef("telegram", str(STAFF_GROUP))
    assert migration.migrated_to_chat_id == str(STAFF_FORUM)
    assert migration.text == "" and not migration.is_private


async def test_polling_hands_over_chats_in_parallel_but_each_chat_in_order(fake_telegram):
    fake = fake_telegram
    async with receiving(fake, "polling") as (world, inbox):
        updates = [fake.make_text_update(user, f"{user}-{n}") for n in range(3) for user in (1, 2)]
        await world.deliver(*updates)
        for user in (1, 2):
            got = [m.text for m in inbox.messages if m.sender.external_id == str(user)]
            assert got == [f"{user}-{n}" for n in range(3)]


async def test_polling_stop_confirms_the_last_batch(fake_telegram):
    fake = fake_telegram
    async with receiving(fake, "polling") as (world, inbox):
        update = fake.inject(fake.make_text_update(USER, "hi"))
        await fake.wait_until(lambda: len(inbox.messages) == 1)
    assert fake.last_confirmed_update_id == update["update_id"]
    assert not fake.pending_updates


def update_of(data: dict[str, Any]) -> Update:
    return Update.model_validate(data)


def test_bots_and_service_messages_are_ignored_edits_are_marked():
    fake = FakeTelegram()
    fake.add_chat(STAFF_GROUP)
    own = fake._message_update(USER, None, None, None, {"text": "x"})
    own["message"]["from"] = dict(fake.bot_user)
    joined = fake._message_update(USER, STAFF_GROUP, None, None, {"new_chat_members": []})
    for data in (own, joined):
        assert convert_update(update_of(data), "telegram") is None
    sent = fake.make_text_update(USER, "x")["message"]
    edit = fake.make_edit_update(USER, sent["message_id"], "x, corrected")
    received = convert_update(update_of(edit), "telegram")
    assert received is not None and received.album is None
    incoming = received.message
    assert (incoming.edited, incoming.text) == (True, "x, corrected")
    assert incoming.message_id == str(sent["message_id"])


async def test_edits_reach_the_other_side(store, fake_telegram, mode):
    """A user's edit reaches the ticket's topic as a notice with the new text; an agent's edit
    of a reply edits the user's copy (editMessageText); an edited internal note stays inside."""
    fake = fake_telegram
    populate(fake)
    async with helpdesk_on_telegram(store, fake, mode) as (world, desk):
        first = fake.make_text_update(USER, "/new the printer on floor 3 is jammed")
        await world.deliver(first)
        await desk.settle()
        topic = max(fake.topics)[1]
        edit = fake.make_edit_update(USER, first["message"]["message_id"], "/new floor 4, sorry")
        await world.deliver(edit)
        await desk.settle()
        assert in_topic(fake, topic)[-1]["text"] == (
            "✏️ #1 Alice edited a message; it now reads:\n/new floor 4, sorry"
        )

        reply = fake.make_topic_message_update(STAFF_FORUM, topic, AGENT, "On my way to flor 4")
        await world.deliver(reply)
        await desk.settle()
        copy = fake.sent_messages(USER)[-1]
        sent = len(fake.sent_messages(USER))
        fixed = fake.make_edit_update(
            STAFF_FORUM, reply["message"]["message_id"], "On my way to floor 4"
        )
        await world.deliver(fixed)
        await desk.settle()
        [edit] = fake.calls("editMessageText")  # the user's copy is edited in place
        assert int(edit.params["message_id"]) == copy["message_id"]
        assert fake.message(USER, copy["message_id"])["text"] == (
            "💬 Support (ticket #1):\nOn my way to floor 4"
        )
        assert len(fake.sent_messages(USER)) == sent
        seen = len(fake.sent_messages(USER))
        note = fake.make_topic_message_update(STAFF_FORUM, topic, AGENT, "// printer is old")
        await world.deliver(note)
        await world.deliver(
            fake.make_edit_update(STAFF_FORUM, note["message"]["message_id"], "// very old")
        )
        await desk.settle()
        assert len(fake.sent_messages(USER)) == seen


def test_forum_messages_keep_only_real_replies():
    fake = FakeTelegram()
    topic = fake.create_topic(STAFF_FORUM, "Ticket")
    plain = fake.make_topic_message_update(STAFF_FORUM, topic, AGENT, "in the topic")
    first = convert_update(update_of(plain), "telegram")
    assert first is not None
    assert first.message.conversation.thread_id == str(topic)
    assert first.message.reply_to_message_id is None  # the topic's root is not a reply
    reply = fake.make_topic_message_update(
        STAFF_FORUM, topic, AGENT, "answering that", reply_to=int(first.message.message_id)
    )
    second = convert_update(update_of(reply), "telegram")
    assert second is not None and second.message.reply_to_message_id == first.message.message_id
    # In an ordinary group, a reply thread's message_thread_id is not a topic.
    group = fake.make_text_update(USER, "hi", chat_id=STAFF_GROUP)
    group["message"]["message_thread_id"] = 5
    converted = convert_update(update_of(group), "telegram")
    assert converted is not None and converted.message.conversation.thread_id is None


def test_message_fields_callbacks_and_anonymous_admins():
    fake = FakeTelegram()
    fake.add_user(USER, "Alice", username="alice", language_code="ru")
    text = convert_update(update_of(fake.make_text_update(USER, "hi")), "telegram")
    assert text is not None
    assert text.message.sender == Sender(str(USER), "Alice", "ru", "alice")
    assert text.message.is_private and text.message.update_id == "1"

    sent = fake._bot_message(USER, {"text": "pick"}, reply_to=None, thread_id=None)
    press = fake.make_callback_update(USER, "/helped 3", sent["message_id"])
    callback = convert_update(update_of(press), "telegram")
    assert callback is not None
    assert callback.message.button_payload == "/helped 3"
    assert callback.message.message_id == str(sent["message_id"])
    assert callback.message.conversation.chat_id == str(USER)
    assert callback.callback_query_id == press["callback_query"]["id"]

    anonymous = fake.make_text_update(1087968824, "/close", chat_id=STAFF_GROUP)
    anonymous["message"]["from"] = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
    anonymous["message"]["sender_chat"] = {"id": STAFF_GROUP, "type": "group", "title": "Staff"}
    converted = convert_update(update_of(anonymous), "telegram")
    assert converted is not None
    assert converted.message.sender.external_id == str(STAFF_GROUP)


def test_every_kind_of_file_is_an_attachment():
    fake = FakeTelegram()
    message = fake.make_media_update(USER, "photo", b"x")["message"]
    message.pop("photo")
    message["audio"] = {"file_id": "A1", "file_unique_id": "a", "duration": 3, "file_size": 9}
    message["voice"] = {
        "file_id": "V1",
        "file_unique_id": "v",
        "duration": 1,
        "mime_type": "audio/ogg",
    }
    photo = convert_update(update_of(fake.make_media_update(USER, "photo", b"big")), "telegram")
    assert photo is not None
    [picture] = photo.message.attachments
    assert picture.kind == "photo" and not picture.file_id.endswith("-thumb")
    assert picture.channel == "telegram"
    other = convert_update(update_of({"update_id": 5, "message": message}), "telegram")
    assert other is not None
    assert [(a.kind, a.file_id) for a in other.message.attachments] == [
        ("audio", "A1"),
        ("voice", "V1"),
    ]


def test_polled_album_waits_for_its_parts_without_confirming_them():
    now = [0.0]
    albums = PolledAlbums(wait=0.4, clock=lambda: now[0])
    fake = FakeTelegram()
    before = fake.make_text_update(USER, "before")
    parts = fake.make_album_updates(USER, [b"1", b"2", b"3"], caption="album")

    def batch(*updates: dict[str, Any]) -> list[tuple[int, Received | None]]:
        return [(u["update_id"], convert_update(update_of(u), "telegram")) for u in updates]

    first = albums.arrange(batch(before, parts[0], parts[1]))
    assert [r.message.text for r in first.ready] == ["before"]
    assert first.resume_at == parts[0]["update_id"]  # fetched again from the album
    assert first.wait == pytest.approx(0.4)
    now[0] = 0.5
    second = albums.arrange(batch(*parts))
    assert second.resume_at is None
    [album] = second.ready
    assert album.message.update_id == str(parts[0]["update_id"])
    assert len(album.message.attachments) == 3 and album.message.text == "album"


async def test_webhook_album_parts_wait_for_one_outcome():
    fake = FakeTelegram()
    updates = fake.make_album_updates(USER, [b"1", b"2"])

    def read(payload: str) -> Received | None:
        return convert_update(update_of(json.loads(payload)), "telegram")

    albums = WebhookAlbums(0.05, "telegram", read)
    parts = [(read(json.dumps(u)), json.dumps(u)) for u in updates]
    handled: list[Received] = []

    async def failing(received: Received) -> None:
        raise ConnectionError("database is down")

    outcomes = await asyncio.gather(
        *(albums.deliver(p, payload, failing) for p, payload in parts), return_exceptions=True
    )
    assert all(isinstance(o, ConnectionError) for o in outcomes)

    async def handle(received: Received) -> None:
        handled.append(received)

    await asyncio.gather(*(albums.deliver(p, payload, handle) for p, payload in parts))
    [album] = handled
    assert len(album.message.attachments) == 2
    assert album.message.merged_update_ids == (str(updates[1]["update_id"]),)


async def test_an_album_split_between_two_processes_is_one_message(store, fake_telegram):
    """Behind one webhook address the parts of an album may reach different processes: they
    meet in the database and become one message, handed over once."""
    fake = fake_telegram
    populate(fake)
    async with (
        helpdesk_on_telegram(store, fake, "webhook") as (one, desk),
        helpdesk_on_telegram(store, fake, "webhook") as (other, other_desk),
    ):
        await open_ticket(one, desk, USER, "Broken screen")
        album = fake.make_album_updates(USER, [b"one", b"two", b"three"], caption="Three views")
        statuses = await asyncio.gather(one.deliver(album[0], album[2]), other.deliver(album[1]))
        assert statuses == [[200, 200], [200]]
        await desk.settle()
        await other_desk.settle()
        await one_album_message(store, album)
        assert len(fake.ok_calls("sendMediaGroup")) == 1


# ---------------------------------------------------------------------------------------------
# Sending: rendering, files, topics, errors


@asynccontextmanager
async def sending(fake: FakeTelegram, **options: Any) -> AsyncIterator[TelegramChannel]:
    async with telegram_world(fake, "polling", **options) as world:
        try:
            yield world.channel
        finally:
            await world.channel.stop()


def to_user(text: str, **fields: Any) -> OutgoingMessage:
    return OutgoingMessage(conversation=ConversationRef("telegram", str(USER)), text=text, **fields)


async def test_uploads_files_from_other_platforms(fake_telegram):
    fake = fake_telegram
    document = Attachment("document", file_name="report.pdf", content=b"%PDF-1", channel="vk")
    photo = Attachment("photo", file_id="vk-photo-1", content=b"JPEG", channel="vk")
    async with sending(fake) as channel:
        sent = await channel.send(to_user("Your files", attachments=(document,)), "1.0")
        await channel.send(to_user("", attachments=(photo,)), "2.0")
    [upload] = fake.ok_calls("sendDocument")
    [file] = upload.files.values()  # aiogram names the part attach://<random>
    assert (file.content, file.filename) == (b"%PDF-1", "report.pdf")
    assert upload.params["caption"] == "Your files"
    assert sent.message_id == str(fake.sent_messages(USER)[0]["message_id"])
    [picture] = fake.ok_calls("sendPhoto")[0].files.values()
    assert picture.content == b"JPEG"


async def test_long_caption_goes_as_a_separate_text(fake_telegram):
    fake = fake_telegram
    stored = fake.register_file(b"JPEG", kind="photo")
    photo = Attachment("photo", file_id=stored.file_id, channel="telegram")
    long_text = "x" * 1500
    keyboard = ((Button("OK", "/helped 1"),),)
    async with sending(fake) as channel:
        sent = await channel.send(to_user(long_text, attachments=(photo,), buttons=keyboard), "k")
    [send_photo] = fake.ok_calls("sendPhoto")
    assert "caption" not in send_photo.params
    [text] = fake.ok_calls("sendMessage")
    assert text.params["text"] == long_text and "inline_keyboard" in text.params["reply_markup"]
    assert sent.message_id == str(fake.sent_messages(USER)[-1]["message_id"])


async def test_several_files_go_as_albums_where_possible(fake_telegram):
    fake = fake_telegram
    ids = [fake.register_file(b"J", kind="photo").file_id for _ in range(2)]
    docs = [fake.register_file(b"D", kind="document").file_id for _ in range(2)]
    voice = fake.register_file(b"OGG", kind="voice").file_id
    files = tuple(
        Attachment(kind, file_id=file_id, channel="telegram")
        for kind, file_id in [
            ("photo", ids[0]),
            ("photo", ids[1]),
            ("document", docs[0]),
            ("document", docs[1]),
            ("voice", voice),
        ]
    )
    async with sending(fake) as channel:
        sent = await channel.send(to_user("three kinds", attachments=files), "k")
    groups = fake.ok_calls("sendMediaGroup")
    assert [[m["type"] for m in g.json_param("media")] for g in groups] == [
        ["photo", "photo"],
        ["document", "document"],
    ]
    assert len(fake.ok_calls("sendVoice")) == 1
    assert fake.sent_messages(USER)[-1]["text"] == "three kinds"
    assert sent.message_id == str(fake.sent_messages(USER)[-1]["message_id"])


async def test_retry_after_a_failure_half_way_does_not_repeat_files(fake_telegram):
    fake = fake_telegram
    photo = Attachment(
        "photo", file_id=fake.register_file(b"J", kind="photo").file_id, channel="telegram"
    )
    message = to_user("y" * 1200, attachments=(photo,))
    async with sending(fake) as channel:
        fake.rate_limit_next(method="sendMessage")
        with pytest.raises(RetryAfter):
            await channel.send(message, "7.0")
        await channel.send(message, "7.0")
    assert len(fake.ok_calls("sendPhoto")) == 1
    assert len(fake.ok_calls("sendMessage")) == 1


async def test_a_refused_file_does_not_cost_the_text(fake_telegram):
    fake = fake_telegram
    unknown = Attachment("photo", file_id="no-such-file", channel="telegram")
    keyboard = ((Button("OK", "/helped 1"),),)
    async with sending(fake) as channel:
        sent = await channel.send(to_user("Words", attachments=(unknown,), buttons=keyboard), "k")
        with pytest.raises(PermanentSendError, match="refused every file"):
            await channel.send(to_user("", attachments=(unknown,)), "k2")
    assert fake.calls("sendPhoto")[0].status == 400
    [text] = fake.sent_messages(USER)
    assert text["text"] == "Words" and text["reply_markup"]["inline_keyboard"]
    assert sent.message_id == str(text["message_id"])


async def test_topic_per_ticket_only_in_forums_and_when_enabled(fake_telegram):
    fake = fake_telegram
    fake.add_chat(STAFF_FORUM, is_forum=True)
    fake.add_chat(STAFF_GROUP)

    def announcement(chat: int, ticket: int) -> OutgoingMessage:
        return OutgoingMessage(
            conversation=ConversationRef("telegram", str(chat)),
            text=f"Ticket #{ticket}",
            ticket_id=ticket,
            to_staff=True,
            thread_title=f"#{ticket} " + "long title " * 20,
        )

    async with sending(fake) as channel:
        in_forum = await channel.send(announcement(STAFF_FORUM, 1), "1.0")
        part_two = await channel.send(announcement(STAFF_FORUM, 1), "1.1")
        in_group = await channel.send(announcement(STAFF_GROUP, 2), "2.0")
    [create] = fake.ok_calls("createForumTopic")
    assert len(create.params["name"]) == 128
    assert in_forum.thread_id is not None and part_two.thread_id == in_forum.thread_id
    assert in_group.thread_id is None
    async with sending(fake, use_topics=False) as channel:
        without = await channel.send(announcement(STAFF_FORUM, 3), "3.0")
    assert without.thread_id is None and len(fake.ok_calls("createForumTopic")) == 1


async def test_send_errors_are_mapped_for_the_outbox(fake_telegram):
    fake = fake_telegram
    fake.create_topic(STAFF_FORUM, "gone")
    fake.delete_topic(STAFF_FORUM, 1)
    in_deleted_topic = OutgoingMessage(
        conversation=ConversationRef("telegram", str(STAFF_FORUM), "1"), text="x"
    )
    async with sending(fake) as channel:
        fake.rate_limit_next(retry_after=3)
        with pytest.raises(RetryAfter) as retry:
            await channel.send(to_user("x"), "1")
        assert retry.value.seconds == 3
        fake.server_error_next(status=502)
        with pytest.raises(TransientSendError):
            await channel.send(to_user("x"), "2")
        fake.block_chat(USER)
        with pytest.raises(PermanentSendError, match="blocked"):
            await channel.send(to_user("x"), "3")
        with pytest.raises(PermanentSendError, match="chat not found"):
            await channel.send(OutgoingMessage(ConversationRef("telegram", "nope"), "x"), "4")
        with pytest.raises(ThreadGone):
            await channel.send(in_deleted_topic, "5")
        with pytest.raises(PermanentSendError):
            await channel.send(to_user("   "), "6")  # nothing to send


def test_timeouts_and_connection_errors_are_transient():
    method = SendMessage(chat_id=1, text="x")
    assert isinstance(translate(TimeoutError()), TransientSendError)
    assert isinstance(translate(ConnectionResetError()), TransientSendError)
    assert translate(ValueError("a bug")) is None  # not a delivery problem: re-raised as is
    bad = TelegramBadRequest(method, "Bad Request: message thread not found")
    assert isinstance(translate(bad), ThreadGone)


async def test_download_gets_the_bytes_and_refuses_big_files(fake_telegram):
    fake = fake_telegram
    stored = fake.register_file(b"voice bytes", kind="voice")
    async with sending(fake) as channel:
        content = await channel.download(Attachment("voice", file_id=stored.file_id))
        with pytest.raises(PermanentSendError, match="20 MB"):
            await channel.download(Attachment("video", file_id="x", size=21 * 1024 * 1024))
        with pytest.raises(PermanentSendError):
            await channel.download(Attachment("document", file_id="unknown"))
    assert content == b"voice bytes"


def test_published_limits():
    channel = TelegramChannel("123:abc")
    assert (channel.max_text_length, channel.max_file_size) == (4096, 50 * 1024 * 1024)
    limits = channel.rate_limits
    assert limits is TELEGRAM_RATE_LIMITS
    assert (limits.per_chat, limits.per_chat_window, limits.overall) == (1, 1.0, 30)
    assert limits.extra_chat_limit("-1001") == (20, 60.0)
    assert limits.extra_chat_limit("42") is None
    assert channel.web_routes() == []
    with pytest.raises(ValueError):
        TelegramChannel("123:abc", mode="webhook")


async def test_an_announcement_reaches_each_user_through_the_bot_api(store, fake_telegram, mode):
    fake = fake_telegram
    populate(fake)
    admins = (("telegram", str(AGENT)),)
    async with helpdesk_on_telegram(store, fake, mode, admins=admins) as (world, desk):
        for user in (USER, OTHER_USER):
            await world.deliver(fake.make_text_update(user, "/status"))
        await desk.settle()
        post = fake.make_text_update(AGENT, "/announce The VPN is down until 18:00.",
                                     chat_id=STAFF_FORUM)  # fmt: skip
        await world.deliver(post)
        await desk.settle()
        preview = fake.sent_messages(STAFF_FORUM)[-1]
        assert preview["text"].startswith("📣 Announcement #1, to all: 2 users will get")
        send = preview["reply_markup"]["inline_keyboard"][0][0]
        assert send["text"] == "📣 Send to 2 users"
        press = fake.make_callback_update(
            AGENT, send["callback_data"], preview["message_id"], chat_id=STAFF_FORUM
        )
        await world.deliver(press)
        await desk.settle()
        for user in (USER, OTHER_USER):
            assert texts_to(fake, user)[-1].startswith("📣 The VPN is down until 18:00.")
        again = fake.make_callback_update(
            AGENT, send["callback_data"], preview["message_id"], chat_id=STAFF_FORUM
        )
        await world.deliver(again)  # pressed twice: nobody gets a second copy
        await desk.settle()
        assert sum("VPN is down" in t for t in texts_to(fake, USER)) == 1
        assert "already sent" in fake.sent_messages(STAFF_FORUM)[-1]["text"]
