"""E-mail as data: a raw received RFC 5322 message turned into a clean record, and the bytes of
an outgoing one. Pure: no network, no files, so every oddity of real mail can be tested.

Received mail is hostile and often broken (wrong charset labels, malformed MIME, 8-bit headers),
so parsing never raises: what cannot be read is replaced or left empty, and logged.

Decision on "noreply" senders: they are NOT treated as automated. Web forms and shops send a
person's request from noreply@ (with Reply-To pointing at the person); dropping those would
lose real requests, and a reply to such an address at worst bounces — and the bounce comes from
MAILER-DAEMON, which is automated, so no loop can start.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import collapse_rfc2231_value, format_datetime, parseaddr

from channels.email_text import html_to_text, new_text, strip_blank_edges, unflow

logger = logging.getLogger(__name__)

MAX_REFERENCES = 20  # longer References headers get cut by some servers; keep first and last


@dataclass(frozen=True)
class MailAttachment:
    file_name: str
    mime_type: str
    content: bytes


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    from_address: str
    from_name: str
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    text: str
    attachments: tuple[MailAttachment, ...]
    automated: str | None
    language_hint: str | None


def _unescape(value: str) -> str:
    """Raw 8-bit header bytes arrive as surrogate escapes; read them as utf-8."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _decode_words(raw: str) -> str:
    try:
        return _unescape(str(make_header(decode_header(raw))))
    except Exception:
        return _unescape(raw)


def _raw_header(msg: Message, name: str) -> str:
    return str(next((v for k, v in msg.raw_items() if k.lower() == name.lower()), ""))


def _header(msg: Message, name: str) -> str:
    """A header's decoded value ("" when absent). The typed header classes of the default
    policy can raise on malformed values; then the raw value is decoded by hand."""
    try:
        value = msg.get(name)
        return "" if value is None else _unescape(str(value))
    except Exception:
        return _decode_words(_raw_header(msg, name))


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _collapse(value: str) -> str:
    return " ".join(_CONTROLS.sub("", value).split())


_MSG_ID = re.compile(r"<([^<>\s]+)>")


def _ids(value: str) -> list[str]:
    """Message ids from a header value, without brackets; bare ids when nobody used any."""
    found = _MSG_ID.findall(value)
    return found or [v for v in value.split() if "@" in v]


def _decode(payload: bytes, charset: str | None) -> str:
    if charset in (None, "us-ascii", "ascii"):
        charset = "utf-8"  # a superset; mailers label 8-bit text "us-ascii" all the time
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset label
        logger.info("unknown charset %r in a received mail, read as utf-8", charset)
        return payload.decode("utf-8", errors="replace")


def _param(part: Message, name: str) -> str:
    return str(collapse_rfc2231_value(part.get_param(name, ""))).strip().lower()


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    text = _decode(payload, part.get_content_charset()).replace("\r\n", "\n")
    if part.get_content_subtype() == "plain" and _param(part, "format") == "flowed":
        text = unflow(text, delsp=_param(part, "delsp") == "yes")
    return text


_EXTENSIONS = {"jpeg": "jpg", "svg+xml": "svg", "plain": "txt", "rfc822": "eml", "x-icon": "ico"}
_EXTENSIONS |= dict.fromkeys(
    ("delivery-status", "disposition-notification", "rfc822-headers"), "txt"
)


def _generated_name(part: Message, number: int) -> str:
    subtype = part.get_content_subtype()
    extension = _EXTENSIONS.get(subtype) or re.sub(r"[^a-z0-9]", "", subtype)[:10] or "bin"
    return f"{part.get_content_maintype()}-{number}.{extension}"


def _file_name(part: Message) -> str:
    try:
        name = part.get_filename() or collapse_rfc2231_value(part.get_param("name", ""))
    except Exception:
        return ""
    if "=?" in name:  # RFC 2047 inside a quoted parameter, as old Outlook writes it
        try:
            name = str(make_header(decode_header(name)))
        except Exception:
            pass
    name = re.sub(r"[\x00-\x1f]", "", name).replace("\\", "/").rsplit("/", 1)[-1]
    return name.strip()


