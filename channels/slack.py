"""Slack through slack-bolt / slack-sdk: Socket Mode or the HTTP Events API in, Web API out.

Inbound, every event and button press becomes one `IncomingMessage`; Bolt runs with
`process_before_response=True`, so the delivery is acknowledged (socket ack / HTTP 200) only
after `on_message` returned, i.e. after the message was committed. When handling raises, the
delivery is left unacknowledged (HTTP 500 / no socket ack) and Slack delivers it again; repeats
carry the same `event_id`, on which the engine de-duplicates. The trade-off: Slack wants an
acknowledgement within 3 s. A commit normally takes milliseconds; if the database is slow
enough to pass 3 s, Slack retries an event that was in fact handled, and the retry is dropped
as a repeat, so nothing is lost or doubled, only a little work is repeated. Slack does not
retry button presses; a press whose handling fails shows the user an error and can be pressed
again.

Outbound: plain text escaped (& < >) with `mrkdwn: false`; buttons as Block Kit actions whose
value is the payload. With buttons the text is also shown as `plain_text` sections of at most
3,000 characters each (Block Kit's section limit; the 40,000-character `text` stays the
notification fallback). A text whose escaped form passes 40,000 characters is split by `parts`
into several messages (the outbox sends each), so nothing is truncated. 429s of
chat.postMessage go back to the outbox as RetryAfter at once (no sleeping inside the SDK, see
slack_errors.ShortRateLimitRetry). A staff announcement opens a thread (its ts is the thread
id); the outbox sends the later parts into it. Files are uploaded with files_upload_v2; a
file from Slack itself is re-uploaded from its bytes rather than linked, because a permalink
shows nothing to someone who cannot see the channel it was shared in (a user cannot see the
staff channel, and agents cannot see a user's DM).

Slack has no idempotency key, so every post carries the outbox's key in its message metadata
(slack_metadata); when a sender lost an item without recording its send (a crash, a lapsed
lease), `find_sent` reads the place's newest messages back and the outbox does not post what is
there already. Uploaded files carry no metadata: see `find_sent` for what that leaves.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from channels.parts import message_parts
from channels.slack_errors import (
    THREAD_GONE_ERRORS,
    TRANSIENT_ERRORS,
    error_code,
    retry_handlers,
    to_send_error,
)
from channels.slack_files import fetch_private_file, is_trusted_file_host, upload_name
from channels.slack_format import (
    ACTION_ID_PREFIX,
    MAX_MESSAGE_TEXT,
    escape,
    message_blocks,
    split_escaped,
)
from channels.slack_gate import DeliveryGate
from channels.slack_inbound import (
    CHANNEL,
    BotIdentity,
    UserDirectory,
    deleted_message,
    edited_message,
    is_person_message,
    message_from_action,
    message_from_event,
)
from channels.slack_metadata import outbox_metadata, outbox_payload
from core import telemetry
from core.messages import Attachment, Button, IncomingMessage, OutgoingMessage, SentMessage
from core.ports import (
    ChannelMemory,
    InboundHandler,
    PermanentSendError,
    RateLimits,
    SendError,
    ThreadGone,
)

log = logging.getLogger(__name__)

Mode = Literal["socket", "http"]

DEFAULT_RATE_LIMITS = RateLimits(per_chat=1, per_chat_window=1.0, overall=20)
MAX_FILE_SIZE = 100 * 1024 * 1024  # Slack takes 1 GB; more than this is not a support file
# 429s of these calls are not retried inside the SDK (see ShortRateLimitRetry).
LEAVE_RATE_LIMITS_TO_CALLER = frozenset({"chat.postMessage", "users.info"})
REMEMBERED_SENDS = 4096  # idempotency keys whose finished steps are remembered
# find_sent reads one page of this many messages. Slack gives apps distributed outside its
# Marketplace 15 at most (and one such call a minute; a 429 comes back as RetryAfter).
LOOKBACK_MESSAGES = 100
LOOKBACK_CLOCK_SKEW = 60.0  # seconds: find_sent looks this much before `since` (our clock)


class _WithoutTokenNotice(logging.Filter):
    """Bolt warns at every start that the client's token is "ignored" when `authorize` is
    given; here `authorize` returns that very token, so the warning only misleads operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`authorize` has been used" not in record.getMessage()


_BOLT_LOG = logging.getLogger("slack_bolt.helpdesk")
_BOLT_LOG.addFilter(_WithoutTokenNotice())


