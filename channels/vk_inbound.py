"""VK events -> normalized `IncomingMessage`s, and handing them to the core.

Bots Long Poll and the Callback API deliver the same event objects, so both modes share this:
`VkEventParser` is pure (one event dict in, one message or nothing out); `VkInbound` resolves
sender names, calls `on_message` for a batch and answers button presses once they are handled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from vkbottle import API

from core.messages import Attachment, ConversationRef, IncomingMessage, Sender

log = logging.getLogger(__name__)

CHAT_PEER_OFFSET = 2_000_000_000
# client_info.lang_id: the interface language of the user's VK client.
VK_LANGUAGES = {0: "ru", 1: "uk", 2: "be", 3: "en", 4: "es", 5: "fi", 6: "de", 7: "it"}
NAME_CACHE_SIZE = 50_000

VkEvent = dict[str, Any]


def is_chat_peer(peer_id: int) -> bool:
    """Group chats have peer ids 2000000000 + chat_id; users have positive ids below that."""
    return peer_id > CHAT_PEER_OFFSET


@dataclass(frozen=True)
class ButtonPress:
    """A callback button press still to be answered (messages.sendMessageEventAnswer), or the
    user's VK client keeps a spinner on the button."""

    event_id: str
    user_id: int
    peer_id: int


@dataclass(frozen=True)
class ParsedEvent:
    message: IncomingMessage
    press: ButtonPress | None = None


class VkEventParser:
    def __init__(self, channel: str, group_id: int) -> None:
        self.channel = channel
        self.group_id = group_id
        # In chats a bot is often addressed as "[club1|@helpdesk] /close": drop that prefix.
        self._own_mention = re.compile(rf"^\[(?:club|public){group_id}\|[^\]]*\][\s,:]*")

    def parse(self, event: VkEvent) -> ParsedEvent | None:
        """The message an event stands for; None for events the helpdesk does not handle (the
        bot's own messages, other bots, service messages, other event types)."""
        kind = event.get("type")
        update_id = str(event.get("event_id") or "")
        obj = event.get("object") or {}
        if not update_id:
            return None
        if kind == "message_new":
            return self._message_new(update_id, obj)
        if kind == "message_edit":
            # The object is the message itself, as it reads now.
            edited = self._message_new(update_id, {"message": obj})
            if edited is None or edited.message.button_payload:
                return None
            return ParsedEvent(replace(edited.message, edited=True))
        if kind == "message_event":
            return self._message_event(update_id, obj)
        return None

    def _message_new(self, update_id: str, obj: dict[str, Any]) -> ParsedEvent | None:
        message = obj.get("message") or {}
        from_id = int(message.get("from_id") or 0)
        peer_id = int(message.get("peer_id") or 0)
        if from_id <= 0 or message.get("out") or message.get("action") or not peer_id:
            return None  # our own or another community's message, or "user joined" and the like
        in_chat = is_chat_peer(peer_id)
        text = str(message.get("text") or "")
        if in_chat:
            text = self._own_mention.sub("", text, count=1)
        client_info = obj.get("client_info") or {}
        return ParsedEvent(
            IncomingMessage(
                update_id=update_id,
                conversation=ConversationRef(self.channel, str(peer_id)),
                sender=Sender(
                    external_id=str(from_id),
                    language_hint=VK_LANGUAGES.get(client_info.get("lang_id")),
                ),
                text=text,
                message_id=_message_key(message, in_chat),
                reply_to_message_id=_reply_key(message.get("reply_message"), in_chat),
                button_payload=button_command(message.get("payload")),
                attachments=tuple(self._attachments(message.get("attachments") or ())),
                is_private=not in_chat,
                received_at=_timestamp(message.get("date")),
            )
        )

    def _message_event(self, update_id: str, obj: dict[str, Any]) -> ParsedEvent | None:
        user_id = int(obj.get("user_id") or 0)
        peer_id = int(obj.get("peer_id") or 0)
        command = button_command(obj.get("payload"))
        if user_id <= 0 or not peer_id or command is None:
            return None
        in_chat = is_chat_peer(peer_id)
        cmid = obj.get("conversation_message_id")
        message = IncomingMessage(
            update_id=update_id,
            conversation=ConversationRef(self.channel, str(peer_id)),
            sender=Sender(external_id=str(user_id)),
            # In a chat, an answer goes under the message whose button was pressed.
            message_id=str(cmid) if in_chat and cmid else None,
            button_payload=command,
            is_private=not in_chat,
        )
        press_id = obj.get("event_id")
        press = ButtonPress(str(press_id), user_id, peer_id) if press_id else None
        return ParsedEvent(message, press)

    def _attachments(self, items: Iterable[dict[str, Any]]) -> Iterable[Attachment]:
        for item in items:
            attachment = parse_attachment(item, self.channel)
            if attachment is None:
                log.info("vk attachment type not carried", extra={"vk_type": item.get("type")})
            else:
                yield attachment


