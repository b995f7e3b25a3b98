"""The VK channel: a community bot through vkbottle's API client.

Receives by Bots Long Poll (our own loop, `vk_longpoll`) or by the Callback API (an aiohttp
route, `vk_callback`); both hand events to `vk_inbound`. Sends with messages.send: a
deterministic random_id makes a resend after a crash a no-op on VK's side; in group chats the
returned message id is the conversation_message_id, because that is what replies carry. VK has
no threads: in the staff chat a ticket is a reply chain under its announcement.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Literal

import aiohttp
from vkbottle import API, VKAPIError
from vkbottle.api.request_rescheduler import ABCRequestRescheduler
from vkbottle.http import AiohttpClient

from channels.parts import message_parts
from channels.vk_callback import VkCallbackEndpoint
from channels.vk_files import MAX_DOC_SIZE, VkFiles
from channels.vk_inbound import VkEventParser, VkInbound, is_chat_peer
from channels.vk_longpoll import VkLongPoll
from channels.vk_outbound import (
    VkUnavailable,
    as_send_error,
    error_for_code,
    random_id_for,
    render_keyboard,
    reply_params,
)
from core.messages import Attachment, OutgoingMessage, SentMessage
from core.ports import ChannelMemory, InboundHandler, PermanentSendError, RateLimits, ThreadGone

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.vk.ru"
STOP_GRACE_SECONDS = 30.0  # how long stop() lets a batch being handled finish
INVALID_PARAMETER = 100  # VK's error code for a request it cannot make sense of


class _FailFast(ABCRequestRescheduler):
    """vkbottle's default rescheduler repeats a request that got a non-JSON answer (an error
    page) forever, sleeping ever longer: it would hold the outbox. Fail instead; the outbox
    retries with backoff and the long poll loop backs off."""

    async def reschedule(self, ctx_api: Any, method: str, data: dict, recent_response: Any) -> dict:
        raise VkUnavailable(f"VK answered {method} with a non-JSON response")


class VkChannel:
    max_text_length = 4096
    max_file_size = MAX_DOC_SIZE
    # VK allows about 20 requests/s for a community token; one message a second per chat keeps
    # a busy chat from flooding.
    rate_limits = RateLimits(per_chat=1, per_chat_window=1.0, overall=20)

    def __init__(
        self,
        token: str,
        group_id: int,
        mode: Literal["longpoll", "callback"] = "longpoll",
        api_base_url: str = DEFAULT_API_BASE_URL,
        callback_path: str = "/vk/callback",
        confirmation_code: str | None = None,
        secret: str | None = None,
        *,
        name: str = "vk",
        long_poll_wait: int = 25,
        request_timeout: float = 30.0,
        rate_limits: RateLimits | None = None,
    ) -> None:
        if mode not in ("longpoll", "callback"):
            raise ValueError(f'mode must be "longpoll" or "callback", got {mode!r}')
        if mode == "callback" and not (confirmation_code and secret):
            raise ValueError("the callback mode needs confirmation_code and secret")
        self.name = name
        self.group_id = group_id
        self.mode = mode
        self.callback_path = callback_path
        self.long_poll_wait = long_poll_wait
        if rate_limits is not None:
            self.rate_limits = rate_limits
        http = AiohttpClient(timeout=aiohttp.ClientTimeout(total=request_timeout, sock_connect=10))
        self.api = API(token, http_client=http, request_rescheduler=_FailFast())
        self.api.API_URL = f"{api_base_url.rstrip('/')}/method/"
        self.files = VkFiles(self.api, name)
        self._parser = VkEventParser(name, group_id)
        self._callback = (
            VkCallbackEndpoint(group_id, confirmation_code, secret, name)
            if mode == "callback" and confirmation_code and secret
            else None
        )
        self._stopping = asyncio.Event()
        self._poll_task: asyncio.Task | None = None
        self.long_poll: VkLongPoll | None = None  # the running loop, in long poll mode

    # -- receiving

    async def start(self, on_message: InboundHandler, memory: ChannelMemory | None = None) -> None:
        inbound = VkInbound(self._parser, self.api, on_message)
        if self._callback is not None:
            self._callback.open(inbound.deliver)
            log.info("vk callback endpoint open", extra={"path": self.callback_path})
            return
        self._stopping.clear()
        poll = VkLongPoll(
            self.api,
            self.group_id,
            inbound.deliver,
            wait=self.long_poll_wait,
            memory=memory,
            channel=self.name,
        )
        self.long_poll = poll
        self._poll_task = asyncio.create_task(poll.run(self._stopping), name="vk-long-poll")
        log.info("vk long poll started", extra={"group_id": self.group_id})

    async def stop(self) -> None:
        """Stop receiving and let what is being handled finish. Sending still works (the outbox
        may drain after the channels stopped); `close()` releases the HTTP session at the end."""
        if self._callback is not None:
            await self._callback.close()
        if self._poll_task is not None:
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._poll_task), STOP_GRACE_SECONDS)
            except TimeoutError:
                log.warning("vk long poll did not stop in time; cancelled")
                self._poll_task.cancel()
                await asyncio.gather(self._poll_task, return_exceptions=True)
            self._poll_task = None

    async def close(self) -> None:
        """Stop and release the HTTP session."""
        await self.stop()
        await self.api.http_client.close()

    def web_routes(self) -> list[tuple[str, str, Callable]]:
        if self._callback is None:
            return []
        return [("POST", self.callback_path, self._callback.handle)]

    # -- sending

    async def open_thread(self, message: OutgoingMessage) -> str | None:
        return None  # VK has reply chains, no threads

    def parts(self, message: OutgoingMessage) -> list[OutgoingMessage]:
        return message_parts(message, self.max_text_length)

    async def send(self, message: OutgoingMessage, idempotency_key: str) -> SentMessage:
        try:
            peer_id = int(message.conversation.chat_id)
        except ValueError:
            raise PermanentSendError(
                f"not a VK peer id: {message.conversation.chat_id!r}"
            ) from None
        in_chat = is_chat_peer(peer_id)
        if message.edit_of is not None and await self._edited(message, peer_id, in_chat):
            return SentMessage(message_id=message.edit_of)
        try:
            attachments = await self.files.attachment_strings(message.attachments, peer_id)
            params: dict[str, Any] = {
                "random_id": random_id_for(idempotency_key, peer_id, message.text),
                "message": message.text or None,
                "attachment": ",".join(attachments) or None,
                "keyboard": render_keyboard(message.buttons),
                "disable_mentions": 1,  # user text saying "@all" must not ping the staff chat
                # peer_ids makes VK answer with the conversation_message_id, the only id a
                # community has for a message in a chat.
                "peer_ids" if in_chat else "peer_id": peer_id,
            }
            reply = reply_params(peer_id, in_chat, message.reply_to_message_id)
            response = await self._send_replying(message, params, reply)
        except Exception as error:  # noqa: BLE001 - mapped onto the outbox's error types
            mapped = as_send_error(error)
            if mapped is error:
                raise
            raise mapped from error
        return SentMessage(message_id=_sent_id(response, in_chat))

    async def _edited(self, message: OutgoingMessage, peer_id: int, in_chat: bool) -> bool:
        """messages.edit of a message the community sent; False when VK refuses (too old,
        deleted): the text then goes as a new message."""
        key = "conversation_message_id" if in_chat else "message_id"
        params = {"peer_id": peer_id, key: message.edit_of, "message": message.text}
        try:
            await self.api.request("messages.edit", params)
        except VKAPIError as error:
            log.info("vk message not editable; sending anew", extra={"error": str(error)})
            return False
        except Exception as error:  # noqa: BLE001 - mapped onto the outbox's error types
            mapped = as_send_error(error)
            if mapped is error:
                raise
            raise mapped from error
        return True

    async def _send_replying(
        self, message: OutgoingMessage, params: dict[str, Any], reply: dict[str, Any]
    ) -> Any:
        """messages.send as a reply when asked. VK refuses a reply to a message it no longer
        has (invalid parameter): a ticket's announcement deleted from the staff chat is like a
        deleted thread (ThreadGone: the outbox starts a new reply chain); any other reply is
        sent without its reference rather than lost."""
        try:
            return (await self.api.request("messages.send", params | reply))["response"]
        except VKAPIError as error:
            if not reply or getattr(error, "code", None) != INVALID_PARAMETER:
                raise
            if message.to_staff and message.ticket_id is not None:
                raise ThreadGone(f"VK refused the reply to the ticket's anchor: {error}") from error
            log.warning(
                "vk refused a reply reference; sending without it", extra={"error": str(error)}
            )
            return (await self.api.request("messages.send", params))["response"]

    async def download(self, attachment: Attachment) -> bytes:
        return await self.files.download(attachment)


def _sent_id(response: Any, in_chat: bool) -> str:
    if not in_chat:
        return str(response)
    item = response[0]
    error = item.get("error")
    if error:  # with peer_ids VK reports a per-peer failure inside a successful answer
        raise error_for_code(int(error.get("code") or 0), str(error.get("description") or ""))
    return str(item["conversation_message_id"])
