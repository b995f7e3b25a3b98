"""Outgoing messages rendered for the Telegram Bot API.

Texts are plain and go out as HTML with everything escaped, so nothing a user or an agent writes
can break the formatting ("can't parse entities" is impossible). Buttons become an inline
keyboard; files go by file_id when they are Telegram's own, otherwise they are uploaded. A staff
announcement of a ticket opens a forum topic of its own when the staff chat is a forum.
"""

from __future__ import annotations

import html
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    ReplyParameters,
)

from channels.telegram_errors import send_errors
from core.messages import Attachment, Button, OutgoingMessage, SentMessage
from core.ports import PermanentSendError, ThreadGone
from core.text import utf16_len

log = logging.getLogger(__name__)

CAPTION_LIMIT = 1024  # UTF-16 units of the visible text
ALBUM_LIMIT = 10  # files in one sendMediaGroup
TOPIC_NAME_LIMIT = 128
CALLBACK_DATA_LIMIT = 64  # bytes
PHOTO_UPLOAD_LIMIT = 10 * 1024 * 1024  # bigger pictures must go as documents
FORUM_CHECK_TTL = 600.0  # seconds a chat's "is a forum" answer is trusted
_MEMORY = 1024  # entries kept in the small in-memory maps below

_MEDIA_INPUT = {
    "photo": InputMediaPhoto,
    "video": InputMediaVideo,
    "document": InputMediaDocument,
    "audio": InputMediaAudio,
}
# Which files may share one album (Telegram: photos with videos; documents only with documents;
# audio only with audio; voice messages never).
_ALBUM_FAMILY = {"photo": "visual", "video": "visual", "document": "document", "audio": "audio"}
_DEFAULT_NAMES = {
    "photo": "photo.jpg",
    "video": "video.mp4",
    "voice": "voice.ogg",
    "audio": "audio.mp3",
    "document": "file",
}


@dataclass(frozen=True)
class _Target:
    """Where every Bot API call of one outgoing message goes."""

    chat_id: int | str
    thread_id: int | None
    reply_to: int | None

    def kwargs(self) -> dict[str, Any]:
        reply = (
            ReplyParameters(message_id=self.reply_to, allow_sending_without_reply=True)
            if self.reply_to is not None
            else None
        )
        return {
            "chat_id": self.chat_id,
            "message_thread_id": self.thread_id,
            "reply_parameters": reply,
        }


@dataclass(frozen=True)
class _File:
    kind: str  # the Bot API media kind: photo, video, document, audio, voice
    media: str | InputFile  # a file_id, an http(s) URL, or an upload


