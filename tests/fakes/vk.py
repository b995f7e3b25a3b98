"""A fake VK API + Bots Long Poll server for tests, enough for vkbottle and for adapters.

    async with FakeVK() as vk:
        api = API(vk.token); api.API_URL = vk.api_url
        vk.inject(vk.make_message_new(from_id=5, text="hello"))

Imitated behaviour (API 5.199): `{base}/method/{name}` with access_token and v in the query and a
form body; answers `{"response": ...}` or `{"error": {"error_code", "error_msg",
"request_params"}}` with HTTP 200; `groups.getLongPollServer` hands out a long poll server on this
fake whose `ts` is the current event number (events injected before a client connects are not
delivered, as on VK); `a_check` long polls for `wait` seconds and answers `{"ts", "updates"}` or
`{"failed": 1|2|3}` (a wrong key gets failed 2). `messages.send` returns an int with `peer_id`
and a list with `peer_ids`, counts `conversation_message_id` per peer, returns message id 0 in
group chats (a community bot has no real message ids there) and deduplicates a repeated non-zero
`random_id` per peer by answering the first message's ids without sending again. Uploads follow
the getMessagesUploadServer -> POST file -> save sequence; attachments are strings
`{type}{owner_id}_{id}[_{access_key}]` and a wrong access key is rejected.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.base import FakeServer, Fault, RecordedRequest, json_response

CHAT_PEER_OFFSET = 2_000_000_000
MAX_MESSAGE_LENGTH = 4096
ERROR_MESSAGES = {
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    9: "Flood control",
    10: "Internal server error",
    100: "One of the parameters specified was missing or invalid",
    901: "Can't send messages for users without permission",
    911: "Keyboard format is invalid",
    914: "Message is too long",
}
_ATTACHMENT = re.compile(r"^(photo|doc|audio_message|video)(-?\d+)_(\d+)(?:_(\w+))?$")


class VKError(Exception):
    """Raised inside a method handler; becomes VK's error payload."""

    def __init__(self, code: int, detail: str | None = None) -> None:
        message = ERROR_MESSAGES.get(code, "Unknown error")
        super().__init__(f"{message}: {detail}" if detail else message)
        self.code = code


@dataclass
class VKMedia:
    """A photo/doc/voice message stored on the fake: what attachments refer to."""

    kind: str  # photo | doc | audio_message
    owner_id: int
    media_id: int
    access_key: str
    content: bytes
    title: str
    urls: dict[str, str]

    @property
    def attachment_string(self) -> str:
        return f"{self.kind}{self.owner_id}_{self.media_id}_{self.access_key}"

    def as_object(self) -> dict[str, Any]:
        """The attachment object as it appears in a message."""
        common = {"id": self.media_id, "owner_id": self.owner_id, "access_key": self.access_key}
        if self.kind == "photo":
            sizes = [
                {"type": "s", "width": 75, "height": 75, "url": self.urls["s"]},
                {"type": "x", "width": 604, "height": 453, "url": self.urls["x"]},
            ]
            body = common | {"album_id": -3, "date": int(time.time()), "sizes": sizes}
        elif self.kind == "doc":
            extension = self.title.rpartition(".")[2] if "." in self.title else "txt"
            body = common | {
                "title": self.title,
                "size": len(self.content),
                "ext": extension,
                "url": self.urls["file"],
                "type": 1,
                "date": int(time.time()),
            }
        else:
            body = common | {
                "duration": 1,
                "waveform": [0, 1, 0],
                "link_ogg": self.urls["file"],
                "link_mp3": self.urls["file"],
            }
        return {"type": self.kind, self.kind: body}


