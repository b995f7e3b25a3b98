"""A fake Slack (Web API + Socket Mode + file hosting) for tests with slack_sdk / slack_bolt.

    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        app = AsyncApp(client=client, signing_secret=slack.signing_secret)
        await slack.send_event(slack.make_dm_event("U1", "hello"))   # over Socket Mode

Imitated behaviour: `{base}/api/{method}` with JSON, form or query parameters and the token in
`Authorization: Bearer` (or a `token` parameter); errors are HTTP 200 `{"ok": false, "error"}`
(invalid_auth, not_authed, not_allowed_token_type, channel_not_found, message_not_found,
no_text...), rate limits HTTP 429 + `Retry-After` + `{"ok": false, "error": "ratelimited"}`.
Message ids are `ts` strings, unique and increasing; a thread is (channel, thread_ts). A post's
`metadata` is kept and shown by conversations.history (a channel's top-level messages, newest
first) and conversations.replies (a thread, parent first, oldest first) only when asked with
`include_all_metadata`; both take `oldest`/`latest` (exclusive) and `limit`. Uploads go
getUploadURLExternal -> POST bytes -> completeUploadExternal. `url_private` needs the bot token;
without it Slack answers 200 with an HTML login page (not an error status), and so does this fake.
Socket Mode: apps.connections.open (app token only) returns a ws:// URL here; the server says
`hello`, pushes envelopes and records the client's acks by envelope_id.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import WSMsgType, web

from tests.fakes.base import FakeServer, Fault, RecordedRequest, json_response

MAX_TEXT_LENGTH = 40_000
POST_METHODS = frozenset({"chat.postMessage", "chat.update", "files.completeUploadExternal"})
_LOGIN_PAGE = "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"


class SlackError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class FakeSlack(FakeServer):
    """Fake Slack workspace with one bot. Public state for assertions: `requests`, `sent`
    (messages the bot posted, edits applied), `messages` ((channel, ts) -> message), `files`,
    `acks` (envelope_id -> ack frame), `responses` (bodies posted to response_url)."""

    background_methods = frozenset({"apps.connections.open"})

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-bot-token",
        app_token: str = "xapp-test-app-token",
        signing_secret: str = "test-signing-secret",
        team_id: str = "T0TEAM",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0APP",
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.users: dict[str, dict[str, Any]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.sent: list[dict[str, Any]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.acks: dict[str, dict[str, Any]] = {}
        self.envelopes: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.missing_channels: set[str] = set()
        self._file_bytes: dict[str, bytes] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self.socket_connections = 0  # Socket Mode connections ever accepted
        self._ts_numbers = itertools.count(1)
        self._ids = itertools.count(1)
        self._epoch = int(time.time())
        self._methods: dict[str, Callable] = self._handlers()

    @property
    def api_url(self) -> str:
        """What to pass as `base_url` to AsyncWebClient (note the trailing slash)."""
        return f"{self.base_url}/api/"

    # ------------------------------------------------------------------ HTTP plumbing

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_get("/files-pri/{key}/{name}", self._handle_download)
        app.router.add_get("/socket", self._handle_socket)
        app.router.add_post("/response/{key}", self._handle_response_url)

    async def _handle_api(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        recorded = await self._record(name, request)
        fault = self.faults.take(name)
        if fault is not None and fault.kind == "delay":
            await self._sleep(fault.delay)
        elif fault is not None:
            return self._fault_response(recorded, fault)
        try:
            self._authorize(request, recorded, name)
            handler = self._methods.get(name)
            if handler is None:
                raise SlackError("unknown_method")
            result = await handler(recorded)
        except SlackError as error:
            self._notify()
            return json_response({"ok": False, "error": error.error})
        self._notify()
        return json_response({"ok": True} | result)

    def _authorize(self, request: web.Request, recorded: RecordedRequest, method: str) -> None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() or recorded.params.get("token")
        if not token:
            raise SlackError("not_authed")
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            known = token in (self.app_token, self.bot_token)
            raise SlackError("not_allowed_token_type" if known else "invalid_auth")

    def _fault_response(self, recorded: RecordedRequest, fault: Fault) -> web.Response:
        recorded.fault = fault.kind
        self._notify()
        if fault.kind == "rate_limit":
            recorded.status = 429
            return json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(fault.retry_after)},
            )
        recorded.status = fault.status
        return web.Response(status=fault.status, text=HTTPStatus(fault.status).phrase)

    async def _handle_upload(self, request: web.Request) -> web.Response:
        recorded = await self._record("upload", request)
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            recorded.status = 404
            return web.Response(status=404, text="Not Found")
        content = recorded.body or next(iter(recorded.files.values())).content
        self._file_bytes[file_id] = content
        self.files[file_id]["size"] = len(content)
        return web.Response(text=f"OK - {len(content)}")

    async def _handle_download(self, request: web.Request) -> web.Response:
        recorded = await self._record("download", request)
        file_id = request.match_info["key"].rpartition("-")[2]
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            return web.Response(text=_LOGIN_PAGE, content_type="text/html")
        if file_id not in self._file_bytes:
            recorded.status = 404
            return web.Response(status=404, text="Not Found")
        mimetype = self.files[file_id].get("mimetype", "application/octet-stream")
        return web.Response(body=self._file_bytes[file_id], content_type=mimetype)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        recorded = await self._record("response_url", request)
        self.responses.append(recorded.params)
        return json_response({"ok": True})

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        await self._record("socket", request)
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        self._sockets.append(socket)
        self.socket_connections += 1
        self._notify()
        try:
            async for frame in socket:
                if frame.type == WSMsgType.TEXT:
                    ack = json.loads(frame.data)
                    if "envelope_id" in ack:
                        self.acks[ack["envelope_id"]] = ack
                        self._notify()
        finally:
            self._sockets.remove(socket)
            self._notify()
        return socket

    async def _before_stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()

    # ------------------------------------------------------------------ test-side helpers: faults

    def rate_limit_next(
        self, times: int = 1, *, method: str | None = None, retry_after: int = 1
    ) -> None:
        """429 with `Retry-After` and {"ok": false, "error": "ratelimited"}."""
        self.faults.add(Fault("rate_limit", method, retry_after=retry_after), times)

    def rate_limit_ratio(
        self, ratio: float, *, methods: Iterable[str] | None = POST_METHODS, retry_after: int = 1
    ) -> None:
        self.faults.add_ratio(Fault("rate_limit", retry_after=retry_after), ratio, methods)

    def server_error_next(
        self, times: int = 1, *, method: str | None = None, status: int = 500
    ) -> None:
        self.faults.add(Fault("server_error", method, status=status), times)

    def slow_next(self, delay: float, times: int = 1, *, method: str | None = None) -> None:
        self.faults.add(Fault("delay", method, delay=delay), times)

    # ------------------------------------------------------------------ test-side helpers: world

    def add_user(
        self, user_id: str, name: str = "ann", *, real_name: str = "Ann Lee", tz: str = "UTC"
    ) -> dict[str, Any]:
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name,
            "tz": tz,
            "is_bot": False,
            "deleted": False,
            "profile": {"display_name": name, "real_name": real_name},
        }
        self.users[user_id] = user
        return user

    def dm_channel(self, user_id: str) -> str:
        """The id of the bot's DM with a user (stable, like Slack's)."""
        return "D" + user_id.lstrip("UW")

    def add_file(
        self,
        content: bytes,
        name: str = "file.txt",
        mimetype: str = "text/plain",
        user: str = "U1",
    ) -> dict[str, Any]:
        """A file shared by a person; downloadable from url_private with the bot token."""
        file = self._new_file(name, mimetype, user)
        self._file_bytes[file["id"]] = content
        file["size"] = len(content)
        return file

    def file_content(self, file_id: str) -> bytes:
        return self._file_bytes[file_id]

    def sent_to(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """Bot messages in a channel (only those in `thread_ts` when given)."""
        return [
            m
            for m in self.sent
            if m["channel"] == channel and (thread_ts is None or m.get("thread_ts") == thread_ts)
        ]

    def make_event_callback(self, event: dict[str, Any]) -> dict[str, Any]:
        """The Events API envelope around an event (what is POSTed / sent over Socket Mode)."""
        return {
            "token": "verification-token",
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    def make_dm_event(self, user: str, text: str, *, channel: str | None = None) -> dict[str, Any]:
        """A person's direct message to the bot (message.im)."""
        channel = channel or self.dm_channel(user)
        event = self._user_message(channel, user, text, None, channel_type="im")
        return self.make_event_callback(event)

    def make_edit_event(self, channel: str, ts: str, text: str) -> dict[str, Any]:
        """A person edits their stored message (subtype message_changed), as Slack sends it."""
        before = dict(self.messages[(channel, ts)])
        now = {**before, "text": text, "edited": {"user": before["user"], "ts": self._next_ts()}}
        self.messages[(channel, ts)] = now
        return self._message_change("message_changed", before, message=_in_event(now))

    def make_delete_event(self, channel: str, ts: str) -> dict[str, Any]:
        """A person deletes their stored message (subtype message_deleted)."""
        before = self.messages.pop((channel, ts))
        return self._message_change("message_deleted", before, deleted_ts=ts)

    def _message_change(
        self, subtype: str, before: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        """The event of a change to a stored message: hidden, with the message as it was."""
        event_ts = self._next_ts()
        event = {
            "type": "message",
            "subtype": subtype,
            "channel": before["channel"],
            "channel_type": before.get("channel_type"),
            "hidden": True,
            "ts": event_ts,
            "event_ts": event_ts,
            "previous_message": _in_event(before),
            **fields,
        }
        return self.make_event_callback(event)

    def make_channel_message_event(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        channel_type: str = "channel",
    ) -> dict[str, Any]:
        """A message in a channel, optionally a reply in the thread `thread_ts`."""
        event = self._user_message(channel, user, text, thread_ts, channel_type=channel_type)
        return self.make_event_callback(event)

    def make_file_share_event(
        self,
        user: str,
        files: list[dict[str, Any]],
        *,
        text: str = "",
        channel: str | None = None,
        thread_ts: str | None = None,
        channel_type: str = "im",
    ) -> dict[str, Any]:
        """A message with files (subtype file_share); make files with add_file()."""
        channel = channel or self.dm_channel(user)
        event = self._user_message(channel, user, text, thread_ts, channel_type=channel_type)
        event |= {"subtype": "file_share", "files": files, "upload": False}
        return self.make_event_callback(event)

    def make_block_actions(
        self,
        user: str,
        action_id: str,
        value: str,
        *,
        channel: str,
        message_ts: str,
        block_id: str = "actions",
    ) -> dict[str, Any]:
        """A button press (block_actions payload) on message `message_ts`."""
        message = self.messages.get((channel, message_ts), {"ts": message_ts, "type": "message"})
        return {
            "type": "block_actions",
            "user": {
                "id": user,
                "username": user.lower(),
                "name": user.lower(),
                "team_id": self.team_id,
            },
            "api_app_id": self.app_id,
            "token": "verification-token",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"{next(self._ids)}.{self.team_id}.trigger",
            "team": {"id": self.team_id, "domain": "fake"},
            "channel": {"id": channel, "name": channel.lower()},
            "message": message,
            "response_url": f"{self.base_url}/response/{secrets.token_hex(6)}",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "type": "button",
                    "text": {"type": "plain_text", "text": value},
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }

    # -- Socket Mode

    async def wait_for_socket(self, connections: int = 1, within: float = 5.0) -> None:
        """Wait until `connections` Socket Mode connections were accepted (the newest one
        has been greeted with hello and is where envelopes go)."""
        await self.wait_until(
            lambda: self.socket_connections >= connections and bool(self._sockets), within
        )

    async def send_envelope(
        self, payload: dict[str, Any], envelope_type: str = "events_api", retry_attempt: int = 0
    ) -> str:
        """Push an envelope to the newest Socket Mode connection; returns its envelope_id."""
        if not self._sockets:
            raise AssertionError("no Socket Mode client is connected")
        envelope_id = secrets.token_hex(8)
        envelope = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": envelope_type,
            "accepts_response_payload": envelope_type != "events_api",
        }
        if envelope_type == "events_api":
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": ""}
        self.envelopes.append(envelope)
        await self._sockets[-1].send_json(envelope)
        return envelope_id

    async def send_event(self, event_callback: dict[str, Any]) -> str:
        return await self.send_envelope(event_callback, "events_api")

    async def send_interactive(self, payload: dict[str, Any]) -> str:
        return await self.send_envelope(payload, "interactive")

    async def wait_for_ack(self, envelope_id: str, within: float = 5.0) -> dict[str, Any]:
        await self.wait_until(lambda: envelope_id in self.acks, within)
        return self.acks[envelope_id]

    async def request_reconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's periodic `disconnect` message: the client should reconnect."""
        for socket in list(self._sockets):
            await socket.send_json(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-slack"}}
            )

    # -- HTTP Events API

    def sign(self, body: str, timestamp: int) -> str:
        base = f"v0:{timestamp}:{body}".encode()
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return f"v0={digest}"

    async def post_event(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        bad_signature: bool = False,
        timestamp: int | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> tuple[int, str]:
        """POST an event (JSON) or an interactive payload (form field `payload`) signed like
        Slack; `timestamp` in the past makes it stale; returns (status, body)."""
        interactive = payload.get("type") in ("block_actions", "view_submission", "shortcut")
        if interactive:
            body = "payload=" + quote(json.dumps(payload), safe="")
            content_type = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(payload)
            content_type = "application/json"
        timestamp = int(time.time()) if timestamp is None else timestamp
        signature = self.sign(body, timestamp)
        if bad_signature:
            signature = "v0=" + "0" * 64
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": signature,
        }
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body.encode(), headers=headers) as response,
        ):
            return response.status, await response.text()

    # ------------------------------------------------------------------ world model internals

    def _next_ts(self) -> str:
        number = next(self._ts_numbers)
        return f"{self._epoch + number // 1_000_000}.{number % 1_000_000:06d}"

    def _user_message(
        self, channel: str, user: str, text: str, thread_ts: str | None, *, channel_type: str
    ) -> dict[str, Any]:
        ts = self._next_ts()
        event = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "team": self.team_id,
            "channel_type": channel_type,
            "client_msg_id": secrets.token_hex(8),
        }
        if thread_ts:
            event |= {"thread_ts": thread_ts, "parent_user_id": self.bot_user_id}
        self.messages[(channel, ts)] = dict(event)
        return event

    def _new_file(self, name: str, mimetype: str, user: str) -> dict[str, Any]:
        file_id = f"F{next(self._ids):08d}"
        url = f"{self.base_url}/files-pri/{self.team_id}-{file_id}/{name}"
        file = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rpartition(".")[2] if "." in name else "binary",
            "user": user,
            "size": 0,
            "url_private": url,
            "url_private_download": f"{url}?download=1",
            "created": int(time.time()),
            "is_external": False,
            "mode": "hosted",
        }
        self.files[file_id] = file
        return file

    def _channel(self, params: dict[str, Any], key: str = "channel") -> str:
        channel = str(params.get(key) or "")
        if not channel or channel in self.missing_channels:
            raise SlackError("channel_not_found")
        if channel.startswith(("U", "W")):  # posting to a user id goes to the bot's DM
            channel = self.dm_channel(channel)
        return channel

    # ------------------------------------------------------------------ Web API methods

    def _handlers(self) -> dict[str, Callable]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update_message,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "apps.connections.open": self._connections_open,
        }

    async def _auth_test(self, request: RecordedRequest) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "helpdesk",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    async def _post_message(self, request: RecordedRequest) -> dict[str, Any]:
        params = request.params
        channel = self._channel(params)
        blocks = request.json_param("blocks")
        text = str(params.get("text") or "")
        if not text and not blocks and not params.get("attachments"):
            raise SlackError("no_text")
        message = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": text[:MAX_TEXT_LENGTH],
            "ts": self._next_ts(),
            "team": self.team_id,
        }
        if blocks:
            message["blocks"] = blocks
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        metadata = request.json_param("metadata")
        if metadata:
            if not isinstance(metadata, dict) or not metadata.get("event_type"):
                raise SlackError("invalid_metadata_format")
            message["metadata"] = metadata
        self._store_sent(channel, message)
        return {"channel": channel, "ts": message["ts"], "message": _without_channel(message)}

    def _store_sent(self, channel: str, message: dict[str, Any]) -> None:
        message["channel"] = channel
        self.messages[(channel, message["ts"])] = message
        self.sent.append(message)

    async def _update_message(self, request: RecordedRequest) -> dict[str, Any]:
        channel = self._channel(request.params)
        message = self.messages.get((channel, str(request.params.get("ts", ""))))
        if message is None:
            raise SlackError("message_not_found")
        if message.get("user") != self.bot_user_id:
            raise SlackError("cant_update_message")
        if "text" in request.params:
            message["text"] = str(request.params["text"])[:MAX_TEXT_LENGTH]
        if request.params.get("blocks") is not None:
            message["blocks"] = request.json_param("blocks")
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel,
            "ts": message["ts"],
            "text": message["text"],
            "message": _without_channel(message),
        }

    async def _conversations_open(self, request: RecordedRequest) -> dict[str, Any]:
        users = [u for u in str(request.params.get("users") or "").split(",") if u]
        if len(users) != 1:
            raise SlackError("users_list_not_supplied" if not users else "not_implemented")
        return {"channel": {"id": self.dm_channel(users[0])}}

    async def _conversations_history(self, request: RecordedRequest) -> dict[str, Any]:
        channel = self._channel(request.params)
        top_level = [
            m
            for (c, _), m in self.messages.items()
            if c == channel and m.get("thread_ts") in (None, m["ts"])
        ]
        return _page(top_level, request.params, newest_first=True)

    async def _conversations_replies(self, request: RecordedRequest) -> dict[str, Any]:
        channel = self._channel(request.params)
        parent = self.messages.get((channel, str(request.params.get("ts") or "")))
        if parent is None:
            raise SlackError("thread_not_found")
        thread_ts = parent.get("thread_ts") or parent["ts"]
        thread = [
            m
            for (c, _), m in self.messages.items()
            if c == channel and (m["ts"] == thread_ts or m.get("thread_ts") == thread_ts)
        ]
        return _page(thread, request.params, newest_first=False)

    async def _users_info(self, request: RecordedRequest) -> dict[str, Any]:
        user_id = str(request.params.get("user") or "")
        if not user_id.startswith(("U", "W")):
            raise SlackError("user_not_found")
        user = self.users.get(user_id) or self.add_user(
            user_id, user_id.lower(), real_name=f"User {user_id}"
        )
        return {"user": user}

    async def _get_upload_url(self, request: RecordedRequest) -> dict[str, Any]:
        filename = str(request.params.get("filename") or "")
        if not filename or not request.params.get("length"):
            raise SlackError("invalid_arguments")
        file = self._new_file(filename, "application/octet-stream", self.bot_user_id)
        return {"upload_url": f"{self.base_url}/upload/{file['id']}", "file_id": file["id"]}

    async def _complete_upload(self, request: RecordedRequest) -> dict[str, Any]:
        entries = request.json_param("files") or []
        files = []
        for entry in entries:
            if entry.get("id") not in self._file_bytes:
                raise SlackError("file_not_found")
            file = self.files[entry["id"]]
            file["title"] = entry.get("title") or file["name"]
            files.append(file)
        if request.params.get("channel_id"):
            channel = self._channel(request.params, "channel_id")
            message = {
                "type": "message",
                "user": self.bot_user_id,
                "bot_id": self.bot_id,
                "text": str(request.params.get("initial_comment") or ""),
                "ts": self._next_ts(),
                "files": files,
                "upload": True,
            }
            if request.params.get("thread_ts"):
                message["thread_ts"] = str(request.params["thread_ts"])
            self._store_sent(channel, message)
        return {"files": [{"id": f["id"], "title": f["title"]} for f in files]}

    async def _connections_open(self, request: RecordedRequest) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self.port}/socket?ticket={secrets.token_hex(6)}"}


def _without_channel(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "channel"}


def _page(
    messages: list[dict[str, Any]], params: dict[str, Any], *, newest_first: bool
) -> dict[str, Any]:
    """One page of conversations.history / .replies: `oldest` < ts < `latest`, at most `limit`
    (Slack's default 100 here), metadata only with `include_all_metadata`."""
    oldest = Decimal(str(params.get("oldest") or 0))
    latest = Decimal(str(params["latest"])) if params.get("latest") else None
    chosen = sorted(
        (
            m
            for m in messages
            if Decimal(m["ts"]) > oldest and (latest is None or Decimal(m["ts"]) < latest)
        ),
        key=lambda m: Decimal(m["ts"]),
        reverse=newest_first,
    )
    limit = int(params.get("limit") or 100)
    with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
    hidden = {"channel"} if with_metadata else {"channel", "metadata"}
    return {
        "messages": [{k: v for k, v in m.items() if k not in hidden} for m in chosen[:limit]],
        "has_more": len(chosen) > limit,
        "response_metadata": {"next_cursor": ""},
    }


def _in_event(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message as a change event nests it (without the channel fields)."""
    return {k: v for k, v in message.items() if k not in ("channel", "channel_type")}
