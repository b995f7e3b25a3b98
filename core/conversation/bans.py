"""What a banned user's message gets (bans are given by core/staff/ban_commands.py).

A plain ban: one polite notice, then nothing; the messages are not kept. A shadow ban: no
answer and no word to the staff chat, but the message is kept on the user's newest ticket
(or, without one, in the audit log), so nothing they wrote is lost to a later review.
"""

from __future__ import annotations

import dataclasses
import logging

from core.domain import Direction
from core.turn import Turn

log = logging.getLogger(__name__)


async def stopped_by_a_ban(turn: Turn) -> bool:
    """True when the speaker is banned (the message was dealt with here)."""
    ban = turn.user.banned_at(turn.now)
    if ban is None:
        return False
    log.info("message from a banned user", extra={"user": turn.user.id, "shadow": ban.shadow})
    if ban.shadow:
        await _keep_quietly(turn)
    elif not ban.notified:
        if ban.until is None:
            await turn.reply(turn.t("user.banned"))
        else:
            await turn.reply(turn.t("user.banned_until", due=ban.until))
        await turn.tx.users.set_ban(turn.user.id, dataclasses.replace(ban, notified=True))
    turn.preface = None  # not even the first-contact greeting
    return True


async def _keep_quietly(turn: Turn) -> None:
    message = turn.message
    if message.button_payload:
        return  # a button press says nothing worth keeping
    newest = await turn.tx.tickets.list_for_user(turn.user.id, limit=1)
    if newest:
        await turn.tx.messages.add(
            newest[0].id, turn.user.id, Direction.FROM_USER, message.text,
            message.attachments, turn.now,
        )  # fmt: skip
    else:
        await turn.audit("user.shadow_banned_message", "user", turn.user.id,
                         after={"text": message.text})  # fmt: skip
