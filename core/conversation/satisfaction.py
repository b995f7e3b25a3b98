"""Satisfaction ratings: after a ticket is closed the user rates the help 1-5 ("/rate 12 5",
what the buttons under the question send) and may add a comment, either in the same command
("/rate 12 5 quick and kind") or by pressing "Add a comment" (/comment 12) and writing it.
Only a comment asked for that way is taken: free text after a rating is a new question, and
any command ends the wait. One rating per ticket, counted for the ticket's assignee (else the
last agent who answered). A low rating is announced in the ticket's staff-chat thread."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.commands import Command, command_text
from core.domain import Direction, Ticket, TicketStatus
from core.messages import Button
from core.tickets.desk import TicketDesk
from core.turn import Turn

LOW_RATING = 2  # this or lower is announced to the staff
# The next message counts as the comment only this soon after "Add a comment": later it is more
# likely a new question.
COMMENT_WINDOW = timedelta(hours=1)

# Conversation state after "Add a comment": the next message is the comment.
RATING_COMMENT = "rating_comment"  # the rated ticket's number
RATED_AT = "rated_at"  # when the comment was asked for


class Satisfaction:
    def __init__(self, desk: TicketDesk) -> None:
        self.desk = desk

    async def rate(self, turn: Turn, command: Command) -> None:
        words = command.words
        number = command.int_arg()
        if number is None or len(words) < 2:
            await turn.reply(turn.t("csat.usage"))
            return
        ticket = await turn.tx.tickets.get(number)
        if ticket is None or ticket.user_id != turn.user.id:
            await turn.reply(turn.t("user.ticket_not_found", number=number))
            return
        score = int(words[1]) if words[1].isdigit() and len(words[1]) < 3 else None
        if score is None or not 1 <= score <= 5:
            await turn.reply(turn.t("csat.out_of_range"))
            return
        if ticket.status != TicketStatus.CLOSED:
            await turn.reply(turn.t("csat.not_closed", number=number))
            return
        comment = command.args.split(None, 2)[2].strip() if len(words) > 2 else None
        agent_id = ticket.assignee_id or await _last_agent(turn, ticket)
        rating = await turn.tx.ratings.add(
            ticket.id, turn.user.id, agent_id, score, comment, turn.now
        )
        if rating is None:
            await turn.reply(turn.t("csat.already_rated", number=number))
            return
        rated = {"score": score, "comment": comment}
        await self.desk.events.emit(turn, "ticket.rated", ticket, rating=rated)
        await turn.audit(
            "ticket.rating",
            "ticket",
            ticket.id,
            after={"score": score, "comment": comment, "agent_id": agent_id},
        )
        if comment:
            await turn.reply(turn.t("csat.thanks"))
        else:
            buttons = (
                (
                    Button(turn.t("button.add_comment"), command_text("comment", ticket.number)),
                    Button(turn.t("button.no_comment"), command_text("nocomment")),
                ),
            )
            await turn.reply(turn.t("csat.thanks_ask_comment"), buttons)
        if score <= LOW_RATING:
            await self.desk.tell.staff(
                turn,
                ticket,
                self.desk.tell.staff_text(
                    "staff.low_rating", number=ticket.number, score=score, comment=comment or "—"
                ),
            )

    async def ask_comment(self, turn: Turn, command: Command) -> None:
        """ "Add a comment": the user's next message is the comment on their rating."""
        number = command.int_arg()
        rating = await turn.tx.ratings.get(number) if number is not None else None
        ticket = await turn.tx.tickets.get(number) if rating is not None else None
        if ticket is None or ticket.user_id != turn.user.id or rating.comment:
            await turn.reply(turn.t("csat.no_comment_expected"))
            return
        state = {RATING_COMMENT: ticket.number, RATED_AT: turn.now.isoformat()}
        await turn.tx.users.set_state(turn.user.id, state)
        await turn.reply(turn.t("csat.write_comment", number=ticket.number))

    async def skip_comment(self, turn: Turn, command: Command) -> None:
        if RATING_COMMENT in (turn.user.state or {}):
            await turn.tx.users.set_state(turn.user.id, None)
        await turn.reply(turn.t("csat.no_comment"))

    async def take_comment(self, turn: Turn, text: str) -> bool:
        """When the user asked to comment on a rating, store `text` as that comment. False when
        no comment is awaited (the message is something else)."""
        state = turn.user.state or {}
        number = state.get(RATING_COMMENT)
        if number is None or not text:
            return False
        if turn.now - datetime.fromisoformat(state[RATED_AT]) > COMMENT_WINDOW:
            return False
        await turn.tx.users.set_state(turn.user.id, None)
        rating = await turn.tx.ratings.set_comment(number, text)
        await turn.audit("ticket.rating_comment", "ticket", number, after={"comment": text})
        await turn.reply(turn.t("csat.comment_thanks"))
        if rating.score <= LOW_RATING:
            ticket = await turn.tx.tickets.get(number)
            if ticket is not None:
                await self.desk.tell.staff(
                    turn,
                    ticket,
                    self.desk.tell.staff_text("staff.rating_comment", number=number, comment=text),
                )
        return True


async def _last_agent(turn: Turn, ticket: Ticket) -> int | None:
    """Who last answered the user on this ticket (for a rating of an unassigned ticket)."""
    for message in reversed(await turn.tx.messages.list(ticket.id)):
        if message.direction == Direction.TO_USER and message.author_user_id is not None:
            return message.author_user_id
    return None
