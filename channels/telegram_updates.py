"""Telegram updates (aiogram models) turned into normalized `IncomingMessage`s.

Pure functions, no I/O: the channel decides when to hand the result to the engine. Album parts
(several messages sharing a `media_group_id`) are converted one by one and later merged with
`merge_album`, so that an album becomes one message with all its files.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from aiogram.enums import ChatType, ContentType
from aiogram.types import CallbackQuery, Message, Update, User

from core.messages import Attachment, ConversationRef, IncomingMessage, Sender

log = logging.getLogger(__name__)

# Only these update kinds are requested from Telegram (getUpdates / setWebhook).
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]

# What people write; everything else (members joining, pins, topic edits...) is a service
# message the helpdesk has no use for. Contacts, locations, polls and the like are passed on
# without text, so the user hears that the bot only understands text and files.
_USER_CONTENT = frozenset(
    {
        ContentType.TEXT,
        ContentType.PHOTO,
        ContentType.DOCUMENT,
        ContentType.ANIMATION,
        ContentType.AUDIO,
        ContentType.VIDEO,
        ContentType.VIDEO_NOTE,
        ContentType.VOICE,
        ContentType.STICKER,
        ContentType.CONTACT,
        ContentType.LOCATION,
        ContentType.VENUE,
        ContentType.POLL,
        ContentType.DICE,
        ContentType.STORY,
    }
)


@dataclass(frozen=True)
class Received:
    """One converted update and what the channel still has to do for it after the commit."""

    message: IncomingMessage
    callback_query_id: str | None = None  # answer it (stops the button's spinner)
    album: tuple[str, str] | None = None  # (chat_id, media_group_id) for a part of an album


def convert_update(update: Update, channel: str) -> Received | None:
    """The normalized message of an update, or None when the helpdesk ignores it (other bots,
    service messages, update kinds it does not use)."""
    if update.message is not None:
        return _from_message(update.update_id, update.message, channel)
    if update.edited_message is not None:
        received = _from_message(update.update_id, update.edited_message, channel)
        if received is None or received.message.migrated_to_chat_id:
            return None
        # An edit stands alone, even of an album's caption: it is not merged with anything.
        return Received(replace(received.message, edited=True))
    if update.callback_query is not None:
        return _from_callback(update.update_id, update.callback_query, channel)
    return None


def merge_album(parts: Sequence[Received]) -> Received:
    """One message for an album: the first part's ids, every part's files, the caption(s)."""
    first = parts[0]
    if len(parts) == 1:
        return first
    captions = [p.message.text for p in parts if p.message.text.strip()]
    attachments = tuple(a for p in parts for a in p.message.attachments)
    message = replace(
        first.message,
        text="\n".join(captions),
        attachments=attachments,
        merged_update_ids=tuple(p.message.update_id for p in parts[1:]),
    )
    return replace(first, message=message)


def _from_message(update_id: int, message: Message, channel: str) -> Received | None:
    chat = message.chat
    conversation = ConversationRef(channel, str(chat.id), _thread_id(message))
    if message.migrate_to_chat_id is not None:
        return Received(_migration(update_id, message, conversation))
    if message.is_automatic_forward or message.content_type not in _USER_CONTENT:
        return None
    sender = _sender(message)
    if sender is None:
        return None
    text = message.text or message.caption or ""
    if message.sticker is not None:
        text = message.sticker.emoji or ""
    incoming = IncomingMessage(
        update_id=str(update_id),
        conversation=conversation,
        sender=sender,
        text=text,
        message_id=str(message.message_id),
        reply_to_message_id=_reply_to(message, conversation.thread_id),
        attachments=_attachments(message, channel),
        is_private=chat.type == ChatType.PRIVATE,
        received_at=message.date,
    )
    album = (str(chat.id), message.media_group_id) if message.media_group_id else None
    return Received(incoming, album=album)


def _from_callback(update_id: int, query: CallbackQuery, channel: str) -> Received | None:
    message = query.message
    if message is None or query.data is None or query.from_user.is_bot:
        return None  # a button under an inline-mode message: nothing of ours
    # An old message may be "inaccessible" (only chat and id); its thread is then unknown.
    thread_id = _thread_id(message) if isinstance(message, Message) else None
    incoming = IncomingMessage(
        update_id=str(update_id),
        conversation=ConversationRef(channel, str(message.chat.id), thread_id),
        sender=_person(query.from_user),
        message_id=str(message.message_id),
        button_payload=query.data,
        is_private=message.chat.type == ChatType.PRIVATE,
    )
    return Received(incoming, callback_query_id=query.id)


def _migration(update_id: int, message: Message, conversation: ConversationRef) -> IncomingMessage:
    """The group became a supergroup with a new id (sends to the old id fail from now on)."""
    user = message.from_user
    sender = _person(user) if user is not None else Sender(external_id=conversation.chat_id)
    return IncomingMessage(
        update_id=str(update_id),
        conversation=conversation.without_thread(),
        sender=sender,
        message_id=str(message.message_id),
        is_private=False,
        received_at=message.date,
        migrated_to_chat_id=str(message.migrate_to_chat_id),
    )


def _thread_id(message: Message) -> str | None:
    # message_thread_id also marks reply threads in ordinary groups: only forum topics count.
    if message.is_topic_message and message.message_thread_id is not None:
        return str(message.message_thread_id)
    return None


def _reply_to(message: Message, thread_id: str | None) -> str | None:
    replied = message.reply_to_message
    if replied is None:
        return None
    # In a forum, every message of a topic "replies" to the topic's creation message: that
    # only says "in this topic", which `thread_id` already carries.
    if thread_id is not None and str(replied.message_id) == thread_id:
        return None
    return str(replied.message_id)


def _sender(message: Message) -> Sender | None:
    """The person who wrote, or None for bots (this one included). An anonymous group admin
    writes as the group itself (from = @GroupAnonymousBot): staff may answer tickets that way."""
    user = message.from_user
    if user is None:
        return None
    if not user.is_bot:
        return _person(user)
    sender_chat = message.sender_chat
    if sender_chat is not None and sender_chat.id == message.chat.id:
        name = message.author_signature or sender_chat.title or ""
        return Sender(external_id=str(sender_chat.id), display_name=name)
    return None


def _person(user: User) -> Sender:
    return Sender(
        external_id=str(user.id),
        display_name=user.full_name,
        language_hint=user.language_code,
        username=user.username,
    )


def _attachments(message: Message, channel: str) -> tuple[Attachment, ...]:
    files: list[Attachment] = []
    if message.photo:
        # Telegram lists every size it made; the largest is the picture itself.
        largest = max(
            message.photo, key=lambda size: (size.width * size.height, size.file_size or 0)
        )
        files.append(
            Attachment(
                kind="photo",
                file_id=largest.file_id,
                mime_type="image/jpeg",
                size=largest.file_size,
                channel=channel,
            )
        )
    # An animation also arrives as `document`, which is how it is re-sent (sendDocument).
    media = (
        ("document", message.document),
        ("audio", message.audio),
        ("video", message.video),
        ("video", message.video_note),
        ("voice", message.voice),
    )
    for kind, item in media:
        if item is None:
            continue
        files.append(
            Attachment(
                kind=kind,
                file_id=item.file_id,
                file_name=getattr(item, "file_name", None),
                mime_type=getattr(item, "mime_type", None),
                size=item.file_size,
                channel=channel,
            )
        )
    return tuple(files)
