"""The Telegram channel (aiogram 3): receives updates by long polling or webhook, hands each one
to the engine as an `IncomingMessage`, and sends what the outbox asks it to.

Receiving is acknowledged to Telegram only after the engine committed the message: in polling
mode by the next getUpdates offset (see `telegram_polling`), in webhook mode by answering 200
(500 makes Telegram deliver again). The engine de-duplicates on `update_id`.

Files: `max_file_size` is what a bot may upload (50 MB). Telegram lets bots *download* only
files up to 20 MB (getFile); bigger ones cannot be carried to another platform: `download`
refuses them for good and the outbox leaves them out (the ticket keeps their record).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods.base import Response
from aiogram.types import ChatFullInfo, File, ForumTopic, Message, MessageId, Update
from aiohttp import web
from pydantic import ValidationError

from channels.parts import message_parts
from channels.telegram_albums import PolledAlbums, WebhookAlbums
from channels.telegram_errors import send_errors
from channels.telegram_polling import UpdatePoller
from channels.telegram_send import TelegramSender
from channels.telegram_updates import ALLOWED_UPDATES, Received, convert_update
from core import telemetry
from core.messages import Attachment, OutgoingMessage, SentMessage
from core.ports import ChannelMemory, InboundHandler, PermanentSendError, RateLimits

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile refuses bigger files for bots
UPLOAD_LIMIT = 50 * 1024 * 1024
DOWNLOAD_TIMEOUT = 120  # seconds for one file

# aiogram parses every API answer as `Response[T]`; pydantic keeps such generic models only
# weakly, so without a reference held somewhere each call builds the model again (~0.07 ms).
_RESPONSE_MODELS = tuple(
    Response[t]  # type: ignore[valid-type]
    for t in (Message, list[Message], MessageId, bool, list[Update], ForumTopic, ChatFullInfo, File)
)


def _group_limit(chat_id: str) -> tuple[int, float] | None:
    """Telegram allows about 20 messages per minute into one group (ids are negative)."""
    return (20, 60.0) if chat_id.startswith("-") else None


TELEGRAM_RATE_LIMITS = RateLimits(
    per_chat=1, per_chat_window=1.0, overall=30, extra_chat_limit=_group_limit
)


class TelegramChannel:
    name = "telegram"
    max_text_length = 4096
    max_file_size = UPLOAD_LIMIT

    def __init__(
        self,
        token: str,
        mode: Literal["polling", "webhook"] = "polling",
        api_base_url: str = "https://api.telegram.org",
        webhook_url: str | None = None,
        webhook_path: str = "/telegram/webhook",
        webhook_secret: str | None = None,
        polling_timeout: int = 30,
        staff_chat_id: str | None = None,
        use_topics: bool = True,
        *,
        rate_limits: RateLimits = TELEGRAM_RATE_LIMITS,
        album_wait: float = 0.4,
        retry_delay: float = 1.0,
    ) -> None:
        """`staff_chat_id` is only checked at start (logged: forum or not). Topics follow each
        chat's forum flag, so a staff group that moves to a new id keeps working.
        `album_wait`: seconds to collect the parts of an album; `retry_delay`: first pause
        after a failed getUpdates or hand-over (doubling up to 30 s)."""
        if mode not in ("polling", "webhook"):
            raise ValueError(f'mode must be "polling" or "webhook", got {mode!r}')
        if mode == "webhook" and not (webhook_url and webhook_secret):
            raise ValueError("webhook mode needs webhook_url and webhook_secret")
        self.mode = mode
        self.rate_limits = rate_limits
        self.webhook_url = webhook_url
        self.webhook_path = webhook_path
        self.staff_chat_id = staff_chat_id
        self.use_topics = use_topics
        self._webhook_secret = (webhook_secret or "").encode()
        self._plain_http = api_base_url.startswith("http://")
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_base_url))
        self.bot = Bot(token, session=session)
        self.sender = TelegramSender(self.bot, self.name, use_topics)
        self._polling_timeout = polling_timeout
        self._album_wait = album_wait
        self._retry_delay = retry_delay
        self._webhook_albums = WebhookAlbums(album_wait, self.name, self._read_staged)
        self._on_message: InboundHandler | None = None
        self._poller: UpdatePoller | None = None
        self._poll_task: asyncio.Task | None = None
        self._answers: set[asyncio.Task] = set()  # callback answers: finished on stop
        self._chores: set[asyncio.Task] = set()  # setWebhook retries, checks: cancelled on stop
        self._webhook_requests = 0  # being handled right now
        self._webhook_idle = asyncio.Event()
        self._webhook_idle.set()
        self._receiving = False

    # -- Channel protocol

    async def start(self, on_message: InboundHandler, memory: ChannelMemory | None = None) -> None:
        # Telegram keeps the position (the update offset) itself, confirmed after each commit.
        self._on_message = on_message
        self._receiving = True
        if memory is not None:
            self._webhook_albums.memory = memory
        if self.staff_chat_id and self.use_topics:
            self._spawn(self._chores, self._check_staff_chat(self.staff_chat_id))
        if self.mode == "webhook":
            self._spawn(self._chores, self._set_webhook())
            return
        self._poller = UpdatePoller(
            self.bot,
            self.name,
            self._deliver_batch,
            timeout=self._polling_timeout,
            albums=PolledAlbums(self._album_wait),
            retry_delay=self._retry_delay,
        )
        self._poll_task = asyncio.create_task(self._poller.run(), name="telegram-polling")

    async def stop(self) -> None:
        self._receiving = False  # webhook deliveries from now on: 503, Telegram retries later
        if self._poller is not None and self._poll_task is not None:
            self._poller.stop()
            await self._poll_task
            self._poller = self._poll_task = None
        await self._webhook_idle.wait()  # deliveries already handed over finish first
        for chore in self._chores:
            chore.cancel()
        await asyncio.gather(*self._chores, *self._answers, return_exceptions=True)
        await self._close_session()

    def web_routes(self) -> list[tuple[str, str, Callable]]:
        if self.mode != "webhook":
            return []
        return [("POST", self.webhook_path, self._handle_webhook)]

    def parts(self, message: OutgoingMessage) -> list[OutgoingMessage]:
        """At most 4096 UTF-16 units of text each (Telegram counts in UTF-16 units)."""
        return message_parts(message, self.max_text_length)

    @staticmethod
    def thread_url(chat_id: str, thread_id: str) -> str | None:
        """t.me/c/<id>/<topic>: a forum topic (or a message) of a supergroup, for its members;
        other chats have no such address."""
        if not chat_id.startswith("-100") or not thread_id.isdigit():
            return None
        return f"https://t.me/c/{chat_id[4:]}/{thread_id}"

    async def open_thread(self, message: OutgoingMessage) -> str | None:
        return await self.sender.open_thread(message)

    async def send(self, message: OutgoingMessage, idempotency_key: str) -> SentMessage:
        return await self.sender.send(message, idempotency_key)

    async def download(self, attachment: Attachment) -> bytes:
        if not attachment.file_id:
            raise PermanentSendError("the attachment has no Telegram file id")
        if attachment.size is not None and attachment.size > DOWNLOAD_LIMIT:
            raise PermanentSendError("Telegram lets bots download files up to 20 MB only")
        with send_errors():
            buffer = await self.bot.download(attachment.file_id, timeout=DOWNLOAD_TIMEOUT)
        assert buffer is not None  # no destination given: aiogram returns a BytesIO
        return buffer.read()

    # -- receiving

    async def _deliver_batch(self, items: list[Received]) -> None:
        """Hand over a whole batch at once, in update order. The engine's intake keeps each
        sender's messages in the order they were handed over and commits what queues up
        together (group commit): a staff chat's replies, one agent's included, no longer wait
        for each other's commit. Raises if any was not handled."""
        outcomes = await asyncio.gather(
            *(self._deliver(item) for item in items), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _deliver(self, item: Received) -> None:
        assert self._on_message is not None
        await self._on_message(item.message)
        if item.callback_query_id is not None:
            # Stops the spinner on the pressed button; not worth holding the delivery for.
            self._spawn(self._answers, self._answer_callback(item.callback_query_id))

    async def _handle_webhook(self, request: web.Request) -> web.Response:
        self._webhook_requests += 1
        self._webhook_idle.clear()
        try:
            return await self._handle_update_request(request)
        finally:
            self._webhook_requests -= 1
            if self._webhook_requests == 0:
                self._webhook_idle.set()

    async def _handle_update_request(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not self._webhook_secret or not hmac.compare_digest(given, self._webhook_secret):
            log.warning(
                "webhook request with a wrong secret token refused",
                extra={"remote": request.remote},
            )
            return web.Response(status=401, text="unauthorized")
        telemetry.count("channel_contact", channel=self.name)  # Telegram reached us
        if not self._receiving or self._on_message is None:
            return web.Response(status=503, text="not receiving")
        try:
            body = await request.text()
            update = Update.model_validate(json.loads(body), context={"bot": self.bot})
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400, text="not JSON")
        except ValidationError:
            # Telegram would deliver it again and again: take it, say so in the log.
            log.exception("webhook update could not be read; skipped")
            return web.Response(text="skipped")
        try:
            received = convert_update(update, self.name)
        except Exception:  # noqa: BLE001 - same: a strange update must not come back forever
            log.exception(
                "webhook update could not be read; skipped", extra={"update_id": update.update_id}
            )
            return web.Response(text="skipped")
        if received is None:
            return web.Response(text="ignored")
        try:
            if received.album is not None:
                await self._webhook_albums.deliver(received, body, self._deliver)
            else:
                await self._deliver(received)
        except Exception:  # noqa: BLE001 - not committed: Telegram delivers it again
            log.exception("webhook update not handled", extra={"update_id": update.update_id})
            return web.Response(status=500, text="not handled")
        return web.Response(text="ok")

    def _read_staged(self, body: str) -> Received | None:
        """An album part staged by `_handle_update_request` (here or in another process)."""
        update = Update.model_validate(json.loads(body), context={"bot": self.bot})
        return convert_update(update, self.name)

    # -- background work

    async def _set_webhook(self) -> None:
        """Register the webhook; retried until it works (Telegram may be unreachable at
        start-up, which must not keep the rest of the helpdesk from running)."""
        delay = self._retry_delay
        while True:
            try:
                await self.bot.set_webhook(
                    url=self.webhook_url,
                    secret_token=self._webhook_secret.decode(),
                    allowed_updates=ALLOWED_UPDATES,
                    drop_pending_updates=False,
                )
            except Exception as error:  # noqa: BLE001 - keep trying, loudly
                log.error(
                    "setWebhook failed; retrying",
                    extra={"error": f"{type(error).__name__}: {error}", "retry_in": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            log.info("webhook set", extra={"url": self.webhook_url})
            return

    async def _check_staff_chat(self, chat_id: str) -> None:
        try:
            is_forum = await self.sender.is_forum(
                int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
            )
        except Exception as error:  # noqa: BLE001 - only a diagnostic
            log.warning(
                "cannot look at the staff chat; is the bot a member?",
                extra={"chat_id": chat_id, "error": str(error)},
            )
            return
        layout = "a forum topic per ticket" if is_forum else "reply chains (not a forum)"
        log.info("staff chat checked", extra={"chat_id": chat_id, "tickets_as": layout})

    async def _answer_callback(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(query_id)
        except Exception as error:  # noqa: BLE001 - e.g. a repeat after the query expired
            log.info("callback query not answered", extra={"error": str(error)})

    @staticmethod
    def _spawn(tasks: set[asyncio.Task], work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _close_session(self) -> None:
        client = getattr(self.bot.session, "_session", None)
        if self._plain_http and client is not None:
            # AiohttpSession.close() sleeps 250 ms for TLS connections to close: none here.
            await client.close()
        else:
            await self.bot.session.close()
