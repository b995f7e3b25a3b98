"""The [email] section and how `helpdesk run` builds the e-mail channel from it: a support
mailbox read over IMAP, answers sent over SMTP. Users only: staff chats live on a messenger."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from channels.settings import (
    ChannelKind,
    ChatIdFormat,
    OptionalSecret,
    Section,
    StaffChat,
    plain,
    required,
)
from core.ports import Channel

NAME = "email"


class EmailSettings(Section):
    enabled: bool = False
    address: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$")  # the support mailbox
    name: str = "Support"  # the display name of our mails
    imap_host: str | None = None
    imap_port: int = Field(993, ge=1, le=65535)
    imap_security: Literal["tls", "none"] = "tls"
    imap_user: str | None = None  # default: the address
    imap_password: OptionalSecret = None
    folder: str = "INBOX"
    poll_seconds: float = Field(60.0, ge=1, le=3600)  # without IDLE, and between IDLE rounds
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_user: str | None = None  # default: the IMAP user
    smtp_password: OptionalSecret = None  # default: the IMAP password
    # A CA file to trust (a self-signed server); None: the system's CAs.
    ca_file: str | None = None
    max_file_size_mb: int = Field(20, ge=1, le=100)  # attachments we send, each

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> EmailSettings:
        if not self.enabled:
            return self
        for key in ("address", "imap_host", "smtp_host"):
            if getattr(self, key) is None:
                raise required(self, NAME, key, f"when {NAME} is enabled")
        if plain(self.imap_password) is None:
            raise required(self, NAME, "imap_password", f"when {NAME} is enabled")
        return self

    @property
    def needs_http(self) -> bool:
        return False


def build(settings: EmailSettings, staff: StaffChat) -> Channel:
    from channels.email import EmailChannel, MailServers

    assert settings.address and settings.imap_host and settings.smtp_host  # required
    imap_user = settings.imap_user or settings.address
    imap_password = plain(settings.imap_password) or ""
    return EmailChannel(
        MailServers(
            address=settings.address,
            name=settings.name,
            imap_host=settings.imap_host,
            imap_port=settings.imap_port,
            imap_tls=settings.imap_security == "tls",
            imap_user=imap_user,
            imap_password=imap_password,
            folder=settings.folder,
            smtp_host=settings.smtp_host,
            smtp_port=settings.smtp_port,
            smtp_security=settings.smtp_security,
            smtp_user=settings.smtp_user or imap_user,
            smtp_password=plain(settings.smtp_password) or imap_password,
            ca_file=settings.ca_file,
        ),
        poll_seconds=settings.poll_seconds,
        max_file_size=settings.max_file_size_mb * 1024 * 1024,
    )


KIND = ChannelKind(
    name=NAME,
    settings=EmailSettings,
    build=build,
    # Nothing matches: a staff chat cannot be a mailbox.
    staff_chat_id=ChatIdFormat(
        re.compile(r"(?!)"), "a messenger's chat (e-mail serves users, not the staff)"
    ),
    user_id_example="ann@example.com",
)
