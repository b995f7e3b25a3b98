"""The e-mail channel end to end: `helpdesk run`'s service with a support mailbox on the local
Postfix + Dovecot (.ci/mailserver) and the staff chat on the fake Telegram server. A user
writes by mail; agents answer in the staff topic; the user gets the answer in the same thread.
"""

from __future__ import annotations

import asyncio
import imaplib
import sqlite3
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.utils import make_msgid

import aiohttp

from bot.config import load_settings
from bot.runner import run_service
from channels.email_mime import parse_mail
from core.api.tokens import create_token
from core.work import utc_now
from storage import open_store
from tests.fakes.telegram import FakeTelegram
from tests.mailserver import (
    CERT_FILE,
    HOST,
    IMAP_NO_IDLE_PORT,
    IMAP_PORT,
    IMAPS_PORT,
    PASSWORD,
    SUBMISSION_PORT,
    append,
    flags_of,
    mailbox_messages,
    new_address,
    requires_mailserver,
    send_raw,
)
from tests.process import telegram_config
from tests.test_monitoring import free_port

pytestmark = requires_mailserver

STAFF, AGENT = -1001234567890, 5151


def settings_for(
    tmp_path,
    telegram: FakeTelegram,
    support: str,
    imap_port: int = IMAPS_PORT,
    sample: bool = False,
    more: str = "",
):
    security = "tls" if imap_port == IMAPS_PORT else "none"
    path = telegram_config(
        tmp_path,
        telegram,
        more=f"""
[roles]
agents = ["telegram:{AGENT}"]

[email]
enabled = true
address = "{support}"
name = "Acme Support"
imap_host = "{HOST}"
imap_port = {imap_port}
imap_security = "{security}"
imap_password = "{PASSWORD}"
smtp_host = "{HOST}"
smtp_port = {SUBMISSION_PORT}
ca_file = "{CERT_FILE}"
poll_seconds = 1

[knowledge]
load_sample_when_empty = {str(sample).lower()}
{more}""",
    )
    return load_settings(path, env={})