class SlackChannel:
    """One Slack workspace (a bot token), in Socket Mode or behind the HTTP Events API."""

    name = CHANNEL
    max_text_length = MAX_MESSAGE_TEXT
    max_file_size = MAX_FILE_SIZE

    def __init__(
        self,
        bot_token: str,
        mode: Mode = "socket",
        app_token: str | None = None,
        signing_secret: str | None = None,
        api_base_url: str = "https://slack.com",
        events_path: str = "/slack/events",
        *,
        rate_limits: RateLimits = DEFAULT_RATE_LIMITS,
        request_timeout: float = 15.0,
        stop_timeout: float = 10.0,
    ) -> None:
        if mode not in ("socket", "http"):
            raise ValueError(f"unknown slack mode {mode!r}")
        if not bot_token.startswith("xoxb-"):
            # Without a bot token Bolt cannot tell the bot's own messages from people's.
            raise ValueError('slack bot_token must be a bot token starting with "xoxb-"')
        if mode == "socket" and not (app_token or "").startswith("xapp-"):
            raise ValueError('slack Socket Mode needs an app_token starting with "xapp-"')
        if mode == "http" and not signing_secret:
            raise ValueError("slack HTTP mode needs the signing_secret")
        self.mode: Mode = mode
        self.rate_limits = rate_limits
        self.events_path = events_path
        self._bot_token = bot_token
        self._app_token = app_token
        self._api_host = (urlsplit(api_base_url).hostname or "").lower()
        self._request_timeout = request_timeout
        self._stop_timeout = stop_timeout
        # No total limit (a large file takes a while); a stalled connection is what fails.
        self._download_timeout = aiohttp.ClientTimeout(
            sock_connect=request_timeout, sock_read=request_timeout
        )
        self._client = AsyncWebClient(
            token=bot_token,
            base_url=f"{api_base_url.rstrip('/')}/api/",
            timeout=int(request_timeout),
            retry_handlers=retry_handlers(LEAVE_RATE_LIMITS_TO_CALLER),
            logger=logging.getLogger("slack_sdk.web"),
        )
        self._app = AsyncApp(
            client=self._client,
            signing_secret=signing_secret or "",
            # Socket Mode deliveries come over our own authenticated connection: nothing to sign.
            request_verification_enabled=mode == "http",
            process_before_response=True,
            authorize=lambda: self._authorize(),  # see _register_listeners on `self`
            logger=_BOLT_LOG,
        )
        self._register_listeners()
        self._users = UserDirectory(self._lookup_user)
        self._gate = DeliveryGate()
        self._on_message: InboundHandler | None = None
        self._identity: BotIdentity | None = None
        self._workspace_url = ""  # learned from auth.test at start
        self._authorization: AuthorizeResult | None = None
        self._socket: _SocketModeHandler | None = None
        self._session: aiohttp.ClientSession | None = None
        # idempotency key -> ts of what was already posted for it, so that a retry after a
        # partial failure (text posted, upload failed) does not post the text again.
        self._posted: OrderedDict[str, str] = OrderedDict()

    # ------------------------------------------------------------------ lifecycle

    async def start(self, on_message: InboundHandler, memory: ChannelMemory | None = None) -> None:
        # Slack redelivers what was not acknowledged: there is no position to keep.
        """Learn who the bot is (a wrong token fails here, with Slack's error code) and, in
        Socket Mode, connect; in HTTP mode deliveries arrive through `web_routes()`."""
        self._on_message = on_message
        self._session = aiohttp.ClientSession()
        self._client.session = self._session
        try:
            await self._learn_identity()
            self._gate.open()
            if self.mode == "socket":
                self._socket = _SocketModeHandler(self._app, self._app_token or "", self._gate)
                await self._socket.connect_async()
                telemetry.count("channel_contact", channel=self.name)
        except BaseException:
            await self.stop()
            raise
        log.info(
            "slack channel started",
            extra={"mode": self.mode, "bot_user_id": self._identity and self._identity.user_id},
        )

    async def stop(self) -> None:
        """Turn away new deliveries, let those in flight finish and be acknowledged, then
        close the socket. Sends still work afterwards (each with its own connection)."""
        self._gate.close()
        if not await self._gate.drained(within=self._stop_timeout):
            log.warning("slack deliveries still in flight at stop", extra={"mode": self.mode})
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._session is not None:
            self._client.session = None
            await self._session.close()
            self._session = None

    def web_routes(self) -> list[tuple[str, str, Callable]]:
        if self.mode != "http":
            return []
        return [("POST", self.events_path, self._handle_http_event)]

    async def _handle_http_event(self, request: web.Request) -> web.StreamResponse:
        """The Events API / interactivity endpoint. Bolt checks the signature and the
        timestamp (401 otherwise) and answers url_verification."""
        async with self._gate.admit() as admitted:
            if not admitted:
                return web.Response(status=503, text="not accepting events now")
            bolt_response = await self._app.async_dispatch(await to_bolt_request(request))
            if bolt_response.status < 400:  # signed by Slack
                telemetry.count("channel_contact", channel=self.name)
            return await to_aiohttp_response(bolt_response)

    async def _learn_identity(self) -> None:
        """auth.test once: who the bot is (to ignore its own messages) and, primed into Bolt's
        authorization, no lazy auth.test on the first event (Bolt acknowledges and drops an
        event whose auth.test fails)."""
        response = await self._client.auth_test()
        self._identity = BotIdentity(response.get("user_id"), response.get("bot_id"))
        self._workspace_url = str(response.get("url") or "")  # https://acme.slack.com/
        self._authorization = AuthorizeResult.from_auth_test_response(
            bot_token=self._bot_token, auth_test_response=response
        )

    async def _authorize(self) -> AuthorizeResult:
        if self._authorization is None:
            try:
                await self._learn_identity()
            except SlackApiError as error:
                # Not a SlackApiError, so Bolt answers 500 and Slack delivers the event again.
                raise RuntimeError(f"slack auth.test failed: {error_code(error)}") from error
        assert self._authorization is not None
        return self._authorization

    # ------------------------------------------------------------------ inbound

    def _register_listeners(self) -> None:
        # Bolt passes listener arguments by parameter name and counts `self` among them, so
        # the listeners are plain functions around the methods.
        async def on_message_event(body: dict[str, Any], event: dict[str, Any]) -> None:
            await self._on_message_event(body, event)

        async def on_button(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
            await self._on_button(ack, body, action)

        self._app.event("message")(on_message_event)
        # Everything else we are subscribed to (app_mention duplicates a channel message):
        # acknowledged, not handled.
        self._app.event(re.compile(".*"))(_ignore)
        self._app.action(re.compile(f"^{re.escape(ACTION_ID_PREFIX)}"))(on_button)
        self._app.action(re.compile(".*"))(_acknowledge)

    async def _on_message_event(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        identity = self._identity or BotIdentity(None, None)
        event_id = str(body.get("event_id") or f"event:{event.get('channel')}:{event.get('ts')}")
        edited = edited_message(event, identity)
        deleted = deleted_message(event, identity)
        if edited is None and deleted is None and not is_person_message(event, identity):
            return
        message_event = edited or deleted or event
        sender = await self._users.sender(str(message_event["user"]))
        message = message_from_event(event_id, message_event, sender)
        await self._deliver(
            dataclasses.replace(message, edited=edited is not None, deleted=deleted is not None)
        )

    async def _on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        user = body.get("user") or {}
        sender = await self._users.sender(
            str(user.get("id")), user.get("username") or user.get("name")
        )
        await self._deliver(message_from_action(body, action, sender))
        await ack()  # only now: the press is committed

    async def _deliver(self, message: IncomingMessage) -> None:
        if self._on_message is None:
            raise RuntimeError("slack channel not started")
        log.debug("slack delivery", extra={"update_id": message.update_id})
        await self._on_message(message)

    async def _lookup_user(self, user_id: str) -> dict[str, Any]:
        response = await self._client.users_info(user=user_id, include_locale=True)
        return response.get("user") or {}

    # ------------------------------------------------------------------ outbound

    async def open_thread(self, message: OutgoingMessage) -> str | None:
        return None  # a Slack thread is its first message

    def parts(self, message: OutgoingMessage) -> list[OutgoingMessage]:
        """Parts whose text fits 40,000 characters once escaped (& < > grow up to five times)."""
        return message_parts(message, MAX_MESSAGE_TEXT, split_escaped)

    def thread_url(self, chat_id: str, thread_id: str) -> str | None:
        """The permalink of a thread's parent message (core.ports.ThreadAddresses), built as
        Slack builds them: <workspace>/archives/<channel>/p<ts without the dot>."""
        if not self._workspace_url or "." not in thread_id:
            return None
        return f"{self._workspace_url.rstrip('/')}/archives/{chat_id}/p{thread_id.replace('.', '')}"

    async def send(self, message: OutgoingMessage, idempotency_key: str) -> SentMessage:
        try:
            return await self._send(message, idempotency_key)
        except SendError:
            raise
        except ValueError as error:  # content Slack can never take (e.g. a huge button value)
            raise PermanentSendError(str(error)) from error
        except Exception as error:  # noqa: BLE001 - mapped to the outbox's error kinds
            raise to_send_error(error) from error

    async def _send(self, message: OutgoingMessage, key: str) -> SentMessage:
        conversation = message.conversation
        channel = conversation.chat_id
        if message.edit_of is not None and await self._edited(message, channel):
            return SentMessage(message.edit_of)
        opens_thread = _opens_thread(message)
        # In Slack, answering a message means answering in its thread.
        thread_ts = conversation.thread_id or message.reply_to_message_id
        has_text = bool(message.text.strip())
        if not has_text and not message.attachments:
            raise PermanentSendError("nothing to send: no text and no files")
        if len(escape(message.text)) > MAX_MESSAGE_TEXT:
            raise ValueError("text longer than Slack takes: send each of parts(message)")
        text_ts: str | None = None
        if has_text:
            metadata = outbox_metadata(key, files_follow=bool(message.attachments))
            text_ts = await self._post(
                f"{key}/0", message, channel, message.text, message.buttons, thread_ts, metadata
            )
            if opens_thread:
                thread_ts = text_ts  # the files go into the new thread
        uploaded = await self._upload(f"{key}/files", channel, thread_ts, message.attachments)
        message_id = text_ts or uploaded
        if message_id is None:
            raise PermanentSendError("no file could be uploaded and there is no text")
        return SentMessage(message_id, thread_id=text_ts if opens_thread else None)

    async def _post(
        self,
        key: str,
        message: OutgoingMessage,
        channel: str,
        text: str,
        buttons: Sequence[Sequence[Button]],
        thread_ts: str | None,
        metadata: dict[str, Any],
    ) -> str:
        if key in self._posted:
            return self._posted[key]
        fields: dict[str, Any] = {
            "channel": channel,
            "text": escape(text),
            "mrkdwn": False,
            "metadata": metadata,
        }
        if buttons:
            fields["blocks"] = message_blocks(text, buttons)
        try:
            response = await self._client.chat_postMessage(thread_ts=thread_ts, **fields)
        except SlackApiError as error:
            if thread_ts is None or error_code(error) not in THREAD_GONE_ERRORS:
                raise
            if _about_a_ticket(message):
                raise ThreadGone(error_code(error)) from error  # the outbox opens a new thread
            # Any other answer in a vanished thread goes to the channel itself.
            log.info("slack thread gone, posting to the channel", extra={"channel": channel})
            response = await self._client.chat_postMessage(**fields)
        ts = str(response["ts"])
        self._remember(key, ts)
        return ts

    async def _edited(self, message: OutgoingMessage, channel: str) -> bool:
        """chat.update of a message the bot posted; False when Slack refuses (deleted, not
        editable): the text then goes as a new message."""
        try:
            await self._client.chat_update(
                channel=channel, ts=message.edit_of, text=escape(message.text)
            )
        except SlackApiError as error:
            if error_code(error) in TRANSIENT_ERRORS:
                raise
            log.info("slack message not editable; posting anew", extra={"error": str(error)})
            return False
        return True

    async def _upload(
        self,
        key: str,
        channel: str,
        thread_ts: str | None,
        attachments: Sequence[Attachment],
    ) -> str | None:
        """Upload the files in one files_upload_v2 call; returns the first file's id."""
        if not attachments or key in self._posted:
            return self._posted.get(key)
        uploads = []
        for attachment in attachments:
            content = await self._content_of(attachment)
            if content is not None:
                name = upload_name(attachment)
                uploads.append({"content": content, "filename": name, "title": name})
        if not uploads:
            return None
        response = await self._client.files_upload_v2(
            channel=channel, thread_ts=thread_ts, file_uploads=uploads
        )
        files = response.get("files") or [{}]
        file_id = f"file:{files[0].get('id', '')}"
        self._remember(key, file_id)
        return file_id

    async def _content_of(self, attachment: Attachment) -> bytes | None:
        """The bytes to upload; None (left out, with a warning) when there are none to get."""
        content = attachment.content
        if content is None and attachment.channel == self.name:
            try:
                content = await self.download(attachment)
            except PermanentSendError as error:
                log.warning(
                    "slack file left out",
                    extra={"file_id": attachment.file_id, "error": str(error)},
                )
                return None
        if content is None:
            log.warning("file without content left out", extra={"file_id": attachment.file_id})
            return None
        if len(content) > self.max_file_size:
            log.warning("file too large for slack left out", extra={"size": len(content)})
            return None
        return content

    async def find_sent(
        self, message: OutgoingMessage, since: datetime | None
    ) -> dict[str, SentMessage]:
        """The bot's posts into `message`'s place (its thread, else its channel) since `since`,
        by the outbox key in their metadata: one page of the newest LOOKBACK_MESSAGES (thread
        replies come oldest first, hence the window from `since`). Reading needs the history
        scopes the message events already need (channels:history, groups:history, im:history).

        Files: files_upload_v2 cannot carry metadata. A part with files is posted text first,
        then the files; its text, when found, is not reported (whether the files followed is
        unknown) but remembered, so the outbox's resend uploads the files again without posting
        the text again: a file may then show twice, nothing is lost. A part of files alone is
        never found, so it may be uploaded twice."""
        try:
            return await self._find_sent(message, since)
        except SendError:
            raise
        except Exception as error:  # noqa: BLE001 - mapped to the outbox's error kinds
            raise to_send_error(error) from error

    async def _find_sent(
        self, message: OutgoingMessage, since: datetime | None
    ) -> dict[str, SentMessage]:
        if self._identity is None:
            await self._learn_identity()
        channel = message.conversation.chat_id
        thread_ts = message.conversation.thread_id or message.reply_to_message_id
        window = {"oldest": f"{since.timestamp() - LOOKBACK_CLOCK_SKEW:.6f}"} if since else {}
        try:
            posts = await self._newest(channel, thread_ts, window)
        except SlackApiError as error:
            if thread_ts is None or error_code(error) not in THREAD_GONE_ERRORS:
                raise
            if _about_a_ticket(message):
                raise ThreadGone(error_code(error)) from error  # as send would
            posts = await self._newest(channel, None, window)  # where _post fell back to
        opens_thread = _opens_thread(message)
        found: dict[str, SentMessage] = {}
        bot = self._identity or BotIdentity(None, None)
        for post in posts:
            payload = outbox_payload(post, bot)
            if payload is None:
                continue
            ts = str(post["ts"])
            if payload.get("files"):
                self._remember(f"{payload['key']}/0", ts)  # the resend uploads the files only
                continue
            found[payload["key"]] = SentMessage(ts, thread_id=ts if opens_thread else None)
        return found

    async def _newest(
        self, channel: str, thread_ts: str | None, window: dict[str, str]
    ) -> list[dict[str, Any]]:
        fields: dict[str, Any] = {
            "channel": channel,
            "include_all_metadata": True,
            "limit": LOOKBACK_MESSAGES,
            **window,
        }
        if thread_ts is None:
            response = await self._client.conversations_history(**fields)
        else:
            response = await self._client.conversations_replies(ts=thread_ts, **fields)
        return list(response.get("messages") or ())

    def _remember(self, key: str, value: str) -> None:
        self._posted[key] = value
        while len(self._posted) > REMEMBERED_SENDS:
            self._posted.popitem(last=False)

    async def download(self, attachment: Attachment) -> bytes:
        if not attachment.url:
            raise PermanentSendError(f"slack file {attachment.file_id} has no url")
        if not is_trusted_file_host(attachment.url, self._api_host):
            raise PermanentSendError("not a slack file url: the bot token is not sent there")
        async with self._http() as session:
            return await fetch_private_file(
                session,
                attachment,
                self._bot_token,
                self.max_file_size,
                self._download_timeout,
            )

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[aiohttp.ClientSession]:
        """The channel's session while it runs; a short-lived one before start / after stop."""
        if self._session is not None and not self._session.closed:
            yield self._session
            return
        async with aiohttp.ClientSession() as session:
            yield session


def _about_a_ticket(message: OutgoingMessage) -> bool:
    """A staff message about a ticket: it belongs in the ticket's thread."""
    return message.to_staff and message.ticket_id is not None


def _opens_thread(message: OutgoingMessage) -> bool:
    """A ticket's announcement: in Slack its first message is the ticket's thread."""
    return _about_a_ticket(message) and message.conversation.thread_id is None


class _SocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, admitting envelopes through the channel's gate: an envelope
    arriving while the channel stops is left unacknowledged (Slack delivers it again), and
    stop() waits for the acknowledgement of those in flight before closing the socket."""

    def __init__(self, app: AsyncApp, app_token: str, gate: DeliveryGate) -> None:
        super().__init__(app, app_token=app_token)
        self._gate = gate

    async def handle(self, client: Any, req: SocketModeRequest) -> None:  # type: ignore[override]
        telemetry.count("channel_contact", channel=CHANNEL)  # Slack pushed an envelope
        async with self._gate.admit() as admitted:
            if admitted:
                await super().handle(client, req)
            else:
                log.info("slack envelope left for redelivery", extra={"envelope": req.envelope_id})


async def _ignore() -> None:
    """Events we do not act on; Bolt acknowledges them."""


async def _acknowledge(ack: Any) -> None:
    await ack()
