"""The support mailbox over IMAP (aioimaplib): which mails are new, their bytes, marking one
seen once it is handled, and waiting for news (IDLE where the server offers it, else a pause).

Positions are UIDs within one UIDVALIDITY: the channel keeps "<validity>:<last uid handled>".
A server that rebuilt the folder (a new UIDVALIDITY) gives UIDs that mean nothing any more;
then the unseen mails are the new ones (mails are marked seen only after their commit)."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from dataclasses import dataclass

import aioimaplib

log = logging.getLogger(__name__)

TIMEOUT = 30.0  # seconds for one command
IDLE_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes
_VALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_FETCHED_UID = re.compile(rb"UID (\d+)")


class MailboxError(Exception):
    """The server refused a command, or the connection failed: reconnect later."""


@dataclass(frozen=True)
class MailServers:
    address: str
    name: str
    imap_host: str
    imap_port: int
    imap_tls: bool
    imap_user: str
    imap_password: str
    folder: str
    smtp_host: str
    smtp_port: int
    smtp_security: str  # "starttls", "tls" or "none"
    smtp_user: str
    smtp_password: str
    ca_file: str | None = None

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


class Mailbox:
    """One IMAP session on the support folder."""

    def __init__(self, servers: MailServers) -> None:
        self.servers = servers
        self.client: aioimaplib.IMAP4 | None = None
        self.validity = 0
        self.idle = False

    async def open(self) -> int:
        """Log in and select the folder; returns its UIDVALIDITY."""
        servers = self.servers
        if servers.imap_tls:
            client = aioimaplib.IMAP4_SSL(
                servers.imap_host, servers.imap_port, timeout=TIMEOUT,
                ssl_context=servers.tls_context(),
            )  # fmt: skip
        else:
            client = aioimaplib.IMAP4(servers.imap_host, servers.imap_port, timeout=TIMEOUT)
        self.client = client
        await client.wait_hello_from_server()
        _ok(await client.login(servers.imap_user, servers.imap_password), "LOGIN")
        selected = _ok(await client.select(servers.folder), "SELECT")
        found = _VALIDITY.search(b" ".join(bytes(line) for line in selected.lines))
        self.validity = int(found.group(1)) if found else 0
        self.idle = client.has_capability("IDLE")
        return self.validity

    async def close(self) -> None:
        if self.client is None:
            return
        try:
            await asyncio.wait_for(self.client.logout(), 5)
        except Exception:  # noqa: BLE001 - going away anyway
            pass
        self.client = None

    async def new_uids(self, after: int | None) -> list[int]:
        """UIDs above `after`, or of the unseen mails when None, in order."""
        criteria = f"UID {after + 1}:*" if after is not None else "UNSEEN"
        found = _ok(await self._client.uid_search(criteria), "SEARCH")
        uids = sorted(
            {int(w) for line in found.lines[:1] for w in bytes(line).split() if w.isdigit()}
        )
        # "n:*" always matches the last mail, even below n.
        return [uid for uid in uids if after is None or uid > after]

    async def fetch(self, uid: int) -> bytes | None:
        """The whole mail, not marked seen by reading it; None if it is gone."""
        fetched = _ok(await self._client.uid("fetch", str(uid), "(UID BODY.PEEK[])"), "FETCH")
        lines = fetched.lines
        for index, line in enumerate(lines[:-1]):
            if isinstance(line, bytes) and _FETCHED_UID.search(line) and b"FETCH" in line:
                body = lines[index + 1]
                if isinstance(body, bytearray | bytes) and not line.rstrip().endswith(b")"):
                    return bytes(body)
        return None

    async def mark_seen(self, uid: int) -> None:
        _ok(await self._client.uid("store", str(uid), "+FLAGS.SILENT (\\Seen)"), "STORE")

    async def wait_for_news(self, seconds: float, stop: asyncio.Event) -> None:
        """Until the server reports a change (IDLE) or `seconds` passed, whichever is first,
        or `stop` is set."""
        if not self.idle:
            try:
                await asyncio.wait_for(stop.wait(), seconds)
            except TimeoutError:
                pass
            return
        client = self._client
        idle = await client.idle_start(timeout=IDLE_SECONDS)
        push = asyncio.ensure_future(client.wait_server_push(timeout=min(seconds, IDLE_SECONDS)))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({push, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not push.done():
                push.cancel()
            client.idle_done()
            try:
                await asyncio.wait_for(idle, TIMEOUT)
            except TimeoutError as error:
                raise MailboxError("IDLE did not end") from error
        if push.done() and not push.cancelled() and push.exception() is not None:
            error = push.exception()
            if not isinstance(error, asyncio.TimeoutError | TimeoutError):
                raise MailboxError(f"IDLE failed: {error!r}")

    @property
    def _client(self) -> aioimaplib.IMAP4:
        if self.client is None:
            raise MailboxError("not connected")
        return self.client


def _ok(response, command: str):
    if response.result != "OK":
        text = b" ".join(bytes(line) for line in response.lines if isinstance(line, bytes))
        raise MailboxError(f"{command}: {response.result} {text[:200]!r}")
    return response