class TelegramSender:
    """Delivers one `OutgoingMessage` (already split to 4096 characters) per `send` call."""

    def __init__(
        self,
        bot: Bot,
        channel: str,
        use_topics: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.channel = channel
        self.use_topics = use_topics
        self._clock = clock
        self._forums: dict[int | str, tuple[bool, float]] = {}  # chat -> (is forum, checked at)
        # (chat, ticket) -> topic: parts and retries of an announcement reuse the topic it opened.
        self._topics: OrderedDict[tuple[int | str, int], int] = OrderedDict()
        # idempotency key -> the message ids of each file unit already sent (empty: refused), so
        # a retry after a failure half-way does not post the same files twice.
        self._progress: OrderedDict[str, list[list[int]]] = OrderedDict()

    async def send(self, message: OutgoingMessage, idempotency_key: str) -> SentMessage:
        target = _target_of(message)
        if message.edit_of is not None and await self._edited(message, target):
            return SentMessage(message.edit_of)
        if await self._opens_topic(message, target):
            return await self._send_into_new_topic(message, target, idempotency_key)
        try:
            message_ids = await self._deliver(message, target, idempotency_key)
        except ThreadGone:
            self._forget_topic(target.chat_id, target.thread_id)
            raise
        return _sent(message_ids)

    async def open_thread(self, message: OutgoingMessage) -> str | None:
        """The forum topic of a ticket's announcement, opened before the announcement is sent
        (see `core.ports.ChannelAdapter.open_thread`); None without topics."""
        target = _target_of(message)
        if not await self._opens_topic(message, target):
            return None
        topic = await self._topic_for(message, target.chat_id)
        return str(topic) if topic is not None else None

    async def is_forum(self, chat_id: int | str) -> bool:
        """Whether the chat is a forum supergroup (getChat, remembered for a while)."""
        cached = self._forums.get(chat_id)
        now = self._clock()
        if cached is not None and now - cached[1] < FORUM_CHECK_TTL:
            return cached[0]
        with send_errors():
            chat = await self.bot.get_chat(chat_id)
        is_forum = bool(chat.is_forum)
        self._forums[chat_id] = (is_forum, now)
        return is_forum

    # -- forum topics

    async def _opens_topic(self, message: OutgoingMessage, target: _Target) -> bool:
        """A ticket's announcement in the staff chat: not yet in a thread, not a reply to an
        earlier announcement (a ticket announced before topics were on keeps its reply chain)."""
        announcement = (
            message.to_staff
            and message.ticket_id is not None
            and target.thread_id is None
            and target.reply_to is None
        )
        return announcement and self.use_topics and await self.is_forum(target.chat_id)

    async def _send_into_new_topic(
        self, message: OutgoingMessage, target: _Target, key: str
    ) -> SentMessage:
        for _ in range(2):  # a remembered topic may have been deleted since: then open a new one
            topic = await self._topic_for(message, target.chat_id)
            if topic is None:  # topics turned out impossible: the chat itself, as a reply chain
                return _sent(await self._deliver(message, target, key))
            try:
                message_ids = await self._deliver(message, replace(target, thread_id=topic), key)
            except ThreadGone:
                self._forget_topic(target.chat_id, topic)
                continue
            return _sent(message_ids, thread_id=str(topic))
        raise ThreadGone("the new forum topic was gone at once")

    async def _topic_for(self, message: OutgoingMessage, chat_id: int | str) -> int | None:
        assert message.ticket_id is not None
        key = (chat_id, message.ticket_id)
        if key in self._topics:
            return self._topics[key]
        try:
            with send_errors():
                topic = await self.bot.create_forum_topic(chat_id, _topic_name(message))
        except PermanentSendError as error:
            # E.g. the bot may not manage topics, or topics were switched off: the ticket still
            # reaches the staff, as a plain message.
            log.warning(
                "cannot open a forum topic; posting in the chat itself",
                extra={"chat_id": chat_id, "ticket_id": message.ticket_id, "error": str(error)},
            )
            self._forums[chat_id] = (False, self._clock())
            return None
        log.info(
            "forum topic opened",
            extra={
                "chat_id": chat_id,
                "ticket_id": message.ticket_id,
                "topic": topic.message_thread_id,
            },
        )
        _remember(self._topics, key, topic.message_thread_id)
        return topic.message_thread_id

    def _forget_topic(self, chat_id: int | str, topic: int | None) -> None:
        if topic is None:
            return
        for key in [k for k, v in self._topics.items() if k[0] == chat_id and v == topic]:
            del self._topics[key]

    # -- delivery

    async def _deliver(self, message: OutgoingMessage, target: _Target, key: str) -> list[int]:
        """Send the text and files; returns the ids of every message sent, first the one that
        stands for it all (the one replies are expected to: the text, or the captioned file)."""
        files = [f for f in (self._file(a) for a in message.attachments) if f is not None]
        markup = _keyboard(message.buttons)
        text = message.text if message.text.strip() else ""
        if not files:
            if not text:
                raise PermanentSendError("nothing to send: no text and no file")
            return [await self._send_text(text, markup, target)]
        units = _album_units(files)
        as_caption = (
            bool(text)
            and utf16_len(text) <= CAPTION_LIMIT
            and len(units) == 1
            and (len(units[0]) == 1 or markup is None)  # albums cannot carry a keyboard
        )
        try:
            done = await self._send_units(units, text, markup, target, key, as_caption)
            sent_ids = [message_id for ids in done for message_id in ids]
            if text and not (as_caption and all(done)):
                result = [await self._send_text(text, markup, target), *sent_ids]
            elif sent_ids:
                result = sent_ids
            else:
                raise PermanentSendError("Telegram refused every file of the message")
        except ThreadGone:
            self._progress.pop(key, None)  # it all goes again, into a new topic
            raise
        self._progress.pop(key, None)
        return result

    async def _send_units(
        self,
        units: list[list[_File]],
        text: str,
        markup: InlineKeyboardMarkup | None,
        target: _Target,
        key: str,
        as_caption: bool,
    ) -> list[list[int]]:
        """Each file unit (a file or an album) in order, after those an earlier attempt of this
        very message sent; per unit the ids of its messages (none when its file was refused)."""
        done = self._progress.get(key, [])
        for index in range(len(done), len(units)):
            unit = units[index]
            as_caption = as_caption and all(done)
            last = index == len(units) - 1
            alone = as_caption or not text
            unit_markup = markup if last and alone and len(unit) == 1 else None
            caption = text if as_caption else ""
            done = [*done, await self._send_unit(unit, caption, unit_markup, target)]
            _remember(self._progress, key, done)
        return done

    async def _send_unit(
        self,
        unit: list[_File],
        caption: str,
        markup: InlineKeyboardMarkup | None,
        target: _Target,
    ) -> list[int]:
        try:
            return await self._send_files(unit, caption, markup, target)
        except PermanentSendError as error:
            if not _file_refused(error):
                raise
            # A file Telegram will not take must not cost the words that came with it.
            log.warning(
                "Telegram refused a file; sending the rest",
                extra={"error": str(error), "kinds": [f.kind for f in unit]},
            )
            return []

    async def _edited(self, message: OutgoingMessage, target: _Target) -> bool:
        """editMessageText of a message the bot sent; False when Telegram no longer lets it be
        edited (too old, deleted): the text then goes as a new message."""
        try:
            with send_errors():
                await self.bot.edit_message_text(
                    text=html.escape(message.text, quote=False),
                    parse_mode=ParseMode.HTML,
                    chat_id=target.chat_id,
                    message_id=int(message.edit_of or 0),
                )
        except PermanentSendError as error:
            if "not modified" in str(error):
                return True  # it already says that
            log.info("telegram message not editable; sending anew", extra={"error": str(error)})
            return False
        return True

    async def _send_text(
        self, text: str, markup: InlineKeyboardMarkup | None, target: _Target
    ) -> int:
        with send_errors():
            sent = await self.bot.send_message(
                text=html.escape(text, quote=False),
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                **target.kwargs(),
            )
        return sent.message_id

    async def _send_files(
        self,
        files: Sequence[_File],
        caption: str,
        markup: InlineKeyboardMarkup | None,
        target: _Target,
    ) -> list[int]:
        rendered = html.escape(caption, quote=False) if caption else None
        parse_mode = ParseMode.HTML if caption else None
        with send_errors():
            if len(files) > 1:
                media = [
                    _MEDIA_INPUT[f.kind](
                        media=f.media,
                        caption=rendered if i == 0 else None,
                        parse_mode=parse_mode if i == 0 else None,
                    )
                    for i, f in enumerate(files)
                ]
                sent = await self.bot.send_media_group(media=media, **target.kwargs())
                return [album_message.message_id for album_message in sent]
            file = files[0]
            method = getattr(self.bot, f"send_{file.kind}")
            single = await method(
                **{file.kind: file.media},
                caption=rendered,
                parse_mode=parse_mode,
                reply_markup=markup,
                **target.kwargs(),
            )
            return [single.message_id]

    def _file(self, attachment: Attachment) -> _File | None:
        """How the Bot API gets a file: its own file_id, the bytes carried from another
        platform, or a public URL; None (and a log line) when there is no way."""
        kind = attachment.kind if attachment.kind in _DEFAULT_NAMES else "document"
        if attachment.channel == self.channel and attachment.file_id:
            return _File(kind, attachment.file_id)
        if attachment.content is not None:
            kind = _upload_kind(kind, attachment)
            name = attachment.file_name or _DEFAULT_NAMES[kind]
            return _File(kind, BufferedInputFile(attachment.content, filename=name))
        if attachment.url and attachment.url.startswith(("https://", "http://")):
            return _File(kind, attachment.url)
        log.warning(
            "attachment has neither a Telegram file id nor content; left out",
            extra={"kind": attachment.kind, "file_channel": attachment.channel},
        )
        return None


def _target_of(message: OutgoingMessage) -> _Target:
    conversation = message.conversation
    return _Target(
        chat_id=_chat_id(conversation.chat_id),
        thread_id=int(conversation.thread_id) if conversation.thread_id else None,
        reply_to=int(message.reply_to_message_id) if message.reply_to_message_id else None,
    )


def _chat_id(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value  # "@channelusername"


def _topic_name(message: OutgoingMessage) -> str:
    name = " ".join((message.thread_title or "").split())[:TOPIC_NAME_LIMIT]
    return name or f"Ticket {message.ticket_id}"


def _keyboard(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    keyboard = []
    for row in rows:
        buttons = []
        for button in row:
            if len(button.payload.encode()) > CALLBACK_DATA_LIMIT:
                # Telegram would refuse the whole message; the text matters more.
                log.warning(
                    "button payload too long for Telegram; button left out",
                    extra={"payload": button.payload},
                )
                continue
            buttons.append(InlineKeyboardButton(text=button.label, callback_data=button.payload))
        if buttons:
            keyboard.append(buttons)
    return InlineKeyboardMarkup(inline_keyboard=keyboard) if keyboard else None


def _file_refused(error: PermanentSendError) -> bool:
    """Telegram refused the file itself (wrong type for the method, unknown id, bad image),
    not the chat: the rest of the message can still go."""
    cause = error.__cause__
    return isinstance(cause, TelegramBadRequest) and "chat not found" not in cause.message.lower()


def _upload_kind(kind: str, attachment: Attachment) -> str:
    """Uploads Telegram would refuse in their own kind go as documents."""
    size = len(attachment.content or b"")
    if kind == "photo" and size > PHOTO_UPLOAD_LIMIT:
        return "document"
    if kind == "voice" and (attachment.mime_type or "audio/ogg") not in ("audio/ogg", "audio/opus"):
        return "document"  # voice messages must be OGG/Opus
    return kind


def _album_units(files: Sequence[_File]) -> list[list[_File]]:
    """Consecutive files that may share an album, in albums of at most 10; the rest alone."""
    units: list[list[_File]] = []
    for file in files:
        family = _ALBUM_FAMILY.get(file.kind)
        previous = units[-1] if units else None
        fits = (
            previous is not None
            and family is not None
            and _ALBUM_FAMILY.get(previous[0].kind) == family
            and len(previous) < ALBUM_LIMIT
        )
        if fits:
            previous.append(file)
        else:
            units.append([file])
    return units


def _sent(message_ids: list[int], thread_id: str | None = None) -> SentMessage:
    first, *others = (str(message_id) for message_id in message_ids)
    return SentMessage(first, thread_id=thread_id, other_ids=tuple(others))


def _remember(memory: OrderedDict, key: Any, value: Any) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > _MEMORY:
        memory.popitem(last=False)
