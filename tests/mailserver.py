"""Helpers for the e-mail tests: a real Postfix and Dovecot on 127.0.0.1 (`.ci/mailserver`).

Every address @helpdesk.test is a mailbox with the password `test-password`, so each test takes
fresh addresses from `new_address` and shares nothing with other tests. Mail to port 25 needs no
auth; Postfix hands it to Dovecot over LMTP at once. Mail that an authenticated user submits to
another domain bounces at once to its sender (a real DSN in the sender's INBOX).

Mark the tests with `requires_mailserver`: they skip when the server is not there, unless
HELPDESK_TEST_MAIL=1 (as in CI), where they run and fail instead. The helpers use only the
standard library (never the project's e-mail channel), in threads, so async tests await them.
They read over IMAP with STARTTLS and BODY.PEEK[]: waiting never marks anything seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import functools
import imaplib
import json
import os
import re
import smtplib
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator

import pytest

HOST = "127.0.0.1"
DOMAIN = "helpdesk.test"
PASSWORD = "test-password"
SMTP_PORT = 25  # no auth, mail for @helpdesk.test only (as from the outside world)
SUBMISSION_PORT = 587  # STARTTLS required, then AUTH PLAIN/LOGIN
SUBMISSIONS_PORT = 465  # implicit TLS, then AUTH
IMAP_PORT = 143  # STARTTLS offered, LOGIN allowed without it; IDLE offered
IMAPS_PORT = 993
IMAP_NO_IDLE_PORT = 1143  # the same mailboxes, CAPABILITY without IDLE (for polling)
CERT_FILE = "/etc/ssl/helpdesk-test/mail.crt"  # the servers' self-signed certificate
OUTSIDE_SENDER = "someone@outside.test"
REQUIRED_ENV = "HELPDESK_TEST_MAIL"

SKIP_REASON = (
    "mail server: run .ci/mailserver (needs root) to install and start Postfix and Dovecot "
    "on 127.0.0.1"
)


@functools.cache
def available() -> bool:
    """Whether SMTP and IMAP answer on 127.0.0.1 (checked once per test session)."""
    for port in (SMTP_PORT, IMAP_PORT):
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                pass
        except OSError:
            return False
    return True


def required() -> bool:
    """HELPDESK_TEST_MAIL=1: the mail tests must run, so a missing server fails them."""
    return os.environ.get(REQUIRED_ENV, "") not in ("", "0")


# With HELPDESK_TEST_MAIL=1 the tests never skip: without a server every helper (and the
# channel itself) fails to connect, with `_unreachable`'s message from the helpers.
requires_mailserver = pytest.mark.skipif(not required() and not available(), reason=SKIP_REASON)


def new_address(prefix: str) -> str:
    """A fresh mailbox of its own: `prefix-<8 hex digits>@helpdesk.test`."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}@{DOMAIN}"


def tls_context() -> ssl.SSLContext:
    """A client context that trusts the servers' certificate (and checks the host name)."""
    return ssl.create_default_context(cafile=CERT_FILE)


def _unreachable(port: int, error: OSError) -> AssertionError:
    return AssertionError(
        f"mail server: nothing answers on {HOST}:{port} ({error!r}); "
        f"run .ci/mailserver as root to install and start Postfix and Dovecot"
    )


# -- SMTP


def _recipients(to: str | Iterable[str]) -> list[str]:
    return [to] if isinstance(to, str) else list(to)


def _send(port: int, to: str | Iterable[str], raw: bytes, sender: str, user: str | None) -> None:
    try:
        if port == SUBMISSIONS_PORT:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(HOST, port, timeout=10, context=tls_context())
        else:
            smtp = smtplib.SMTP(HOST, port, timeout=10)
    except OSError as error:
        raise _unreachable(port, error) from error
    with smtp:
        if port == SUBMISSION_PORT:
            smtp.starttls(context=tls_context())
        if user is not None:
            smtp.login(user, PASSWORD)
        refused = smtp.sendmail(sender, _recipients(to), raw)
    assert not refused, f"recipients refused: {refused}"


async def send_raw(to: str | Iterable[str], raw: bytes, sender: str = OUTSIDE_SENDER) -> None:
    """Deliver `raw` as mail from the outside world: port 25, no auth, this envelope."""
    await asyncio.to_thread(_send, SMTP_PORT, to, raw, sender, None)


async def submit(
    to: str | Iterable[str],
    raw: bytes,
    sender: str,
    *,
    user: str | None = None,
    port: int = SUBMISSION_PORT,
) -> None:
    """Send `raw` as a mail client does: port 587 with STARTTLS (or 465 with implicit TLS),
    logged in as `user` (the sender by default). Other domains than helpdesk.test bounce."""
    await asyncio.to_thread(_send, port, to, raw, sender, user or sender)


# -- IMAP


