"""The queue at a glance, from any staff chat: `/queue`, `/mine`, `/unassigned`, `/breaching`
(the active tickets of the chat's support line, the nearest SLA deadline first), `/find TEXT`
(in subjects and messages) and `/history USER` (a user's tickets, newest first).

Each ticket is one line: number, status, priority, assignee, age, its deadline and, where the
platform has addresses for messages, a link to its thread. Long lists come in pages with
buttons ("/queue 2" is what the next-page button sends).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from babel.dates import format_timedelta

from core.commands import Command, command_text
from core.domain import Role, Ticket, User
from core.messages import Button
from core.router import Place, Router
from core.tickets import notices
from core.tickets.desk import TicketDesk
from core.turn import Turn

# Eight tickets, each with a button, and two page buttons: VK's inline keyboards hold ten.
PAGE_SIZE = 8
BUTTONS_PER_ROW = 4
FOUND_AT_MOST = 200  # /find looks at this many newest matches

# The address of a ticket's thread in a staff chat, where the platform has one:
# (chat_id, thread or message id) -> URL (`core.ports.ThreadAddresses`, from bot/app.py).
ThreadUrl = Callable[[str, str], str | None]


@dataclass(eq=False)
class QueueCommands:
    desk: TicketDesk
    thread_urls: Mapping[str, ThreadUrl] = field(default_factory=dict)  # per channel

    def register(self, router: Router) -> None:
        for name, pick in (
            ("queue", lambda turn, ticket: True),
            ("mine", lambda turn, ticket: ticket.assignee_id == turn.user.id),
            ("unassigned", lambda turn, ticket: ticket.assignee_id is None),
            ("breaching", lambda turn, ticket: _overdue(ticket, turn.now)),
        ):
            router.add(
                name, self._lister(name, pick), role=Role.AGENT, place=Place.STAFF,
                help=f"help.staff.{name}",
            )  # fmt: skip
        router.add("find", self.find, role=Role.AGENT, place=Place.STAFF, help="help.staff.find")
        router.add(
            "show", self.show, role=Role.AGENT, place=Place.STAFF, ticket=True,
            help="help.staff.show",
        )  # fmt: skip
        router.add(
            "history", self.history, role=Role.AGENT, place=Place.STAFF, user=True,
            help="help.staff.history", usage="staff.usage.history",
        )  # fmt: skip

    def text(self, key: str, **params: object) -> str:
        return self.desk.tell.staff_text(key, **params)

    def _lister(self, name: str, pick: Callable[[Turn, Ticket], bool]):
        async def listed(turn: Turn, command: Command) -> None:
            mine = [t for t in await turn.tx.tickets.active() if self._here(turn, t)]
            chosen = sorted((t for t in mine if pick(turn, t)), key=_nearest_first)
            page = command.int_arg() or 1
            await self._show(turn, name, chosen, page, self.text(f"staff.list.{name}"))

        return listed

    async def find(self, turn: Turn, command: Command) -> None:
        words = command.args.strip()
        if len(words) < 3:
            await turn.reply(self.text("staff.usage.find"))
            return
        found = await turn.tx.tickets.search(words, FOUND_AT_MOST)
        here = [t for t in found if self._here(turn, t)][:PAGE_SIZE]
        await self._show(turn, None, here, 1, self.text("staff.list.find", words=words))

    async def history(self, turn: Turn, command: Command, user: User, ticket: Ticket | None):
        tickets = await turn.tx.tickets.list_for_user(user.id, limit=PAGE_SIZE)
        title = self.text("staff.list.history", name=user.name, who=user.reference)
        await self._show(turn, None, tickets, 1, title)

    def _here(self, turn: Turn, ticket: Ticket) -> bool:
        """The ticket belongs to the support line of the chat the command was typed in."""
        line = self.desk.lines.of_chat(turn.message.conversation)
        return line is None or self.desk.lines.of_ticket(ticket).name == line.name

    async def _show(
        self, turn: Turn, name: str | None, tickets: Sequence[Ticket], page: int, title: str
    ) -> None:
        if not tickets:
            await turn.reply(title + "\n" + self.text("staff.list.empty"))
            return
        pages = -(-len(tickets) // PAGE_SIZE)
        page = min(max(page, 1), pages)
        shown = tickets[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        lines = [self.text("staff.list.header", title=title, count=len(tickets))]
        lines += [await self._line(turn, ticket) for ticket in shown]
        # A button per ticket brings its card back into its thread (/show): in a VK or Slack
        # reply chain long scrolled away, that is how a forgotten ticket is found.
        shows = [Button(f"#{t.number}", command_text("show", t.number)) for t in shown]
        buttons = [
            tuple(shows[i : i + BUTTONS_PER_ROW]) for i in range(0, len(shows), BUTTONS_PER_ROW)
        ]
        if name is not None and pages > 1:
            lines.append(self.text("staff.list.page", page=page, pages=pages))
            buttons.append(_page_buttons(name, page, pages))
        await turn.reply("\n".join(lines), buttons=tuple(buttons))

    async def show(self, turn: Turn, command: Command, ticket: Ticket) -> None:
        """The ticket's card (its state and latest exchanges) again, in its thread: a reply to
        it reaches the ticket like a reply to the announcement."""
        history = notices.history(self.text, await turn.tx.messages.list(ticket.id))
        header = await self.desk.tell.header(turn, ticket)
        card = self.text(
            "staff.ticket_card", header=header, subject=ticket.subject, history=history
        )
        await self.desk.tell.staff(turn, ticket, card)

    async def _line(self, turn: Turn, ticket: Ticket) -> str:
        assignee = await turn.tx.users.get(ticket.assignee_id) if ticket.assignee_id else None
        return self.text(
            "staff.list.line",
            number=ticket.number,
            status=self.text(f"status.{ticket.status.value}"),
            priority=self.text(f"priority.{ticket.priority.value}"),
            assignee=assignee.name if assignee else self.text("staff.list.nobody"),
            age=self._duration(turn.now - ticket.created_at),
            due=self._due(turn, ticket),
            link=await self._link(turn, ticket),
        )

    def _due(self, turn: Turn, ticket: Ticket) -> str:
        deadline = _deadline(ticket)
        if deadline is None or not ticket.status.is_active:
            return ""
        left = deadline - turn.now
        if left <= timedelta(0):
            return self.text("staff.list.overdue", by=self._duration(-left))
        return self.text("staff.list.due_in", left=self._duration(left))

    async def _link(self, turn: Turn, ticket: Ticket) -> str:
        chat = self.desk.lines.of_ticket(ticket).chat
        url_of = self.thread_urls.get(chat.channel)
        if url_of is None:
            return ""
        anchor = await turn.tx.links.find_anchor(ticket.id, chat.channel, chat.chat_id)
        url = url_of(anchor.chat_id, anchor.thread_id or anchor.message_id) if anchor else None
        return f" · {url}" if url else ""

    def _duration(self, delta: timedelta) -> str:
        language = self.desk.staff_language
        return format_timedelta(delta, threshold=1.5, format="narrow", locale=language)


def _deadline(ticket: Ticket) -> datetime | None:
    """The ticket's next SLA deadline: the first answer's while none was given, else the
    resolution's; None without SLA targets."""
    sla = ticket.sla
    pending = sla.response_due_at if ticket.first_response_at is None else None
    return pending or sla.resolution_due_at


def _overdue(ticket: Ticket, now: datetime) -> bool:
    deadline = _deadline(ticket)
    return deadline is not None and deadline <= now


def _nearest_first(ticket: Ticket) -> tuple[bool, datetime, int]:
    """Sort key: tickets with a deadline by it, then the others oldest first."""
    deadline = _deadline(ticket)
    return (deadline is None, deadline or ticket.created_at, ticket.id)


def _page_buttons(name: str, page: int, pages: int) -> tuple[Button, ...]:
    buttons = []
    if page > 1:
        buttons.append(Button(f"◀ {page - 1}", command_text(name, page - 1)))
    if page < pages:
        buttons.append(Button(f"{page + 1} ▶", command_text(name, page + 1)))
    return tuple(buttons)
