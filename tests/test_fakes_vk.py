"""The fake VK server speaks the API and Bots Long Poll well enough for the real vkbottle."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web
from vkbottle import (
    API,
    Bot,
    BotPolling,
    DocMessagesUploader,
    PhotoMessageUploader,
    VKAPIError,
    VoiceMessageUploader,
)
from vkbottle.bot import Message, MessageEvent
from vkbottle_types.events import GroupEventType

from tests.fakes.vk import CHAT_PEER_OFFSET, FakeVK

pytest_plugins = ["tests.fakes.fixtures"]

USER = 5
CHAT = CHAT_PEER_OFFSET + 3


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    """vkbottle 4.11 BotPolling writes ./.vkbottle/ into the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_send_returns_ids_and_dedupes_random_id(fake_vk: FakeVK, vk_api: API):
    keyboard = json.dumps({"one_time": False, "inline": True, "buttons": []})
    first = await vk_api.messages.send(peer_id=USER, message="hi", random_id=77, keyboard=keyboard)
    repeat = await vk_api.messages.send(peer_id=USER, message="hi", random_id=77)
    other = await vk_api.messages.send(peer_id=USER, message="hi", random_id=0)
    in_chat = await vk_api.messages.send(peer_ids=[CHAT], message="to staff", random_id=0)

    assert repeat == first and other != first
    assert [m["text"] for m in fake_vk.sent_to(USER)] == ["hi", "hi"]  # the repeat was dropped
    assert fake_vk.sent_to(USER)[0]["keyboard"]["inline"] is True
    assert in_chat[0].peer_id == CHAT and in_chat[0].conversation_message_id == 1
    assert in_chat[0].message_id == 0  # no real message ids for a community in chats
    assert fake_vk.calls("messages.send")[0].params["random_id"] == "77"


async def test_api_errors_raise_vkapierror(fake_vk: FakeVK, vk_api: API):
    fake_vk.rate_limit_next(method="messages.send")
    with pytest.raises(VKAPIError[6]):
        await vk_api.messages.send(peer_id=USER, message="x", random_id=1)

    fake_vk.api_error_next(9)
    with pytest.raises(VKAPIError[9]):
        await vk_api.messages.send(peer_id=USER, message="x", random_id=2)

    fake_vk.block_peer(USER)
    with pytest.raises(VKAPIError[901]):
        await vk_api.messages.send(peer_id=USER, message="x", random_id=3)

    with pytest.raises(VKAPIError[914]):
        await vk_api.messages.send(peer_id=CHAT, message="x" * 4097, random_id=4)

    bad_token = API("wrong", http_client=vk_api.http_client)
    bad_token.API_URL = fake_vk.api_url
    with pytest.raises(VKAPIError[5]):
        await bad_token.groups.get_by_id()


async def test_rate_limit_ratio_and_http_faults(fake_vk: FakeVK, vk_api: API):
    fake_vk.rate_limit_ratio(0.5)
    outcomes = []
    for number in range(4):
        try:
            await vk_api.messages.send(peer_id=USER, message="x", random_id=100 + number)
            outcomes.append("ok")
        except VKAPIError[6]:
            outcomes.append("6")
    fake_vk.clear_faults()
    fake_vk.server_error_next(status=503)
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{fake_vk.api_url}messages.send")

    assert outcomes == ["ok", "6", "ok", "6"]
    assert response.status == 503


async def test_uploads_give_attachment_strings_and_files(fake_vk: FakeVK, vk_api: API):
    photo = await PhotoMessageUploader(vk_api).upload(b"JPEGDATA", peer_id=USER)
    doc = await DocMessagesUploader(vk_api).upload(b"%PDF", peer_id=USER, title="report.pdf")
    await vk_api.messages.send(peer_id=USER, attachment=f"{photo},{doc}", random_id=1)
    with pytest.raises(VKAPIError[100]):
        await vk_api.messages.send(peer_id=USER, attachment=f"{photo[:-3]}bad", random_id=2)

    attachments = fake_vk.sent_to(USER)[0]["attachments"]
    photo_url = attachments[0]["photo"]["sizes"][-1]["url"]
    async with aiohttp.ClientSession() as http:
        downloaded = await (await http.get(photo_url)).read()
    assert photo.startswith("photo-1_") and doc.startswith("doc-1_")
    assert downloaded == b"JPEGDATA"
    assert attachments[1]["doc"]["title"] == "report.pdf"


async def test_bot_polling_receives_events(fake_vk: FakeVK, vk_api: API, in_tmp_dir):
    bot = Bot(api=vk_api, polling=BotPolling(vk_api, group_id=fake_vk.group_id, wait=5))
    seen: list[tuple[int, str, int | None]] = []

    @bot.on.message()
    async def on_message(message: Message) -> None:
        replied = message.reply_message.conversation_message_id if message.reply_message else None
        seen.append((message.peer_id, message.text, replied))
        await message.answer(f"echo: {message.text}")

    @bot.on.raw_event(GroupEventType.MESSAGE_EVENT, dataclass=MessageEvent)
    async def on_button(event: MessageEvent) -> None:
        await event.show_snackbar("closed")

    polling = asyncio.create_task(bot.run_polling())
    try:
        await fake_vk.wait_for_long_poll()
        fake_vk.inject(fake_vk.make_message_new(USER, "hello"))
        await fake_vk.wait_until(lambda: len(fake_vk.sent_to(USER)) == 1)
        staff_post = await vk_api.messages.send(peer_ids=[CHAT], message="ticket 1", random_id=9)
        fake_vk.inject(
            fake_vk.make_message_new(
                7,
                "agent reply",
                peer_id=CHAT,
                reply_to_cmid=staff_post[0].conversation_message_id,
            )
        )
        fake_vk.inject(fake_vk.make_message_event(USER, {"cmd": "close"}))
        await fake_vk.wait_until(lambda: len(fake_vk.sent_to(CHAT)) == 2)
        await fake_vk.wait_until(lambda: len(fake_vk.event_answers) == 1)
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)

    assert seen == [(USER, "hello", None), (CHAT, "agent reply", 1)]
    assert fake_vk.sent_to(USER)[0]["text"] == "echo: hello"
    assert fake_vk.event_answers[0]["event_data"]["type"] == "show_snackbar"
    assert (in_tmp_dir / ".vkbottle").exists()  # the pitfall is real, and contained


