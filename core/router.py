"""Commands, each registered once: its name, handler, the role it needs, where it may be used
and its line in /help. The router finds the command, checks the role (refusing and auditing
when it is missing), finds the ticket a ticket command acts on, and calls the handler.

    router.add("take", self._take, role=Role.AGENT, place=Place.STAFF, ticket=True,
               help="help.staff.take")

A handler is `async def handler(turn, command)`. A route with `ticket=True` acts on a ticket:
its handler is `async def handler(turn, command, ticket)` with the ticket whose thread the
command was typed in (or whose message it replies to); elsewhere the number comes first
("/priority 12 high"), the router looks it up and passes the rest of the arguments, and
without one it answers with the route's `usage`. A route with `user=True` acts on a person:
its handler is `async def handler(turn, command, user, ticket)` with the user of the ticket
found the same way, or the user named first as "channel:id" (then `ticket` is None).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Flag, auto

from core.commands import Command
from core.domain import Role, Ticket, User
from core.roles import Roles, parse_identity
from core.turn import Turn

Handler = Callable[[Turn, Command], Awaitable[None]]
TicketHandler = Callable[[Turn, Command, Ticket], Awaitable[None]]
UserHandler = Callable[[Turn, Command, User, Ticket | None], Awaitable[None]]


class Place(Flag):
    PRIVATE = auto()  # a person's private chat with the bot
    STAFF = auto()  # a support line's staff chat
    ANYWHERE = PRIVATE | STAFF


@dataclass(frozen=True)
class Route:
    name: str
    handler: Handler | TicketHandler | UserHandler
    role: Role | None  # None: anyone
    place: Place
    help: str | None  # catalog key of its /help line; None: not listed (button commands)
    ticket: bool  # acts on a ticket: the thread's, else the number given first
    usage: str  # catalog key of the answer when a ticket command finds no ticket
    user: bool = False  # acts on a person: the ticket's user, else "channel:id" given first


class Router:
    def __init__(self, roles: Roles) -> None:
        self.roles = roles
        self._routes: dict[tuple[str, Place], Route] = {}
        self._order: list[Route] = []
        # Whether the speaker may act on that ticket from where they are (support lines are an
        # access boundary); answers the refusal itself. None: everyone may.
        self.ticket_access: Callable[[Turn, Ticket], Awaitable[bool]] | None = None

    def add(
        self,
        name: str,
        handler: Handler | TicketHandler | UserHandler,
        *,
        role: Role | None = None,
        place: Place = Place.STAFF,
        help: str | None = None,
        ticket: bool = False,
        usage: str = "staff.usage.ticket_command",
        user: bool = False,
    ) -> None:
        route = Route(name, handler, role, place, help, ticket or user, usage, user)
        for where in (Place.PRIVATE, Place.STAFF):
            if where in place:
                if (name, where) in self._routes:
                    raise ValueError(f"/{name} is registered twice for {where.name}")
                self._routes[(name, where)] = route
        self._order.append(route)

    def find(self, name: str, place: Place) -> Route | None:
        return self._routes.get((name, place))

    async def dispatch(
        self, turn: Turn, command: Command, place: Place, ticket: Ticket | None = None
    ) -> bool:
        """Run the command if it is registered for `place`; False when it is not (then it is
        ordinary text there)."""
        route = self.find(command.name, place)
        if route is None:
            return False
        if route.role is not None and not await self.roles.require(
            turn, route.role, command.name, place is Place.STAFF
        ):
            return True
        if not route.ticket:
            await route.handler(turn, command)  # type: ignore[call-arg]
            return True
        if route.user and ticket is None and (named := await self._named_user(turn, command)):
            person, rest = named
            await route.handler(turn, rest, person, None)  # type: ignore[call-arg]
            return True
        if ticket is None:
            # Outside a ticket's thread the number comes first: "/close 12 text".
            number = command.int_arg()
            ticket = await turn.tx.tickets.get(number) if number is not None else None
            if ticket is None:
                text = self.roles.texts_for(turn, place is Place.STAFF)
                await turn.reply(text(route.usage, command=command.name))
                return True
            rest = command.args.split(None, 1)[1] if len(command.words) > 1 else ""
            command = Command(command.name, rest.strip())
        if self.ticket_access is not None and not await self.ticket_access(turn, ticket):
            return True
        if route.user:
            person = await turn.tx.users.get(ticket.user_id)
            await route.handler(turn, command, person, ticket)  # type: ignore[call-arg]
        else:
            await route.handler(turn, command, ticket)  # type: ignore[call-arg]
        return True

    @staticmethod
    async def _named_user(turn: Turn, command: Command) -> tuple[User, Command] | None:
        """The user named first as "channel:id" (and the rest of the command), if known."""
        identity = parse_identity(command.words[0]) if command.words else None
        person = await turn.tx.users.find(*identity) if identity else None
        if person is None:
            return None
        rest = command.args.split(None, 1)[1] if len(command.words) > 1 else ""
        return person, Command(command.name, rest.strip())

    async def help_text(self, turn: Turn, place: Place) -> str:
        """/help: the commands this person may use here, in registration order."""
        in_staff = place is Place.STAFF
        text = self.roles.texts_for(turn, in_staff)
        held = await self.roles.held(turn, in_staff)
        side = "staff" if in_staff else "user"
        lines = [text(f"help.{side}.header"), text(f"help.{side}.intro")]
        for route in self._order:
            if route.help and place in route.place and (route.role is None or route.role in held):
                lines.append("• " + text(route.help))
        if in_staff:
            lines.append(text("help.staff.outro"))
        return "\n".join(lines)
