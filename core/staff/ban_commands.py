"""Abuse control in the staff chat: `/ban`, `/unban`, `/bans`.

    /ban [shadow] [30m|12h|7d|2w] [reason]     in a ticket's thread: its user
    /ban 12 ... or /ban telegram:123 ...       elsewhere: a ticket's user, or a user named

A plain ban gets the user one polite notice and nothing else; a shadow ban keeps their messages
on their ticket without a word to the staff chat (core/conversation/bans.py). Bans are kept on
the user's record, so they survive restarts; they apply per identity (the same person on two
messengers is two users). Staff members cannot be banned. Every change is audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from core.commands import Command
from core.domain import Ban, Role, Ticket, User
from core.roles import Roles
from core.router import Place, Router
from core.text import shorten
from core.tickets.desk import TicketDesk
from core.turn import Turn
from core.work import Work

REASON_LENGTH = 300
SHADOW = "shadow"
_DURATION = re.compile(r"^(\d{1,4})([mhdw])$")
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(word: str) -> timedelta | None:
    """'30m', '12h', '7d', '2w' -> a timedelta; None for anything else."""
    match = _DURATION.match(word.lower())
    if not match or int(match.group(1)) == 0:
        return None
    return timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})


@dataclass(eq=False)
class BanCommands:
    desk: TicketDesk
    roles: Roles
    zone: tzinfo = UTC  # the times shown

    def register(self, router: Router) -> None:
        for name, handler in (("ban", self.ban), ("unban", self.unban)):
            router.add(
                name, handler, role=Role.AGENT, place=Place.STAFF, user=True,
                help=f"help.staff.{name}", usage=f"staff.usage.{name}",
            )  # fmt: skip
        router.add("bans", self.bans, role=Role.AGENT, place=Place.STAFF, help="help.staff.bans")

    def text(self, key: str, **params: object) -> str:
        return self.desk.tell.staff_text(key, **params)

    async def ban(self, turn: Turn, command: Command, user: User, ticket: Ticket | None) -> None:
        words = command.words
        shadow = bool(words) and words[0].lower() == SHADOW
        words = words[1:] if shadow else words
        duration = parse_duration(words[0]) if words else None
        reason = " ".join(words[1:] if duration else words)
        ban = await self.impose(turn, user, shadow, duration, reason)
        if ban is None:
            await turn.reply(self.text("staff.ban_staff_refused", name=user.name))
            return
        key = "staff.shadow_banned" if shadow else "staff.banned"
        await turn.reply(
            self.text(
                key, name=user.name, who=user.reference, until=self._until(ban.until),
                reason=ban.reason or "—",
            )
        )  # fmt: skip

    async def impose(
        self, work: Work, user: User, shadow: bool, duration: timedelta | None, reason: str
    ) -> Ban | None:
        """Ban `user` (for `duration`, else until lifted), audited in the actor's name; None
        when they are staff (never banned)."""
        if await self.roles.of_identity(work.tx, user.channel, user.external_id):
            return None
        until = work.now + duration if duration else None
        ban = Ban(shadow, work.now, until, shorten(reason, REASON_LENGTH), work.actor or "")
        await work.tx.users.set_ban(user.id, ban)
        await work.audit("user.ban", "user", user.id, after=_described(ban))
        return ban

    async def unban(self, turn: Turn, command: Command, user: User, ticket: Ticket | None) -> None:
        if not await self.lift(turn, user):
            await turn.reply(self.text("staff.not_banned", name=user.name))
            return
        await turn.reply(self.text("staff.unbanned", name=user.name, by=turn.user.name))

    async def lift(self, work: Work, user: User) -> bool:
        """End the user's ban, audited; False when none is in force."""
        if user.banned_at(work.now) is None:
            return False
        await work.tx.users.set_ban(user.id, None)
        await work.audit("user.unban", "user", user.id, before=_described(user.ban))
        return True

    async def bans(self, turn: Turn, command: Command) -> None:
        banned = await turn.tx.users.banned(turn.now)
        if not banned:
            await turn.reply(self.text("staff.bans_none"))
            return
        lines = [self.text("staff.bans_header", count=len(banned))]
        for user in banned:
            ban = user.ban
            assert ban is not None
            kind = self.text("staff.ban_kind_shadow" if ban.shadow else "staff.ban_kind_plain")
            lines.append(
                self.text(
                    "staff.bans_line", name=user.name, who=user.reference, kind=kind,
                    until=self._until(ban.until), by=ban.by, reason=ban.reason or "—",
                )
            )  # fmt: skip
        await turn.reply("\n".join(lines))

    def _until(self, until: datetime | None) -> str:
        if until is None:
            return self.text("staff.ban_until_lifted")
        return self.text("staff.ban_until", due=until.astimezone(self.zone))


def _described(ban: Ban | None) -> dict | None:
    if ban is None:
        return None
    until = ban.until.isoformat() if ban.until else None
    return {"shadow": ban.shadow, "until": until, "reason": ban.reason, "by": ban.by}
