"""Moving a ticket between support lines (/escalate, /deescalate, an SLA breach): the ticket
appears in the new line's staff chat with a summary of its history, the previous line sees where
it went, and the user's conversation is untouched."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from core.domain import Direction, Ticket, TicketMessage
from core.lines import SupportLine
from core.messages import OutgoingMessage
from core.store import Transaction
from core.text import shorten

if TYPE_CHECKING:  # core.tickets imports this module's users
    from core.tickets import TicketDesk

HISTORY_MESSAGES = 6  # the latest messages shown to the new line
HISTORY_TEXT_LENGTH = 300
_HISTORY_KEYS = {
    Direction.FROM_USER: "staff.history.user",
    Direction.TO_USER: "staff.history.agent",
    Direction.NOTE: "staff.history.note",
}


async def move_ticket(
    desk: TicketDesk,
    tx: Transaction,
    ticket: Ticket,
    target: SupportLine,
    *,
    actor: str | None,
    by: str,
    reason: str,
    now: datetime,
) -> tuple[Ticket, list[OutgoingMessage]]:
    """Put `ticket` in line `target`, unassigned (the new line picks it up, or its agents on
    duty get it). Returns the moved ticket and the staff messages to send."""
    lines = desk.lines
    source = lines.of_ticket(ticket)
    upward = lines.rank(target) > lines.rank(source)
    moved = await desk.apply(
        tx, actor, now, ticket, line=target.name, assignee_id=None, updated_at=now
    )
    reason_text = reason or "—"
    left = desk.staff_text(
        "staff.line_left" if upward else "staff.line_left_down",
        number=ticket.number,
        line=target.name,
        by=by,
        reason=reason_text,
    )
    owner = await tx.users.get(ticket.user_id)
    arrived = desk.staff_text(
        "staff.line_arrived" if upward else "staff.line_arrived_down",
        number=ticket.number,
        line=source.name,
        by=by,
        reason=reason_text,
        name=owner.name if owner else "?",
        channel=owner.channel if owner else "?",
        header=await desk.header(tx, moved),
        history=await _history(desk, tx, moved),
    )
    messages = [
        await desk.staff_message(tx, ticket, left),  # `ticket` is still in the old line
        await desk.staff_message(tx, moved, arrived),
    ]
    if desk.duty is not None:
        moved, assigned = await desk.duty.assign(tx, moved, now)
        messages += assigned
    return moved, messages


async def _history(desk: TicketDesk, tx: Transaction, ticket: Ticket) -> str:
    shown: list[TicketMessage] = [
        m
        for m in await tx.messages.list(ticket.id)
        if m.direction in _HISTORY_KEYS and (m.text.strip() or m.attachments)
    ][-HISTORY_MESSAGES:]
    if not shown:
        return "—"
    return "\n".join(
        desk.staff_text(
            _HISTORY_KEYS[m.direction],
            text=shorten(m.text, HISTORY_TEXT_LENGTH) if m.text.strip() else "📎",
        )
        for m in shown
    )