@contextlib.contextmanager
def _imap(address: str, port: int = IMAP_PORT) -> Iterator[imaplib.IMAP4]:
    try:
        imap = imaplib.IMAP4(HOST, port, timeout=10)
    except OSError as error:
        raise _unreachable(port, error) from error
    try:
        imap.starttls(tls_context())
        imap.login(address, PASSWORD)
        yield imap
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            imap.logout()


def _examine(imap: imaplib.IMAP4, mailbox: str) -> list[bytes]:
    """The UIDs in `mailbox`, ascending, opened read-only (none if it does not exist)."""
    status, _ = imap.select(mailbox, readonly=True)
    if status != "OK":
        return []
    status, data = imap.uid("SEARCH", "ALL")
    assert status == "OK", data
    return sorted(data[0].split(), key=int)


def _fetch(imap: imaplib.IMAP4, uids: list[bytes], items: str) -> dict[int, tuple[bytes, bytes]]:
    """UID -> (the response line, its literal or b"") for each of `uids`."""
    if not uids:
        return {}
    status, data = imap.uid("FETCH", b",".join(uids).decode(), items)
    assert status == "OK", data
    found: dict[int, tuple[bytes, bytes]] = {}
    for item in data:
        line, literal = item if isinstance(item, tuple) else (item, b"")
        match = re.search(rb"\bUID (\d+)", line or b"")
        if match:
            found[int(match[1])] = (line, literal)
    return found


def _summary(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return f"From: {message['From']!s} / To: {message['To']!s} / Subject: {message['Subject']!s}"


def _wait_for(address: str, timeout: float, count: int, mailbox: str, port: int) -> list[bytes]:
    deadline = time.monotonic() + timeout
    with _imap(address, port) as imap:
        while True:
            uids = _examine(imap, mailbox)
            if len(uids) >= count or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        fetched = _fetch(imap, uids, "(BODY.PEEK[])")
    messages = [fetched[uid][1] for uid in sorted(fetched)]
    if len(messages) < count:
        there = "".join(f"\n  {_summary(raw)}" for raw in messages) or " nothing"
        raise AssertionError(
            f"{address} {mailbox}: {len(messages)} message(s) after {timeout}s, expected "
            f"at least {count}; there:{there}"
        )
    return messages


async def mailbox_messages(
    address: str,
    timeout: float = 10,  # noqa: ASYNC109 (a deadline for the polling thread, not a cancel)
    count: int = 1,
    *,
    mailbox: str = "INBOX",
    port: int = IMAP_PORT,
) -> list[bytes]:
    """Wait until `mailbox` of `address` holds at least `count` messages; all of them, raw, in
    UID order. Marks nothing seen. On timeout an AssertionError says what was there."""
    return await asyncio.to_thread(_wait_for, address, timeout, count, mailbox, port)


def _flags(address: str, mailbox: str) -> list[set[str]]:
    with _imap(address) as imap:
        fetched = _fetch(imap, _examine(imap, mailbox), "(FLAGS)")
    flags: list[set[str]] = []
    for uid in sorted(fetched):
        match = re.search(rb"FLAGS \(([^)]*)\)", fetched[uid][0])
        assert match, fetched[uid]
        # \Recent belongs to the IMAP session, not to the message.
        flags.append(set(match[1].decode().split()) - {"\\Recent"})
    return flags


async def flags_of(address: str, mailbox: str = "INBOX") -> list[set[str]]:
    """The flags of each message in `mailbox`, in UID order (e.g. [{"\\Seen"}, set()])."""
    return await asyncio.to_thread(_flags, address, mailbox)


def _append(address: str, raw: bytes, flags: Iterable[str], mailbox: str) -> int:
    with _imap(address) as imap:
        if mailbox.upper() != "INBOX":
            imap.create(mailbox)  # NO when it exists already: fine
        flag_list = " ".join(flags)
        status, data = imap.append(mailbox, f"({flag_list})" if flag_list else None, None, raw)
    assert status == "OK", data
    match = re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0])
    assert match, data
    return int(match[1])


async def append(
    address: str, raw: bytes, flags: Iterable[str] = (), mailbox: str = "INBOX"
) -> int:
    """Put `raw` into `mailbox` of `address` directly over IMAP (no SMTP); its UID. The mailbox
    is created when it is missing."""
    return await asyncio.to_thread(_append, address, raw, tuple(flags), mailbox)


# -- Postfix's queue


def _queue() -> list[dict]:
    output = subprocess.run(
        ["postqueue", "-j"], check=True, capture_output=True, text=True, timeout=10
    ).stdout
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def _wait_for_queue(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while queued := _queue():
        if time.monotonic() >= deadline:
            raise AssertionError(f"Postfix's queue after {timeout}s: {queued}")
        time.sleep(0.05)


async def queued() -> list[dict]:
    """Postfix's queue now (`postqueue -j`, one dict per message)."""
    return await asyncio.to_thread(_queue)


async def wait_until_empty_queue(timeout: float = 10) -> None:  # noqa: ASYNC109
    """Wait until Postfix has delivered (or bounced) everything it holds."""
    await asyncio.to_thread(_wait_for_queue, timeout)
