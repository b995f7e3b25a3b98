"""The test mail server itself (.ci/mailserver, tests/mailserver.py): what the e-mail channel's
tests rely on, proven with the standard library alone."""

from __future__ import annotations

import asyncio
import email
import email.policy
import email.utils
import imaplib
import smtplib
import socket
import time
from email.message import EmailMessage
from typing import BinaryIO

import pytest

from tests.mailserver import (
    DOMAIN,
    HOST,
    IMAP_NO_IDLE_PORT,
    IMAP_PORT,
    IMAPS_PORT,
    PASSWORD,
    SUBMISSION_PORT,
    SUBMISSIONS_PORT,
    append,
    flags_of,
    mailbox_messages,
    new_address,
    requires_mailserver,
    send_raw,
    submit,
    tls_context,
    wait_until_empty_queue,
)

pytestmark = requires_mailserver


def make_message(sender: str, to: str, subject: str, body: str = "Hello.") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = email.utils.make_msgid(domain="outside.test")
    message.set_content(body)
    return message.as_bytes()


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def read_over_starttls(address: str) -> tuple[list[bytes], list[bytes]]:
    """(CAPABILITY before STARTTLS, each message's BODY.PEEK[]) on 143, by hand."""
    with imaplib.IMAP4(HOST, IMAP_PORT, timeout=10) as imap:
        before = list(imap.capabilities)
        imap.starttls(tls_context())
        imap.login(address, PASSWORD)
        imap.select("INBOX", readonly=True)
        _, data = imap.fetch("1:*", "(BODY.PEEK[])")
        return [c.encode() for c in before], [item[1] for item in data if isinstance(item, tuple)]


async def test_mail_to_port_25_arrives_in_the_mailbox_read_over_starttls() -> None:
    ann = new_address("ann")
    raw = make_message("someone@outside.test", ann, "Printer on fire")
    started = time.monotonic()
    await send_raw(ann, raw)

    [received] = await mailbox_messages(ann)
    assert time.monotonic() - started < 5
    message = parse(received)
    assert message["Subject"] == "Printer on fire"
    assert message["Message-ID"] == parse(raw)["Message-ID"]
    assert message.get_content().strip() == "Hello."

    capabilities, messages = await asyncio.to_thread(read_over_starttls, ann)
    assert b"STARTTLS" in capabilities and b"LOGINDISABLED" not in capabilities
    assert messages == [received]
    assert await flags_of(ann) == [set()]  # reading with BODY.PEEK[] marks nothing seen
    await wait_until_empty_queue()


async def test_submission_on_587_needs_starttls_and_auth_then_delivers() -> None:
    support, ann = new_address("support"), new_address("ann")

    def refused_without_tls_or_password() -> None:
        with smtplib.SMTP(HOST, SUBMISSION_PORT, timeout=10) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("starttls") and not smtp.has_extn("auth")
            assert smtp.mail(support)[0] == 530  # "Must issue a STARTTLS command first"
        with smtplib.SMTP(HOST, SUBMISSION_PORT, timeout=10) as smtp:
            smtp.starttls(context=tls_context())
            with pytest.raises(smtplib.SMTPAuthenticationError):
                smtp.login(support, "wrong-password")
            assert smtp.mail(support)[0] == 250
            code, _ = smtp.rcpt(ann)
            assert code == 554  # no relaying (nor anything) without AUTH

    await asyncio.to_thread(refused_without_tls_or_password)

    await submit(ann, make_message(support, ann, "Re: Printer on fire"), sender=support)
    [received] = await mailbox_messages(ann)
    assert parse(received)["Subject"] == "Re: Printer on fire"
    assert await mailbox_messages(support, timeout=0.5, count=0) == []


async def test_submissions_on_465_with_implicit_tls() -> None:
    support, ann = new_address("support"), new_address("ann")
    await submit(ann, make_message(support, ann, "Over 465"), support, port=SUBMISSIONS_PORT)
    [received] = await mailbox_messages(ann)
    assert parse(received)["Subject"] == "Over 465"


async def test_mail_to_another_domain_bounces_at_once_to_its_sender() -> None:
    support = new_address("support")
    await submit("nobody@outside.test", make_message(support, "x", "Lost"), sender=support)
    [bounce] = await mailbox_messages(support)
    message = parse(bounce)
    assert message.get_content_type() == "multipart/report"
    assert "nobody@outside.test" in bounce.decode(errors="replace")


async def test_port_25_accepts_no_relaying() -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        await send_raw("nobody@outside.test", make_message("a@outside.test", "x", "Relay?"))


