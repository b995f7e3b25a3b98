"""The conversation engine: handles normalized incoming messages, each inside a database
transaction, and leaves every reply in the outbox. It never talks to a messenger."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.conversation.user_flow import UserFlow
from core.i18n import Texts, normalize_language
from core.knowledge_base import KnowledgeBase
from core.messages import ConversationRef, IncomingMessage
from core.router import Router
from core.staff.chat import StaffFlow
from core.store import Store, StoreUnavailable, Transaction
from core.text import clean, shorten
from core.tickets.desk import TicketDesk
from core.turn import Turn
from core.work import UnitOfWork, Work

log = logging.getLogger(__name__)

# Longer messages are refused with a note: nobody reads 25 split messages in a staff chat, and the
# matcher's cost grows with the text. Files are the way to send logs.
MAX_TEXT_LENGTH = 10_000
# While the database is away a batch is tried again after 0.05 s, then twice as long each
# time up to 2 s, for at most 30 s; then the platform keeps the messages and delivers them again.
STORE_RETRY_FIRST = 0.05
STORE_RETRY_MAX = 2.0
STORE_WAIT_SECONDS = 30.0
# A message that fails alone this many times, the same way, is poison (see handle_batch).
POISON_ATTEMPTS = 3
DISPLAY_NAME_LENGTH = 255  # the longest name a user record keeps


@dataclass(eq=False)
class ConversationEngine:
    """Dispatches each incoming message to the user's side or the staff chat's side, inside a
    unit of work. Built by `bot.engine.build_engine`."""

    unit_of_work: UnitOfWork
    knowledge: KnowledgeBase
    desk: TicketDesk
    users: UserFlow
    staff: StaffFlow
    router: Router
    default_language: str
    # How long a batch waits for the database to come back before it is left unacknowledged.
    store_wait_seconds: float = STORE_WAIT_SECONDS
    # The knowledge base's revision the in-memory index reflects.
    _faq_revision: int | None = field(default=None, init=False)

    @property
    def store(self) -> Store:
        return self.unit_of_work.store

    @property
    def texts(self) -> Texts:
        return self.unit_of_work.texts

    def clock(self) -> datetime:
        return self.unit_of_work.clock()

    async def load_state(self) -> int:
        """Load the knowledge base into memory and follow staff chats that moved. Returns the
        number of knowledge-base entries."""
        async with self.store.transaction() as tx:
            self._faq_revision = await tx.faq.revision()
            entries = await tx.faq.list(include_disabled=False)
            await self._follow_moved_chats(tx)
        await self.knowledge.load(entries)
        return len(self.knowledge.entries)

    async def refresh_knowledge(self) -> int:
        """Apply what another process changed (several bot processes on one PostgreSQL
        database): knowledge-base edits, and staff chats that moved (a Telegram group upgraded
        to a supergroup). Cheap when nothing changed: one read of the revision counter and of
        the chat aliases; only changed entries are re-indexed. Returns how many changed."""
        async with self.store.transaction() as tx:
            await self._follow_moved_chats(tx)
            revision = await tx.faq.revision()
            if revision == self._faq_revision:
                return 0
            entries = await tx.faq.list(include_disabled=False)
        self._faq_revision = revision
        return await self.knowledge.sync(entries)

    async def _follow_moved_chats(self, tx: Transaction) -> bool:
        """Staff chats whose id changed, recorded by whichever process saw the change, are
        followed here too. True when one was."""
        followed = False
        for channel in {line.chat.channel for line in self.desk.lines}:
            for old, new in (await tx.links.chat_aliases(channel)).items():
                followed |= self.desk.lines.move_chat(channel, old, new)
        return followed

    @property
    def staff_chat(self) -> ConversationRef:
        return self.desk.staff_chat

    def _follow_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        self.desk.lines.move_chat(channel, old_chat_id, new_chat_id)

    async def handle(self, message: IncomingMessage) -> None:
        error = (await self.handle_batch([message]))[0]
        if error is not None:
            raise error

    async def handle_batch(self, messages: Sequence[IncomingMessage]) -> list[Exception | None]:
        """Handle messages in one transaction (group commit). Returns, per message, None when it
        was handled (or was a repeat) or the error that stopped it (then the platform must not
        be told it arrived: it delivers it again).

        While the database is away (StoreUnavailable) the batch waits and tries again, up to
        `store_wait_seconds`; intake pauses, nothing is dropped. Any other failure splits the
        batch, so one bad message cannot take the others down; a message that fails alone
        `POISON_ATTEMPTS` times is a poison message: kept in the audit log, relayed to the staff
        chat as it is, and the sender gets an apology."""
        try:
            await self._handle_waiting_for_the_store(messages)
            return [None] * len(messages)
        except StoreUnavailable as error:
            log.warning(
                "database unavailable: messages not handled", extra={"count": len(messages)}
            )
            return [error] * len(messages)
        except Exception as error:  # noqa: BLE001 - isolate, then report per message
            if len(messages) == 1:
                return [await self._handle_alone(messages[0], error)]
        return [(await self.handle_batch([m]))[0] for m in messages]

    async def _handle_waiting_for_the_store(self, messages: Sequence[IncomingMessage]) -> None:
        delay, waited = STORE_RETRY_FIRST, 0.0
        while True:
            try:
                await self._handle_in_transaction(messages)
                return
            except StoreUnavailable as error:
                if waited >= self.store_wait_seconds:
                    raise
                log.warning(
                    "database unavailable, trying again",
                    extra={"error": str(error), "retry_in": delay, "waited": round(waited, 2)},
                )
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, STORE_RETRY_MAX)

    async def _handle_alone(self, message: IncomingMessage, error: Exception) -> Exception | None:
        """A message that failed: tried again, as a failure that comes from the moment (not
        the message) does not come back; the same failure every time makes it poison."""
        for _ in range(POISON_ATTEMPTS - 1):
            try:
                await self._handle_waiting_for_the_store([message])
                return None
            except StoreUnavailable as unavailable:
                return unavailable
            except Exception as again:  # noqa: BLE001 - counted, then recorded as poison
                error = again
        return await self._record_failure(message, error)

    async def _handle_in_transaction(self, messages: Sequence[IncomingMessage]) -> None:
        async with self.unit_of_work() as batch:
            keys = [key for m in messages for key in m.delivery_keys]
            new = await batch.tx.updates.claim_many(keys, batch.now)
            for message in messages:
                if await _claimed_whole(batch.tx, message, new):
                    await self._handle_one(batch, _sanitized(message))

    async def _handle_one(self, batch: Work, message: IncomingMessage) -> None:
        """Handle one new (already claimed) message in the batch's unit of work."""
        tx, now = batch.tx, self.clock()
        conversation = message.conversation
        if message.migrated_to_chat_id:
            old, new = conversation.chat_id, message.migrated_to_chat_id
            await tx.links.move_chat(conversation.channel, old, new)
            batch.after_commit.append(lambda: self._follow_chat(conversation.channel, old, new))
            return
        is_staff = self._is_staff_chat(conversation)
        if not is_staff and not message.is_private:
            # A staff chat that moved, seen by another process first: follow it, then go on.
            if not await self._follow_moved_chats(tx) or not self._is_staff_chat(conversation):
                return  # a group the bot was added to that is not the staff chat
            is_staff = True
        sender = message.sender
        user, created = await tx.users.upsert(
            conversation.channel,
            sender.external_id,
            sender.display_name,
            normalize_language(sender.language_hint) or self.default_language,
            None if is_staff else conversation.without_thread(),
            now,
            lock=not is_staff,
        )
        turn = Turn.within(batch, message, user, user.language or self.default_language, now)
        if len(message.text) > MAX_TEXT_LENGTH:
            await turn.reply(
                turn.t("error.too_long", count=len(message.text), limit=MAX_TEXT_LENGTH)
            )
        elif is_staff:
            await self.staff.handle(turn)
        else:
            await self.users.handle(turn, first_contact=created)
        await turn.finish()

    def _is_staff_chat(self, conversation: ConversationRef) -> bool:
        return self.desk.lines.of_chat(conversation) is not None

    async def _record_failure(self, message: IncomingMessage, error: Exception) -> Exception | None:
        """Keep what the sender wrote (in the audit log, and relayed to the staff chat as it is)
        and apologise, so the platform need not redeliver a message that would fail again. If
        the database itself fails, report the error: the caller must not acknowledge it."""
        log.error(
            "message handling failed",
            exc_info=error,
            extra={"update_id": message.update_id, "channel": message.conversation.channel},
        )
        try:
            async with self.unit_of_work() as work:
                work.actor = f"{message.conversation.channel}:{message.sender.external_id}"
                new = await work.tx.updates.claim_many(message.delivery_keys, work.now)
                if not await _claimed_whole(work.tx, message, new):
                    return None
                failed = {"message": _message_dict(message), "error": repr(error)}
                await work.audit("message.failed", "update", message.update_id, after=failed)
                language = normalize_language(message.sender.language_hint)
                text = self.texts.get(language, "error.internal")
                await work.send_to(message.conversation, text)
                await work.send_to(
                    self.desk.staff_chat,
                    self.desk.tell.staff_text(
                        "staff.unhandled_message",
                        name=message.sender.display_name or message.sender.external_id,
                        who=work.actor,
                        text=message.text or "—",
                    ),
                    attachments=message.attachments,
                )
        except Exception:  # noqa: BLE001 - the database is not usable: let the platform retry
            log.exception(
                "could not record the failed message", extra={"update_id": message.update_id}
            )
            return error
        return None


