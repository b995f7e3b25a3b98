"""Announcements from the admins to many users.

    /announce TEXT                       to everyone the bot can write to
    /announce to open TEXT               to the users with an open ticket
    /announce to telegram TEXT           to the users of one messenger
    /announce to line:billing TEXT       to the users with a ticket in that support line

The admin sees a preview with the number of users and a button to send (or cancel); then every
copy is an outbox item, sent at each platform's pace and never twice, also across a restart.
`/announce_status N` shows the progress; when nothing is pending the chat it was written in gets
the final count (sent, blocked, failed). Users who said /announcements off and banned users never
get one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.commands import Command, command_text
from core.domain import Role, User
from core.domain_toolkit import Announcement
from core.messages import Button, OutgoingMessage
from core.router import Place, Router
from core.tickets.desk import TicketDesk
from core.turn import Turn
from core.work import UnitOfWork

log = logging.getLogger(__name__)

EVERYONE = "all"
WITH_OPEN_TICKETS = "open"
LINE = "line:"


@dataclass(eq=False)
class AnnouncementCommands:
    desk: TicketDesk

    def register(self, router: Router) -> None:
        for name, handler, listed in (
            ("announce", self.announce, True),
            ("announce_status", self.status, True),
            ("announce_send", self.send, False),
            ("announce_cancel", self.cancel, False),
        ):
            router.add(
                name, handler, role=Role.ADMIN, place=Place.ANYWHERE,
                help=f"help.staff.{name}" if listed else None,
            )  # fmt: skip

    def text(self, key: str, **params: object) -> str:
        return self.desk.tell.staff_text(key, **params)

    async def announce(self, turn: Turn, command: Command) -> None:
        audience, text = _parsed(command.args)
        users = await self._audience(turn, audience)
        if not text or users is None:
            await turn.reply(self.text("staff.usage.announce"))
            return
        chat = turn.message.conversation
        made = await turn.tx.announcements.create(text, audience, turn.actor or "", chat, turn.now)
        await turn.audit("announcement.draft", "announcement", made.id, after={"to": audience})
        send = self.text("button.announce_send", count=len(users))
        cancel = self.text("button.announce_cancel")
        buttons = (
            (
                Button(send, command_text("announce_send", made.id)),
                Button(cancel, command_text("announce_cancel", made.id)),
            ),
        )
        preview = self.text(
            "staff.announce_preview", id=made.id, audience=audience, count=len(users), text=text
        )
        await turn.reply(preview, buttons=buttons)

    async def send(self, turn: Turn, command: Command) -> None:
        made = await self._draft(turn, command)
        if made is None:
            return
        users = await self._audience(turn, made.audience) or []
        if not await turn.tx.announcements.start(made.id, len(users), turn.now):
            await turn.reply(self.text("staff.announce_already", id=made.id))
            return
        for user in users:
            assert user.chat is not None  # reachable users have a private chat
            language = user.language or self.desk.texts.default_language
            body = self.desk.texts.get(language, "user.announcement", text=made.text)
            await turn.send(OutgoingMessage(user.chat, body, announcement_id=made.id))
        await turn.audit("announcement.send", "announcement", made.id, after={"users": len(users)})
        await turn.reply(self.text("staff.announce_sending", id=made.id, count=len(users)))

    async def cancel(self, turn: Turn, command: Command) -> None:
        made = await self._draft(turn, command)
        if made is None:
            return
        if not await turn.tx.announcements.start(made.id, 0, turn.now):
            await turn.reply(self.text("staff.announce_already", id=made.id))
            return
        await turn.tx.announcements.finish(made.id, turn.now)
        await turn.reply(self.text("staff.announce_cancelled", id=made.id))

    async def status(self, turn: Turn, command: Command) -> None:
        made = await self._draft(turn, command)
        if made is not None:
            counts = await turn.tx.announcements.progress(made.id)
            await turn.reply(
                self.text("staff.announce_progress", id=made.id, total=made.total, **counts)
            )

    async def _draft(self, turn: Turn, command: Command) -> Announcement | None:
        number = command.int_arg()
        made = await turn.tx.announcements.get(number) if number is not None else None
        if made is None:
            await turn.reply(self.text("staff.announce_missing", id=number or "?"))
        return made

    async def _audience(self, turn: Turn, audience: str) -> list[User] | None:
        """The users an announcement to `audience` reaches now; None: no such audience."""
        users = turn.tx.users
        if audience == EVERYONE:
            found = await users.reachable()
        elif audience == WITH_OPEN_TICKETS:
            found = await users.reachable(with_open_tickets=True)
        elif audience.startswith(LINE):
            line = self.desk.lines.named(audience[len(LINE) :])
            if line is None:
                return None
            first = line.name == self.desk.lines.first.name
            found = await users.reachable(lines=[line.name, None] if first else [line.name])
        else:
            found = await users.reachable(channel=audience)
        return [user for user in found if user.banned_at(turn.now) is None]


@dataclass(eq=False)
class AnnouncementsJob:
    """When nothing of an announcement is pending any more, the chat it was written in gets the
    final count (once, whichever process sees it first)."""

    unit_of_work: UnitOfWork
    desk: TicketDesk

    async def check(self) -> int:
        finished = 0
        async with self.unit_of_work() as work:
            for made in await work.tx.announcements.running():
                counts = await work.tx.announcements.progress(made.id)
                if counts["pending"] or not await work.tx.announcements.finish(made.id, work.now):
                    continue
                text = self.desk.tell.staff_text("staff.announce_done", id=made.id, **counts)
                await work.send_to(made.chat, text)
                finished += 1
        return finished


def _parsed(args: str) -> tuple[str, str]:
    """(audience, text) of "/announce [to AUDIENCE] TEXT"."""
    words = args.split(None, 2)
    if len(words) < 2 or words[0].lower() != "to":
        return EVERYONE, args.strip()
    audience = words[1] if words[1].lower().startswith(LINE) else words[1].lower()
    return audience, words[2].strip() if len(words) > 2 else ""
