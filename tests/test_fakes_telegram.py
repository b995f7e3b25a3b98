"""The fake Telegram server speaks the Bot API well enough for the real aiogram client."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from tests.fakes.telegram import FakeTelegram

pytest_plugins = ["tests.fakes.fixtures"]

USER = 42
STAFF_FORUM = -1001234567890


def keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Close", callback_data=data)]]
    )


async def test_send_message_is_recorded_and_parsed(fake_telegram: FakeTelegram, telegram_bot: Bot):
    me = await telegram_bot.get_me()
    sent = await telegram_bot.send_message(
        USER, "<b>Hi</b> &lt;there&gt;", parse_mode="HTML", reply_markup=keyboard("close:1")
    )
    second = await telegram_bot.send_message(
        USER, "again", reply_parameters=ReplyParameters(message_id=sent.message_id)
    )

    assert me.id == 123456
    assert (sent.message_id, second.message_id) == (1, 2)  # counted per chat
    assert sent.text == "Hi <there>"
    assert sent.entities[0].type == "bold"
    assert second.reply_to_message.message_id == sent.message_id
    call = fake_telegram.calls("sendMessage")[0]
    assert call.params["chat_id"] == str(USER)
    assert call.json_param("reply_markup")["inline_keyboard"][0][0]["callback_data"] == "close:1"
    assert [m["text"] for m in fake_telegram.sent_messages(USER)] == ["Hi <there>", "again"]


async def test_invalid_html_and_limits_are_rejected_like_telegram(telegram_bot: Bot):
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Unsupported start tag"):
        await telegram_bot.send_message(USER, "1 < 2 and <oops>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await telegram_bot.send_message(USER, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await telegram_bot.send_message(USER, "hi", reply_markup=keyboard("x" * 65))


async def test_photo_upload_then_download_by_file_id(
    fake_telegram: FakeTelegram, telegram_bot: Bot
):
    sent = await telegram_bot.send_photo(
        USER, BufferedInputFile(b"PNGDATA", filename="shot.png"), caption="look"
    )
    album = await telegram_bot.send_media_group(
        USER,
        [
            InputMediaPhoto(media=sent.photo[-1].file_id),
            InputMediaPhoto(media=sent.photo[-1].file_id),
        ],
    )

    buffer = await telegram_bot.download(sent.photo[-1].file_id)
    assert buffer is not None and buffer.read() == b"PNGDATA"
    assert sent.caption == "look"
    assert len({m.media_group_id for m in album}) == 1 and album[0].media_group_id
    upload = fake_telegram.calls("sendPhoto")[0]
    assert [f.content for f in upload.files.values()] == [b"PNGDATA"]


async def test_incoming_media_is_downloadable(fake_telegram: FakeTelegram, telegram_bot: Bot):
    update = fake_telegram.make_media_update(
        USER, "document", b"%PDF-1", file_name="invoice.pdf", mime_type="application/pdf"
    )
    document = update["message"]["document"]

    file = await telegram_bot.get_file(document["file_id"])
    data = io.BytesIO()
    await telegram_bot.download_file(file.file_path, data)

    assert data.getvalue() == b"%PDF-1"
    assert document["file_name"] == "invoice.pdf"


async def test_forum_topics_and_deleted_topic(fake_telegram: FakeTelegram, telegram_bot: Bot):
    fake_telegram.add_chat(STAFF_FORUM, title="Staff", is_forum=True)
    topic = await telegram_bot.create_forum_topic(STAFF_FORUM, "Ticket #1")
    posted = await telegram_bot.send_message(
        STAFF_FORUM, "new ticket", message_thread_id=topic.message_thread_id
    )
    await telegram_bot.close_forum_topic(STAFF_FORUM, topic.message_thread_id)
    agent = fake_telegram.make_topic_message_update(
        STAFF_FORUM, topic.message_thread_id, 7, "hello"
    )["message"]

    fake_telegram.delete_topic(STAFF_FORUM, topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await telegram_bot.send_message(STAFF_FORUM, "x", message_thread_id=topic.message_thread_id)

    assert posted.is_topic_message and posted.message_thread_id == topic.message_thread_id
    # Telegram makes every topic message a reply to the topic's creation message.
    assert agent["reply_to_message"]["message_id"] == topic.message_thread_id
    assert agent["reply_to_message"]["forum_topic_created"]["name"] == "Ticket #1"


async def test_copy_forward_edit_and_callback(fake_telegram: FakeTelegram, telegram_bot: Bot):
    fake_telegram.add_user(USER, "Ann", hides_forwards=True)
    incoming = fake_telegram.make_text_update(USER, "my printer is broken")["message"]
    copied = await telegram_bot.copy_message(STAFF_FORUM, USER, incoming["message_id"])
    forwarded = await telegram_bot.forward_message(STAFF_FORUM, USER, incoming["message_id"])
    prompt = await telegram_bot.send_message(USER, "Close?", reply_markup=keyboard("close"))
    press = fake_telegram.make_callback_update(USER, "close", prompt.message_id)
    edited = await telegram_bot.edit_message_text(
        "Closed", chat_id=USER, message_id=prompt.message_id
    )

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await telegram_bot.edit_message_text("Closed", chat_id=USER, message_id=prompt.message_id)
    assert await telegram_bot.answer_callback_query(press["callback_query"]["id"], text="ok")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await telegram_bot.answer_callback_query(press["callback_query"]["id"])

    assert fake_telegram.message(STAFF_FORUM, copied.message_id)["text"] == "my printer is broken"
    assert forwarded.forward_origin.type == "hidden_user"  # no user id to parse
    assert edited.text == "Closed" and edited.reply_markup is None
    assert press["callback_query"]["message"]["text"] == "Close?"


async def test_rate_limit_raises_retry_after(fake_telegram: FakeTelegram, telegram_bot: Bot):
    fake_telegram.rate_limit_next(method="sendMessage", retry_after=7)

    with pytest.raises(TelegramRetryAfter) as caught:
        await telegram_bot.send_message(USER, "hello")
    await telegram_bot.send_message(USER, "hello")

    assert caught.value.retry_after == 7
    assert [c.status for c in fake_telegram.calls("sendMessage")] == [429, 200]


async def test_rate_limit_ratio_hits_every_third_send(
    fake_telegram: FakeTelegram, telegram_bot: Bot
):
    fake_telegram.rate_limit_ratio(1 / 3)
    outcomes = []
    for number in range(6):
        try:
            await telegram_bot.send_message(USER, f"m{number}")
            outcomes.append("ok")
        except TelegramRetryAfter:
            outcomes.append("429")
    await telegram_bot.get_me()  # not a send: never limited

    assert outcomes == ["ok", "ok", "429", "ok", "ok", "429"]


async def test_server_errors_slowness_blocked_and_migrated(
    fake_telegram: FakeTelegram, telegram_bot: Bot
):
    fake_telegram.server_error_next(status=502)
    with pytest.raises(TelegramServerError):
        await telegram_bot.send_message(USER, "x")

    fake_telegram.slow_next(2.0, method="sendMessage")
    with pytest.raises(TelegramNetworkError):
        await telegram_bot.send_message(USER, "x", request_timeout=0.2)

    fake_telegram.block_chat(USER)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await telegram_bot.send_message(USER, "x")

    service = fake_telegram.make_migration_updates(-555, -1009999)
    with pytest.raises(TelegramMigrateToChat) as caught:
        await telegram_bot.send_message(-555, "x")
    assert caught.value.migrate_to_chat_id == -1009999
    assert service[0]["message"]["migrate_to_chat_id"] == -1009999


async def test_unknown_method_and_wrong_token(fake_telegram: FakeTelegram):
    async with aiohttp.ClientSession() as http:
        unknown = await http.post(f"{fake_telegram.base_url}/bot{fake_telegram.token}/fooBar")
        wrong = await http.post(f"{fake_telegram.base_url}/bot1:wrong/getMe")
        assert (unknown.status, (await unknown.json())["error_code"]) == (404, 404)
        assert wrong.status == 401


async def test_get_updates_long_polls_and_confirms_by_offset(fake_telegram: FakeTelegram):
    url = f"{fake_telegram.base_url}/bot{fake_telegram.token}/getUpdates"
    async with aiohttp.ClientSession() as http:
        poll = asyncio.create_task(http.post(url, data={"timeout": "5"}))
        await fake_telegram.wait_for_calls("getUpdates")
        update = fake_telegram.inject(fake_telegram.make_text_update(USER, "hi"))
        first = await (await asyncio.wait_for(poll, 2)).json()
        again = await (await http.post(url, data={"timeout": "0"})).json()
        confirmed = await (
            await http.post(url, data={"offset": str(update["update_id"] + 1), "timeout": "0"})
        ).json()

    assert [u["update_id"] for u in first["result"]] == [update["update_id"]]
    assert again["result"] == first["result"]  # not confirmed yet: delivered again
    assert confirmed["result"] == []
    assert fake_telegram.last_confirmed_update_id == update["update_id"]


async def test_dispatcher_polling_sees_injected_update(
    fake_telegram: FakeTelegram, telegram_bot: Bot
):
    dispatcher = Dispatcher()
    seen: list[str] = []

    @dispatcher.message(F.text)
    async def on_text(message: Message) -> None:
        seen.append(message.text)
        await message.answer(f"echo: {message.text}")

    @dispatcher.callback_query()
    async def on_press(query: CallbackQuery) -> None:
        await query.answer("done")

    fake_telegram.inject(fake_telegram.make_text_update(USER, "/start"))
    polling = asyncio.create_task(
        dispatcher.start_polling(telegram_bot, handle_signals=False, close_bot_session=False)
    )
    try:
        await fake_telegram.wait_until(lambda: len(fake_telegram.sent_messages(USER)) == 1)
        prompt = fake_telegram.sent_messages(USER)[0]
        fake_telegram.inject(fake_telegram.make_callback_update(USER, "x", prompt["message_id"]))
        await fake_telegram.wait_for_calls("answerCallbackQuery")
    finally:
        await dispatcher.stop_polling()
        await asyncio.wait_for(polling, 5)

    assert seen == ["/start"]
    assert prompt["text"] == "echo: /start"
    assert fake_telegram.calls("getMe") and fake_telegram.calls("getUpdates")


async def test_webhook_delivery_checks_secret(fake_telegram: FakeTelegram, telegram_bot: Bot):
    dispatcher = Dispatcher()
    seen: list[str] = []

    @dispatcher.message()
    async def on_message(message: Message) -> None:
        seen.append(message.text)

    app = web.Application()
    SimpleRequestHandler(
        dispatcher, telegram_bot, handle_in_background=False, secret_token="s3cret"
    ).register(app, path="/tg")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/tg"
    try:
        update = fake_telegram.make_text_update(USER, "via webhook")
        good = await fake_telegram.post_webhook(url, update, secret_token="s3cret")
        bad = await fake_telegram.post_webhook(url, update, secret_token="wrong")
    finally:
        await runner.cleanup()

    assert good[0] == 200 and bad[0] == 401
    assert seen == ["via webhook"]


async def test_other_media_kinds_chat_info_and_albums(
    fake_telegram: FakeTelegram, telegram_bot: Bot
):
    document = await telegram_bot.send_document(
        USER, BufferedInputFile(b"%PDF", filename="a.pdf"), caption="<i>doc</i>", parse_mode="HTML"
    )
    voice = await telegram_bot.send_voice(USER, BufferedInputFile(b"OGG", filename="v.ogg"))
    video = await telegram_bot.send_video(USER, BufferedInputFile(b"MP4", filename="v.mp4"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await telegram_bot.send_photo(USER, "no-such-file-id")
    chat = await telegram_bot.get_chat(STAFF_FORUM)
    album = fake_telegram.make_album_updates(USER, [b"1", b"2", b"3"], caption="three")

    assert document.document.file_name == "a.pdf" and document.caption == "doc"
    assert document.caption_entities[0].type == "italic"
    assert voice.voice.file_id and video.video.file_id
    assert chat.type == "supergroup"
    assert len({u["message"]["media_group_id"] for u in album}) == 1
    assert [u["message"].get("caption") for u in album] == ["three", None, None]
    # photo[0] is a thumbnail, a different file from the full-size photo[-1]
    sizes = album[0]["message"]["photo"]
    assert fake_telegram.files[sizes[-1]["file_id"]].content == b"1"
    assert fake_telegram.files[sizes[0]["file_id"]].content != b"1"


async def test_webhook_mode_blocks_polling_until_deleted(
    fake_telegram: FakeTelegram, telegram_bot: Bot
):
    fake_telegram.inject(fake_telegram.make_text_update(USER, "old"))
    await telegram_bot.set_webhook("https://example.invalid/hook", secret_token="s")
    with pytest.raises(TelegramConflictError):
        await telegram_bot.get_updates(timeout=0)
    await telegram_bot.delete_webhook(drop_pending_updates=True)

    assert await telegram_bot.get_updates(timeout=0) == []
    assert fake_telegram.webhook is None


async def test_topic_management_group_replies_and_markup_edits(
    fake_telegram: FakeTelegram, telegram_bot: Bot
):
    fake_telegram.add_chat(STAFF_FORUM, is_forum=True)
    topic = await telegram_bot.create_forum_topic(STAFF_FORUM, "Ticket #3")
    thread = topic.message_thread_id
    await telegram_bot.edit_forum_topic(STAFF_FORUM, thread, name="Ticket #3 [closed]")
    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await telegram_bot.edit_forum_topic(STAFF_FORUM, thread, name="Ticket #3 [closed]")
    await telegram_bot.delete_forum_topic(STAFF_FORUM, thread)
    with pytest.raises(TelegramBadRequest, match="TOPIC_ID_INVALID"):
        await telegram_bot.close_forum_topic(STAFF_FORUM, thread)
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await telegram_bot.create_forum_topic(-100777, "x")

    staff_group = -4001
    card = await telegram_bot.send_message(staff_group, "Ticket #4", reply_markup=keyboard("take"))
    reply = fake_telegram.make_group_reply_update(staff_group, 7, "on it", card.message_id)
    unmarked = await telegram_bot.edit_message_reply_markup(
        chat_id=staff_group, message_id=card.message_id, reply_markup=None
    )

    assert fake_telegram.topics[(STAFF_FORUM, thread)].name == "Ticket #3 [closed]"
    assert fake_telegram.topics[(STAFF_FORUM, thread)].deleted
    assert reply["message"]["reply_to_message"]["message_id"] == card.message_id
    assert reply["message"]["chat"]["type"] == "group"
    assert unmarked.reply_markup is None
