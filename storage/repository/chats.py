"""Chats that changed their id: links, pending sends and an alias follow the new id."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from storage.models import chat_aliases, message_links, outbox


def move_chat(conn: Connection, channel: str, old_chat_id: str, new_chat_id: str) -> None:
    taken = select(message_links.c.message_id).where(
        message_links.c.channel == channel, message_links.c.chat_id == new_chat_id
    )
    conn.execute(
        update(message_links)
        .where(
            message_links.c.channel == channel,
            message_links.c.chat_id == old_chat_id,
            message_links.c.message_id.not_in(taken.scalar_subquery()),
        )
        .values(chat_id=new_chat_id)
    )
    conn.execute(
        update(outbox)
        .where(
            outbox.c.channel == channel,
            outbox.c.chat_id == old_chat_id,
            outbox.c.status == "pending",
        )
        .values(chat_id=new_chat_id)
    )
    # Chains collapse: whatever pointed at the old id now points at the new one.
    conn.execute(
        update(chat_aliases)
        .where(chat_aliases.c.channel == channel, chat_aliases.c.new_chat_id == old_chat_id)
        .values(new_chat_id=new_chat_id)
    )
    conn.execute(
        delete(chat_aliases).where(
            chat_aliases.c.channel == channel, chat_aliases.c.old_chat_id == old_chat_id
        )
    )
    conn.execute(
        insert(chat_aliases).values(
            channel=channel, old_chat_id=old_chat_id, new_chat_id=new_chat_id
        )
    )


def chat_aliases_of(conn: Connection, channel: str) -> dict[str, str]:
    rows = conn.execute(
        select(chat_aliases.c.old_chat_id, chat_aliases.c.new_chat_id).where(
            chat_aliases.c.channel == channel
        )
    )
    return {old: new for old, new in rows}
