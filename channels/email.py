"""E-mail as a channel for users: mail to the support mailbox (IMAP) opens or adds to tickets,
answers go out over SMTP, in the same thread.

- A user is their address: conversation ("email", address). The same person on Telegram is
  another user, as on any two messengers.
- Intake: the mails after the last handled UID, each handed to the engine, then marked seen,
  then the position saved; a crash in between brings the mail again, and its update id (its
  Message-ID) makes the second time a no-op. Auto-replies, bounces and list mail are marked
  seen and dropped: they never open a ticket nor get an answer, so two robots cannot loop.
- Threading: our mails carry a Message-ID made from the outbox item's key (a resend after a
  crash has the same id) and are linked to their ticket by it and by "ticket:<n>"; a reply's
  In-Reply-To finds its ticket through those links, and "[#n]" in the subject does when a
  client lost the headers. Each address's last mail (id and subject) is kept in the channel's
  memory, so an answer replies to it.
- Files: a mail's attachments stay in the mailbox; `download` fetches one again when another
  platform needs its bytes."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import aioimaplib
import aiosmtplib

from channels.email_imap import Mailbox, MailboxError, MailServers
from channels.email_mime import (
    MailAttachment,
    ParsedMail,
    compose_mail,
    make_message_id,
    parse_mail,
    reply_subject,
    ticket_number_in_subject,
)
from core import telemetry
from core.messages import (
    Attachment,
    ConversationRef,
    IncomingMessage,
    OutgoingMessage,
    Sender,
    SentMessage,
)
from core.ports import (
    ChannelMemory,
    InboundHandler,
    PermanentSendError,
    RateLimits,
    TransientSendError,
)
from core.store import StoreUnavailable

log = logging.getLogger(__name__)

NAME = "email"
POSITION = "inbox"  # the memory key of "<uidvalidity>:<last uid>"
OUR_IDS = "helpdesk-"  # how our Message-IDs begin (channels.email_mime.make_message_id)
SMTP_TIMEOUT = 60.0
# What a server, the network or the database going away raises (no traceback needed).
_EXPECTED = (MailboxError, OSError, TimeoutError, StoreUnavailable, aioimaplib.Abort)
RECONNECT_MAX = 60.0


class EmailChannel:
    name = NAME
    rate_limits = RateLimits(per_chat=5, per_chat_window=60.0, overall=10)

    def __init__(
        self,
        servers: MailServers,
        *,
        poll_seconds: float = 60.0,
        max_file_size: int = 20 * 1024 * 1024,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.servers = servers
        self.poll_seconds = poll_seconds
        self.max_file_size = max_file_size
        self.clock = clock
        self.domain = servers.address.rpartition("@")[2]
        self.memory: ChannelMemory | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._local: dict[str, str] = {}  # what `memory` would keep, when there is none

    # -- receiving

    async def start(self, on_message: InboundHandler, memory: ChannelMemory | None = None) -> None:
        self.memory = memory
        self._stop.clear()
        self._task = asyncio.create_task(self._intake(on_message), name="email-intake")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    def web_routes(self) -> list[tuple[str, str, Callable]]:
        return []

    async def _intake(self, on_message: InboundHandler) -> None:
        delay = 1.0
        while not self._stop.is_set():
            mailbox = Mailbox(self.servers)
            try:
                validity = await mailbox.open()
                telemetry.count("channel_contact", channel=NAME)
                delay = 1.0
                while not self._stop.is_set():
                    await self._take_new(mailbox, validity, on_message)
                    await mailbox.wait_for_news(self.poll_seconds, self._stop)
                    telemetry.count("channel_contact", channel=NAME)
            except Exception as error:  # noqa: BLE001 - the server, the network or the database
                log.warning(
                    "mailbox intake failed, reconnecting",
                    extra={"error": repr(error), "retry_in": delay},
                    exc_info=not isinstance(error, _EXPECTED),  # a bug: show where
                )
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except TimeoutError:
                    pass
                delay = min(delay * 2, RECONNECT_MAX)
            finally:
                await mailbox.close()

    async def _take_new(self, mailbox: Mailbox, validity: int, on_message: InboundHandler) -> None:
        position = await self._load(POSITION)
        kept_validity, _, last = (position or "").partition(":")
        after = int(last) if kept_validity == str(validity) and last.isdigit() else None
        for uid in await mailbox.new_uids(after):
            if self._stop.is_set():
                return
            raw = await mailbox.fetch(uid)
            mail = parse_mail(raw) if raw is not None else None
            if mail is not None and self._wanted(mail, uid):
                await self._remember_thread(mail)
                await on_message(self._incoming(mail, validity, uid))
            await mailbox.mark_seen(uid)
            await self._save(POSITION, f"{validity}:{uid}")

    def _wanted(self, mail: ParsedMail, uid: int) -> bool:
        why = mail.automated
        if why is None and mail.from_address == self.servers.address.lower():
            why = "our own address"
        if why is None and not mail.from_address:
            why = "no sender"
        if why is not None:
            log.info("mail left alone", extra={"uid": uid, "reason": why})
            return False
        return True

    def _incoming(self, mail: ParsedMail, validity: int, uid: int) -> IncomingMessage:
        number = ticket_number_in_subject(mail.subject)
        reply_to = mail.in_reply_to
        if number is not None and not (reply_to or "").startswith(OUR_IDS):
            reply_to = f"ticket:{number}"  # the client lost our headers, kept the subject
        new_thread = reply_to is None and number is None
        text = mail.text
        if new_thread and mail.subject and mail.subject.casefold() not in text.casefold():
            text = f"{mail.subject}\n\n{text}".strip()
        return IncomingMessage(
            update_id=_update_id(mail.message_id),
            conversation=ConversationRef(NAME, mail.from_address),
            sender=Sender(
                mail.from_address, mail.from_name, mail.language_hint or _script_language(text)
            ),
            text=text,
            message_id=mail.message_id,
            reply_to_message_id=reply_to,
            attachments=tuple(
                Attachment(
                    kind="photo" if a.mime_type.startswith("image/") else "document",
                    file_id=f"{validity}:{uid}:{index}",
                    file_name=a.file_name,
                    mime_type=a.mime_type,
                    size=len(a.content),
                    channel=NAME,
                )
                for index, a in enumerate(mail.attachments)
            ),
            received_at=self.clock(),
        )

    # -- sending

    def parts(self, message: OutgoingMessage) -> list[OutgoingMessage]:
        """One mail. Buttons become lines to answer with (each one's command)."""
        if not message.buttons:
            return [message]
        choices = "\n".join(
            f"• {button.label}: {button.payload}" for row in message.buttons for button in row
        )
        text = f"{message.text}\n\n{choices}" if message.text else choices
        return [OutgoingMessage(**{**message.__dict__, "text": text, "buttons": ()})]

    async def open_thread(self, message: OutgoingMessage) -> str | None:
        return None

    async def send(self, message: OutgoingMessage, idempotency_key: str) -> SentMessage:
        address = message.conversation.chat_id
        last_id, last_subject = await self._thread(address)
        ticket = message.ticket_id
        if ticket is not None:
            subject = reply_subject(last_subject, ticket)
        else:
            subject = f"Re: {last_subject}" if last_subject else self.servers.name
        message_id = make_message_id(idempotency_key, self.domain)
        raw = compose_mail(
            from_address=self.servers.address,
            from_name=self.servers.name,
            to_address=address,
            subject=subject,
            text=message.text,
            message_id=message_id,
            in_reply_to=last_id,
            references=(last_id,) if last_id else (),
            attachments=tuple(
                MailAttachment(
                    a.file_name or "file", a.mime_type or "application/octet-stream", a.content
                )  # fmt: skip
                for a in message.attachments
                if a.content is not None
            ),
        )
        await self._submit(address, raw)
        telemetry.count("channel_contact", channel=NAME)
        return SentMessage(message_id, other_ids=(f"ticket:{ticket}",) if ticket else ())

    async def _submit(self, address: str, raw: bytes) -> None:
        servers = self.servers
        try:
            await aiosmtplib.send(
                raw,
                sender=servers.address,
                recipients=[address],
                hostname=servers.smtp_host,
                port=servers.smtp_port,
                use_tls=servers.smtp_security == "tls",
                start_tls=servers.smtp_security == "starttls",
                username=servers.smtp_user or None,
                password=servers.smtp_password or None,
                tls_context=servers.tls_context() if servers.smtp_security != "none" else None,
                timeout=SMTP_TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [r.code for r in error.recipients]
            if all(500 <= code < 600 for code in codes):
                raise PermanentSendError(f"recipient refused: {error}") from error
            raise TransientSendError(str(error)) from error
        except aiosmtplib.SMTPResponseException as error:
            if 500 <= error.code < 600 and error.code not in (530, 535):  # not auth trouble
                raise PermanentSendError(f"{error.code} {error.message}") from error
            raise TransientSendError(f"{error.code} {error.message}") from error
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise TransientSendError(repr(error)) from error

    async def download(self, attachment: Attachment) -> bytes:
        """A received file's bytes, from its mail in the mailbox."""
        validity, uid, index = (attachment.file_id or "::").split(":")
        mailbox = Mailbox(self.servers)
        try:
            if str(await mailbox.open()) != validity:
                raise PermanentSendError("the mailbox was rebuilt: the file is gone")
            raw = await mailbox.fetch(int(uid))
        except (MailboxError, OSError, TimeoutError) as error:
            raise TransientSendError(repr(error)) from error
        finally:
            await mailbox.close()
        files = parse_mail(raw).attachments if raw is not None else ()
        if not index.isdigit() or int(index) >= len(files):
            raise PermanentSendError("the mail or its file is gone")
        return files[int(index)].content

    # -- each address's last mail

    async def _remember_thread(self, mail: ParsedMail) -> None:
        value = f"{mail.message_id[:200]}\n{mail.subject}"[:256]
        await self._save(_thread_key(mail.from_address), value)

    async def _thread(self, address: str) -> tuple[str | None, str]:
        value = await self._load(_thread_key(address))
        if value is None:
            return None, ""
        message_id, _, subject = value.partition("\n")
        return message_id or None, subject

    async def _load(self, name: str) -> str | None:
        if self.memory is None:
            return self._local.get(name)
        return await self.memory.load(NAME, name)

    async def _save(self, name: str, value: str) -> None:
        if self.memory is None:
            self._local[name] = value
        else:
            await self.memory.save(NAME, name, value)


def _update_id(message_id: str) -> str:
    """Delivery ids are at most 128 characters: long Message-IDs go by their hash."""
    if len(message_id) <= 120:
        return f"mid:{message_id}"
    return "mid#" + hashlib.sha256(message_id.encode()).hexdigest()


def _script_language(text: str) -> str | None:
    """Mail says nothing of its reader's language (Content-Language is rare): a text written
    mostly in Cyrillic gets Russian answers, one mostly in Latin letters English."""
    cyrillic = sum("а" <= ch.lower() <= "я" or ch in "ёЁ" for ch in text)
    latin = sum("a" <= ch.lower() <= "z" for ch in text)
    if cyrillic == latin == 0:
        return None
    return "ru" if cyrillic > latin else "en"


def _thread_key(address: str) -> str:
    return "thread:" + hashlib.sha256(address.lower().encode()).hexdigest()[:40]