@asynccontextmanager
async def running(settings):
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(settings, stop=stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(service, 30)


def mail(
    sender: str,
    to: str,
    subject: str,
    text: str = "",
    *,
    charset: str = "utf-8",
    html: str | None = None,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> tuple[str, bytes]:
    """(its Message-ID, the raw mail) as a mail client would write it."""
    message = EmailMessage()
    message["From"] = f"Ann <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message_id = make_msgid(domain="example.org")
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = f"<{in_reply_to}>"
    for name, value in (headers or {}).items():
        message[name] = value
    if html is not None:
        message.set_content(html, subtype="html", charset=charset)
    else:
        message.set_content(text, charset=charset)
    if attachment is not None:
        message.add_attachment(attachment[1], "text", "plain", filename=attachment[0])
    return message_id.strip("<>"), message.as_bytes()


def staff_texts(telegram: FakeTelegram) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in telegram.sent_messages(STAFF)]


async def test_a_mail_opens_a_ticket_and_the_answer_comes_back_in_its_thread(tmp_path):
    support, ann = new_address("support"), new_address("ann")
    async with FakeTelegram() as telegram:
        telegram.add_user(AGENT, "Bob", language_code="en")
        telegram.add_chat(STAFF, is_forum=True)
        async with running(settings_for(tmp_path, telegram, support)):
            body = "Принтер на третьем этаже не печатает."
            first_id, raw = mail(ann, support, "Принтер не печатает", body, charset="koi8-r")
            await send_raw(support, raw, sender=ann)
            await telegram.wait_until(
                lambda: any("третьем этаже" in t for t in staff_texts(telegram)), within=30
            )
            announcement = next(
                m for m in telegram.sent_messages(STAFF) if "третьем" in (m.get("text") or "")
            )
            [opened] = [parse_mail(raw) for raw in await mailbox_messages(ann, count=1)]
            assert "[#1]" in opened.subject and opened.in_reply_to == first_id
            assert "обращение №1" in opened.text  # a Russian mail gets Russian answers
            assert opened.from_address == support

            topic = announcement["message_thread_id"]
            answered = "Замените картридж, пожалуйста"
            telegram.inject(telegram.make_topic_message_update(STAFF, topic, AGENT, answered))
            received = await mailbox_messages(ann, count=2, timeout=30)
            # Postfix delivers in parallel: the two mails may arrive in either order.
            answer = next(m for m in map(parse_mail, received) if "Замените" in m.text)
            assert "Замените картридж" in answer.text
            assert answer.subject == "Re: [#1] Принтер не печатает"
            assert answer.in_reply_to == first_id

            # Ann answers from her client: HTML in windows-1251, our mail quoted below, a file.
            html = (
                "<div>Заменила, теперь <b>печатает</b>. Спасибо!</div>"
                '<div class="gmail_quote">On Mon, Bob wrote:'
                f"<blockquote>{answered}</blockquote></div>"
            )
            _, raw = mail(
                ann, support, f"Re: {answer.subject}", html=html, charset="windows-1251",
                in_reply_to=answer.message_id, attachment=("отчёт.txt", b"pages: 12"),
            )  # fmt: skip
            await send_raw(support, raw, sender=ann)
            await telegram.wait_until(
                lambda: any("теперь печатает" in t for t in staff_texts(telegram)), within=30
            )
            relayed = next(t for t in staff_texts(telegram) if "теперь печатает" in t)
            assert "#1" in relayed and "Замените" not in relayed  # the quote was trimmed
            await telegram.wait_until(
                lambda: any(m.get("document") for m in telegram.sent_messages(STAFF)), within=30
            )

            # An out-of-office reply is read and left alone: no ticket, no answer, no relay.
            _, raw = mail(ann, support, "Automatic reply: Re: [#1]", "I am away until Monday.",
                          headers={"Auto-Submitted": "auto-replied"})  # fmt: skip
            await send_raw(support, raw, sender=ann)
            await _until_all_seen(support, 3)
            await asyncio.sleep(1.5)
            assert not any("away until Monday" in t for t in staff_texts(telegram))
            assert len(await mailbox_messages(ann, count=2)) == 2


async def _until_all_seen(address: str, count: int, within: float = 30) -> None:
    for _ in range(int(within * 10)):
        flags = await flags_of(address)
        if len(flags) >= count and all("\\Seen" in f for f in flags):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not all {count} mails of {address} were marked seen: {flags}")


async def test_a_restart_in_the_middle_of_the_mailbox_loses_and_repeats_nothing(tmp_path):
    """Mails waiting before the start are all taken; then the position and the seen flags are
    lost (as if the process died after its commits): the next start reads every mail again,
    and none has a second effect."""
    support = new_address("support")
    users = [new_address(f"user{n}") for n in range(3)]
    async with FakeTelegram() as telegram:
        for n, user in enumerate(users):
            await append(support, mail(user, support, f"Question {n}", f"Problem number {n}")[1])
        settings = settings_for(tmp_path, telegram, support)
        async with running(settings):
            await _until_all_seen(support, 3)
            await telegram.wait_until(
                lambda: sum("Problem number" in t for t in staff_texts(telegram)) == 3, within=30
            )
        database = sqlite3.connect(tmp_path / "helpdesk.sqlite3")
        with database:
            database.execute("DELETE FROM channel_positions WHERE channel = 'email'")
        await append(support, mail(users[0], support, "Another", "Problem number 3")[1])
        await _unsee_all(support)
        async with running(settings):
            await _until_all_seen(support, 4)
            await telegram.wait_until(
                lambda: sum("Problem number" in t for t in staff_texts(telegram)) >= 4, within=30
            )
            await asyncio.sleep(1.5)
        tickets = database.execute("SELECT count(*) FROM tickets").fetchone()[0]
        assert tickets == 3  # the fourth mail joined user 0's open ticket
        assert sum("Problem number" in t for t in staff_texts(telegram)) == 4
        for user in users:
            assert len(await mailbox_messages(user, count=1)) == 1  # one confirmation each


async def _unsee_all(address: str) -> None:
    def unsee() -> None:
        with imaplib.IMAP4(HOST, IMAP_PORT) as imap:
            imap.login(address, PASSWORD)
            imap.select("INBOX")
            imap.uid("STORE", "1:*", "-FLAGS", "(\\Seen)")

    await asyncio.to_thread(unsee)


async def test_without_idle_the_mailbox_is_polled_and_an_agents_file_arrives_attached(tmp_path):
    """The second IMAP server offers no IDLE (and no TLS: a server on this machine)."""
    support, ann = new_address("support"), new_address("ann")
    async with FakeTelegram() as telegram:
        telegram.add_user(AGENT, "Bob", language_code="en")
        telegram.add_chat(STAFF, is_forum=True)
        settings = settings_for(tmp_path, telegram, support, imap_port=IMAP_NO_IDLE_PORT)
        async with running(settings):
            _, raw = mail(ann, support, "Invoice needed", "Please send the March invoice.")
            await send_raw(support, raw, sender=ann)
            await telegram.wait_until(
                lambda: any("March invoice" in t for t in staff_texts(telegram)), within=30
            )
            topic = next(
                m["message_thread_id"]
                for m in telegram.sent_messages(STAFF)
                if "March invoice" in (m.get("text") or "")
            )
            telegram.inject(
                telegram.make_media_update(
                    AGENT, "document", b"%PDF-1.4 invoice", chat_id=STAFF, thread_id=topic,
                    caption="Here it is", file_name="счёт-март.pdf", mime_type="application/pdf",
                )
            )  # fmt: skip
            received = await mailbox_messages(ann, count=2, timeout=30)
    answer = next(m for m in map(parse_mail, received) if m.attachments)
    assert "Here it is" in answer.text
    [attached] = answer.attachments
    assert (attached.file_name, attached.content) == ("счёт-март.pdf", b"%PDF-1.4 invoice")


async def test_a_question_the_knowledge_base_knows_is_answered_by_mail(tmp_path):
    support, ann = new_address("support"), new_address("ann")
    async with FakeTelegram() as telegram:
        async with running(settings_for(tmp_path, telegram, support, sample=True)):
            question_id, raw = mail(ann, support, "Password", "I forgot my password, help")
            await send_raw(support, raw, sender=ann)
            [answer] = [parse_mail(m) for m in await mailbox_messages(ann, count=1, timeout=30)]
            await asyncio.sleep(1)
            staff = staff_texts(telegram)
    assert "Forgot password" in answer.text and answer.in_reply_to == question_id
    assert answer.subject == "Re: Password"
    assert "/helped" in answer.text  # the buttons, as commands to answer with
    assert staff == []  # no ticket


async def test_a_ticket_opened_through_the_api_for_an_address_mails_that_address(tmp_path):
    support, oncall = new_address("support"), new_address("oncall")
    port = free_port()
    http = f"[http]\nport = {port}\napi = true\n"
    async with FakeTelegram() as telegram:
        settings = settings_for(tmp_path, telegram, support, more=http)
        async with running(settings):
            store = await open_store(settings.database.url)
            try:
                _, secret = await create_token(store, "alerts", ["tickets:write"], utc_now())
            finally:
                await store.close()
            alert = {"email": oncall, "name": "On-call", "text": "db-1: disk 95% full"}
            async with aiohttp.ClientSession() as client:
                await _until_listening(client, f"http://127.0.0.1:{port}/api/v1/openapi.json")
                async with client.post(
                    f"http://127.0.0.1:{port}/api/v1/tickets", json=alert,
                    headers={"Authorization": f"Bearer {secret}"},
                ) as response:  # fmt: skip
                    assert response.status == 201, await response.text()
                    number = (await response.json())["ticket"]["number"]
            [opened] = [parse_mail(m) for m in await mailbox_messages(oncall, count=1, timeout=30)]
    assert f"[#{number}]" in opened.subject and f"#{number}" in opened.text


async def _until_listening(client: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with client.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing answers at {url}")