async def test_long_poll_failures_are_survivable(fake_vk: FakeVK, vk_api: API, in_tmp_dir):
    bot = Bot(api=vk_api, polling=BotPolling(vk_api, group_id=fake_vk.group_id, wait=5))
    seen: list[str] = []

    @bot.on.message()
    async def on_message(message: Message) -> None:
        seen.append(message.text)

    polling = asyncio.create_task(bot.run_polling())
    try:
        await fake_vk.wait_for_long_poll()
        fake_vk.long_poll_failure_next(2)  # key expired: client must fetch a new server
        fake_vk.inject(fake_vk.make_message_new(USER, "after key change"))
        await fake_vk.wait_until(lambda: seen == ["after key change"])
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)

    assert len(fake_vk.calls("groups.getLongPollServer")) == 2


async def test_events_injected_before_connect_are_not_delivered(fake_vk: FakeVK):
    fake_vk.inject(fake_vk.make_message_new(USER, "too early"))
    async with aiohttp.ClientSession() as http:
        server = (
            await (
                await http.post(
                    f"{fake_vk.api_url}groups.getLongPollServer",
                    params={"access_token": fake_vk.token, "v": "5.199"},
                )
            ).json()
        )["response"]
        poll = await (
            await http.post(
                server["server"],
                params={"act": "a_check", "key": server["key"], "ts": server["ts"], "wait": "0"},
            )
        ).json()
        wrong_key = await (
            await http.post(
                server["server"],
                params={"act": "a_check", "key": "x", "ts": "1", "wait": "0"},
            )
        ).json()

    assert poll == {"ts": server["ts"], "updates": []}
    assert wrong_key == {"failed": 2}


async def test_callback_api_helper_delivers_with_secret(fake_vk: FakeVK):
    received: list[dict] = []

    async def callback_endpoint(request: web.Request) -> web.Response:
        event = await request.json()
        if event.get("secret") != "topsecret":
            return web.Response(status=403, text="bad secret")
        if event["type"] == "confirmation":
            return web.Response(text=fake_vk.confirmation_code)
        received.append(event)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/vk", callback_endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/vk"
    try:
        confirm = await fake_vk.post_callback(url, fake_vk.make_confirmation_event(), "topsecret")
        event = fake_vk.make_message_new(USER, "via callback")
        delivered = await fake_vk.post_callback(url, event, "topsecret")
        rejected = await fake_vk.post_callback(url, event, "wrong")
    finally:
        await runner.cleanup()

    assert confirm == (200, fake_vk.confirmation_code)
    assert delivered == (200, "ok") and rejected[0] == 403
    assert received[0]["object"]["message"]["text"] == "via callback"


async def test_edit_voice_upload_and_users(fake_vk: FakeVK, vk_api: API):
    fake_vk.add_user(USER, "Anna", "Ivanova")
    sent = await vk_api.messages.send(peer_ids=[CHAT], message="draft", random_id=5)
    await vk_api.messages.edit(
        peer_id=CHAT, conversation_message_id=sent[0].conversation_message_id, message="final"
    )
    voice = await VoiceMessageUploader(vk_api).upload(b"OGGDATA", peer_id=USER)
    users = await vk_api.users.get(user_ids=[USER])
    with pytest.raises(VKAPIError[100]):
        await vk_api.messages.edit(peer_id=CHAT, conversation_message_id=99, message="x")

    assert fake_vk.sent_to(CHAT)[0]["text"] == "final"
    assert voice.startswith("audio_message-1_")
    assert users[0].first_name == "Anna"


async def test_incoming_attachments_parse_and_download(fake_vk: FakeVK, vk_api: API):
    photo = fake_vk.make_photo_attachment(b"FULLPHOTO")
    doc = fake_vk.make_doc_attachment(b"%PDF", title="scan.pdf")
    voice = fake_vk.make_voice_attachment(b"OGG")
    event = fake_vk.make_message_new(
        USER, "see files", peer_id=CHAT, attachments=[photo, doc, voice]
    )
    message = Message(**event["object"]["message"], unprepared_ctx_api=vk_api)
    full = await message.get_full_message()  # messages.getByConversationMessageId
    async with aiohttp.ClientSession() as http:
        largest = max(photo["photo"]["sizes"], key=lambda size: size["width"])
        photo_bytes = await (await http.get(largest["url"])).read()
        doc_bytes = await (await http.get(doc["doc"]["url"])).read()

    assert photo_bytes == b"FULLPHOTO" and doc_bytes == b"%PDF"
    assert len(message.get_photo_attachments()) == 1
    assert message.get_doc_attachments()[0].title == "scan.pdf"
    assert len(message.get_audio_message_attachments()) == 1
    assert full.text == "see files" and message.id == 0  # chat messages have no id
    # an incoming attachment can be sent back by its string
    await vk_api.messages.send(
        peer_id=USER, attachment=full.get_attachment_strings()[0], random_id=1
    )
    assert fake_vk.sent_to(USER)[0]["attachments"][0]["type"] == "photo"