async def test_fresh_addresses_are_isolated() -> None:
    ann, bob = new_address("ann"), new_address("bob")
    assert ann != bob and ann.endswith(f"@{DOMAIN}")
    await send_raw(ann, make_message("someone@outside.test", ann, "For Ann"))
    [for_ann] = await mailbox_messages(ann)
    await send_raw(bob, make_message("someone@outside.test", bob, "For Bob"))
    [for_bob] = await mailbox_messages(bob)
    assert parse(for_ann)["Subject"] == "For Ann" and parse(for_bob)["Subject"] == "For Bob"
    await wait_until_empty_queue()
    assert len(await mailbox_messages(ann, count=0)) == 1


async def test_mailbox_messages_waits_for_count_and_says_what_is_there() -> None:
    ann = new_address("ann")
    await send_raw(ann, make_message("someone@outside.test", ann, "First"))
    await send_raw(ann, make_message("someone@outside.test", ann, "Second"))
    # Postfix delivers in parallel: the two may be stored (and so numbered) in either order.
    received = await mailbox_messages(ann, count=2)
    assert sorted(parse(raw)["Subject"] for raw in received) == ["First", "Second"]

    with pytest.raises(AssertionError, match=r"2 message\(s\) after 0.3s") as error:
        await mailbox_messages(ann, timeout=0.3, count=3)
    assert "Subject: First" in str(error.value) and "Subject: Second" in str(error.value)


async def test_append_puts_a_message_in_with_its_flags() -> None:
    ann = new_address("ann")
    first = await append(ann, make_message("ann@outside.test", ann, "Seen"), flags=["\\Seen"])
    second = await append(ann, make_message("ann@outside.test", ann, "New"))
    assert second > first
    assert await flags_of(ann) == [{"\\Seen"}, set()]
    assert [parse(raw)["Subject"] for raw in await mailbox_messages(ann, count=2)] == [
        "Seen",
        "New",
    ]
    await append(ann, make_message(ann, "x", "Sent one"), flags=["\\Seen"], mailbox="Sent")
    assert await flags_of(ann, mailbox="Sent") == [{"\\Seen"}]


def capabilities(port: int, address: str) -> set[str]:
    """CAPABILITY after LOGIN on `port`."""
    if port == IMAPS_PORT:
        imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(HOST, port, ssl_context=tls_context(), timeout=10)
    else:
        imap = imaplib.IMAP4(HOST, port, timeout=10)
    with imap:
        imap.login(address, PASSWORD)
        return set(imap.capability()[1][0].decode().split())


async def test_idle_is_offered_on_143_and_993_but_not_on_the_polling_port() -> None:
    ann = new_address("ann")
    assert "IDLE" in await asyncio.to_thread(capabilities, IMAP_PORT, ann)
    assert "IDLE" in await asyncio.to_thread(capabilities, IMAPS_PORT, ann)
    without_idle = await asyncio.to_thread(capabilities, IMAP_NO_IDLE_PORT, ann)
    assert "IDLE" not in without_idle and "UIDPLUS" in without_idle

    # The polling port shows the same mailboxes.
    await send_raw(ann, make_message("someone@outside.test", ann, "Both ports"))
    [on_143] = await mailbox_messages(ann)
    assert await mailbox_messages(ann, port=IMAP_NO_IDLE_PORT) == [on_143]


def start_idle(address: str) -> tuple[socket.socket, BinaryIO]:
    """LOGIN, SELECT INBOX and IDLE on 143, by hand (imaplib has no IDLE before Python 3.14)."""
    sock = socket.create_connection((HOST, IMAP_PORT), timeout=10)
    lines = sock.makefile("rb")

    def command(text: str) -> None:
        sock.sendall(text.encode() + b"\r\n")
        tag = text.split()[0].encode()
        while not (line := lines.readline()).startswith(tag):
            assert line, "connection closed"
        assert line.split()[1] == b"OK", line

    lines.readline()  # greeting
    command(f"a LOGIN {address} {PASSWORD}")
    command("b SELECT INBOX")
    sock.sendall(b"c IDLE\r\n")
    assert lines.readline().startswith(b"+"), "no IDLE continuation"
    return sock, lines


def next_exists(sock: socket.socket, lines: BinaryIO) -> str:
    """The first EXISTS pushed during IDLE; then DONE."""
    while b"EXISTS" not in (line := lines.readline()):
        assert line, "connection closed while idling"
    sock.sendall(b"DONE\r\n")
    return line.decode().strip()


async def test_idle_reports_new_mail_at_once() -> None:
    ann = new_address("ann")
    sock, lines = await asyncio.to_thread(start_idle, ann)
    with sock, lines:
        started = time.monotonic()
        await send_raw(ann, make_message("someone@outside.test", ann, "Push"))
        assert await asyncio.to_thread(next_exists, sock, lines) == "* 1 EXISTS"
    assert time.monotonic() - started < 5
