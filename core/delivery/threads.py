"""Where an outgoing message goes inside a chat and what it leaves behind: a staff message about
a ticket goes into the ticket's thread (or replies to its announcement), every delivered part
becomes a message link (how an agent's reply finds its ticket), and plain staff messages of one
thread may travel together into a paced chat."""

from __future__ import annotations

import dataclasses

from core.domain import MessageLink, OutboxItem
from core.messages import ConversationRef, OutgoingMessage, SentMessage


def anchor_key(item: OutboxItem) -> tuple[int, str, str] | None:
    """Staff messages about a ticket go to the ticket's thread in that chat."""
    message = item.message
    if not message.to_staff or message.ticket_id is None:
        return None
    return (message.ticket_id, message.conversation.channel, message.conversation.chat_id)


def placed(message: OutgoingMessage, anchor: MessageLink | None) -> OutgoingMessage:
    """Put a staff message about a ticket into the ticket's thread, or reply to its announcement."""
    if anchor is None:
        return message
    conversation = ConversationRef(anchor.channel, anchor.chat_id, anchor.thread_id)
    reply_to = message.reply_to_message_id or (None if anchor.thread_id else anchor.message_id)
    return dataclasses.replace(message, conversation=conversation, reply_to_message_id=reply_to)


def links(message: OutgoingMessage, sent: SentMessage, *, is_first: bool) -> list[MessageLink]:
    """Links for a delivered part: every message of a ticket maps back to it; the first staff
    message of a ticket in a chat is its anchor, and a new thread/topic maps back too."""
    if message.ticket_id is None:
        return []
    channel, chat_id = message.conversation.channel, message.conversation.chat_id
    thread_id = sent.thread_id or message.conversation.thread_id
    is_anchor = message.to_staff and is_first
    links = [
        MessageLink(
            channel,
            chat_id,
            sent.message_id,
            message.ticket_id,
            thread_id,
            is_anchor,
            message.source,
        )
    ] + [
        MessageLink(channel, chat_id, other, message.ticket_id, thread_id)
        for other in sent.other_ids
    ]
    if is_anchor and sent.thread_id and sent.thread_id != sent.message_id:
        links.append(
            MessageLink(channel, chat_id, sent.thread_id, message.ticket_id, sent.thread_id)
        )
    return links


MERGE_SEPARATOR = "\n\n"


def mergeable(item: OutboxItem) -> bool:
    """A plain staff message about a ticket, not begun: it may travel with its neighbours.
    Not one that may have been sent already: it travels alone, so that finding the earlier
    send (`recovery`) tells exactly which items it carried."""
    return not item.maybe_sent and plain_staff_message(item)


def plain_staff_message(item: OutboxItem) -> bool:
    """A staff message about a ticket, not begun, without buttons, files or reply: the kind
    of message that travels merged."""
    message = item.message
    return (
        message.to_staff
        and message.ticket_id is not None
        and item.parts_sent == 0
        and not message.buttons
        and not message.attachments
        and message.reply_to_message_id is None
    )
