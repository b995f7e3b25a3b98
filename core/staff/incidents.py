"""Mass incidents: one problem behind many tickets.

    /incident open TITLE            (next lines: other ways users put it, one per line)
    /incident                       the open incidents
    /incident N link 12 15          link tickets by number (N may be left out while one is open)
    /incident N suggest             open tickets that look like it, with a button to link them
    /incident N update TEXT         every linked ticket's user gets the update
    /incident N resolve TEXT        every linked open ticket is resolved with the text

While an incident is open, a user whose question matches it hears its status at once, with a
"that's not my problem" button that opens a ticket as usual (`IncidentWatch`). Reports count
the incidents opened and the tickets linked to them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.commands import Command, command_text
from core.domain import FaqEntry, Role, Ticket
from core.domain_toolkit import Incident
from core.messages import Button
from core.ports import Matcher
from core.reread import Reread
from core.router import Place, Router
from core.store import Transaction
from core.text import shorten
from core.tickets.desk import TicketDesk
from core.turn import Turn

TITLE_LENGTH = 200
INCIDENTS_FRESH_SECONDS = 5.0
SUGGESTED_AT_MOST = 20
ACTIONS = ("link", "suggest", "update", "resolve")


@dataclass(eq=False)
class IncidentWatch:
    """Matches users' questions against the open incidents, with a matcher of their own (built
    again only when the open incidents change)."""

    new_matcher: Callable[[], Matcher]
    threshold: float  # the matcher's confidence from which a question is about an incident
    clock: Callable[[], float] = time.monotonic
    _matcher: Matcher | None = field(default=None, init=False)
    _indexed: tuple = field(default=(), init=False)
    _open: Reread[list[Incident]] = field(
        default_factory=lambda: Reread(INCIDENTS_FRESH_SECONDS), init=False
    )

    async def open_incidents(self, tx: Transaction) -> list[Incident]:
        """The open incidents. Every question asks and incidents are rare: they are read at
        most every INCIDENTS_FRESH_SECONDS (core.reread)."""
        return await self._open.get(self.clock(), tx.incidents.open)

    def forget(self) -> None:
        """Read the open incidents again next time (one changed here)."""
        self._open.forget()

    def matching(self, question: str, incidents: Sequence[Incident]) -> Incident | None:
        if not incidents:
            return None
        key = tuple((i.id, i.title, i.description) for i in incidents)
        if key != self._indexed or self._matcher is None:
            self._matcher = self.new_matcher()
            self._matcher.rebuild([_as_entry(i) for i in incidents])
            self._indexed = key
        best = self._matcher.match(question, None, limit=1)
        if not best or best[0].confidence < self.threshold:
            return None
        return next(i for i in incidents if i.id == best[0].entry_id)

    async def answer(self, turn: Turn, question: str) -> bool:
        """Tell the user about the open incident their question is about; False if none is."""
        incident = self.matching(question, await self.open_incidents(turn.tx))
        if incident is None:
            return False
        status = incident.last_update or turn.t("user.incident_no_update")
        await turn.reply(
            turn.t("user.incident_known", title=incident.title, status=status),
            buttons=((Button(turn.t("button.not_my_problem"), command_text("new")),),),
        )
        return True


@dataclass(eq=False)
class IncidentCommands:
    desk: TicketDesk
    watch: IncidentWatch

    def register(self, router: Router) -> None:
        router.add(
            "incident", self.incident, role=Role.AGENT, place=Place.STAFF,
            help="help.staff.incident",
        )  # fmt: skip

    def text(self, key: str, **params: object) -> str:
        return self.desk.tell.staff_text(key, **params)

    async def incident(self, turn: Turn, command: Command) -> None:
        words = command.words
        if not words:
            await self._list(turn)
        elif words[0].lower() == "open":
            await self._open(turn, command.args.split(None, 1)[1] if len(words) > 1 else "")
        elif words[0].lower() in ACTIONS:  # "/incident link 12": the one open incident
            open_ones = await turn.tx.incidents.open()
            if len(open_ones) != 1:
                several = self.text("staff.incident_which", count=len(open_ones))
                await turn.reply(several if open_ones else self.text("staff.incident_none"))
                return
            rest = command.args.split(None, 1)[1] if len(words) > 1 else ""
            await getattr(self, f"_{words[0].lower()}")(turn, open_ones[0], rest.strip())
        elif len(words) >= 2 and words[1].lower() in ACTIONS and command.int_arg() is not None:
            incident = await turn.tx.incidents.get(command.int_arg())
            if incident is None or not incident.is_open:
                await turn.reply(self.text("staff.incident_missing", id=command.int_arg()))
                return
            rest = command.args.split(None, 2)[2] if len(words) > 2 else ""
            await getattr(self, f"_{words[1].lower()}")(turn, incident, rest.strip())
        else:
            await turn.reply(self.text("staff.usage.incident"))

    async def _open(self, turn: Turn, body: str) -> None:
        title, _, description = body.strip().partition("\n")
        if not title.strip():
            await turn.reply(self.text("staff.usage.incident"))
            return
        title = shorten(title.strip(), TITLE_LENGTH)
        made = await turn.tx.incidents.create(
            title, description.strip(), turn.actor or "", turn.now
        )
        await turn.audit("incident.open", "incident", made.id, after={"title": title})
        turn.after_commit.append(self.watch.forget)
        await turn.reply(self.text("staff.incident_opened", id=made.id, title=title))

    async def _list(self, turn: Turn) -> None:
        open_ones = await turn.tx.incidents.open()
        if not open_ones:
            await turn.reply(self.text("staff.incident_none"))
            return
        lines = [self.text("staff.incident_list_header", count=len(open_ones))]
        for incident in open_ones:
            linked = len(await turn.tx.incidents.tickets(incident.id))
            lines.append(
                self.text("staff.incident_line", id=incident.id, title=incident.title, count=linked)
            )
        await turn.reply("\n".join(lines))

    async def _link(self, turn: Turn, incident: Incident, rest: str) -> None:
        numbers = [int(w.lstrip("#")) for w in rest.split() if w.lstrip("#").isdigit()]
        found = [t for t in [await turn.tx.tickets.get(n) for n in numbers] if t is not None]
        if not found:
            await turn.reply(self.text("staff.usage.incident"))
            return
        new = await turn.tx.incidents.link(incident.id, [t.id for t in found], turn.now)
        await turn.audit("incident.link", "incident", incident.id, after={"tickets": numbers})
        await turn.reply(self.text("staff.incident_linked", id=incident.id, count=new))

    async def _suggest(self, turn: Turn, incident: Incident, rest: str) -> None:
        linked = set(await turn.tx.incidents.tickets(incident.id))
        alike = [
            t
            for t in await turn.tx.tickets.active()
            if t.id not in linked and self.watch.matching(t.subject, [incident]) is not None
        ][:SUGGESTED_AT_MOST]
        if not alike:
            await turn.reply(self.text("staff.incident_nothing_alike", id=incident.id))
            return
        numbers = " ".join(str(t.number) for t in alike)
        lines = [self.text("staff.incident_alike", id=incident.id, count=len(alike))]
        lines += [f"#{t.number} · {shorten(t.subject, 80)}" for t in alike]
        link = command_text("incident", incident.id, "link", numbers)
        button = Button(self.text("button.link_these", count=len(alike)), link)
        await turn.reply("\n".join(lines), buttons=((button,),))

    async def _update(self, turn: Turn, incident: Incident, rest: str) -> None:
        if not rest:
            await turn.reply(self.text("staff.usage.incident"))
            return
        await turn.tx.incidents.set_update(incident.id, rest)
        turn.after_commit.append(self.watch.forget)
        tickets = await self._linked(turn, incident, lambda t: t.status.is_active)
        for ticket in tickets:
            await self.desk.tell.user(turn, ticket, "user.incident_update", title=incident.title,
                                      text=rest)  # fmt: skip
        await turn.audit("incident.update", "incident", incident.id, after={"text": rest})
        await turn.reply(self.text("staff.incident_updated", id=incident.id, count=len(tickets)))

    async def _resolve(self, turn: Turn, incident: Incident, rest: str) -> None:
        if not rest or not await turn.tx.incidents.resolve(incident.id, rest, turn.now):
            await turn.reply(self.text("staff.usage.incident"))
            return
        turn.after_commit.append(self.watch.forget)
        tickets = await self._linked(turn, incident, lambda t: t.status.is_active)
        for ticket in tickets:
            await self.desk.resolve(turn, ticket, rest)
        await turn.audit("incident.resolve", "incident", incident.id, after={"text": rest})
        await turn.reply(self.text("staff.incident_resolved", id=incident.id, count=len(tickets)))

    async def _linked(
        self, turn: Turn, incident: Incident, keep: Callable[[Ticket], bool]
    ) -> list[Ticket]:
        tickets = [
            await turn.tx.tickets.get(n) for n in await turn.tx.incidents.tickets(incident.id)
        ]
        return [t for t in tickets if t is not None and keep(t)]


def _as_entry(incident: Incident) -> FaqEntry:
    """An incident as the matcher indexes entries: the title and each line of the description
    as wordings (a whole paragraph would match any question sharing a common word with it)."""
    variants = tuple(line.strip() for line in incident.description.splitlines() if line.strip())
    return FaqEntry(incident.id, incident.title, "", "en", variants)
