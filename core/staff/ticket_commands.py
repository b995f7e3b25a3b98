"""Ticket commands in the staff chat: /take, /assign, /unassign, /waiting, /resolve, /close,
/reopen, /priority, /category, /faq_send, /escalate, /deescalate.

Typed in a ticket's thread (or as a reply to one of its messages) they act on that ticket;
elsewhere the ticket number comes first: "/priority 12 high".

Who may do what: every command needs the agent role, except that with
`require_agent_role = false` (the default) everyone in the staff chat counts as an agent.
Acting on someone else's assignment (/assign to another person, /take or /unassign a ticket
another agent holds) needs the supervisor role. Every refusal is logged and audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.commands import Command
from core.domain import Direction, Priority, Role, Ticket, TicketStatus, User
from core.knowledge_base import KnowledgeBase
from core.roles import Roles, parse_identity
from core.router import Place, Router
from core.text import shorten
from core.tickets.desk import TicketDesk
from core.turn import Turn

log = logging.getLogger(__name__)

CATEGORY_LENGTH = 64
REASON_LENGTH = 300
NO_CATEGORY = "-"


@dataclass(eq=False)
class TicketCommands:
    desk: TicketDesk
    roles: Roles
    knowledge: KnowledgeBase

    def register(self, router: Router) -> None:
        for name, handler in (
            ("take", self._take),
            ("assign", self._assign),
            ("unassign", self._unassign),
            ("waiting", self._waiting),
            ("resolve", self._resolve),
            ("close", self._close),
            ("reopen", self._reopen),
            ("priority", self._priority),
            ("category", self._category),
            ("faq_send", self._faq_send),
            ("escalate", self._escalate),
            ("deescalate", self._deescalate),
        ):
            router.add(
                name, handler, role=Role.AGENT, place=Place.STAFF, ticket=True,
                help=f"help.staff.{name}",
            )  # fmt: skip

    def text(self, key: str, **params: object) -> str:
        return self.desk.tell.staff_text(key, **params)

    # -- assignment

    async def _take(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        if ticket.assignee_id == turn.user.id:
            await turn.reply(self.text("staff.already_yours", number=ticket.number))
            return
        if not await self._may_override(turn, ticket, "take"):
            return
        if not await self._still_open(turn, ticket):
            return
        await self.desk.assign(turn, ticket, turn.user)

    async def _assign(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        args = command.args
        if not args:
            await turn.reply(self.text("staff.usage.assign"))
            return
        # Only supervisors assign others; refuse before looking anyone up.
        if not _names(turn.user, args) and Role.SUPERVISOR not in await self.roles.held(turn, True):
            await self._require(turn, Role.SUPERVISOR, "assign")
            return
        agent = await self._find_agent(turn, args)
        if agent is None:
            return
        if agent.id != turn.user.id and not await self._require(turn, Role.SUPERVISOR, "assign"):
            return  # a namesake of the speaker
        if agent.id == ticket.assignee_id:
            await turn.reply(
                self.text("staff.already_assigned", number=ticket.number, name=agent.name)
            )
            return
        if not await self._still_open(turn, ticket):
            return
        await self.desk.assign(turn, ticket, agent)

    async def _unassign(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        if ticket.assignee_id is None:
            await turn.reply(self.text("staff.not_assigned", number=ticket.number))
            return
        if not await self._may_override(turn, ticket, "unassign"):
            return
        await self.desk.unassign(turn, ticket)

    # -- lifecycle

    async def _waiting(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        args = command.args
        if ticket.status == TicketStatus.WAITING and not args:
            await turn.reply(self.text("staff.already_waiting", number=ticket.number))
            return
        if not await self._still_open(turn, ticket):
            return
        await self.desk.wait_for_user(turn, ticket, args)

    async def _resolve(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        args = command.args
        if not await self._still_open(turn, ticket):
            return
        await self.desk.resolve(turn, ticket, args)

    async def _faq_send(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        """Answer with a knowledge-base article and resolve the ticket. The user's first
        message becomes a candidate wording of that article (admins approve it), so the next
        person who asks that way gets the answer without a ticket."""
        args = command.args
        words = args.split()
        number = words[0].lstrip("#") if words else ""
        entry = self.knowledge.get(int(number)) if number.isdigit() and len(number) < 10 else None
        if entry is None:
            await turn.reply(self.text("staff.usage.faq_send"))
            return
        await self.desk.relay_agent_reply(turn, ticket, entry.answer, ())
        first = next(
            (m for m in await turn.tx.messages.list(ticket.id)
             if m.direction == Direction.FROM_USER and m.text.strip()),
            None,
        )  # fmt: skip
        learned = first is not None and (
            await turn.tx.learned.add(entry.id, first.text, turn.now) is not None
        )
        if ticket.status.is_active:
            ticket = await self.desk.resolve(turn, ticket, "")
        key = "staff.faq_sent_learned" if learned else "staff.faq_sent"
        await turn.reply(self.text(key, id=entry.id, number=ticket.number))

    async def _close(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        args = command.args
        if ticket.status == TicketStatus.CLOSED:
            await turn.reply(self.text("staff.already_closed", number=ticket.number))
            return
        await self.desk.close(turn, ticket, by_user=False, note=args)

    async def _reopen(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        if ticket.status.is_active:
            await turn.reply(self.text("staff.not_closed", number=ticket.number))
            return
        await self.desk.reopen(turn, ticket)

    # -- classification

    async def _priority(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        args = command.args
        value = args.lower()
        if value not in {p.value for p in Priority}:
            await turn.reply(self.text("staff.usage.priority"))
            return
        if Priority(value) == ticket.priority:
            await turn.reply(self.text("staff.unchanged", number=ticket.number))
            return
        await self.desk.set_priority(turn, ticket, Priority(value))

    async def _category(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        args = command.args
        if not args or len(args) > CATEGORY_LENGTH or "\n" in args:
            await turn.reply(self.text("staff.usage.category", count=CATEGORY_LENGTH))
            return
        category = None if args == NO_CATEGORY else args
        if category == ticket.category:
            await turn.reply(self.text("staff.unchanged", number=ticket.number))
            return
        await self.desk.set_category(turn, ticket, category)

    # -- support lines

    async def _escalate(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        args = command.args
        await self._move(turn, ticket, args, upward=True)

    async def _deescalate(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        args = command.args
        await self._move(turn, ticket, args, upward=False)

    async def _move(self, turn: Turn, ticket: Ticket, args: str, *, upward: bool) -> None:
        """ "/escalate [line] [reason]": to the named line, else the next one up (down for
        /deescalate). A named line must lie in the command's direction."""
        lines = self.desk.lines
        current = lines.of_ticket(ticket)
        first, _, rest = args.partition(" ")
        target = lines.named(first)
        reason = rest.strip() if target is not None else args
        if target is None:
            target = lines.above(current) if upward else lines.below(current)
        rank, here = (lines.rank(target), lines.rank(current)) if target else (0, 0)
        if target is None or (rank <= here if upward else rank >= here):
            key = "staff.no_line_above" if upward else "staff.no_line_below"
            await turn.reply(self.text(key, number=ticket.number, line=current.name))
            return
        if not await self._still_open(turn, ticket):
            return
        await self.desk.move(
            turn, ticket, target, by=turn.user.name, reason=shorten(reason.strip(), REASON_LENGTH)
        )

    # -- helpers

    async def _require(self, turn: Turn, role: Role, command: str) -> bool:
        return await self.roles.require(turn, role, command, in_staff_chat=True)

    async def _may_override(self, turn: Turn, ticket: Ticket, command: str) -> bool:
        """Taking a ticket from, or unassigning, another agent is a supervisor's call."""
        if ticket.assignee_id in (None, turn.user.id):
            return True
        return await self._require(turn, Role.SUPERVISOR, command)

    async def _still_open(self, turn: Turn, ticket: Ticket) -> bool:
        if ticket.status.is_active:
            return True
        key = (
            "staff.already_closed"
            if ticket.status == TicketStatus.CLOSED
            else "staff.resolved_hint"
        )
        await turn.reply(self.text(key, number=ticket.number))
        return False

    async def _find_agent(self, turn: Turn, text: str) -> User | None:
        """The person "channel:user_id", or whose display name or user id is `text` (a leading
        @ is ignored), among the holders of the agent role (or higher). They must have written
        to the bot once, so the store knows them. Problems are answered here."""
        wanted = text.strip().removeprefix("@")
        identity = parse_identity(wanted)
        holders = {
            key: roles for key, roles in (await self.roles.holders(turn.tx)).items()
            if Role.AGENT in roles
        }  # fmt: skip
        candidates: list[User] = []
        if identity is not None:
            user = await turn.tx.users.find(*identity) if identity in holders else None
            candidates = [user] if user else []
        else:
            folded = wanted.casefold()
            for key in sorted(holders):
                user = await turn.tx.users.find(*key)
                if user and folded in (user.display_name.casefold(), user.external_id.casefold()):
                    candidates.append(user)
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            await turn.reply(self.text("staff.agent_not_found", who=wanted))
        else:
            await turn.reply(
                self.text(
                    "staff.agent_ambiguous",
                    who=wanted,
                    options=", ".join(f"{u.channel}:{u.external_id}" for u in candidates),
                )
            )
        return None


def _names(user: User, text: str) -> bool:
    """Whether `text` ("@name", "name", "channel:id") designates `user`."""
    wanted = text.strip().removeprefix("@").casefold()
    return wanted in (
        user.display_name.casefold(),
        user.external_id.casefold(),
        f"{user.channel}:{user.external_id}".casefold(),
    )