class _Walk:
    """Collects the text bodies and the attachments of a message tree."""

    def __init__(self) -> None:
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[MailAttachment] = []
        self.unnamed = 0

    def visit(self, part: Message) -> None:
        content_type = part.get_content_type()
        if content_type.startswith("multipart/"):
            payload = part.get_payload()
            for sub in payload if isinstance(payload, list) else ():
                self.visit(sub)
            return
        try:
            self._leaf(part, content_type)
        except Exception:  # one unreadable part must not cost the others
            logger.warning("unreadable %s part in a received mail", content_type, exc_info=True)

    def _leaf(self, part: Message, content_type: str) -> None:
        name = _file_name(part)
        disposition = part.get_content_disposition()
        if content_type in ("text/plain", "text/html") and not name and disposition != "attachment":
            (self.plain if content_type == "text/plain" else self.html).append(_part_text(part))
            return
        if part.get_content_maintype() == "message":
            # A forwarded message or a delivery status: kept whole, never read as our text.
            payload = part.get_payload()
            if isinstance(payload, list):
                content = b"".join(_as_bytes(sub) for sub in payload)
            else:
                content = part.get_payload(decode=True) or b""
        else:
            content = part.get_payload(decode=True) or b""
        if not name:
            self.unnamed += 1
            name = _generated_name(part, self.unnamed)
        self.attachments.append(MailAttachment(name, content_type, content))


def _as_bytes(msg: Message) -> bytes:
    try:
        return msg.as_bytes(policy=policy.default)
    except Exception:
        return msg.as_bytes(policy=policy.compat32)


