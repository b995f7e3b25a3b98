"""A fake Telegram Bot API server for tests: speaks the HTTP protocol aiogram (or any client)
uses, keeps chats/messages/topics/files in memory, records every request, and lets a test inject
updates and faults.

    async with FakeTelegram() as tg:
        bot = Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))
        tg.inject(tg.make_text_update(user_id=42, text="hello"))
        ...
        assert tg.sent_messages(chat_id=42)[0]["text"] == "..."

Imitated behaviour (Bot API 7+/8+): `{base}/bot{token}/{method}` (method names are
case-insensitive), form/multipart/JSON bodies, `{"ok": ..., "result"|"error_code"+"description"}`
answers, `getUpdates` long polling where an offset confirms (drops) earlier updates, 409 while a
webhook is set or when a newer getUpdates supersedes a waiting one, message ids counted per chat,
forum topics whose id is the id of their creation service message (and whose messages carry
`reply_to_message` = that service message), HTML parse-mode validation, text/caption limits,
callback_data limit, "message is not modified", blocked users (403), deleted topics
("message thread not found"), and groups migrated to supergroups (400 + migrate_to_chat_id).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.base import FakeServer, Fault, RecordedRequest, json_response
from tests.fakes.telegram_text import (
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    EntityParseError,
    command_entities,
    parse_text,
    utf16_length,
)

SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVoice",
        "sendVideo",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
    }
)
MEDIA_KINDS = ("photo", "document", "voice", "video")
_DEFAULT_MIME = {
    "photo": "image/jpeg",
    "document": "application/octet-stream",
    "voice": "audio/ogg",
    "video": "video/mp4",
}
_EXTENSIONS = {"photo": "jpg", "document": "bin", "voice": "oga", "video": "mp4"}
_MESSAGE_CONTENT_KEYS = (
    "text",
    "entities",
    "caption",
    "caption_entities",
    *MEDIA_KINDS,
    "media_group_id",
)
_ICON_COLOR = 7322096
_SUPERGROUP_IDS_BELOW = -1_000_000_000_000
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class TelegramError(Exception):
    """Raised inside a method handler; becomes `{"ok": false, ...}` with this HTTP status."""

    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def bad_request(description: str, **parameters: Any) -> TelegramError:
    return TelegramError(400, f"Bad Request: {description}", parameters or None)


@dataclass
class TelegramFile:
    """A file the fake can serve: uploaded by the bot or registered by a test."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    kind: str
    file_name: str | None = None
    mime_type: str | None = None

    def media(self) -> Any:
        """The object a Message carries for this file (a list of sizes for photos)."""
        base = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
        }
        if self.kind == "photo":
            # Real photos come in several sizes, smallest first; the thumbnail is a separate
            # file so code that takes photo[0] instead of photo[-1] gets the wrong bytes.
            thumb = {
                "file_id": f"{self.file_id}-thumb",
                "file_unique_id": f"{self.file_unique_id}t",
                "file_size": 9,
                "width": 90,
                "height": 90,
            }
            return [thumb, base | {"width": 800, "height": 600}]
        if self.kind == "document":
            return base | {
                "file_name": self.file_name or "file.bin",
                "mime_type": self.mime_type or _DEFAULT_MIME["document"],
            }
        if self.kind == "voice":
            return base | {"duration": 1, "mime_type": self.mime_type or _DEFAULT_MIME["voice"]}
        return base | {
            "width": 640,
            "height": 360,
            "duration": 1,
            "mime_type": self.mime_type or _DEFAULT_MIME["video"],
        }


@dataclass
class ForumTopic:
    chat_id: int
    thread_id: int
    name: str
    icon_color: int = _ICON_COLOR
    closed: bool = False
    deleted: bool = False


