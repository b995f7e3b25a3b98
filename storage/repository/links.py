"""Platform messages linked to tickets (how an agent's reply finds its ticket), and chats that
changed their id: links, pending sends and an alias follow the new id."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete, insert, select, update

from core.domain import MessageLink
from storage.mapping import message_link_from_row
from storage.models import chat_aliases, message_links, outbox
from storage.repository._sql import Repository, insert_for, per_dialect

_add_message_link = per_dialect(
    lambda dialect: insert_for(dialect, message_links).on_conflict_do_nothing(
        index_elements=["channel", "chat_id", "message_id"]
    )
)
_LINKED_TICKET = select(message_links.c.ticket_id).where(
    message_links.c.channel == bindparam("channel"),
    message_links.c.chat_id == bindparam("chat_id"),
    message_links.c.message_id == bindparam("message_id"),
)
# Bind names differ from column names: in an UPDATE, SQLAlchemy would take a parameter named
# like a column for a SET value.
_ANCHOR_FILTER = (
    message_links.c.ticket_id == bindparam("of_ticket"),
    message_links.c.channel == bindparam("in_channel"),
    message_links.c.chat_id == bindparam("in_chat"),
    message_links.c.is_anchor.is_(True),
)
_DROP_ANCHORS = update(message_links).where(*_ANCHOR_FILTER).values(is_anchor=False)


def _link_row(link: MessageLink) -> dict:
    return {
        "channel": link.channel,
        "chat_id": link.chat_id,
        "message_id": link.message_id,
        "ticket_id": link.ticket_id,
        "thread_id": link.thread_id,
        "is_anchor": link.is_anchor,
        "source": link.source,
    }


class LinkRepository(Repository):
    """`core.store.MessageLinks` over SQL."""

    def add(self, link: MessageLink) -> None:
        self.conn.execute(_add_message_link(self.conn), _link_row(link))

    def add_many(self, links: Sequence[MessageLink]) -> None:
        if links:
            self.conn.execute(_add_message_link(self.conn), [_link_row(link) for link in links])

    def copies_of(self, source: str) -> list[MessageLink]:
        """The messages that relay the agent's message `source` ("channel:chat_id:id")."""
        rows = self.conn.execute(select(message_links).where(message_links.c.source == source))
        return [message_link_from_row(row) for row in rows]

    def find_ticket(self, channel: str, chat_id: str, message_id: str) -> int | None:
        params = {"channel": channel, "chat_id": chat_id, "message_id": message_id}
        return self.conn.execute(_LINKED_TICKET, params).scalar_one_or_none()

    def find_anchor(self, ticket_id: int, channel: str, chat_id: str) -> MessageLink | None:
        key = (ticket_id, channel, chat_id)
        return self.find_anchors([key]).get(key)

    def find_anchors(
        self, keys: Sequence[tuple[int, str, str]]
    ) -> dict[tuple[int, str, str], MessageLink]:
        wanted = set(keys)
        if not wanted:
            return {}
        statement = (
            select(message_links)
            .where(
                message_links.c.ticket_id.in_({ticket_id for ticket_id, _, _ in wanted}),
                message_links.c.is_anchor.is_(True),
            )
            .order_by(message_links.c.id)
        )
        found: dict[tuple[int, str, str], MessageLink] = {}
        for row in self.conn.execute(statement):
            key = (row.ticket_id, row.channel, row.chat_id)
            if key in wanted:
                found[key] = message_link_from_row(row)  # by id: the newest stays
        return found

    def drop_anchor(self, ticket_id: int, channel: str, chat_id: str) -> int:
        """Demote the ticket's anchors in that chat to plain links (their thread is gone); the links
        still map old staff messages to the ticket. Returns how many were anchors."""
        params = {"of_ticket": ticket_id, "in_channel": channel, "in_chat": chat_id}
        return self.conn.execute(_DROP_ANCHORS, params).rowcount

    def move_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        taken = select(message_links.c.message_id).where(
            message_links.c.channel == channel, message_links.c.chat_id == new_chat_id
        )
        self.conn.execute(
            update(message_links)
            .where(
                message_links.c.channel == channel,
                message_links.c.chat_id == old_chat_id,
                message_links.c.message_id.not_in(taken.scalar_subquery()),
            )
            .values(chat_id=new_chat_id)
        )
        self.conn.execute(
            update(outbox)
            .where(
                outbox.c.channel == channel,
                outbox.c.chat_id == old_chat_id,
                outbox.c.status == "pending",
            )
            .values(chat_id=new_chat_id)
        )
        # Chains collapse: whatever pointed at the old id now points at the new one.
        self.conn.execute(
            update(chat_aliases)
            .where(chat_aliases.c.channel == channel, chat_aliases.c.new_chat_id == old_chat_id)
            .values(new_chat_id=new_chat_id)
        )
        self.conn.execute(
            delete(chat_aliases).where(
                chat_aliases.c.channel == channel, chat_aliases.c.old_chat_id == old_chat_id
            )
        )
        self.conn.execute(
            insert(chat_aliases).values(
                channel=channel, old_chat_id=old_chat_id, new_chat_id=new_chat_id
            )
        )

    def chat_aliases(self, channel: str) -> dict[str, str]:
        rows = self.conn.execute(
            select(chat_aliases.c.old_chat_id, chat_aliases.c.new_chat_id).where(
                chat_aliases.c.channel == channel
            )
        )
        return {old: new for old, new in rows}