def button_command(payload: Any) -> str | None:
    """A button's payload as a command string. Our buttons carry {"command": "/helped 3"}; VK's
    own "Start" button sends {"command": "start"}, which becomes "/start"."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    if not isinstance(payload, dict):
        return None
    command = payload.get("command")
    if not isinstance(command, str) or not command.strip():
        return None
    command = command.strip()
    return command if command.startswith("/") else f"/{command}"


def parse_attachment(item: dict[str, Any], channel: str) -> Attachment | None:
    kind = item.get("type")
    body = item.get(kind) if isinstance(kind, str) else None
    parse = _PARSERS.get(kind) if isinstance(body, dict) else None
    if parse is None:
        return None
    return parse(kind, body, attachment_string(kind, body), channel)


def _photo(kind: str, body: dict[str, Any], file_id: str | None, channel: str) -> Attachment:
    sizes = [s for s in body.get("sizes") or () if s.get("url")]
    largest = max(sizes, key=lambda s: (s.get("width") or 0) * (s.get("height") or 0), default=None)
    url = (largest or {}).get("url") or (body.get("orig_photo") or {}).get("url")
    return Attachment(
        "photo", file_id, f"photo{body.get('id')}.jpg", "image/jpeg", None, url, channel
    )


def _document(kind: str, body: dict[str, Any], file_id: str | None, channel: str) -> Attachment:
    title = str(body.get("title") or f"doc{body.get('id')}")
    extension = str(body.get("ext") or "")
    if extension and not title.lower().endswith(f".{extension.lower()}"):
        title = f"{title}.{extension}"
    mime = mimetypes.guess_type(title)[0] or "application/octet-stream"
    return Attachment("document", file_id, title, mime, body.get("size"), body.get("url"), channel)


def _voice(kind: str, body: dict[str, Any], file_id: str | None, channel: str) -> Attachment:
    url = body.get("link_ogg") or body.get("link_mp3")
    return Attachment("voice", file_id, "voice.ogg", "audio/ogg", None, url, channel)


def _media(kind: str, body: dict[str, Any], file_id: str | None, channel: str) -> Attachment:
    # VK does not hand out video files; such a file is only re-sendable within VK.
    return Attachment(kind, file_id, body.get("title"), None, None, body.get("url"), channel)


def _sticker(
    kind: str, body: dict[str, Any], file_id: str | None, channel: str
) -> Attachment | None:
    images = body.get("images") or ()
    largest = max(images, key=lambda i: i.get("width") or 0, default=None)
    if largest is None or not largest.get("url"):
        return None
    return Attachment("sticker", None, "sticker.png", "image/png", None, largest["url"], channel)


_PARSERS: dict[str, Callable[..., Attachment | None]] = {
    "photo": _photo,
    "doc": _document,
    "audio_message": _voice,
    "video": _media,
    "audio": _media,
    "sticker": _sticker,
}


def attachment_string(kind: str, body: dict[str, Any]) -> str | None:
    """VK's "photo-1_456_accesskey" form; without "_None" when there is no access key."""
    owner, media = body.get("owner_id"), body.get("id")
    if owner is None or media is None:
        return None
    key = body.get("access_key")
    return f"{kind}{owner}_{media}" + (f"_{key}" if key else "")


