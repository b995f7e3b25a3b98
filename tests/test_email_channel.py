"""The e-mail channel's own decisions, without a mail server: how a mail becomes an incoming
message, which mails are left alone, how buttons read in a mail."""

from __future__ import annotations

from channels.email import EmailChannel, _update_id
from channels.email_imap import MailServers
from channels.email_mime import parse_mail
from core.messages import Button, ConversationRef, OutgoingMessage

SUPPORT = "support@example.com"


def channel() -> EmailChannel:
    return EmailChannel(
        MailServers(
            SUPPORT,
            "Support",
            "imap",
            993,
            True,
            SUPPORT,
            "pw",
            "INBOX",
            "smtp",
            587,
            "starttls",
            SUPPORT,
            "pw",
        )  # fmt: skip
    )


def raw(subject: str, body: str, *headers: str, sender: str = "Ann <ann@example.org>") -> bytes:
    lines = [f"From: {sender}", f"To: {SUPPORT}", f"Subject: {subject}",
             "Message-ID: <m1@example.org>", *headers, "Content-Type: text/plain; charset=utf-8",
             "", body]  # fmt: skip
    return "\r\n".join(lines).encode()


def test_a_new_thread_brings_its_subject_with_the_text():
    mail = parse_mail(raw("Printer broken", "It prints blank pages."))
    message = channel()._incoming(mail, validity=7, uid=3)
    assert message.conversation == ConversationRef("email", "ann@example.org")
    assert message.sender.display_name == "Ann"
    assert message.text == "Printer broken\n\nIt prints blank pages."
    assert message.update_id == "mid:m1@example.org" and message.message_id == "m1@example.org"
    assert message.reply_to_message_id is None
    assert message.sender.language_hint == "en"
    russian = parse_mail(raw("Принтер", "Не печатает принтер"))
    assert channel()._incoming(russian, 7, 4).sender.language_hint == "ru"


def test_a_reply_finds_its_ticket_by_our_message_id_else_by_the_subject_tag():
    ours = "helpdesk-abc@example.com"
    mail = parse_mail(raw("Re: [#12] Printer", "Thanks", f"In-Reply-To: <{ours}>"))
    assert channel()._incoming(mail, 7, 4).reply_to_message_id == ours
    assert channel()._incoming(mail, 7, 4).text == "Thanks"
    lost = parse_mail(raw("Re: [#12] Printer", "Thanks", "In-Reply-To: <her-own@example.org>"))
    assert channel()._incoming(lost, 7, 4).reply_to_message_id == "ticket:12"
    bare = parse_mail(raw("Re: [#12] Printer", "Thanks"))
    assert channel()._incoming(bare, 7, 4).reply_to_message_id == "ticket:12"


def test_robots_and_our_own_address_are_left_alone():
    bot = channel()
    assert bot._wanted(parse_mail(raw("Hi", "hello")), 1)
    away = parse_mail(raw("Out of office", "away", "Auto-Submitted: auto-replied"))
    assert not bot._wanted(away, 1)
    assert not bot._wanted(parse_mail(raw("Hi", "x", sender=f"Us <{SUPPORT}>")), 1)
    bounce = parse_mail(raw("Undelivered", "x", sender="MAILER-DAEMON@example.org"))
    assert not bot._wanted(bounce, 1)


def test_attachments_are_fetched_again_from_their_mail():
    body = (
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain\r\n\r\nsee file\r\n--b\r\n"
        'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="a.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n"
    )
    mail = parse_mail(
        f"From: ann@example.org\r\nSubject: s\r\nMessage-ID: <m2@x>\r\n{body}".encode()
    )
    [file] = channel()._incoming(mail, 7, 9).attachments
    assert (file.file_id, file.file_name, file.size, file.channel) == ("7:9:0", "a.pdf", 4, "email")


def test_buttons_become_lines_to_answer_with():
    message = OutgoingMessage(
        ConversationRef("email", "ann@example.org"), "Did this help?",
        buttons=((Button("Yes", "/helped 3"), Button("No", "/nothelped 3")),),
    )  # fmt: skip
    [part] = channel().parts(message)
    assert part.buttons == ()
    assert part.text == "Did this help?\n\n• Yes: /helped 3\n• No: /nothelped 3"


def test_long_message_ids_are_hashed_into_a_delivery_id():
    assert len(_update_id("x" * 300)) <= 128
    assert _update_id("x" * 300) == _update_id("x" * 300) != _update_id("y" * 300)