async def _claimed_whole(tx: Transaction, message: IncomingMessage, new: set) -> bool:
    """Whether every delivery `message` is made of is among the `new` claims (taken out of it:
    a second copy in the same batch is a repeat). If only some are, the message is a repeat
    and its new claims are given back: an album part that another process handled the rest
    of comes again on its own."""
    own = message.delivery_keys
    claimed = [key for key in own if key in new]
    new.difference_update(own)
    if len(claimed) == len(own):
        return True
    if claimed:
        await tx.updates.release(claimed)
    log.info("repeated delivery dropped", extra={"update_id": message.update_id})
    return False


def _sanitized(message: IncomingMessage) -> IncomingMessage:
    """Hostile or odd input normalized at the door, so that no database refuses it later: no
    control characters or lone surrogates, a display name that fits its column."""
    sender = message.sender
    name = shorten(clean(sender.display_name or ""), DISPLAY_NAME_LENGTH)
    return dataclasses.replace(
        message,
        text=clean(message.text or ""),
        button_payload=clean(message.button_payload) if message.button_payload else None,
        sender=dataclasses.replace(sender, display_name=name),
        attachments=tuple(
            dataclasses.replace(a, file_name=clean(a.file_name) if a.file_name else a.file_name)
            for a in message.attachments
        ),
    )


def _message_dict(message: IncomingMessage) -> dict:
    data = dataclasses.asdict(message)
    data["received_at"] = message.received_at.isoformat() if message.received_at else None
    return data