def _message_key(message: dict[str, Any], in_chat: bool) -> str | None:
    """A community bot sees id = 0 in chats: there the conversation_message_id is the key."""
    value = message.get("conversation_message_id") if in_chat else message.get("id")
    return str(value) if value else None


def _reply_key(replied: dict[str, Any] | None, in_chat: bool) -> str | None:
    if not replied:
        return None
    if in_chat:
        value = replied.get("conversation_message_id")
    else:
        value = replied.get("id") or replied.get("conversation_message_id")
    return str(value) if value else None


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


class UserNames:
    """Display names of VK users (events carry only ids), fetched in one users.get per batch
    and kept in memory. A failed look-up never holds a message up: the name stays empty."""

    def __init__(self, api: API) -> None:
        self.api = api
        self._names: dict[int, str] = {}

    async def resolve(self, user_ids: Iterable[int]) -> dict[int, str]:
        wanted = {uid for uid in user_ids if uid > 0}
        missing = sorted(wanted - self._names.keys())
        if missing:
            await self._fetch(missing)
        return {uid: self._names.get(uid, "") for uid in wanted}

    async def _fetch(self, user_ids: list[int]) -> None:
        try:
            response = await self.api.request("users.get", {"user_ids": user_ids})
        except Exception as error:  # noqa: BLE001 - a name is nice to have, never required
            log.warning("vk users.get failed", extra={"error": repr(error)})
            return
        if len(self._names) > NAME_CACHE_SIZE:
            self._names.clear()
        for user in response.get("response") or ():
            name = " ".join(filter(None, (user.get("first_name"), user.get("last_name"))))
            self._names[int(user["id"])] = name


InboundHandler = Callable[[IncomingMessage], Awaitable[None]]


class VkInbound:
    """Hands a batch of events to the core. Returns only when every message of the batch was
    handled; raises if any could not be (then the batch must not be acknowledged to VK)."""

    def __init__(self, parser: VkEventParser, api: API, on_message: InboundHandler) -> None:
        self.parser = parser
        self.api = api
        self.on_message = on_message
        self.names = UserNames(api)

    async def deliver(self, events: Sequence[VkEvent]) -> None:
        parsed = [p for p in map(self._parse, events) if p is not None]
        if not parsed:
            return
        names = await self.names.resolve(int(p.message.sender.external_id) for p in parsed)
        # Started in order: the core keeps each user's messages in that order and handles
        # different users' messages together (one transaction for the batch).
        results = await asyncio.gather(
            *(self._handle(p, names) for p in parsed), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    def _parse(self, event: VkEvent) -> ParsedEvent | None:
        try:
            return self.parser.parse(event)
        except Exception:  # noqa: BLE001 - a malformed event must not block the ones after it
            # A callback event carries the community's secret: never log it.
            shown = (
                {k: v for k, v in event.items() if k != "secret"}
                if isinstance(event, dict)
                else event
            )
            log.exception("vk event could not be parsed", extra={"vk_event": shown})
            return None

    async def _handle(self, parsed: ParsedEvent, names: dict[int, str]) -> None:
        message = parsed.message
        name = names.get(int(message.sender.external_id), "")
        if name:
            sender = dataclasses.replace(message.sender, display_name=name)
            message = dataclasses.replace(message, sender=sender)
        await self.on_message(message)
        if parsed.press is not None:
            await self._answer(parsed.press)

    async def _answer(self, press: ButtonPress) -> None:
        """Stop the button's spinner. The press is already handled, so a failure here is only
        cosmetic: logged, not retried."""
        try:
            await self.api.request(
                "messages.sendMessageEventAnswer",
                {"event_id": press.event_id, "user_id": press.user_id, "peer_id": press.peer_id},
            )
        except Exception as error:  # noqa: BLE001
            log.warning("vk button press not answered", extra={"error": repr(error)})
