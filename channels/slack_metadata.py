"""The outbox's idempotency key in Slack's message metadata: Slack has no idempotency key, so
every post carries the key, and `SlackChannel.find_sent` reads it back (conversations.history /
conversations.replies with include_all_metadata) to tell what a lost sender had posted."""

from __future__ import annotations

from typing import Any

from channels.slack_inbound import BotIdentity

METADATA_EVENT = "helpdesk_outbox"


def outbox_metadata(key: str, *, files_follow: bool) -> dict[str, Any]:
    """chat.postMessage's `metadata` for the text of the part sent with `key`. Files cannot
    carry metadata (files_upload_v2): `files` says that some were to follow this text."""
    payload: dict[str, Any] = {"key": key}
    if files_follow:
        payload["files"] = True
    return {"event_type": METADATA_EVENT, "event_payload": payload}


def outbox_payload(post: dict[str, Any], bot: BotIdentity) -> dict[str, Any] | None:
    """The metadata payload ({"key": ..., "files": ...}) of one of the bot's own posts, from a
    history or replies page; None for any other message."""
    own = (bot.bot_id is not None and post.get("bot_id") == bot.bot_id) or (
        bot.user_id is not None and post.get("user") == bot.user_id
    )
    metadata = post.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    if not own or metadata.get("event_type") != METADATA_EVENT:
        return None
    return payload if isinstance(payload.get("key"), str) else None
