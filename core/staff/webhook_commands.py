"""`/webhooks`: how each outbound webhook endpoint (core.tickets.events) is doing: events
waiting, events that failed for good, the newest error and the newest delivery."""

from __future__ import annotations

from dataclasses import dataclass

from core.commands import Command
from core.domain import Role
from core.router import Place, Router
from core.tickets.desk import TicketDesk
from core.tickets.events import WEBHOOK_CHANNEL
from core.turn import Turn


@dataclass(eq=False)
class WebhookCommands:
    desk: TicketDesk

    def register(self, router: Router) -> None:
        router.add(
            "webhooks",
            self.webhooks,
            role=Role.ADMIN,
            place=Place.STAFF,
            help="help.staff.webhooks",
        )

    async def webhooks(self, turn: Turn, command: Command) -> None:
        text = self.desk.tell.staff_text
        endpoints = [endpoint.name for endpoint in self.desk.events.endpoints]
        if not endpoints:
            await turn.reply(text("staff.webhooks_none"))
            return
        backlog = {b.chat_id: b for b in await turn.tx.outbox.backlog_by_chat(WEBHOOK_CHANNEL)}
        lines = [text("staff.webhooks_title")]
        for name in endpoints:
            found = backlog.get(name)
            if found is None:
                lines.append(text("staff.webhooks_quiet", name=name))
                continue
            sent = found.last_sent_at.strftime("%Y-%m-%d %H:%M UTC") if found.last_sent_at else "—"
            lines.append(
                text(
                    "staff.webhooks_line",
                    name=name,
                    pending=found.pending,
                    failed=found.failed,
                    sent=sent,
                )
            )
            if found.last_error:
                lines.append(text("staff.webhooks_error", error=found.last_error[:300]))
        await turn.reply("\n".join(lines))
