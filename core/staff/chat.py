"""The staff chat: agents answer tickets by replying to a ticket's message or writing in its
thread/topic. The ticket is always found through stored message links, never by parsing text."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.commands import Command, parse_command
from core.domain import Direction, Role, Ticket
from core.messages import ConversationRef, OutgoingMessage
from core.roles import Roles
from core.router import Place, Router
from core.tickets.desk import TicketDesk
from core.turn import Turn

log = logging.getLogger(__name__)

NOTE_PREFIX = "//"


@dataclass(eq=False)
class StaffFlow:
    desk: TicketDesk
    roles: Roles
    router: Router

    def register(self, router: Router) -> None:
        router.add("help", self._help, place=Place.STAFF)
        router.add("start", self._help, place=Place.STAFF)
        router.ticket_access = self.may_act_on

    async def handle(self, turn: Turn) -> None:
        message = turn.message
        command = parse_command(message.button_payload or message.text)
        ticket = await self._ticket_in_context(turn)
        if message.deleted:
            if ticket is not None and command is None:  # the user's copy stays: say so
                note = self.desk.tell.staff_text("staff.agent_deleted", name=turn.user.name)
                await self.desk.tell.staff(turn, ticket, note)
            return
        if message.edited:
            await self._edited(turn, ticket, command is not None)
            return
        if command is not None:
            if not await self.router.dispatch(turn, command, Place.STAFF, ticket):
                # A typo such as /clsoe must not reach the user as an answer.
                unknown = self.desk.tell.staff_text("staff.unknown_command", command=command.name)
                await turn.reply(unknown)
            return
        if ticket is None:
            return  # staff talking among themselves
        action = self.desk.tell.staff_text("staff.action_reply")
        if not await self.roles.require(turn, Role.AGENT, "reply", True, action):
            return
        if not await self.may_act_on(turn, ticket):
            return
        if message.text.startswith(NOTE_PREFIX):
            await self.desk.add_note(turn, ticket, message.text[len(NOTE_PREFIX) :].strip())
        elif message.text.strip() or message.attachments:
            await self.desk.relay_agent_reply(turn, ticket, message.text, message.attachments)

    async def _edited(self, turn: Turn, ticket: Ticket | None, is_command: bool) -> None:
        """An agent edited a message in a ticket's thread: the user's copy is edited where the
        platform allows (else the adapter sends it anew), or, when there is no copy, the new
        wording goes as a correction. A command or an internal note edited changes nothing."""
        text = turn.message.text
        if ticket is None or is_command or text.startswith(NOTE_PREFIX) or not text.strip():
            return
        action = self.desk.tell.staff_text("staff.action_reply")
        if not await self.roles.require(turn, Role.AGENT, "reply", True, action):
            return
        if not await self.may_act_on(turn, ticket):
            return
        source = turn.message.source
        copies = await turn.tx.links.copies_of(source) if source else []
        if not copies:  # not relayed (yet): the new wording goes as a correction
            await self.desk.relay_agent_reply(turn, ticket, text, (), "user.agent_correction")
            return
        shown = await self.desk.tell.user_text(turn, ticket, "user.agent_reply", text=text)
        await turn.tx.messages.add(ticket.id, turn.user.id, Direction.TO_USER, text, (), turn.now)
        for copy in copies:
            where = ConversationRef(copy.channel, copy.chat_id, copy.thread_id)
            await turn.send(OutgoingMessage(where, shown, edit_of=copy.message_id))

    async def may_act_on(self, turn: Turn, ticket: Ticket) -> bool:
        """Agents act on the tickets of the line whose chat they write in; supervisors and
        admins everywhere. A reply in a thread the ticket has left says where it went."""
        here = self.desk.lines.of_chat(turn.message.conversation)
        owner = self.desk.lines.of_ticket(ticket)
        if here is None or here.name == owner.name:
            return True
        if Role.SUPERVISOR in await self.roles.held(turn, in_staff_chat=True):
            return True
        log.info(
            "refused: ticket of another line",
            extra={"ticket": ticket.id, "line": owner.name, "chat_line": here.name},
        )
        key = "staff.ticket_in_other_line"
        await turn.reply(self.desk.tell.staff_text(key, number=ticket.number, line=owner.name))
        return False

    async def _help(self, turn: Turn, command: Command) -> None:
        await turn.reply(await self.router.help_text(turn, Place.STAFF))

    async def _ticket_in_context(self, turn: Turn) -> Ticket | None:
        """The ticket whose message was replied to, or whose thread/topic this is."""
        message = turn.message
        conversation = message.conversation
        for message_id in (message.reply_to_message_id, conversation.thread_id):
            if message_id is None:
                continue
            ticket = await turn.tx.tickets.linked_to(
                conversation.channel, conversation.chat_id, message_id
            )
            if ticket is not None:
                return ticket
        return None