class FakeTelegram(FakeServer):
    """Fake Bot API. State is public for assertions: `requests`, `sent`, `messages`, `topics`,
    `files`, `callback_answers`, `webhook`, `pending_updates`."""

    background_methods = frozenset({"getUpdates"})

    def __init__(self, token: str = "123456:TEST-TOKEN", bot_username: str = "helpdesk_test_bot"):
        super().__init__()
        self.token = token
        self.bot_user = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "Helpdesk",
            "username": bot_username,
        }
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.sent: list[dict[str, Any]] = []
        self.topics: dict[tuple[int, int], ForumTopic] = {}
        self.files: dict[str, TelegramFile] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.webhook: dict[str, Any] | None = None
        self.pending_updates: list[dict[str, Any]] = []
        self.last_confirmed_update_id = 0
        self.blocked_chats: set[int] = set()
        self.migrated_chats: dict[int, int] = {}
        self._open_callbacks: set[str] = set()
        self._hidden_forwarders: set[int] = set()
        self._message_ids: dict[int, itertools.count] = {}
        self._update_ids = itertools.count(1)
        self._file_numbers = itertools.count(1)
        self._ids = itertools.count(1)
        self._poll_generation = 0
        self._methods: dict[str, tuple[str, Callable]] = {
            name.lower(): (name, handler) for name, handler in self._handlers().items()
        }

    # ------------------------------------------------------------------ HTTP plumbing

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)

    async def _handle_api(self, request: web.Request) -> web.Response:
        name, handler = self._methods.get(
            request.match_info["method"].lower(), (request.match_info["method"], None)
        )
        recorded = await self._record(name, request)
        if request.match_info["token"] != self.token:
            return self._error(recorded, TelegramError(401, "Unauthorized"))
        fault = self.faults.take(name)
        if fault is not None:
            if fault.kind == "delay":
                await self._sleep(fault.delay)
            else:
                return self._fault_response(recorded, fault)
        if handler is None:
            return self._error(recorded, TelegramError(404, "Not Found"))
        try:
            result = await handler(recorded)
        except TelegramError as error:
            return self._error(recorded, error)
        self._notify()
        return json_response({"ok": True, "result": result})

    def _error(self, recorded: RecordedRequest, error: TelegramError) -> web.Response:
        recorded.status = error.status
        payload: dict[str, Any] = {
            "ok": False,
            "error_code": error.status,
            "description": error.description,
        }
        if error.parameters:
            payload["parameters"] = error.parameters
        self._notify()
        return json_response(payload, status=error.status)

    def _fault_response(self, recorded: RecordedRequest, fault: Fault) -> web.Response:
        recorded.fault = fault.kind
        if fault.kind == "rate_limit":
            error = TelegramError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        else:
            error = TelegramError(fault.status, HTTPStatus(fault.status).phrase)
        return self._error(recorded, error)

    async def _handle_download(self, request: web.Request) -> web.Response:
        recorded = await self._record("file", request)
        stored = next(
            (f for f in self.files.values() if f.file_path == request.match_info["path"]), None
        )
        if request.match_info["token"] != self.token or stored is None:
            recorded.status = 404
            return json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(
            body=stored.content, content_type=stored.mime_type or "application/octet-stream"
        )

    # ------------------------------------------------------------------ test-side helpers: faults

    def rate_limit_next(
        self, times: int = 1, *, method: str | None = None, retry_after: int = 1
    ) -> None:
        """The next `times` calls (of `method`) answer 429 with parameters.retry_after."""
        self.faults.add(Fault("rate_limit", method, retry_after=retry_after), times)

    def rate_limit_ratio(
        self, ratio: float, *, methods: Iterable[str] | None = SEND_METHODS, retry_after: int = 1
    ) -> None:
        """From now on, deterministically every 1/ratio-th call of `methods` answers 429."""
        self.faults.add_ratio(Fault("rate_limit", retry_after=retry_after), ratio, methods)

    def server_error_next(
        self, times: int = 1, *, method: str | None = None, status: int = 500
    ) -> None:
        self.faults.add(Fault("server_error", method, status=status), times)

    def slow_next(self, delay: float, times: int = 1, *, method: str | None = None) -> None:
        """The next `times` calls are answered normally, but only after `delay` seconds."""
        self.faults.add(Fault("delay", method, delay=delay), times)

    # ------------------------------------------------------------------ test-side helpers: world

    def add_user(
        self,
        user_id: int,
        first_name: str | None = None,
        *,
        username: str | None = None,
        language_code: str | None = "en",
        hides_forwards: bool = False,
    ) -> dict[str, Any]:
        """Register a person. `hides_forwards` makes forwards of their messages carry a
        hidden_user origin (privacy setting), so forward_origin has no user id."""
        user = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}"}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        if hides_forwards:
            self._hidden_forwarders.add(user_id)
        return user

    def add_chat(
        self,
        chat_id: int,
        *,
        title: str | None = None,
        is_forum: bool = False,
        chat_type: str | None = None,
    ) -> dict[str, Any]:
        """Register a group/supergroup (ids below -10**12 are supergroups) or a forum."""
        chat = self._infer_chat(chat_id)
        if chat_type:
            chat["type"] = chat_type
        if title:
            chat["title"] = title
        if is_forum:
            chat["type"] = "supergroup"
            chat["is_forum"] = True
        self.chats[chat_id] = chat
        return chat

    def create_topic(self, chat_id: int, name: str, *, user_id: int = 1) -> int:
        """A topic created by a person (the chat becomes a forum if it was not registered as
        one); returns its message_thread_id."""
        if not self._chat(chat_id).get("is_forum"):
            self.add_chat(chat_id, is_forum=True)
        return self._create_topic(chat_id, name, creator=self._user(user_id)).thread_id

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """A person deleted the topic: sends into it fail with "message thread not found"."""
        self.topics[(chat_id, thread_id)].deleted = True

    def block_chat(self, chat_id: int) -> None:
        """The user blocked the bot: every send to the chat answers 403."""
        self.blocked_chats.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        self.blocked_chats.discard(chat_id)

    def register_file(
        self,
        content: bytes,
        *,
        kind: str = "document",
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> TelegramFile:
        """A file that exists on Telegram's side (getFile + download work for it)."""
        number = next(self._file_numbers)
        folder = {"photo": "photos", "document": "documents", "voice": "voice", "video": "videos"}[
            kind
        ]
        extension = (
            (file_name or "").rpartition(".")[2]
            if file_name and "." in file_name
            else _EXTENSIONS[kind]
        )
        stored = TelegramFile(
            file_id=f"{kind.upper()}-FILE-{number}",
            file_unique_id=f"uniq{number}",
            file_path=f"{folder}/file_{number}.{extension}",
            content=content,
            kind=kind,
            file_name=file_name,
            mime_type=mime_type or _DEFAULT_MIME[kind],
        )
        self.files[stored.file_id] = stored
        if kind == "photo":  # the thumbnail the Message also lists
            thumb = TelegramFile(
                f"{stored.file_id}-thumb",
                f"{stored.file_unique_id}t",
                f"{folder}/file_{number}_thumb.jpg",
                b"THUMBNAIL",
                "photo",
            )
            self.files[thumb.file_id] = thumb
        return stored

    def sent_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot created (sends, copies, forwards), oldest first, edits applied."""
        return [m for m in self.sent if chat_id is None or m["chat"]["id"] == chat_id]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        return self.messages[(chat_id, message_id)]

    # ------------------------------------------------------------------ test-side: updates

    def inject(self, *updates: dict[str, Any]) -> dict[str, Any]:
        """Queue updates for getUpdates; returns the last one."""
        self.pending_updates.extend(updates)
        self._notify()
        return updates[-1]

    def make_text_update(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        """A text message from a person (a private chat unless `chat_id` is given); a leading
        /command gets its bot_command entity like on Telegram."""
        content: dict[str, Any] = {"text": text}
        if entities := command_entities(text):
            content["entities"] = entities
        return self._message_update(user_id, chat_id, reply_to, thread_id, content)

    def make_group_reply_update(
        self, chat_id: int, user_id: int, text: str, reply_to: int
    ) -> dict[str, Any]:
        """A person (an agent) replying in a group to message `reply_to` of that group."""
        return self.make_text_update(user_id, text, chat_id=chat_id, reply_to=reply_to)

    def make_topic_message_update(
        self, chat_id: int, thread_id: int, user_id: int, text: str, *, reply_to: int | None = None
    ) -> dict[str, Any]:
        """A message in a forum topic: is_topic_message + message_thread_id, and (as on Telegram)
        reply_to_message is the topic's creation message unless it replies to something else."""
        if (chat_id, thread_id) not in self.topics:  # prefer create_topic(): it has a root message
            if not self._chat(chat_id).get("is_forum"):
                self.add_chat(chat_id, is_forum=True)
            self.topics[(chat_id, thread_id)] = ForumTopic(chat_id, thread_id, f"Topic {thread_id}")
        return self.make_text_update(
            user_id, text, chat_id=chat_id, reply_to=reply_to, thread_id=thread_id
        )

    def make_media_update(
        self,
        user_id: int,
        kind: str,
        content: bytes | None = None,
        *,
        chat_id: int | None = None,
        caption: str | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
        media_group_id: str | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A photo/document/voice/video message; the file is registered and downloadable."""
        stored = self.register_file(
            content if content is not None else f"{kind} bytes".encode(),
            kind=kind,
            file_name=file_name,
            mime_type=mime_type,
        )
        fields: dict[str, Any] = {kind: stored.media()}
        if caption:
            fields["caption"] = caption
        if media_group_id:
            fields["media_group_id"] = media_group_id
        return self._message_update(user_id, chat_id, reply_to, thread_id, fields)

    def make_album_updates(
        self,
        user_id: int,
        contents: list[bytes],
        *,
        kind: str = "photo",
        chat_id: int | None = None,
        caption: str | None = None,
    ) -> list[dict[str, Any]]:
        """An album: one update per item, sharing a media_group_id; caption on the first."""
        group_id = f"album{next(self._ids)}"
        return [
            self.make_media_update(
                user_id,
                kind,
                content,
                chat_id=chat_id,
                caption=caption if index == 0 else None,
                media_group_id=group_id,
            )
            for index, content in enumerate(contents)
        ]

    def make_callback_update(
        self, user_id: int, data: str, message_id: int, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """A person pressed an inline button under message `message_id` (usually one the bot
        sent); the bot may answer the query once."""
        chat_id = user_id if chat_id is None else chat_id
        message = self.messages.get((chat_id, message_id)) or {
            "message_id": message_id,
            "date": 0,
            "chat": self._chat(chat_id),
        }  # inaccessible
        query_id = str(next(self._ids) + 10**15)
        self._open_callbacks.add(query_id)
        callback = {
            "id": query_id,
            "from": self._user(user_id),
            "message": copy.deepcopy(message),
            "chat_instance": f"ci{chat_id}",
            "data": data,
        }
        return {"update_id": next(self._update_ids), "callback_query": callback}

    def make_migration_updates(
        self, old_chat_id: int, new_chat_id: int, user_id: int = 1
    ) -> list[dict[str, Any]]:
        """The group was upgraded to a supergroup: the two service messages Telegram sends, and
        from now on sends to the old id fail with migrate_to_chat_id."""
        self.migrated_chats[old_chat_id] = new_chat_id
        self.add_chat(
            new_chat_id, title=self._chat(old_chat_id).get("title"), chat_type="supergroup"
        )
        return [
            self._message_update(
                user_id, old_chat_id, None, None, {"migrate_to_chat_id": new_chat_id}
            ),
            self._message_update(
                user_id, new_chat_id, None, None, {"migrate_from_chat_id": old_chat_id}
            ),
        ]

    async def post_webhook(
        self, url: str, update: dict[str, Any], secret_token: str | None = None
    ) -> tuple[int, str]:
        """Deliver an update like Telegram's webhook does; returns (status, body)."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=update, headers=headers) as response,
        ):
            return response.status, await response.text()

    # ------------------------------------------------------------------ world model internals

    def _infer_chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            user = self._user(chat_id)
            chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
            if "username" in user:
                chat["username"] = user["username"]
            return chat
        chat_type = "supergroup" if chat_id < _SUPERGROUP_IDS_BELOW else "group"
        return {"id": chat_id, "type": chat_type, "title": f"Group {chat_id}"}

    def _chat(self, chat_id: int) -> dict[str, Any]:
        return dict(self.chats.get(chat_id) or self._infer_chat(chat_id))

    def _user(self, user_id: int) -> dict[str, Any]:
        return dict(
            self.users.get(user_id)
            or {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        )

    def _new_message(
        self,
        chat_id: int,
        sender: dict[str, Any],
        content: dict[str, Any],
        *,
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        chat = self._chat(chat_id)
        message: dict[str, Any] = {
            "message_id": next(counter),
            "from": sender,
            "date": int(time.time()),
            "chat": chat,
        }
        if thread_id is not None and chat.get("is_forum"):
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            if reply_to is None and (chat_id, thread_id) in self.messages:
                reply_to = thread_id  # the topic's creation message
        if reply_to is not None and (chat_id, reply_to) in self.messages:
            replied = dict(self.messages[(chat_id, reply_to)])
            replied.pop("reply_to_message", None)  # Telegram nests only one level
            message["reply_to_message"] = replied
        message.update(content)
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def make_edit_update(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        """The sender of a stored message edits its text (an `edited_message` update)."""
        message = self.messages[(chat_id, message_id)]
        message["text"] = text
        message["edit_date"] = int(time.time())
        return {"update_id": next(self._update_ids), "edited_message": copy.deepcopy(message)}

    def _message_update(
        self,
        user_id: int,
        chat_id: int | None,
        reply_to: int | None,
        thread_id: int | None,
        content: dict[str, Any],
    ) -> dict[str, Any]:
        chat_id = user_id if chat_id is None else chat_id
        message = self._new_message(
            chat_id, self._user(user_id), content, reply_to=reply_to, thread_id=thread_id
        )
        return {"update_id": next(self._update_ids), "message": copy.deepcopy(message)}

    def _create_topic(self, chat_id: int, name: str, creator: dict[str, Any]) -> ForumTopic:
        created = {"forum_topic_created": {"name": name, "icon_color": _ICON_COLOR}}
        service = self._new_message(chat_id, creator, created)
        topic = ForumTopic(chat_id, service["message_id"], name)
        service["message_thread_id"] = topic.thread_id
        service["is_topic_message"] = True
        self.topics[(chat_id, topic.thread_id)] = topic
        return topic

    # ------------------------------------------------------------------ Bot API methods

    def _handlers(self) -> dict[str, Callable]:
        returns_true = self._returns_true
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_media,
            "sendDocument": self._send_media,
            "sendVoice": self._send_media,
            "sendVideo": self._send_media,
            "sendMediaGroup": self._send_media_group,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "createForumTopic": self._create_forum_topic,
            "editForumTopic": self._edit_forum_topic,
            "closeForumTopic": self._close_forum_topic,
            "reopenForumTopic": self._reopen_forum_topic,
            "deleteForumTopic": self._delete_forum_topic,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "sendChatAction": returns_true,
            "setMyCommands": returns_true,
            "deleteMyCommands": returns_true,
            "deleteMessage": returns_true,
            "pinChatMessage": returns_true,
            "unpinChatMessage": returns_true,
        }

    async def _returns_true(self, request: RecordedRequest) -> bool:
        return True

    async def _get_me(self, request: RecordedRequest) -> dict[str, Any]:
        return self.bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_updates(self, request: RecordedRequest) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise TelegramError(
                409,
                "Conflict: can't use getUpdates method while webhook is "
                "active; use deleteWebhook to delete the webhook first",
            )
        offset = _int(request.params.get("offset"), 0)
        limit = _int(request.params.get("limit"), 100)
        timeout = float(request.params.get("timeout") or 0)
        if offset > 0:  # confirms every update before the offset, like Telegram
            self.last_confirmed_update_id = max(self.last_confirmed_update_id, offset - 1)
            self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.pending_updates and not self.closing:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await self._wait_for_change(remaining)
            if self._poll_generation != generation:
                raise TelegramError(
                    409,
                    "Conflict: terminated by other getUpdates request; make "
                    "sure that only one bot instance is running",
                )
        return copy.deepcopy(self.pending_updates[:limit])

    async def _set_webhook(self, request: RecordedRequest) -> bool:
        if request.params.get("drop_pending_updates") in ("true", True):
            self.pending_updates.clear()
        self.webhook = {
            "url": request.params.get("url", ""),
            "secret_token": request.params.get("secret_token"),
        }
        if not self.webhook["url"]:
            self.webhook = None
        return True

    async def _delete_webhook(self, request: RecordedRequest) -> bool:
        if request.params.get("drop_pending_updates") in ("true", True):
            self.pending_updates.clear()
        self.webhook = None
        return True

    async def _get_webhook_info(self, request: RecordedRequest) -> dict[str, Any]:
        return {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending_updates),
        }

    # -- sending

    def _target(self, request: RecordedRequest, key: str = "chat_id") -> tuple[int, int | None]:
        """Validate where a message goes, the way Telegram rejects it."""
        raw_chat = request.params.get(key)
        if raw_chat in (None, ""):
            raise bad_request(f"{key} is empty")
        try:
            chat_id = int(raw_chat)
        except ValueError:
            raise bad_request("chat not found") from None
        if chat_id in self.migrated_chats:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self.migrated_chats[chat_id],
            )
        if chat_id in self.blocked_chats:
            raise TelegramError(403, "Forbidden: bot was blocked by the user")
        thread_id = _int(request.params.get("message_thread_id"), 0) or None
        if thread_id is not None and self._chat(chat_id).get("is_forum"):
            topic = self.topics.get((chat_id, thread_id))
            if topic is None or topic.deleted:
                raise bad_request("message thread not found")
        return chat_id, thread_id

    def _reply_to(self, request: RecordedRequest, chat_id: int) -> int | None:
        reply = _json(request.params.get("reply_parameters")) or {}
        message_id = reply.get("message_id") or _int(request.params.get("reply_to_message_id"), 0)
        if not message_id:
            return None
        if (chat_id, message_id) not in self.messages and not reply.get(
            "allow_sending_without_reply"
        ):
            raise bad_request("message to be replied not found")
        return int(message_id)

    def _markup(self, request: RecordedRequest) -> dict[str, Any]:
        raw = request.params.get("reply_markup")
        if raw in (None, ""):
            return {}
        try:
            markup = _json(raw)
        except ValueError:
            raise bad_request("can't parse reply keyboard markup JSON object") from None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if len(button.get("callback_data", "").encode()) > 64:
                    raise bad_request("BUTTON_DATA_INVALID")
        # Only inline keyboards are part of the returned Message.
        return {"reply_markup": markup} if "inline_keyboard" in markup else {}

    def _formatted(self, text: str, parse_mode: str | None, *, caption: bool) -> dict[str, Any]:
        try:
            plain, entities = parse_text(text, parse_mode)
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
        field = "caption" if caption else "text"
        if caption and utf16_length(plain) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        if not caption and not plain.strip():
            raise bad_request("message text is empty")
        if not caption and utf16_length(plain) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        result: dict[str, Any] = {field: plain}
        if entities:
            result[f"{field}_entities" if caption else "entities"] = entities
        return result

    def _bot_message(
        self, chat_id: int, content: dict[str, Any], *, reply_to: int | None, thread_id: int | None
    ) -> dict[str, Any]:
        message = self._new_message(
            chat_id, dict(self.bot_user), content, reply_to=reply_to, thread_id=thread_id
        )
        self.sent.append(message)
        return message

    async def _send_message(self, request: RecordedRequest) -> dict[str, Any]:
        chat_id, thread_id = self._target(request)
        content = self._formatted(
            request.params.get("text", ""), request.params.get("parse_mode"), caption=False
        )
        content |= self._markup(request)
        reply_to = self._reply_to(request, chat_id)
        return self._bot_message(chat_id, content, reply_to=reply_to, thread_id=thread_id)

    def _input_file(self, request: RecordedRequest, kind: str, value: Any) -> TelegramFile:
        """Resolve a media parameter: an upload (direct or attach://), a known file_id, or a
        URL (accepted, never fetched)."""
        if kind in request.files and value in (None, ""):
            upload = request.files[kind]
            return self.register_file(
                upload.content,
                kind=kind,
                file_name=upload.filename,
                mime_type=None if kind == "photo" else upload.content_type,
            )
        if value in (None, ""):
            raise bad_request(f"there is no {kind} in the request")
        if isinstance(value, str) and value.startswith("attach://"):
            upload = request.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f"file {value} not found")
            return self.register_file(
                upload.content,
                kind=kind,
                file_name=upload.filename,
                mime_type=None if kind == "photo" else upload.content_type,
            )
        if value in self.files:
            return self.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self.register_file(b"", kind=kind, file_name=value.rpartition("/")[2] or None)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _media_content(
        self,
        request: RecordedRequest,
        kind: str,
        value: Any,
        caption: str | None,
        parse_mode: str | None,
    ) -> dict[str, Any]:
        stored = self._input_file(request, kind, value)
        content: dict[str, Any] = {kind: stored.media()}
        if caption:
            content |= self._formatted(caption, parse_mode, caption=True)
        return content

    async def _send_media(self, request: RecordedRequest) -> dict[str, Any]:
        kind = request.method.removeprefix("send").lower()
        chat_id, thread_id = self._target(request)
        params = request.params
        content = self._media_content(
            request, kind, params.get(kind), params.get("caption"), params.get("parse_mode")
        )
        content |= self._markup(request)
        reply_to = self._reply_to(request, chat_id)
        return self._bot_message(chat_id, content, reply_to=reply_to, thread_id=thread_id)

    async def _send_media_group(self, request: RecordedRequest) -> list[dict[str, Any]]:
        chat_id, thread_id = self._target(request)
        media = _json(request.params.get("media")) or []
        if not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media items in the album")
        reply_to = self._reply_to(request, chat_id)
        group_id = f"sentalbum{next(self._ids)}"
        contents = [
            self._media_content(
                request,
                item["type"],
                item.get("media"),
                item.get("caption"),
                item.get("parse_mode"),
            )
            | {"media_group_id": group_id}
            for item in media
        ]
        return [
            self._bot_message(chat_id, content, reply_to=reply_to, thread_id=thread_id)
            for content in contents
        ]

    def _source(self, request: RecordedRequest, action: str) -> dict[str, Any]:
        key = (
            _int(request.params.get("from_chat_id"), 0),
            _int(request.params.get("message_id"), 0),
        )
        source = self.messages.get(key)
        if source is None or not any(k in source for k in _MESSAGE_CONTENT_KEYS):
            raise bad_request(f"message to {action} not found")
        return source

    async def _copy_message(self, request: RecordedRequest) -> dict[str, int]:
        source = self._source(request, "copy")
        chat_id, thread_id = self._target(request)
        content = {
            k: copy.deepcopy(source[k])
            for k in _MESSAGE_CONTENT_KEYS
            if k in source and k != "media_group_id"
        }
        if "caption" in request.params:
            content.pop("caption_entities", None)
            content |= self._formatted(
                request.params["caption"], request.params.get("parse_mode"), caption=True
            )
        content |= self._markup(request)
        reply_to = self._reply_to(request, chat_id)
        message = self._bot_message(chat_id, content, reply_to=reply_to, thread_id=thread_id)
        return {"message_id": message["message_id"]}

    async def _forward_message(self, request: RecordedRequest) -> dict[str, Any]:
        source = self._source(request, "forward")
        chat_id, thread_id = self._target(request)
        content = {k: copy.deepcopy(source[k]) for k in _MESSAGE_CONTENT_KEYS if k in source}
        author = source.get("from") or {}
        if author.get("id") in self._hidden_forwarders:
            origin = {
                "type": "hidden_user",
                "sender_user_name": author.get("first_name", ""),
                "date": source["date"],
            }
        else:
            origin = {"type": "user", "sender_user": author, "date": source["date"]}
        content["forward_origin"] = origin
        return self._bot_message(chat_id, content, reply_to=None, thread_id=thread_id)

    # -- editing and callbacks

    def _editable(self, request: RecordedRequest) -> dict[str, Any]:
        key = (_int(request.params.get("chat_id"), 0), _int(request.params.get("message_id"), 0))
        message = self.messages.get(key)
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"].get("id") != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        return message

    async def _edit_message_text(self, request: RecordedRequest) -> dict[str, Any] | bool:
        if request.params.get("inline_message_id"):
            return True
        message = self._editable(request)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        content = self._formatted(
            request.params.get("text", ""), request.params.get("parse_mode"), caption=False
        )
        content |= self._markup(request)
        unchanged = (
            content.get("text") == message.get("text")
            and content.get("entities") == message.get("entities")
            and content.get("reply_markup") == message.get("reply_markup")
        )
        if unchanged:
            raise bad_request(_NOT_MODIFIED)
        for key in ("entities", "reply_markup"):
            message.pop(key, None)
        message.update(content, edit_date=int(time.time()))
        return copy.deepcopy(message)

    async def _edit_message_reply_markup(self, request: RecordedRequest) -> dict[str, Any] | bool:
        if request.params.get("inline_message_id"):
            return True
        message = self._editable(request)
        markup = self._markup(request).get("reply_markup")
        if markup == message.get("reply_markup"):
            raise bad_request(_NOT_MODIFIED)
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    async def _answer_callback_query(self, request: RecordedRequest) -> bool:
        query_id = str(request.params.get("callback_query_id", ""))
        if query_id not in self._open_callbacks:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self._open_callbacks.discard(query_id)
        self.callback_answers[query_id] = dict(request.params)
        return True

    # -- forum topics

    def _topic(self, request: RecordedRequest) -> ForumTopic:
        key = (
            _int(request.params.get("chat_id"), 0),
            _int(request.params.get("message_thread_id"), 0),
        )
        topic = self.topics.get(key)
        if topic is None or topic.deleted:
            raise bad_request("TOPIC_ID_INVALID")
        return topic

    async def _create_forum_topic(self, request: RecordedRequest) -> dict[str, Any]:
        chat_id, _ = self._target(request)
        if not self._chat(chat_id).get("is_forum"):
            raise bad_request("the chat is not a forum")
        name = request.params.get("name", "")
        if not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_NAME_INVALID")
        topic = self._create_topic(chat_id, name, dict(self.bot_user))
        return {
            "message_thread_id": topic.thread_id,
            "name": topic.name,
            "icon_color": topic.icon_color,
        }

    async def _edit_forum_topic(self, request: RecordedRequest) -> bool:
        topic = self._topic(request)
        name = request.params.get("name")
        if name is None or name == topic.name:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.name = name
        return True

    async def _close_forum_topic(self, request: RecordedRequest) -> bool:
        topic = self._topic(request)
        if topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    async def _reopen_forum_topic(self, request: RecordedRequest) -> bool:
        topic = self._topic(request)
        if not topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = False
        return True

    async def _delete_forum_topic(self, request: RecordedRequest) -> bool:
        self._topic(request).deleted = True
        return True

    # -- files and chats

    async def _get_file(self, request: RecordedRequest) -> dict[str, Any]:
        stored = self.files.get(str(request.params.get("file_id", "")))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    async def _get_chat(self, request: RecordedRequest) -> dict[str, Any]:
        chat_id = _int(request.params.get("chat_id"), 0)
        if not chat_id:
            raise bad_request("chat not found")
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return self._chat(chat_id) | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }


def _int(value: Any, default: int) -> int:
    if value in (None, ""):
        return default
    return int(value)


def _json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value
