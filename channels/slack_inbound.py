"""Slack events and button presses as normalized `IncomingMessage`s.

Pure functions of the payloads, plus `UserDirectory`, which looks people up (users.info) once
and shares the answer with every message waiting for it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from channels.slack_format import unescape
from core.messages import Attachment, ConversationRef, IncomingMessage, Sender

log = logging.getLogger(__name__)

CHANNEL = "slack"
# Message subtypes that are a person writing; edits, deletions, joins, bot posts are not.
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})
# File entries without content: deleted, or beyond the workspace's plan limits.
_UNAVAILABLE_FILE_MODES = frozenset({"tombstone", "hidden_by_limit"})


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is (auth.test), to recognise its own messages."""

    user_id: str | None
    bot_id: str | None


def is_person_message(event: Mapping[str, Any], bot: BotIdentity) -> bool:
    """A message a person wrote: not an edit/deletion/service message, not from a bot."""
    if event.get("type") != "message" or event.get("subtype") not in PERSON_SUBTYPES:
        return False
    if event.get("bot_id") or event.get("bot_profile"):
        return False
    user = event.get("user")
    return bool(user) and user != bot.user_id


def edited_message(event: Mapping[str, Any], bot: BotIdentity) -> dict[str, Any] | None:
    """A person's edit (`message_changed`) as the message event it now is, or None: another
    subtype, a bot's edit (our own chat.update included), or no change of text (Slack sends
    message_changed for link previews too)."""
    if event.get("type") != "message" or event.get("subtype") != "message_changed":
        return None
    now, before = event.get("message") or {}, event.get("previous_message") or {}
    edited = {**now, "channel": event.get("channel"), "channel_type": event.get("channel_type")}
    edited.pop("subtype", None)  # the message itself is a plain one
    if not is_person_message(edited, bot) or now.get("text") == before.get("text"):
        return None
    return edited


def deleted_message(event: Mapping[str, Any], bot: BotIdentity) -> dict[str, Any] | None:
    """A person's deletion (`message_deleted`) as the message event it was, or None."""
    if event.get("type") != "message" or event.get("subtype") != "message_deleted":
        return None
    before = dict(event.get("previous_message") or {})
    before |= {"channel": event.get("channel"), "channel_type": event.get("channel_type")}
    before.pop("subtype", None)
    return before if is_person_message(before, bot) else None


def message_from_event(event_id: str, event: Mapping[str, Any], sender: Sender) -> IncomingMessage:
    """A `message` event (DM or channel). In channels a reply in a thread carries the thread
    (its parent's ts); DMs are one conversation, threads or not."""
    channel = str(event["channel"])
    is_private = _is_direct(event.get("channel_type"), channel)
    ts = str(event["ts"])
    thread_ts = event.get("thread_ts")
    in_thread = thread_ts is not None and str(thread_ts) != ts
    thread_id = str(thread_ts) if in_thread and not is_private else None
    return IncomingMessage(
        update_id=event_id,
        conversation=ConversationRef(CHANNEL, channel, thread_id),
        sender=sender,
        text=unescape(str(event.get("text") or "")),
        message_id=ts,
        reply_to_message_id=str(thread_ts) if in_thread else None,
        attachments=tuple(
            a for a in (attachment_from_file(f) for f in event.get("files") or ()) if a
        ),
        is_private=is_private,
    )


def message_from_action(
    body: Mapping[str, Any], action: Mapping[str, Any], sender: Sender
) -> IncomingMessage:
    """A button press (block_actions): its value is the command it stands for. The update id
    is stable across redeliveries of the same press."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
    message_ts = str(container.get("message_ts") or message.get("ts") or "")
    thread_ts = container.get("thread_ts") or message.get("thread_ts")
    is_private = _is_direct(None, channel)
    in_thread = thread_ts is not None and str(thread_ts) != message_ts
    return IncomingMessage(
        update_id=f"action:{message_ts}:{action.get('action_ts') or action.get('action_id')}",
        conversation=ConversationRef(
            CHANNEL, channel, str(thread_ts) if in_thread and not is_private else None
        ),
        sender=sender,
        message_id=None,
        reply_to_message_id=message_ts or None,
        button_payload=str(action.get("value") or ""),
        is_private=is_private,
    )


def attachment_from_file(file: Mapping[str, Any]) -> Attachment | None:
    if file.get("mode") in _UNAVAILABLE_FILE_MODES or not file.get("id"):
        return None
    mime_type = file.get("mimetype") or None
    return Attachment(
        kind=_kind(mime_type, file.get("subtype")),
        file_id=str(file["id"]),
        file_name=file.get("name") or file.get("title") or None,
        mime_type=mime_type,
        size=file.get("size"),
        url=file.get("url_private") or file.get("url_private_download") or None,
        channel=CHANNEL,
    )


def _kind(mime_type: str | None, subtype: str | None) -> str:
    if subtype == "slack_audio":  # a recorded voice clip
        return "voice"
    major = (mime_type or "").split("/", 1)[0]
    return {"image": "photo", "video": "video", "audio": "audio"}.get(major, "document")


def _is_direct(channel_type: str | None, channel: str) -> bool:
    if channel_type is not None:
        return channel_type == "im"
    return channel.startswith("D")


@dataclass(frozen=True)
class Person:
    display_name: str
    username: str | None
    locale: str | None


UserLookup = Callable[[str], Awaitable[Mapping[str, Any]]]


class UserDirectory:
    """Display names and locales by user id, fetched once per person and kept for `ttl`
    seconds (people rename themselves now and then).

    Concurrent lookups of one person share one request, and the waiters resume in the order
    they asked: two messages of one person are handed on in the order they arrived."""

    def __init__(
        self,
        lookup: UserLookup,
        ttl: float = 3600.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._known: dict[str, tuple[Person, float]] = {}
        self._pending: dict[str, asyncio.Future[Person]] = {}

    async def sender(self, user_id: str, fallback_name: str | None = None) -> Sender:
        known = self._known.get(user_id)
        if known is not None and self._clock() - known[1] < self._ttl:
            person = known[0]
        else:
            person = await self._fetch(user_id, fallback_name)
        return Sender(user_id, person.display_name, person.locale, person.username)

    async def _fetch(self, user_id: str, fallback_name: str | None) -> Person:
        pending = self._pending.get(user_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Person] = asyncio.get_running_loop().create_future()
        self._pending[user_id] = future
        person = Person(fallback_name or user_id, fallback_name, None)
        try:
            person = await self._ask(user_id, fallback_name)
        finally:
            # Even when this task is cancelled, whoever waits with it gets an answer.
            del self._pending[user_id]
            future.set_result(person)
        return person

    async def _ask(self, user_id: str, fallback_name: str | None) -> Person:
        try:
            user = await self._lookup(user_id)
        except Exception as error:  # noqa: BLE001 - a name is not worth losing the message
            log.warning("slack user lookup failed", extra={"user": user_id, "error": str(error)})
            return Person(fallback_name or user_id, fallback_name, None)
        profile = user.get("profile") or {}
        person = Person(
            display_name=profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or fallback_name
            or user_id,
            username=user.get("name") or fallback_name,
            locale=user.get("locale"),
        )
        self._known.pop(user_id, None)
        if len(self._known) >= self._max_entries:
            self._known.pop(next(iter(self._known)))  # forget the oldest
        self._known[user_id] = (person, self._clock())
        return person