class FakeVK(FakeServer):
    """Fake VK for a community bot. Public state for assertions: `requests`, `sent` (messages the
    bot sent, one per peer, edits applied), `messages` ((peer_id, cmid) -> message), `media`,
    `event_answers` (messages.sendMessageEventAnswer calls), `events` (all long poll events)."""

    background_methods = frozenset({"longpoll"})

    def __init__(
        self,
        token: str = "vk1.a.test-community-token",
        group_id: int = 1,
        *,
        group_name: str = "Helpdesk",
        confirmation_code: str = "c0nf1rm",
    ) -> None:
        super().__init__()
        self.token = token
        self.group_id = group_id
        self.group_name = group_name
        self.confirmation_code = confirmation_code
        self.users: dict[int, dict[str, Any]] = {}
        self.sent: list[dict[str, Any]] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.media: dict[tuple[str, int, int], VKMedia] = {}
        self.event_answers: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.blocked_peers: set[int] = set()
        self.long_poll_key = secrets.token_hex(8)
        self._pending_lp_failures: list[int] = []
        self._sent_by_random_id: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self._cmids: dict[int, itertools.count] = {}
        self._message_ids = itertools.count(1)
        self._media_ids = itertools.count(1000)
        self._uploads: dict[str, tuple[str, bytes, str]] = {}  # token -> (kind, content, name)
        self._downloads: dict[str, bytes] = {}  # name under /files/ -> content
        self._methods: dict[str, Callable] = self._handlers()

    @property
    def api_url(self) -> str:
        """What to assign to vkbottle's `API.API_URL`."""
        return f"{self.base_url}/method/"

    # ------------------------------------------------------------------ HTTP plumbing

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/method/{name}", self._handle_api)
        app.router.add_route("*", "/longpoll/{group_id}", self._handle_long_poll)
        app.router.add_post("/upload/{kind}", self._handle_upload)
        app.router.add_get("/files/{name}", self._handle_download)

    async def _handle_api(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        recorded = await self._record(name, request)
        fault = self.faults.take(name)
        if fault is not None and fault.kind == "delay":
            await self._sleep(fault.delay)
        elif fault is not None:
            return self._fault_response(recorded, fault)
        try:
            if recorded.params.get("access_token") != self.token:
                raise VKError(5)
            handler = self._methods.get(name)
            if handler is None:
                raise VKError(3)
            result = await handler(recorded)
        except VKError as error:
            return self._error(recorded, error.code, str(error))
        self._notify()
        return json_response({"response": result})

    def _error(self, recorded: RecordedRequest, code: int, message: str) -> web.Response:
        recorded.status = code  # the HTTP status stays 200 like on VK; keep the code for asserts
        request_params = [
            {"key": "method", "value": recorded.method},
            {"key": "oauth", "value": "1"},
            {"key": "v", "value": str(recorded.params.get("v", ""))},
        ]
        self._notify()
        payload = {"error_code": code, "error_msg": message, "request_params": request_params}
        return json_response({"error": payload})

    def _fault_response(self, recorded: RecordedRequest, fault: Fault) -> web.Response:
        recorded.fault = fault.kind
        if fault.kind == "api_error":
            return self._error(recorded, fault.code, ERROR_MESSAGES.get(fault.code, "Error"))
        recorded.status = fault.status
        self._notify()
        phrase = HTTPStatus(fault.status).phrase
        return web.Response(
            status=fault.status,
            text=f"<html><body><h1>{fault.status} {phrase}</h1></body></html>",
            content_type="text/html",
        )

    async def _handle_long_poll(self, request: web.Request) -> web.Response:
        recorded = await self._record("longpoll", request)
        fault = self.faults.take("longpoll")
        if fault is not None and fault.kind == "delay":
            await self._sleep(fault.delay)
        elif fault is not None:
            return self._fault_response(recorded, fault)
        params = recorded.params
        ts = int(params.get("ts") or len(self.events) + 1)
        deadline = time.monotonic() + min(float(params.get("wait") or 25), 90)
        while True:  # re-checked after every change, so a failure can end a waiting poll
            failure = self._long_poll_failure(params.get("key"), ts)
            if failure is not None:
                return json_response(failure)
            if len(self.events) >= ts or self.closing or time.monotonic() >= deadline:
                break
            await self._wait_for_change(deadline - time.monotonic())
        updates = copy.deepcopy(self.events[ts - 1 :])
        return json_response({"ts": str(len(self.events) + 1), "updates": updates})

    def _long_poll_failure(self, key: str | None, ts: int) -> dict[str, Any] | None:
        next_ts = len(self.events) + 1
        if self._pending_lp_failures:
            code = self._pending_lp_failures.pop(0)
            if code in (2, 3):
                self.long_poll_key = secrets.token_hex(8)
            return {"failed": code, "ts": str(next_ts)} if code == 1 else {"failed": code}
        if key != self.long_poll_key:
            return {"failed": 2}
        if ts > next_ts:
            return {"failed": 1, "ts": str(next_ts)}
        return None

    async def _handle_upload(self, request: web.Request) -> web.Response:
        recorded = await self._record(f"upload.{request.match_info['kind']}", request)
        kind = request.match_info["kind"]
        upload = next(iter(recorded.files.values()), None)
        if upload is None:
            return json_response({"error": "ERR_UPLOAD_FILE_NOT_UPLOADED: file not uploaded"})
        token = secrets.token_hex(8)
        self._uploads[token] = (kind, upload.content, upload.filename or "file")
        self._notify()
        if kind == "photo":
            return json_response(
                {"server": 1, "photo": json.dumps([{"token": token}]), "hash": token}
            )
        return json_response({"file": token})

    async def _handle_download(self, request: web.Request) -> web.Response:
        await self._record("download", request)
        content = self._downloads.get(request.match_info["name"])
        if content is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=content, content_type="application/octet-stream")

    # ------------------------------------------------------------------ test-side helpers: faults

    def api_error_next(self, code: int, times: int = 1, *, method: str | None = None) -> None:
        """The next `times` calls answer VK error `code` (6 rate, 9 flood control, 10 internal)."""
        self.faults.add(Fault("api_error", method, code=code), times)

    def rate_limit_next(self, times: int = 1, *, method: str | None = None) -> None:
        self.api_error_next(6, times, method=method)

    def rate_limit_ratio(
        self, ratio: float, *, methods: Iterable[str] | None = ("messages.send",)
    ) -> None:
        """From now on, deterministically every 1/ratio-th call of `methods` gets error 6."""
        self.faults.add_ratio(Fault("api_error", code=6), ratio, methods)

    def server_error_next(
        self, times: int = 1, *, method: str | None = None, status: int = 502
    ) -> None:
        """An HTML error page with this HTTP status (what VK's front servers send)."""
        self.faults.add(Fault("server_error", method, status=status), times)

    def slow_next(self, delay: float, times: int = 1, *, method: str | None = None) -> None:
        self.faults.add(Fault("delay", method, delay=delay), times)

    def long_poll_failure_next(self, code: int) -> None:
        """The next long poll answers {"failed": code}; 2 and 3 also expire the key."""
        self._pending_lp_failures.append(code)
        self._notify()

    # ------------------------------------------------------------------ test-side helpers: world

    def add_user(self, user_id: int, first_name: str = "Ivan", last_name: str = "Petrov") -> None:
        self.users[user_id] = {
            "id": user_id,
            "first_name": first_name,
            "last_name": last_name,
            "can_access_closed": True,
            "is_closed": False,
        }

    def block_peer(self, peer_id: int) -> None:
        """The user forbade messages from the community: sends answer error 901."""
        self.blocked_peers.add(peer_id)

    def sent_to(self, peer_id: int) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["peer_id"] == peer_id]

    def inject(self, *events: dict[str, Any]) -> dict[str, Any]:
        """Queue Bots Long Poll events; returns the last one."""
        self.events.extend(events)
        self._notify()
        return events[-1]

    async def wait_for_long_poll(self, within: float = 5.0) -> None:
        """Wait until a client has a long poll open (so injected events reach it)."""
        await self.wait_for_calls("longpoll", 1, within)

    def make_message_new(
        self,
        from_id: int,
        text: str = "",
        *,
        peer_id: int | None = None,
        attachments: list[dict[str, Any]] | None = None,
        reply_to_cmid: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A message_new event: private (peer_id = from_id) or in a chat (peer_id =
        2000000000 + chat_id, where the message id is 0 and replies carry reply_message)."""
        peer_id = from_id if peer_id is None else peer_id
        message = self._new_message(peer_id, from_id, text, attachments or [], reply_to_cmid)
        if payload is not None:
            message["payload"] = json.dumps(payload)
        client_info = {
            "button_actions": ["text", "callback", "open_link"],
            "keyboard": True,
            "inline_keyboard": True,
            "carousel": True,
            "lang_id": 0,
        }
        return self._event(
            "message_new", {"message": copy.deepcopy(message), "client_info": client_info}
        )

    def make_message_edit(self, peer_id: int, cmid: int, text: str) -> dict[str, Any]:
        """The author edits a stored message: a message_edit event, its object the message."""
        message = self.messages[(peer_id, cmid)]
        message["text"] = text
        message["update_time"] = int(time.time())
        return self._event("message_edit", copy.deepcopy(message))

    def make_message_event(
        self,
        user_id: int,
        payload: dict[str, Any],
        *,
        peer_id: int | None = None,
        conversation_message_id: int | None = None,
    ) -> dict[str, Any]:
        """A callback button press (message_event), answered by sendMessageEventAnswer."""
        peer_id = user_id if peer_id is None else peer_id
        if conversation_message_id is None:
            mine = self.sent_to(peer_id)
            conversation_message_id = mine[-1]["conversation_message_id"] if mine else 1
        return self._event(
            "message_event",
            {
                "user_id": user_id,
                "peer_id": peer_id,
                "event_id": secrets.token_hex(6),
                "payload": payload,
                "conversation_message_id": conversation_message_id,
            },
        )

    def make_photo_attachment(
        self, content: bytes = b"JPEG", owner_id: int | None = None
    ) -> dict[str, Any]:
        return self._store_media("photo", content, "photo.jpg", owner_id).as_object()

    def make_doc_attachment(
        self, content: bytes = b"DOC", title: str = "file.pdf", owner_id: int | None = None
    ) -> dict[str, Any]:
        return self._store_media("doc", content, title, owner_id).as_object()

    def make_voice_attachment(
        self, content: bytes = b"OGG", owner_id: int | None = None
    ) -> dict[str, Any]:
        return self._store_media("audio_message", content, "voice.ogg", owner_id).as_object()

    def make_confirmation_event(self) -> dict[str, Any]:
        return {"type": "confirmation", "group_id": self.group_id}

    async def post_callback(
        self, url: str, event: dict[str, Any], secret: str | None = None
    ) -> tuple[int, str]:
        """Deliver an event like the Callback API (the secret travels inside the JSON body);
        returns (status, body). VK expects the body "ok" (or the confirmation code)."""
        body = dict(event) | ({"secret": secret} if secret is not None else {})
        async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
            return response.status, await response.text()

    # ------------------------------------------------------------------ world model internals

    def _event(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "type": event_type,
            "event_id": secrets.token_hex(20),
            "v": "5.199",
            "object": obj,
        }

    def _new_message(
        self,
        peer_id: int,
        from_id: int,
        text: str,
        attachments: list[dict[str, Any]],
        reply_to_cmid: int | None,
    ) -> dict[str, Any]:
        cmid = next(self._cmids.setdefault(peer_id, itertools.count(1)))
        in_chat = peer_id > CHAT_PEER_OFFSET
        message: dict[str, Any] = {
            "date": int(time.time()),
            "from_id": from_id,
            "id": 0 if in_chat else next(self._message_ids),
            "out": 1 if from_id == -self.group_id else 0,
            "peer_id": peer_id,
            "text": text,
            "conversation_message_id": cmid,
            "attachments": attachments,
            "fwd_messages": [],
            "important": False,
            "is_hidden": False,
            "version": 1,
        }
        if reply_to_cmid is not None and (peer_id, reply_to_cmid) in self.messages:
            replied = dict(self.messages[(peer_id, reply_to_cmid)])
            replied.pop("reply_message", None)
            message["reply_message"] = replied
        self.messages[(peer_id, cmid)] = message
        return message

    def _store_media(self, kind: str, content: bytes, title: str, owner_id: int | None) -> VKMedia:
        media_id = next(self._media_ids)
        owner = owner_id if owner_id is not None else -self.group_id
        stem = f"{kind}{owner}_{media_id}"
        if kind == "photo":  # a thumbnail and the full size, as separate files
            self._downloads[f"{stem}_s.jpg"] = b"THUMBNAIL"
            self._downloads[f"{stem}_x.jpg"] = content
            names = {"s": f"{stem}_s.jpg", "x": f"{stem}_x.jpg"}
        else:
            self._downloads[f"{stem}.bin"] = content
            names = {"file": f"{stem}.bin"}
        urls = {size: f"{self.base_url}/files/{name}" for size, name in names.items()}
        item = VKMedia(kind, owner, media_id, secrets.token_hex(5), content, title, urls)
        self.media[(kind, owner, media_id)] = item
        return item

    def _resolve_attachments(self, raw: str) -> list[dict[str, Any]]:
        objects = []
        for token in filter(None, (part.strip() for part in raw.split(","))):
            match = _ATTACHMENT.match(token)
            item = match and self.media.get((match[1], int(match[2]), int(match[3])))
            if not item or (match[4] is not None and match[4] != item.access_key):
                raise VKError(100, f"attachment {token} is invalid")
            objects.append(item.as_object())
        return objects

    # ------------------------------------------------------------------ API methods

    def _handlers(self) -> dict[str, Callable]:
        return {
            "groups.getById": self._groups_get_by_id,
            "groups.getLongPollServer": self._get_long_poll_server,
            "users.get": self._users_get,
            "messages.send": self._messages_send,
            "messages.edit": self._messages_edit,
            "messages.getByConversationMessageId": self._get_by_conversation_message_id,
            "messages.sendMessageEventAnswer": self._send_message_event_answer,
            "photos.getMessagesUploadServer": self._photo_upload_server,
            "photos.saveMessagesPhoto": self._save_messages_photo,
            "docs.getMessagesUploadServer": self._doc_upload_server,
            "docs.save": self._docs_save,
        }

    async def _groups_get_by_id(self, request: RecordedRequest) -> dict[str, Any]:
        group = {
            "id": self.group_id,
            "name": self.group_name,
            "screen_name": f"club{self.group_id}",
            "is_closed": 0,
            "type": "group",
        }
        return {"groups": [group], "profiles": []}

    async def _get_long_poll_server(self, request: RecordedRequest) -> dict[str, Any]:
        return {
            "key": self.long_poll_key,
            "server": f"{self.base_url}/longpoll/{self.group_id}",
            "ts": str(len(self.events) + 1),
        }

    async def _users_get(self, request: RecordedRequest) -> list[dict[str, Any]]:
        ids = [int(i) for i in str(request.params.get("user_ids", "")).split(",") if i]
        return [
            self.users.get(i)
            or {
                "id": i,
                "first_name": f"User{i}",
                "last_name": "",
                "can_access_closed": True,
                "is_closed": False,
            }
            for i in ids
        ]

    def _peers(self, params: dict[str, Any]) -> tuple[list[int], bool]:
        if params.get("peer_ids"):
            return [int(p) for p in str(params["peer_ids"]).split(",")], True
        for key, offset in (("peer_id", 0), ("user_id", 0), ("chat_id", CHAT_PEER_OFFSET)):
            if params.get(key):
                return [int(params[key]) + offset], False
        raise VKError(100, "peer_id is undefined")

    async def _messages_send(self, request: RecordedRequest) -> Any:
        params = request.params
        peers, as_list = self._peers(params)
        text = str(params.get("message", ""))
        attachments = self._resolve_attachments(str(params.get("attachment", "")))
        if not text and not attachments:
            raise VKError(100, "message is empty or invalid")
        if len(text) > MAX_MESSAGE_LENGTH:
            raise VKError(914)
        keyboard = self._keyboard(params.get("keyboard"))
        random_id = int(params.get("random_id") or 0)
        results = []
        for peer_id in peers:
            if peer_id in self.blocked_peers:
                if not as_list:
                    raise VKError(901)
                results.append(
                    {"peer_id": peer_id, "error": {"code": 901, "description": ERROR_MESSAGES[901]}}
                )
                continue
            earlier = self._sent_by_random_id.get((peer_id, random_id)) if random_id else None
            message = (
                earlier[0]
                if earlier
                else self._send_one(peer_id, text, attachments, keyboard, random_id, params)
            )
            results.append(
                {
                    "peer_id": peer_id,
                    "message_id": message["id"],
                    "conversation_message_id": message["conversation_message_id"],
                }
            )
        return results if as_list else results[0]["message_id"]

    def _send_one(
        self,
        peer_id: int,
        text: str,
        attachments: list[dict[str, Any]],
        keyboard: dict[str, Any] | None,
        random_id: int,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        reply_cmid = None
        forward = json.loads(params["forward"]) if params.get("forward") else {}
        if forward.get("is_reply") and forward.get("conversation_message_ids"):
            reply_cmid = int(forward["conversation_message_ids"][0])
        elif params.get("reply_to"):
            reply_id = int(params["reply_to"])
            reply_cmid = next(
                (
                    cmid
                    for (peer, cmid), m in self.messages.items()
                    if peer == peer_id and m["id"] == reply_id and reply_id
                ),
                None,
            )
        message = self._new_message(peer_id, -self.group_id, text, attachments, reply_cmid)
        message["random_id"] = random_id
        if keyboard is not None:
            message["keyboard"] = keyboard
        self.sent.append(message)
        if random_id:
            self._sent_by_random_id[(peer_id, random_id)] = [message]
        return message

    @staticmethod
    def _keyboard(raw: Any) -> dict[str, Any] | None:
        if raw in (None, ""):
            return None
        try:
            keyboard = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise VKError(911) from None
        if not isinstance(keyboard, dict) or "buttons" not in keyboard:
            raise VKError(911)
        return keyboard

    async def _messages_edit(self, request: RecordedRequest) -> int:
        params = request.params
        peer_id = int(params.get("peer_id") or 0)
        cmid = int(params.get("conversation_message_id") or 0)
        message_id = int(params.get("message_id") or 0)
        message = (
            self.messages.get((peer_id, cmid))
            if cmid
            else next(
                (
                    m
                    for m in self.sent
                    if m["peer_id"] == peer_id and m["id"] == message_id and message_id
                ),
                None,
            )
        )
        if message is None or message["from_id"] != -self.group_id:
            raise VKError(100, "message_id is invalid")
        if "message" in params:
            message["text"] = str(params["message"])
        if params.get("attachment"):
            message["attachments"] = self._resolve_attachments(str(params["attachment"]))
        if "keyboard" in params:
            message["keyboard"] = self._keyboard(params["keyboard"])
        message["update_time"] = int(time.time())
        return 1

    async def _get_by_conversation_message_id(self, request: RecordedRequest) -> dict[str, Any]:
        """What vkbottle's Message.get_full_message() calls (full attachments in chats)."""
        peer_id = int(request.params.get("peer_id") or 0)
        raw_ids = str(request.params.get("conversation_message_ids") or "")
        wanted = [int(cmid) for cmid in raw_ids.split(",") if cmid]
        items = [
            copy.deepcopy(self.messages[(peer_id, cmid)])
            for cmid in wanted
            if (peer_id, cmid) in self.messages
        ]
        return {"count": len(items), "items": items}

    async def _send_message_event_answer(self, request: RecordedRequest) -> int:
        answer = dict(request.params)
        if isinstance(answer.get("event_data"), str):
            answer["event_data"] = json.loads(answer["event_data"])
        self.event_answers.append(answer)
        return 1

    async def _photo_upload_server(self, request: RecordedRequest) -> dict[str, Any]:
        return {
            "upload_url": f"{self.base_url}/upload/photo",
            "album_id": -3,
            "user_id": 0,
            "group_id": self.group_id,
        }

    async def _save_messages_photo(self, request: RecordedRequest) -> list[dict[str, Any]]:
        token = str(request.params.get("hash", ""))
        kind, content, name = self._uploads.pop(token, ("", b"", ""))
        if kind != "photo":
            raise VKError(100, "photo is undefined")
        return [self._store_media("photo", content, name, None).as_object()["photo"]]

    async def _doc_upload_server(self, request: RecordedRequest) -> dict[str, Any]:
        kind = "audio_message" if request.params.get("type") == "audio_message" else "doc"
        return {"upload_url": f"{self.base_url}/upload/{kind}"}

    async def _docs_save(self, request: RecordedRequest) -> dict[str, Any]:
        kind, content, name = self._uploads.pop(str(request.params.get("file", "")), ("", b"", ""))
        if kind not in ("doc", "audio_message"):
            raise VKError(100, "file is undefined")
        title = str(request.params.get("title") or name)
        return self._store_media(kind, content, title, None).as_object()
