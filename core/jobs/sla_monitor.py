"""SLA warnings and breaches: `SlaMonitor.check` claims the warning points and deadlines that
passed (core.tickets.sla_policy sets them on each ticket) and announces them in the same unit of
work: in the ticket's thread, in the staff chat, and breaches to every supervisor privately; with
escalation on breach the ticket moves to the next line up. Safe to run in several processes at
once (see `Tickets.claim_sla_events`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from core import telemetry
from core.domain import Role, SlaEvent, Ticket
from core.messages import OutgoingMessage
from core.roles import Roles
from core.tickets.desk import TicketDesk
from core.tickets.sla_policy import SlaPolicy
from core.work import UnitOfWork, Work

log = logging.getLogger(__name__)

# The catalog key of each event's message in the ticket's thread.
_THREAD_TEXT = {
    SlaEvent.RESPONSE_WARNING: "sla.response_warning",
    SlaEvent.RESPONSE_BREACH: "sla.response_breach",
    SlaEvent.RESOLUTION_WARNING: "sla.resolution_warning",
    SlaEvent.RESOLUTION_BREACH: "sla.resolution_breach",
}
_DUE_FIELD = {
    SlaEvent.RESPONSE_WARNING: "response_due_at",
    SlaEvent.RESPONSE_BREACH: "response_due_at",
    SlaEvent.RESOLUTION_WARNING: "resolution_due_at",
    SlaEvent.RESOLUTION_BREACH: "resolution_due_at",
}
_BREACHES = frozenset({SlaEvent.RESPONSE_BREACH, SlaEvent.RESOLUTION_BREACH})


@dataclass(eq=False)
class SlaMonitor:
    """Announces passed warning points and deadlines."""

    unit_of_work: UnitOfWork
    desk: TicketDesk
    policy: SlaPolicy
    roles: Roles | None = None  # supervisors hear of breaches privately; None: nobody
    escalate_on_breach: bool = False

    async def check(self, now: datetime | None = None) -> list[tuple[SlaEvent, int]]:
        """Claim and announce what is due at `now` (default: the clock). Returns the
        (event, ticket number) pairs this call announced."""
        async with self.unit_of_work(now) as work:
            events = await work.tx.tickets.claim_sla_events(work.now)
            escalated: set[int] = set()
            for event, ticket in events:
                await self._announce(work, event, ticket)
                await work.audit(f"ticket.sla.{event.value}", "ticket", ticket.id)
                clock, _, kind = event.value.partition("_")  # "response", "warning"
                await self.desk.events.emit(work, f"ticket.sla_{kind}", ticket, sla_clock=clock)
                if event in _BREACHES and ticket.id not in escalated:
                    await self._breached(work, ticket)
                    escalated.add(ticket.id)
        if events:
            log.info("sla events", extra={"count": len(events)})
        for event, _ in events:  # committed: announced once, whichever process claimed them
            telemetry.count("sla_event", event=event.value)
        return [(event, ticket.number) for event, ticket in events]

    async def _announce(self, work: Work, event: SlaEvent, ticket: Ticket) -> None:
        due = getattr(ticket.sla, _DUE_FIELD[event])
        params = {
            "number": ticket.number,
            "priority": self.desk.tell.staff_text(f"priority.{ticket.priority.value}"),
            # Local time; each reader's language writes it (core.i18n).
            "due": due.astimezone(self.policy.calendar.zone),
        }
        await self.desk.tell.staff(
            work, ticket, self.desk.tell.staff_text(_THREAD_TEXT[event], **params)
        )
        # The ticket's thread may be muted or buried: the event also shows in the main chat.
        alert = self.desk.tell.staff_text(_THREAD_TEXT[event] + "_alert", **params)
        await work.send_to(self.desk.lines.of_ticket(ticket).chat, alert)
        if event in _BREACHES:
            for message in await self._to_supervisors(work, event, ticket, params):
                await work.send(message)

    async def _to_supervisors(
        self, work: Work, event: SlaEvent, ticket: Ticket, params: dict
    ) -> list[OutgoingMessage]:
        """The breach alert in each supervisor's private chat with the bot (known once they
        have written to it), in their language."""
        if self.roles is None:
            return []
        texts = self.desk.texts
        messages = []
        for (channel, external_id), held in sorted((await self.roles.holders(work.tx)).items()):
            if Role.SUPERVISOR not in held:
                continue
            person = await work.tx.users.find(channel, external_id)
            if person is None or person.chat is None:
                log.info(
                    "supervisor not reachable privately",
                    extra={"supervisor": f"{channel}:{external_id}"},
                )
                continue
            language = person.language or texts.default_language
            priority = texts.get(language, f"priority.{ticket.priority.value}")
            text = texts.get(
                language, _THREAD_TEXT[event] + "_alert", **{**params, "priority": priority}
            )
            messages.append(OutgoingMessage(conversation=person.chat, text=text))
        return messages

    async def _breached(self, work: Work, ticket: Ticket) -> None:
        """With escalation on breach: the ticket moves to the next line up, if any."""
        if not self.escalate_on_breach:
            return
        current = await work.tx.tickets.get(ticket.id) or ticket
        target = self.desk.lines.above(self.desk.lines.of_ticket(current))
        if target is None or not current.status.is_active:
            return
        await self.desk.move(
            work,
            current,
            target,
            by=self.desk.tell.staff_text("staff.by_sla"),
            reason=self.desk.tell.staff_text("staff.reason_sla_breach"),
        )
