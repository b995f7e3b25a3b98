"""The user's side of the conversation: questions, answers from the knowledge base, tickets."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

from core import telemetry
from core.commands import Command, command_text, parse_command
from core.conversation.bans import stopped_by_a_ban
from core.conversation.browse import FaqBrowser
from core.conversation.flood import FloodWatch
from core.conversation.my_tickets import MyTickets
from core.conversation.satisfaction import RATING_COMMENT, Satisfaction
from core.conversation.ticket_choice import (
    TicketChoice,
    current_ticket,
    open_tickets,
    recent_tickets,
)
from core.domain import FaqEntry, Match, NewQuestion, QuestionOutcome, Ticket, TicketStatus
from core.i18n import SUPPORTED_LANGUAGES
from core.knowledge_base import Decision, KnowledgeBase, Thresholds
from core.messages import Button
from core.router import Place, Router
from core.staff.incidents import IncidentWatch
from core.text import shorten
from core.tickets.desk import TicketDesk
from core.turn import Turn

log = logging.getLogger(__name__)

BUTTON_LABEL_LENGTH = 60

# Conversation state keys kept on the user between two messages.
LAST_QUESTION = "last_question"  # what the user asked, for a ticket after "didn't help"
LAST_ENTRY = "last_entry"  # the article just shown, so "helped" counts once
CLARIFY = "clarify"  # a too-short question we asked to expand
AWAITING_TICKET = "awaiting_ticket"  # /new without text: the next message opens the ticket
SUGGESTED = "suggested"  # the article was picked from suggestions: a wording to learn
QUESTION_ID = "question_id"  # the question log record of the last question (see _log_question)
# Small talk to a resolved ticket ("thanks!") is answered, never reopens it.
NOT_A_FOLLOW_UP = frozenset({"greeting", "thanks", "noise"})


@dataclass(eq=False)
class UserFlow:
    desk: TicketDesk
    knowledge: KnowledgeBase
    thresholds: Thresholds
    router: Router
    small_talk: Callable[[str], str | None]
    min_question_chars: int
    bot_name: str = "Helpdesk"
    messages_per_minute: int = 30  # past it the user is asked once to slow down; 0: no limit
    incidents: IncidentWatch | None = None  # open incidents answer the questions about them

    def __post_init__(self) -> None:
        self.satisfaction = Satisfaction(self.desk)
        self.my_tickets = MyTickets(self.desk)
        self.flood = FloodWatch(self.messages_per_minute)
        self.browser = FaqBrowser(self.knowledge, self._read_article)
        self.choice = TicketChoice(self.desk)

    def register(self, router: Router) -> None:
        """The user's commands, in the order /help lists them; the ones without a help line
        are what buttons send."""
        for name, handler, listed in (
            ("help", self._help, False),
            ("start", self._start, False),
            ("new", self._new, True),
            ("faq", self.browser.faq, True),
            ("status", self.my_tickets.status, True),
            ("ticket", self.my_tickets.ticket, True),
            ("close", self.my_tickets.close, True),
            ("reopen", self.my_tickets.reopen, True),
            ("rate", self.satisfaction.rate, True),
            ("lang", self._lang, True),
            ("announcements", self._announcements, True),
            ("comment", self.satisfaction.ask_comment, False),
            ("nocomment", self.satisfaction.skip_comment, False),
            ("helped", self._helped, False),
            ("nothelped", self._not_helped, False),
            ("article", self._article, False),
            ("topic", self.browser.topic, False),
            ("read", self.browser.read, False),
            ("to", self.choice.choose, False),
        ):
            help_key = f"help.user.{name}" if listed else None
            router.add(name, handler, place=Place.PRIVATE, help=help_key)

    async def handle(self, turn: Turn, first_contact: bool) -> None:
        message = turn.message
        if await stopped_by_a_ban(turn):
            return
        if message.edited or message.deleted:
            await self.choice.edited(turn)
            return
        if self.flood.should_warn(turn.user.id, turn.now):
            await turn.reply(turn.t("user.slow_down"))
        command = parse_command(message.button_payload or message.text)
        if first_contact and not (command and command.name in ("start", "lang")):
            if command is None and self.small_talk(message.text) == "greeting":
                # "hello" as the first message: the welcome, with what to do, is the answer.
                await turn.reply(turn.t("user.welcome", name=self.bot_name))
                return
            turn.preface = turn.t("user.greeting", name=self.bot_name)  # opens the first reply
        if command is None:
            await self._text(turn)
            return
        state = turn.user.state or {}
        if RATING_COMMENT in state and command.name != "comment":
            await turn.tx.users.set_state(turn.user.id, None)  # a command ends the wait
            turn.user = dataclasses.replace(turn.user, state=None)
        if not await self.router.dispatch(turn, command, Place.PRIVATE):
            # Never a ticket, a question or a learned wording: a command the bot does not know.
            unknown = turn.t("user.unknown_command", command=command.name)
            await turn.reply(unknown + "\n\n" + await self.router.help_text(turn, Place.PRIVATE))

    # -- free text

    async def _text(self, turn: Turn) -> None:
        message = turn.message
        text = message.text.strip()
        if await self.satisfaction.take_comment(turn, text):
            return
        state = turn.user.state or {}
        if state.get(AWAITING_TICKET) and (text or message.attachments):
            await self._open_ticket(turn, text)  # what /new asked for
            return
        recent = await recent_tickets(turn, turn.user.id)  # one read serves every step below
        if await self.choice.route(turn, text, message.attachments, recent):
            return  # about an open ticket (or held until the user says which)
        ticket = current_ticket(recent)  # none active: the newest resolved, if any
        if ticket is not None and await self._reopened(turn, ticket, text, state):
            return
        if not text and not message.attachments:
            await turn.reply(turn.t("user.empty"))
            return
        if not text:
            # A picture or file alone is a problem report: a person has to look at it.
            await self._open_ticket(turn, text, previous=ticket)
            return
        kind = self.small_talk(text)
        if kind == "human":
            await self._open_ticket(
                turn, _join(state.get(LAST_QUESTION), text), previous=ticket, after_question=True
            )
        elif kind is not None:
            await turn.reply(turn.t(f"user.small_talk.{kind}"))
        else:
            await self._ask(turn, _join(state.get(CLARIFY), text), state, ticket)

    async def _reopened(self, turn: Turn, ticket: Ticket, text: str, state: dict) -> bool:
        """Writing again soon after a ticket was resolved reopens it (unless the user asked for
        a new one, or only says thanks). Later, a message is a new question: the knowledge base
        comes first, and a ticket it leads to is linked to the resolved one (_open_ticket)."""
        attachments = turn.message.attachments
        if not self.desk.policy.may_reopen(ticket, turn.now) or not (text or attachments):
            return False
        if AWAITING_TICKET in state or (text and self.small_talk(text) in NOT_A_FOLLOW_UP):
            return False
        reopened = await self.desk.reopen(turn, ticket)
        await self.desk.add_user_message(turn, reopened, text, attachments)
        return True

    async def _ask(self, turn: Turn, question: str, state: dict, previous: Ticket | None) -> None:
        """The knowledge base's answer, suggestions, a clarifying question when it is too short,
        or a ticket (after `previous`); an open incident's status when the question is about it."""
        if self.incidents is not None and await self.incidents.answer(turn, question):
            await turn.tx.users.set_state(turn.user.id, {LAST_QUESTION: question})
            return
        matches = self.knowledge.search(question, turn.language, limit=3)
        decision = self.thresholds.decide(matches)
        telemetry.count("kb_decision", decision=decision.value)
        if decision == Decision.ANSWER:
            question_id = await self._log_question(
                turn, question, QuestionOutcome.ANSWERED, matches
            )
            entry = self.knowledge.get(matches[0].entry_id)
            await self._send_article(turn, entry, question, question_id=question_id)
        elif decision == Decision.SUGGEST:
            question_id = await self._log_question(
                turn, question, QuestionOutcome.SUGGESTED, matches
            )
            await self._suggest(turn, matches, question, question_id)
        elif CLARIFY not in state and len(question) < self.min_question_chars:
            await turn.tx.users.set_state(turn.user.id, {CLARIFY: question})
            await turn.reply(turn.t("user.clarify"))
        else:
            ticket = await self._open_ticket(turn, question, matches, previous=previous)
            await self._log_question(turn, question, QuestionOutcome.TICKET, matches, ticket)

    async def _log_question(
        self,
        turn: Turn,
        question: str,
        outcome: QuestionOutcome,
        matches: list[Match],
        ticket: Ticket | None = None,
    ) -> int:
        """Record what the knowledge base was asked and how it went: reports count the
        deflection rate from it, /gaps the questions that ended in a ticket."""
        best = matches[0] if matches else None
        return await turn.tx.questions.log(
            NewQuestion(
                turn.user.id,
                question,
                turn.language,
                outcome,
                best.entry_id if best else None,
                round(best.confidence, 4) if best else None,
                turn.now,
                ticket.id if ticket else None,
            )
        )

    async def _send_article(
        self,
        turn: Turn,
        entry: FaqEntry,
        question: str | None,
        *,
        suggested: bool = False,
        question_id: int | None = None,
    ) -> None:
        turn.count_faq(entry.id, "hits")
        state: dict = {LAST_ENTRY: entry.id}
        if question:
            state[LAST_QUESTION] = question
        if suggested:
            state[SUGGESTED] = True
        if question_id is not None:
            state[QUESTION_ID] = question_id
        await turn.tx.users.set_state(turn.user.id, state)
        helped = Button(turn.t("button.helped"), command_text("helped", entry.id))
        not_helped = Button(turn.t("button.not_helped"), command_text("nothelped", entry.id))
        await turn.reply(entry.answer, ((helped, not_helped),))

    async def _suggest(
        self, turn: Turn, matches: list[Match], question: str, question_id: int
    ) -> None:
        await turn.tx.users.set_state(
            turn.user.id, {LAST_QUESTION: question, QUESTION_ID: question_id}
        )
        if matches[0].close_second and len(matches) > 1:
            # Two articles nearly tie: one short question naming both, not a list of three.
            matches = matches[:2]
            first, second = (shorten(m.question, BUTTON_LABEL_LENGTH) for m in matches)
            prompt = turn.t("user.which_of_two", first=first, second=second)
        else:
            prompt = turn.t("user.suggestions")
        rows = [
            (Button(shorten(m.question, BUTTON_LABEL_LENGTH), command_text("article", m.entry_id)),)
            for m in matches
        ]
        rows.append((Button(turn.t("button.none_fits"), command_text("new")),))
        await turn.reply(prompt, tuple(rows))

    async def _open_ticket(
        self,
        turn: Turn,
        text: str,
        matches: list[Match] | None = None,
        category: str | None = None,
        previous: Ticket | None = None,
        *,
        after_question: bool = False,
    ) -> Ticket:
        """The category: the one given, else the nearest article's when the matcher is sure
        enough (else the desk's keyword rules decide). `previous`: the user's current ticket
        (None when they asked for a separate one: /new); a ticket opened while it is resolved
        is linked to it. `after_question`: the ticket is what the user's last question (the
        logged one) led to, after the answer or suggestions did not help."""
        if category is None and text:
            category = self._nearest_category(text, turn.language, matches)
        state = turn.user.state or {}
        if state:
            await turn.tx.users.set_state(turn.user.id, None)
        resolved = previous is not None and previous.status == TicketStatus.RESOLVED
        follows_up = previous if resolved else None
        ticket = await self.desk.open(
            turn, text, turn.message.attachments, category=category, follows_up=follows_up
        )
        if after_question and state.get(QUESTION_ID) is not None:
            await turn.tx.questions.set_ticket(state[QUESTION_ID], ticket.id)
        return ticket

    def _nearest_category(
        self, text: str, language: str, matches: list[Match] | None
    ) -> str | None:
        if matches is None:
            matches = self.knowledge.search(text, language, limit=1)
        if not matches or matches[0].confidence < self.knowledge.matcher.category_confidence:
            return None
        nearest = self.knowledge.get(matches[0].entry_id)
        return nearest.category if nearest else None

    # -- commands

    async def _start(self, turn: Turn, command: Command) -> None:
        await turn.reply(turn.t("user.welcome", name=self.bot_name))

    async def _help(self, turn: Turn, command: Command) -> None:
        await turn.reply(await self.router.help_text(turn, Place.PRIVATE))

    async def _new(self, turn: Turn, command: Command) -> None:
        """A ticket for an agent, also while others are open (each problem its own ticket)."""
        if command.args or turn.message.attachments:
            await self._open_ticket(turn, command.args)
            return
        if await open_tickets(turn, turn.user.id):
            await turn.tx.users.set_state(turn.user.id, {AWAITING_TICKET: True})
            await turn.reply(turn.t("user.describe_new_problem"))
            return
        text = (turn.user.state or {}).get(LAST_QUESTION, "")
        if text:
            # "/new" alone right after an answer or suggestions: that question ends in a ticket.
            await self._open_ticket(turn, text, after_question=True)
        else:
            await turn.tx.users.set_state(turn.user.id, {AWAITING_TICKET: True})
            await turn.reply(turn.t("user.describe_problem"))

    async def _announcements(self, turn: Turn, command: Command) -> None:
        """/announcements on|off: whether the admins' announcements reach this user."""
        word = command.args.strip().lower()
        if word not in ("on", "off"):
            state = "off" if turn.user.announcements_off else "on"
            await turn.reply(turn.t(f"user.announcements_{state}_now"))
            return
        await turn.tx.users.set_announcements(turn.user.id, word == "on")
        await turn.reply(turn.t(f"user.announcements_{word}"))

    async def _lang(self, turn: Turn, command: Command) -> None:
        language = command.args.strip().lower()
        if language not in SUPPORTED_LANGUAGES:
            await turn.reply(turn.t("user.usage.lang"))
            return
        await turn.tx.users.set_language(turn.user.id, language)
        turn.language = language
        await turn.reply(turn.t("user.language_set"))

    async def _helped(self, turn: Turn, command: Command) -> None:
        entry_id = command.int_arg()
        state = turn.user.state or {}
        if entry_id is not None and state.get(LAST_ENTRY) == entry_id:
            turn.count_faq(entry_id, "helpful")
            if state.get(SUGGESTED) and state.get(LAST_QUESTION):
                # The matcher was unsure and the user found the article: their wording is
                # worth learning (an admin approves it before the matcher uses it).
                await turn.tx.learned.add(entry_id, state[LAST_QUESTION], turn.now)
            await turn.tx.users.set_state(turn.user.id, None)
        await turn.reply(turn.t("user.glad_it_helped"))

    async def _not_helped(self, turn: Turn, command: Command) -> None:
        entry_id = command.int_arg()
        state = turn.user.state or {}
        if entry_id is not None and state.get(LAST_ENTRY) == entry_id:
            turn.count_faq(entry_id, "unhelpful")
        active = await turn.tx.tickets.find_active(turn.user.id)
        if active is not None:
            await turn.reply(turn.t("user.already_open", number=active.number))
            return
        question = state.get(LAST_QUESTION)
        if question:
            shown = self.knowledge.get(entry_id) if entry_id is not None else None
            current = await turn.tx.tickets.find_current(turn.user.id)
            category = shown.category if shown else None
            await self._open_ticket(
                turn, question, category=category, previous=current, after_question=True
            )
        else:
            await turn.tx.users.set_state(turn.user.id, {AWAITING_TICKET: True})
            await turn.reply(turn.t("user.describe_problem"))

    async def _read_article(self, turn: Turn, entry: FaqEntry) -> None:
        """An article the user chose while browsing (/faq): no question of theirs to learn."""
        await self._send_article(turn, entry, None)

    async def _article(self, turn: Turn, command: Command) -> None:
        entry_id = command.int_arg()
        entry = self.knowledge.get(entry_id) if entry_id is not None else None
        if entry is None:
            await turn.reply(turn.t("user.article_gone"))
            return
        state = turn.user.state or {}
        await self._send_article(
            turn,
            entry,
            state.get(LAST_QUESTION),
            suggested=True,
            question_id=state.get(QUESTION_ID),
        )


def _join(first: str | None, second: str) -> str:
    return f"{first}\n{second}" if first else second