def _automated(msg: Message, from_address: str) -> str | None:
    """Why this mail must never open a ticket nor be answered (RFC 3834 and practice)."""
    if msg.get_content_type() == "multipart/report":
        return "delivery report"  # bounces (DSN) and read receipts (MDN)
    if not from_address or _header(msg, "Return-Path").strip() == "<>":
        return "null sender"
    if from_address.split("@")[0] in ("mailer-daemon", "postmaster"):
        return "mailer-daemon"
    auto_submitted = _header(msg, "Auto-Submitted").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return "auto-submitted"
    if any(_header(msg, name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoreply-From")):
        return "x-autoreply"
    # Exchange writes "All" on its own automatic replies; other values only ask the receiver
    # not to auto-answer and appear on ordinary mail, so they prove nothing.
    suppress = _header(msg, "X-Auto-Response-Suppress").lower().replace(",", " ").split()
    if "all" in suppress:
        return "x-auto-response-suppress"
    if _header(msg, "List-Id") or _header(msg, "List-Unsubscribe"):
        return "mailing list"
    if _header(msg, "Precedence").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return "precedence"
    return None


def _sender(msg: Message) -> tuple[str, str]:
    """(lower-cased address, display name) of From; ("", "") for a null or missing sender."""
    raw = _raw_header(msg, "From")
    try:
        addresses = getattr(msg.get("From"), "addresses", ())
    except Exception:
        addresses = ()
    if addresses:
        address, name = addresses[0].addr_spec.strip("<>"), _unescape(addresses[0].display_name)
    else:
        name, address = parseaddr(_header(msg, "From"))
    if "=?" in raw:
        # CPython joins adjacent encoded words of a display name with a space (RFC 2047
        # says the space between them is not text), so such names are decoded by hand.
        name = _decode_words(parseaddr(raw.replace("\r\n", ""))[0] or name)
    return address.lower(), _collapse(name)


def _language(value: str) -> str | None:
    primary = value.split(",")[0].strip().split("-")[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def parse_mail(raw: bytes) -> ParsedMail:
    """A received message as a record; never raises, whatever the bytes."""
    missing_id = f"missing-{hashlib.sha256(raw).hexdigest()[:16]}@helpdesk.invalid"
    try:
        return _parse(raw, missing_id)
    except Exception:  # the last resort: no received mail may stop the channel
        logger.warning("unparsable mail %s", missing_id, exc_info=True)
        # No sender can be trusted, so nobody is answered.
        return ParsedMail(missing_id, "", "", "", None, (), "", (), "null sender", None)


def _parse(raw: bytes, missing_id: str) -> ParsedMail:
    msg = message_from_bytes(raw, policy=policy.default)
    walk = _Walk()
    try:
        walk.visit(msg)
    except RecursionError:  # absurdly nested multiparts: keep what was collected
        logger.warning("too deeply nested mail %s", missing_id)
    if walk.plain:
        body = "\n".join(walk.plain)
    else:
        body = "\n".join(html_to_text(html) for html in walk.html)
    from_address, from_name = _sender(msg)
    in_reply_to = _ids(_header(msg, "In-Reply-To"))
    return ParsedMail(
        message_id=next(iter(_ids(_header(msg, "Message-ID"))), missing_id),
        from_address=from_address,
        from_name=from_name,
        subject=_collapse(_header(msg, "Subject")),
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=tuple(_ids(_header(msg, "References"))),
        text=new_text(strip_blank_edges(_CONTROLS.sub("", body))),  # NUL breaks databases
        attachments=tuple(walk.attachments),
        automated=_automated(msg, from_address),
        language_hint=_language(_header(msg, "Content-Language")),
    )


def thread_ids(mail: ParsedMail) -> tuple[str, ...]:
    """Every message id this mail answers, nearest first: In-Reply-To, then References from
    last to first, de-duplicated."""
    ordered = ([mail.in_reply_to] if mail.in_reply_to else []) + list(reversed(mail.references))
    return tuple(dict.fromkeys(ordered))


# Our tag in subjects; bracketed so that "#123" in ordinary text is never taken for it.
_TICKET_TAG = re.compile(r"\[\s*(?:ticket\s*)?#\s*(\d{1,18})\s*\]", re.IGNORECASE)
_PREFIX = re.compile(
    r"^\s*(re|fwd?|aw|wg|sv|vs|tr|rv|antw|ответ|отв|пересл)\s*(\[\d+\]|\(\d+\))?\s*:\s*",
    re.IGNORECASE,
)


def ticket_number_in_subject(subject: str) -> int | None:
    """The ticket number from a subject like "Re: [#123] Printer broken" or
    "AW: Fwd: [Ticket #123] ..." — the fallback when threading headers are lost."""
    found = _TICKET_TAG.search(subject)
    return int(found.group(1)) if found else None


def reply_subject(subject: str, ticket_id: int) -> str:
    """The subject of our answer, "Re: [#<id>] <subject>", without the reply prefixes and
    ticket tags the subject already carries."""
    rest = _collapse(_TICKET_TAG.sub(" ", subject))
    while (stripped := _collapse(_PREFIX.sub("", rest, count=1))) != rest:
        rest = stripped
    return f"Re: [#{ticket_id}] {rest}" if rest else f"[#{ticket_id}]"


def make_message_id(key: str, domain: str) -> str:
    """A Message-ID (no brackets) that depends only on `key`: a resend after a crash carries
    the same id, so the receiver's client sees one message, not two."""
    return f"helpdesk-{hashlib.sha256(key.encode()).hexdigest()[:24]}@{domain}"


def _bracketed(message_id: str) -> str:
    return f"<{message_id.strip().strip('<>')}>"


def _references(references: tuple[str, ...], in_reply_to: str | None) -> list[str]:
    ids = [i.strip().strip("<>") for i in (*references, in_reply_to or "") if i and i.strip()]
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_REFERENCES:  # the root keeps the thread; the last ones its branch
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return ids


def compose_mail(
    *,
    from_address: str,
    from_name: str,
    to_address: str,
    subject: str,
    text: str,
    message_id: str,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
    attachments: tuple[MailAttachment, ...] = (),
    language: str | None = None,
) -> bytes:
    """A complete outgoing message: CRLF line ends, 7-bit safe (non-ASCII headers as RFC 2047
    words, bodies as quoted-printable or base64, file names as RFC 2231 parameters)."""
    # 7bit: some relays still lack 8BITMIME, and a 7-bit message survives every hop.
    outgoing = policy.SMTP.clone(cte_type="7bit")
    msg = EmailMessage(policy=outgoing)
    msg["From"] = Address(display_name=_collapse(from_name), addr_spec=from_address.strip())
    msg["To"] = Address(addr_spec=to_address.strip())
    msg["Subject"] = _collapse(subject)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = _bracketed(message_id)
    if in_reply_to:
        msg["In-Reply-To"] = _bracketed(in_reply_to)
    if chain := _references(references, in_reply_to):
        msg["References"] = " ".join(f"<{i}>" for i in chain)
    # RFC 3834: other auto-responders (out of office, ticket systems) must not answer us.
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content(text.replace("\r\n", "\n"), subtype="plain", charset="utf-8")
    for attachment in attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        if not re.fullmatch(r"[\w.+-]+", maintype) or not re.fullmatch(r"[\w.+-]+", subtype):
            maintype, subtype = "application", "octet-stream"
        name = _collapse(attachment.file_name.replace("/", "_").replace("\\", "_")) or "file"
        # The name goes in Content-Type too: some clients read it only from there.
        msg.add_attachment(
            attachment.content, maintype, subtype, filename=name, params={"name": name}
        )
    if language:  # only now: set_content and add_attachment move Content-* headers away
        msg["Content-Language"] = _collapse(language)
    return msg.as_bytes(policy=outgoing)
