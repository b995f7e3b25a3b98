"""The pure e-mail layer against real-looking mail: charsets and transfer encodings, HTML,
quoted history and signatures of the common clients, automated mail, attachments, threading
and the outgoing message."""

from __future__ import annotations

import base64
import hashlib
import quopri
from email import message_from_bytes, policy

import pytest

from channels.email_mime import (
    MailAttachment,
    ParsedMail,
    compose_mail,
    make_message_id,
    parse_mail,
    reply_subject,
    thread_ids,
    ticket_number_in_subject,
)


def crlf(raw: bytes) -> bytes:
    """Test messages are written with "\\n"; on the wire (and from IMAP) lines end in CRLF."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def b64(text: str, charset: str) -> bytes:
    return base64.b64encode(text.encode(charset))


def qp(text: str, charset: str) -> bytes:
    return quopri.encodestring(text.encode(charset))


def plain(body: str, **headers: str) -> bytes:
    """A minimal utf-8 text/plain message; extra headers given as Header_Name="value"."""
    lines = [
        "From: Ann Smith <ann@example.org>",
        "To: help@example.com",
        "Subject: Printer",
        "Message-ID: <m1@example.org>",
    ]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    lines += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return crlf(("\n".join(lines) + "\n\n" + body).encode())


# --- headers --------------------------------------------------------------------------------


def test_headers_are_decoded_and_threading_ids_lose_their_brackets() -> None:
    raw = crlf(
        b"Return-Path: <Ann.Smith@Example.ORG>\n"
        b"From: Ann Smith <Ann.Smith@Example.ORG>\n"
        b"To: help@example.com\n"
        b"Subject: Printer   on the\n\tthird floor\n"
        b"Message-ID: <CAF=abc+123@mail.gmail.com>\n"
        b"In-Reply-To: <helpdesk-1@example.com> (our message)\n"
        b"References: <root@example.com>\n <helpdesk-1@example.com>\n"
        b"Content-Language: en-US\n"
        b"Content-Type: text/plain; charset=us-ascii\n"
        b"\n"
        b"It jams again.\n"
    )
    mail = parse_mail(raw)
    assert mail == ParsedMail(
        message_id="CAF=abc+123@mail.gmail.com",
        from_address="ann.smith@example.org",
        from_name="Ann Smith",
        subject="Printer on the third floor",
        in_reply_to="helpdesk-1@example.com",
        references=("root@example.com", "helpdesk-1@example.com"),
        text="It jams again.",
        attachments=(),
        automated=None,
        language_hint="en",
    )


def test_encoded_words_in_koi8_r_windows_1251_and_utf_8() -> None:
    # the space between adjacent encoded words is not text (RFC 2047): it is encoded in the first
    subject = (
        b"=?koi8-r?B?" + b64("Не работает ", "koi8-r") + b"?=\n =?koi8-r?Q?=D0=D2=C9=CE=D4=C5=D2?="
    )
    name = b"=?windows-1251?B?" + b64("Анна Иванова", "windows-1251") + b"?="
    raw = crlf(
        b"From: " + name + b" <anna@example.ru>\n"
        b"Subject: " + subject + b"\n"
        b"Message-ID: <ru1@example.ru>\n"
        b"Content-Language: ru\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"\n"
        b"ok\n"
    )
    mail = parse_mail(raw)
    # =D0=D2=C9=CE=D4=C5=D2 is "принтер" in koi8-r
    assert (mail.subject, mail.from_name, mail.from_address) == (
        "Не работает принтер",
        "Анна Иванова",
        "anna@example.ru",
    )
    assert mail.language_hint == "ru"


def test_raw_8bit_utf8_header_is_read() -> None:
    raw = crlf("From: Пётр <petr@example.ru>\nSubject: Сломался  сканер\n\nтекст\n".encode())
    mail = parse_mail(raw)
    assert (mail.from_name, mail.subject, mail.text) == ("Пётр", "Сломался сканер", "текст")


def test_unknown_charset_in_an_encoded_word_does_not_crash() -> None:
    raw = crlf(
        b"From: a@example.org\nSubject: =?x-klingon?B?" + b64("Привет", "utf-8") + b"?=\n\nx"
    )
    assert parse_mail(raw).subject == "Привет"


def test_missing_message_id_is_derived_from_the_bytes() -> None:
    raw = crlf(b"From: a@example.org\nSubject: hi\n\nhello\n")
    expected = f"missing-{hashlib.sha256(raw).hexdigest()[:16]}@helpdesk.invalid"
    assert parse_mail(raw).message_id == expected
    assert parse_mail(raw + b"!").message_id != expected


def test_null_sender_and_missing_sender() -> None:
    null_from = parse_mail(crlf(b"From: <>\nSubject: x\nMessage-ID: <n@x>\n\nbody\n"))
    assert (null_from.from_address, null_from.automated) == ("", "null sender")
    null_path = parse_mail(plain("body", Return_Path="<>"))
    assert (null_path.from_address, null_path.automated) == ("ann@example.org", "null sender")
    assert parse_mail(crlf(b"Subject: x\n\nbody\n")).automated == "null sender"


# --- bodies: charsets and transfer encodings ------------------------------------------------


@pytest.mark.parametrize(
    ("charset", "encoding", "encode"),
    [
        ("koi8-r", "quoted-printable", qp),
        ("koi8-r", "base64", b64),
        ("windows-1251", "base64", b64),
        ("windows-1251", "quoted-printable", qp),
        ("utf-8", "quoted-printable", qp),
        ("utf-8", "base64", b64),
    ],
)
def test_cyrillic_bodies_in_every_charset_and_transfer_encoding(charset, encoding, encode) -> None:
    text = "Здравствуйте!\nПринтер на 3-м этаже снова зажёвывает бумагу.\n"
    raw = crlf(
        b"From: anna@example.ru\n"
        b"Subject: test\n"
        b"Content-Type: text/plain; charset=" + charset.encode() + b"\n"
        b"Content-Transfer-Encoding: " + encoding.encode() + b"\n"
        b"\n"
    ) + encode(text.replace("\n", "\r\n"), charset)
    assert parse_mail(raw).text == "Здравствуйте!\nПринтер на 3-м этаже снова зажёвывает бумагу."


def test_latin_1_quoted_printable_body() -> None:
    raw = crlf(
        b"From: jurgen@example.de\n"
        b'Content-Type: text/plain; charset="ISO-8859-1"\n'
        b"Content-Transfer-Encoding: quoted-printable\n"
        b"\n"
        b"Gr=FC=DFe aus M=FCnchen, der Drucker ist kaputt. Eine sehr lange Zeile, die =\n"
        b"weich umbrochen ist.\n"
    )
    assert parse_mail(raw).text == (
        "Grüße aus München, der Drucker ist kaputt. Eine sehr lange Zeile, die weich umbrochen ist."
    )


def test_wrong_charset_label_falls_back_to_utf_8() -> None:
    utf8 = crlf(b"From: a@example.org\nContent-Type: text/plain; charset=x-unknown-1\n\n")
    assert parse_mail(utf8 + "Привет".encode()).text == "Привет"
    # cp1251 bytes under an unknown label: replaced, never raised
    assert parse_mail(utf8 + "Привет".encode("cp1251")).text == "\ufffd" * 6
    codec = crlf(b"From: a@example.org\nContent-Type: text/plain; charset=base64\n\nhello")
    assert parse_mail(codec).text == "hello"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"", ""),
        (b"\x00\xff\xfe not a mail at all", "\ufffd\ufffd not a mail at all"),
        (b"From: a@example.org\nContent-Type: multipart/mixed\n\n--X\nhello\n", ""),  # no boundary
        (b'Content-Type: multipart/alternative; boundary="\n\n--\n\n', ""),
        (
            b"From: =?utf-8?B?!!!?= <\nSubject: =?koi8-r?Q?=ZZ?=\nMessage-ID: <<<>>\n\n\xff",
            "\ufffd",
        ),
        (b'Content-Type: text/plain; charset="\nContent-Transfer-Encoding: base64\n\n@@@===', ""),
        (b"Content-Type: text/html\n\n<div><a href=<<<<script>", ""),
        (
            b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n0J/RgNC40LLQ",
            "Прив\ufffd",
        ),
        (b"Content-Type: message/rfc822\n\nnot really", ""),
    ],
)
def test_malformed_mail_never_raises(raw: bytes, text: str) -> None:
    mail = parse_mail(crlf(raw))
    missing = f"missing-{hashlib.sha256(crlf(raw)).hexdigest()[:16]}@helpdesk.invalid"
    assert (mail.message_id, mail.text) == (missing, text)


def test_undeclared_charset_is_read_as_utf_8() -> None:
    raw = crlf(b"From: a@example.org\nContent-Type: text/plain; charset=us-ascii\n\n")
    assert parse_mail(raw + "Привет".encode()).text == "Привет"


def test_absurdly_nested_multipart_still_yields_a_record() -> None:
    raw = b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for depth in range(1, 3000):
        raw += b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (depth - 1, depth)
    missing = f"missing-{hashlib.sha256(raw).hexdigest()[:16]}@helpdesk.invalid"
    assert parse_mail(raw) == ParsedMail(missing, "", "", "", None, (), "", (), "null sender", None)


def test_nul_bytes_never_reach_the_text() -> None:
    raw = crlf(b"From: a@example.org\nSubject: a\x00b\n\nline\x00one\n")
    mail = parse_mail(raw)
    assert (mail.subject, mail.text) == ("ab", "lineone")


def test_truncated_multipart_still_yields_its_text() -> None:
    raw = crlf(
        b"From: a@example.org\n"
        b"Content-Type: multipart/mixed; boundary=XYZ\n"
        b"\n"
        b"--XYZ\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"\n"
        b"Cut short\n"
        b"--XYZ\n"
        b"Content-Type: image/png\n"
        b"Content-Transfer-Encoding: base64\n"
        b"\n"
        b"iVBORw0KGgo"
    )
    mail = parse_mail(raw)
    assert mail.text == "Cut short"
    assert [a.file_name for a in mail.attachments] == ["image-1.png"]


def test_format_flowed_paragraphs_are_joined() -> None:
    raw = crlf(
        b"From: a@example.org\n"
        b"Content-Type: text/plain; charset=utf-8; format=flowed; delsp=no\n"
        b"\n"
        b"The printer on the third floor \n"
        b"jams every morning.\n"
        b"\n"
        b" From the start of the week.\n"
    )
    assert parse_mail(raw).text == (
        "The printer on the third floor jams every morning.\n\nFrom the start of the week."
    )


def test_format_flowed_delsp_yes_removes_the_space() -> None:
    raw = crlf(
        b"From: a@example.org\n"
        b"Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\n"
        b"\n"
        b"super \n"
        b"califragilistic\n"
    )
    assert parse_mail(raw).text == "supercalifragilistic"


# --- HTML -----------------------------------------------------------------------------------


def html_mail(html: str, charset: str = "utf-8") -> bytes:
    head = crlf(
        b"From: a@example.org\n"
        b"Subject: html\n"
        b"Content-Type: text/html; charset=" + charset.encode() + b"\n"
        b"Content-Transfer-Encoding: base64\n"
        b"\n"
    )
    return head + base64.encodebytes(html.encode(charset))


def test_html_is_turned_into_text() -> None:
    html = """<html><head><title>T</title><style>p {color: red}</style></head>
    <body><script>alert("x")</script>
    <p>Hello&nbsp;team,</p><p>the   printer
       is &laquo;broken&raquo; &amp; smoking.<br>Steps:</p>
    <ul><li>open tray</li><li>pull <b>paper</b></li></ul>
    <div>See <a href="https://wiki.example.com/printer">the wiki</a>,
    <a href="https://example.com">https://example.com</a> and
    <a href="mailto:it@example.com">it@example.com</a>.</div>
    <div><br></div><div><br></div><div><br></div>
    <table><tr><td>Model</td><td>HP 4000</td></tr><tr><td>Floor</td><td>3</td></tr></table>
    <div>Thanks   <a href="https://track.example.com/o"><img src="cid:logo"></a></div>
    </body></html>"""
    assert parse_mail(html_mail(html)).text == (
        "Hello team,\n"
        "the printer is «broken» & smoking.\n"
        "Steps:\n"
        "- open tray\n"
        "- pull paper\n"
        "See the wiki (https://wiki.example.com/printer), https://example.com and it@example.com.\n"
        "\n"
        "Model HP 4000\n"
        "Floor 3\n"
        "Thanks"
    )


def test_html_in_windows_1251() -> None:
    html = "<div>Принтер сломан</div><blockquote>старое письмо</blockquote>"
    assert parse_mail(html_mail(html, "windows-1251")).text == "Принтер сломан"


def test_text_plain_alternative_wins_over_html() -> None:
    raw = crlf(
        b"From: a@example.org\n"
        b"Content-Type: multipart/alternative; boundary=alt\n"
        b"\n"
        b"--alt\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"\n"
        b"plain words\n"
        b"--alt\n"
        b"Content-Type: text/html; charset=utf-8\n"
        b"\n"
        b"<p>html words</p>\n"
        b"--alt--\n"
    )
    mail = parse_mail(raw)
    assert (mail.text, mail.attachments) == ("plain words", ())


GMAIL_REPLY = crlf(
    b"""MIME-Version: 1.0
References: <helpdesk-aaa@example.com>
In-Reply-To: <helpdesk-aaa@example.com>
From: Ann Smith <ann.smith@gmail.com>
Date: Mon, 5 Jan 2026 10:15:02 +0100
Message-ID: <CAK7=xyz@mail.gmail.com>
Subject: Re: [#42] Printer broken
To: Helpdesk <help@example.com>
Content-Type: multipart/alternative; boundary="000000000000a1b2c3"

--000000000000a1b2c3
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Yes, restarting helped. Thanks!

On Mon, 5 Jan 2026 at 10:00, Helpdesk <help@example.com> wrote:

> Please restart the printer and tell us if it helps.
>
> --
> Helpdesk
>

--000000000000a1b2c3
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Yes, restarting helped. Thanks!</div><br><div class=3D"gmail=
_quote gmail_quote_container"><div dir=3D"ltr" class=3D"gmail_attr">On Mon, 5 J=
an 2026 at 10:00, Helpdesk &lt;<a href=3D"mailto:help@example.com">help@exampl=
e.com</a>&gt; wrote:<br></div><blockquote class=3D"gmail_quote" style=3D"margin=
:0px 0px 0px 0.8ex">Please restart the printer.</blockquote></div>

--000000000000a1b2c3--
"""
)


def test_gmail_reply_keeps_only_the_new_text() -> None:
    mail = parse_mail(GMAIL_REPLY)
    assert mail.text == "Yes, restarting helped. Thanks!"
    assert (mail.subject, mail.in_reply_to, mail.automated) == (
        "Re: [#42] Printer broken",
        "helpdesk-aaa@example.com",
        None,
    )


def test_gmail_html_quote_and_everything_after_it_is_dropped() -> None:
    html = (
        '<div dir="ltr">New words<div>second line</div></div><br>'
        '<div class="gmail_quote"><div>old words</div></div><div>after the quote</div>'
    )
    assert parse_mail(html_mail(html)).text == "New words\nsecond line"


def test_gmail_plain_attribution_wrapped_over_two_lines() -> None:
    body = (
        "Fixed now.\n\n"
        "On Mon, 5 Jan 2026 at 10:00, Helpdesk of Example Corporation <help@example.com>\n"
        "wrote:\n\n"
        "> Old text\n"
    )
    assert parse_mail(plain(body)).text == "Fixed now."


OUTLOOK_HTML = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style></head>
<body dir="ltr"><div class="elementToProof" style="font-family: Aptos, sans-serif;">
The toner is empty as well.</div><div class="elementToProof">Regards, Bob</div>
<div id="appendonsend"></div>
<hr style="display:inline-block;width:98%" tabindex="-1">
<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif"><b>From:</b> Helpdesk
&lt;help@example.com&gt;<br><b>Sent:</b> Monday, January 5, 2026 10:00<br><b>To:</b> Bob<br>
<b>Subject:</b> [#42] Printer broken</font><div>&nbsp;</div></div>
<div>Please restart the printer.</div></body></html>"""


def test_outlook_html_reply() -> None:
    raw = (
        crlf(
            b"From: Bob Brown <Bob.Brown@contoso.com>\n"
            b"Subject: RE: [#42] Printer broken\n"
            b"Message-ID: <DB9PR01MB1234@DB9PR01MB1234.eurprd01.prod.outlook.com>\n"
            b"X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply\n"
            b"Content-Language: en-GB\n"
            b"Content-Type: multipart/alternative; boundary=b1\n"
            b"\n"
            b"--b1\n"
            b'Content-Type: text/html; charset="utf-8"\n'
            b"Content-Transfer-Encoding: base64\n"
            b"\n"
        )
        + base64.encodebytes(OUTLOOK_HTML.encode())
        + b"\r\n--b1--\r\n"
    )
    mail = parse_mail(raw)
    assert mail.text == "The toner is empty as well.\nRegards, Bob"
    # Outlook puts that suppress list on ordinary mail: not automated.
    assert (mail.automated, mail.language_hint, mail.from_address) == (
        None,
        "en",
        "bob.brown@contoso.com",
    )


OUTLOOK_DESKTOP_HTML = """<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>
<meta name=Generator content="Microsoft Word 15 (filtered medium)"><!--[if !mso]><style>v\\:*
{behavior:url(#default#VML);}</style><![endif]--><style><!-- p.MsoNormal {margin:0cm;} --></style>
</head><body lang=RU link="#0563C1"><div class=WordSection1>
<p class=MsoNormal><span lang=EN-US>Hello,<o:p></o:p></span></p>
<p class=MsoNormal><span lang=EN-US><o:p>&nbsp;</o:p></span></p>
<p class=MsoNormal><span lang=EN-US>the scanner works again.<o:p></o:p></span></p>
<div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>
<p class=MsoNormal><b>From:</b> Helpdesk &lt;help@example.com&gt; <br><b>Sent:</b> Monday,
January 5, 2026 10:00 AM<br><b>To:</b> Bob Brown &lt;bob@contoso.com&gt;<br><b>Subject:</b>
[#42] Scanner<o:p></o:p></p></div></div>
<p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Please restart it.</p>
</div></body></html>"""


def test_outlook_desktop_html_reply() -> None:
    assert parse_mail(html_mail(OUTLOOK_DESKTOP_HTML)).text == (
        "Hello,\n\nthe scanner works again."
    )


def test_unclosed_head_does_not_hide_the_body() -> None:
    html = "<html><head><meta charset=utf-8><body><p>Visible</p></body></html>"
    assert parse_mail(html_mail(html)).text == "Visible"


def test_outlook_plain_reply_with_header_block() -> None:
    body = (
        "The toner is empty as well.\n"
        "\n"
        "________________________________\n"
        "From: Helpdesk <help@example.com>\n"
        "Sent: Monday, January 5, 2026 10:00 AM\n"
        "To: Bob Brown <bob@contoso.com>\n"
        "Subject: [#42] Printer broken\n"
        "\n"
        "Please restart the printer.\n"
    )
    assert parse_mail(plain(body)).text == "The toner is empty as well."


def test_russian_outlook_header_block() -> None:
    body = (
        "Спасибо, заработало.\n"
        "\n"
        "От: Служба поддержки <help@example.com>\n"
        "Отправлено: 5 января 2026 г. 10:00\n"
        "Кому: Анна\n"
        "Тема: [#42] Принтер\n"
        "\n"
        "Перезагрузите принтер.\n"
    )
    assert parse_mail(plain(body)).text == "Спасибо, заработало."


@pytest.mark.parametrize(
    "attribution",
    [
        "пн, 5 янв. 2026 г. в 10:00, Служба поддержки <help@example.com>:",
        "пн, 5 янв. 2026 г. в 10:00, Служба поддержки компании Пример и партнёры <\n"
        "help@example.com>:",
        '05.01.2026, 10:00, "Служба поддержки" <help@example.com>:',
        "Понедельник, 5 января 2026, 10:00 +03:00 от Служба поддержки <help@example.com>:",
        "05.01.2026 10:00, Служба поддержки пишет:",
        "Служба поддержки написал(а):",
        "-------- Исходное сообщение --------",
        "-----Original Message-----",
    ],
)
def test_russian_and_classic_attributions_cut_the_history(attribution: str) -> None:
    body = f"Спасибо, заработало.\n\n{attribution}\n> Перезагрузите принтер.\n> --\n> Поддержка\n"
    assert parse_mail(plain(body)).text == "Спасибо, заработало."


def test_yandex_style_reply_in_koi8_r_quoted_printable() -> None:
    body = (
        "Добрый день!\r\n"
        "Не помогло, принтер всё так же мигает.\r\n"
        "\r\n"
        "-- \r\n"
        "С уважением,\r\n"
        "Анна\r\n"
        "\r\n"
        '05.01.2026, 10:00, "Служба поддержки" <help@example.com>:\r\n'
        "> Перезагрузите принтер.\r\n"
    )
    raw = crlf(
        b"From: =?koi8-r?B?" + b64("Анна", "koi8-r") + b"?= <anna@yandex.ru>\n"
        b"Subject: Re: [#42] =?koi8-r?B?" + b64("Принтер", "koi8-r") + b"?=\n"
        b"Content-Type: text/plain; charset=koi8-r\n"
        b"Content-Transfer-Encoding: quoted-printable\n"
        b"\n"
    ) + qp(body, "koi8-r")
    mail = parse_mail(raw)
    assert mail.text == "Добрый день!\nНе помогло, принтер всё так же мигает."
    assert (mail.subject, mail.from_name) == ("Re: [#42] Принтер", "Анна")
    assert ticket_number_in_subject(mail.subject) == 42


def test_mail_ru_reply_with_mobile_signature() -> None:
    body = (
        "Спасибо!\n"
        "\n"
        "Отправлено из мобильной Почты Mail.ru\n"
        "\n"
        "\n"
        "Понедельник, 5 января 2026, 10:00 +03:00 от Служба поддержки <help@example.com>:\n"
        ">Перезагрузите принтер.\n"
    )
    assert parse_mail(plain(body)).text == "Спасибо!"


def test_forwarded_separator_and_german_attribution() -> None:
    forward = "FYI, see below.\n\n---------- Forwarded message ---------\nFrom: Bob\nhello\n"
    assert parse_mail(plain(forward)).text == "FYI, see below."
    german = "Danke!\n\nAm 05.01.2026 um 10:00 schrieb Helpdesk <help@example.com>:\n> alt\n"
    assert parse_mail(plain(german)).text == "Danke!"


def test_a_message_that_is_all_quote_keeps_its_text() -> None:
    body = (
        "-------- Пересылаемое сообщение --------\n"
        "От: Борис <boris@example.ru>\n"
        "Тема: Принтер\n"
        "\n"
        "Принтер не печатает.\n"
    )
    assert parse_mail(plain(body)).text == body.rstrip("\n")


def test_russian_pishet_without_date_address_or_quote_is_the_writers_own_text() -> None:
    body = "Добрый день.\nКоллега пишет:\nпринтер опять сломан.\n"
    assert parse_mail(plain(body)).text == body.strip()


def test_trailing_quote_lines_are_dropped_and_answers_below_a_quote_kept() -> None:
    assert parse_mail(plain("Done.\n\n> old line\n>> older line\n\n")).text == "Done."
    bottom_post = (
        "On Mon, 5 Jan 2026 at 10:00, Helpdesk <help@example.com> wrote:\n"
        "> Please restart the printer.\n"
        "\n"
        "Restarted, still broken.\n"
    )
    assert parse_mail(plain(bottom_post)).text == "Restarted, still broken."


def test_quote_markers_inside_the_text_are_kept() -> None:
    body = "See the log:\n> error 42\nafter that it stops.\n"
    assert parse_mail(plain(body)).text == "See the log:\n> error 42\nafter that it stops."


@pytest.mark.parametrize("delimiter", ["-- ", "--"])
def test_signature_after_the_standard_delimiter_is_cut(delimiter: str) -> None:
    body = f"The scanner is offline.\n{delimiter}\nAnn Smith\nACME Ltd, +1 555 0100\n"
    assert parse_mail(plain(body)).text == "The scanner is offline."


@pytest.mark.parametrize(
    "signature",
    [
        "Sent from my iPhone",
        "Отправлено с iPhone",
        "Get Outlook for iOS",
        "Get Outlook for Android",
        "Отправлено из мобильной Почты Mail.ru",
    ],
)
def test_mobile_signature_as_the_last_line_is_cut(signature: str) -> None:
    assert parse_mail(plain(f"Printer is fine now.\n\n{signature}\n\n")).text == (
        "Printer is fine now."
    )


def test_mobile_phrase_in_the_middle_of_the_text_stays() -> None:
    body = "Sent from my iPhone\nis how the last mail was signed, and it broke.\n"
    assert parse_mail(plain(body)).text == body.strip()


def test_a_dash_line_that_is_not_the_delimiter_stays() -> None:
    body = "Steps:\n--- first\n-- second\n"
    assert parse_mail(plain(body)).text == "Steps:\n--- first\n-- second"


# --- automated mail -------------------------------------------------------------------------


OUT_OF_OFFICE = crlf(
    b"""From: Bob Brown <bob@contoso.com>
To: help@example.com
Subject: Automatic reply: [#42] Printer broken
Message-ID: <oof1@contoso.com>
In-Reply-To: <helpdesk-aaa@example.com>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: bob@contoso.com
Content-Type: text/plain; charset=us-ascii

I am out of the office until 12 January.
"""
)

BOUNCE = crlf(
    b"""Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: help@example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <20260105100001.ABC@mx.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="R1"

--R1
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.
I'm sorry to have to inform you that your message could not be delivered.

--R1
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; nobody@example.org
Action: failed
Status: 5.1.1

--R1
Content-Description: Undelivered Message
Content-Type: message/rfc822

From: help@example.com
Subject: [#42] Printer broken
Message-ID: <helpdesk-aaa@example.com>

Please restart the printer.

--R1--
"""
)

MAILING_LIST = crlf(
    b"""From: Jane <jane@example.net>
To: users@lists.example.net
Subject: [users] Release 2.0
Message-ID: <list1@example.net>
List-Id: Users of Example <users.lists.example.net>
List-Unsubscribe: <mailto:users-leave@lists.example.net>
Precedence: list
Content-Type: text/plain

Version 2.0 is out.
"""
)


def test_out_of_office_reply_is_automated() -> None:
    mail = parse_mail(OUT_OF_OFFICE)
    assert (mail.automated, mail.text) == (
        "auto-submitted",
        "I am out of the office until 12 January.",
    )


def test_bounce_is_a_delivery_report() -> None:
    mail = parse_mail(BOUNCE)
    assert (mail.automated, mail.from_address) == (
        "delivery report",
        "mailer-daemon@mx.example.com",
    )
    assert mail.text.startswith("This is the mail system at host mx.example.com.")
    assert [(a.file_name, a.mime_type) for a in mail.attachments] == [
        ("message-1.txt", "message/delivery-status"),
        ("message-2.eml", "message/rfc822"),
    ]
    original = message_from_bytes(mail.attachments[1].content, policy=policy.default)
    assert original["Message-ID"] == "<helpdesk-aaa@example.com>"


def test_mailing_list_message_is_automated() -> None:
    assert parse_mail(MAILING_LIST).automated == "mailing list"
    only_unsubscribe = MAILING_LIST.replace(
        b"List-Id: Users of Example <users.lists.example.net>\r\n", b""
    )
    assert parse_mail(only_unsubscribe).automated == "mailing list"
    no_list_headers = only_unsubscribe.replace(
        b"List-Unsubscribe: <mailto:users-leave@lists.example.net>\r\n", b""
    )
    assert parse_mail(no_list_headers).automated == "precedence"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Auto_Submitted": "auto-generated"}, "auto-submitted"),
        ({"Auto_Submitted": "auto-replied; owner-email=a@b.c"}, "auto-submitted"),
        ({"Auto_Submitted": "no"}, None),
        ({"Auto_Submitted": "No"}, None),
        ({"Precedence": "bulk"}, "precedence"),
        ({"Precedence": "junk"}, "precedence"),
        ({"Precedence": "auto_reply"}, "precedence"),
        ({"Precedence": "first-class"}, None),
        ({"X_Autoreply": "yes"}, "x-autoreply"),
        ({"X_Autorespond": "Vacation"}, "x-autoreply"),
        ({"X_Auto_Response_Suppress": "All"}, "x-auto-response-suppress"),
        ({"X_Auto_Response_Suppress": "OOF, AutoReply"}, None),
        ({"X_Auto_Response_Suppress": "DR, NDR, RN, NRN, OOF, AutoReply"}, None),
        ({"List_Id": "<team.example.org>"}, "mailing list"),
        ({"List_Unsubscribe": "<https://example.org/u>"}, "mailing list"),
        ({"Return_Path": "<>"}, "null sender"),
        ({"Return_Path": "<ann@example.org>"}, None),
        ({}, None),
    ],
)
def test_automated_headers(headers: dict[str, str], expected: str | None) -> None:
    assert parse_mail(plain("hi", **headers)).automated == expected


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("MAILER-DAEMON@mx.example.com", "mailer-daemon"),
        ("postmaster@example.org", "mailer-daemon"),
        ("noreply@shop.example.com", None),  # decided: a web form may send a person's request
        ("no-reply@accounts.example.com", None),
        ("ann@example.org", None),
    ],
)
def test_automated_senders(sender: str, expected: str | None) -> None:
    raw = crlf(f"From: {sender}\nSubject: x\n\nbody\n".encode())
    assert parse_mail(raw).automated == expected


def test_read_receipt_is_a_delivery_report() -> None:
    raw = crlf(
        b"From: Bob <bob@contoso.com>\n"
        b"Content-Type: multipart/report; report-type=disposition-notification; boundary=M\n"
        b"\n"
        b"--M\n"
        b"Content-Type: text/plain\n"
        b"\n"
        b"Your message was read.\n"
        b"--M\n"
        b"Content-Type: message/disposition-notification\n"
        b"\n"
        b"Disposition: manual-action/MDN-sent-manually; displayed\n"
        b"--M--\n"
    )
    assert parse_mail(raw).automated == "delivery report"


# --- attachments ----------------------------------------------------------------------------


def test_attachments_with_encoded_names_and_inline_images() -> None:
    pdf = b"%PDF-1.4 binary \x00\xff"
    png = b"\x89PNG\r\n\x1a\n fake"
    jpg = b"\xff\xd8\xff\xe0 fake"
    koi_name = b"=?koi8-r?B?" + b64("Счёт.xlsx", "koi8-r") + b"?="
    raw = crlf(
        b"From: a@example.org\n"
        b"Content-Type: multipart/mixed; boundary=OUT\n"
        b"\n"
        b"--OUT\n"
        b"Content-Type: multipart/related; boundary=REL\n"
        b"\n"
        b"--REL\n"
        b"Content-Type: text/html; charset=utf-8\n"
        b"\n"
        b'<p>See the photo <img src="cid:img1"></p>\n'
        b"--REL\n"
        b"Content-Type: image/png\n"
        b"Content-Transfer-Encoding: base64\n"
        b"Content-ID: <img1>\n"
        b"Content-Disposition: inline\n"
        b"\n" + base64.encodebytes(png) + b"--REL\n"
        b"Content-Type: image/jpeg\n"
        b"Content-Transfer-Encoding: base64\n"
        b"\n" + base64.encodebytes(jpg) + b"--REL--\n"
        b"--OUT\n"
        b"Content-Type: application/pdf\n"
        b"Content-Transfer-Encoding: base64\n"
        b"Content-Disposition: attachment;\n"
        b" filename*=utf-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%202026.pdf\n"
        b"\n" + base64.encodebytes(pdf) + b"--OUT\n"
        b"Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;\n"
        b' name="' + koi_name + b'"\n'
        b"Content-Transfer-Encoding: base64\n"
        b'Content-Disposition: attachment; filename="' + koi_name + b'"\n'
        b"\n" + base64.encodebytes(b"PK\x03\x04") + b"--OUT\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"Content-Disposition: attachment;\n"
        b" filename*0*=utf-8''%D0%B6%D1%83%D1%80%D0%BD%D0%B0%D0%BB;\n"
        b" filename*1=.log\n"
        b"\n"
        b"line 1\n"
        b"--OUT--\n"
    )
    mail = parse_mail(raw)
    assert mail.text == "See the photo"
    assert [(a.file_name, a.mime_type) for a in mail.attachments] == [
        ("image-1.png", "image/png"),
        ("image-2.jpg", "image/jpeg"),
        ("отчёт 2026.pdf", "application/pdf"),
        ("Счёт.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("журнал.log", "text/plain"),
    ]
    # the line break before a boundary belongs to the boundary
    assert [a.content for a in mail.attachments] == [png, jpg, pdf, b"PK\x03\x04", b"line 1"]


def test_attachment_names_lose_their_path() -> None:
    raw = crlf(
        b"From: a@example.org\n"
        b"Content-Type: multipart/mixed; boundary=B\n"
        b"\n"
        b"--B\n"
        b"Content-Type: text/plain\n"
        b"\n"
        b"hi\n"
        b"--B\n"
        b"Content-Type: application/octet-stream\n"
        b'Content-Disposition: attachment; filename="C:\\\\Users\\\\ann\\\\..\\\\evil.exe"\n'
        b"\n"
        b"MZ\n"
        b"--B--\n"
    )
    assert [a.file_name for a in parse_mail(raw).attachments] == ["evil.exe"]


# --- threading and subjects -----------------------------------------------------------------


def test_thread_ids_nearest_first_without_duplicates() -> None:
    mail = parse_mail(
        plain(
            "x",
            In_Reply_To="<c@x>",
            References="<a@x> <b@x>\n <c@x>",
        )
    )
    assert thread_ids(mail) == ("c@x", "b@x", "a@x")
    assert thread_ids(parse_mail(plain("x"))) == ()
    only_refs = parse_mail(plain("x", References="<a@x> <b@x>"))
    assert thread_ids(only_refs) == ("b@x", "a@x")


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: [#123] Printer broken", 123),
        ("AW: Fwd: [Ticket #123] Printer broken", 123),
        ("RE: [ticket#7]", 7),
        ("Ответ: [# 55] Принтер", 55),
        ("Order #123 is late", None),
        ("Issue 123", None),
        ("[123] no hash", None),
        ("", None),
    ],
)
def test_ticket_number_in_subject(subject: str, expected: int | None) -> None:
    assert ticket_number_in_subject(subject) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Printer broken", "Re: [#42] Printer broken"),
        ("Re: Printer broken", "Re: [#42] Printer broken"),
        ("RE: Fwd: AW: Printer broken", "Re: [#42] Printer broken"),
        ("Re: [#42] Printer broken", "Re: [#42] Printer broken"),
        ("Re: [Ticket #7] Re: Printer  broken", "Re: [#42] Printer broken"),
        ("Ответ: Re[2]: Принтер", "Re: [#42] Принтер"),
        ("Fw: Order #123", "Re: [#42] Order #123"),
        ("Reply needed", "Re: [#42] Reply needed"),
        ("", "[#42]"),
        ("Re:", "[#42]"),
    ],
)
def test_reply_subject(subject: str, expected: str) -> None:
    assert reply_subject(subject, 42) == expected


def test_make_message_id_is_stable_per_key() -> None:
    first = make_message_id("outbox-17", "help.example.com")
    assert first == make_message_id("outbox-17", "help.example.com")
    assert first != make_message_id("outbox-18", "help.example.com")
    digest = hashlib.sha256(b"outbox-17").hexdigest()[:24]
    assert first == f"helpdesk-{digest}@help.example.com"


# --- outgoing -------------------------------------------------------------------------------


def test_compose_mail_headers_and_wire_format() -> None:
    raw = compose_mail(
        from_address="help@example.com",
        from_name="Helpdesk",
        to_address="ann@example.org",
        subject="Re: [#42] Printer broken",
        text="Hello,\nplease restart it.\n",
        message_id="helpdesk-1@example.com",
        in_reply_to="<CAK7=xyz@mail.gmail.com>",
        references=("root@example.org",),
        language="en",
    )
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")  # every line ends in CRLF
    msg = message_from_bytes(raw, policy=policy.default)
    assert str(msg["From"]) == "Helpdesk <help@example.com>"
    assert str(msg["To"]) == "ann@example.org"
    assert msg["Message-ID"] == "<helpdesk-1@example.com>"
    assert msg["In-Reply-To"] == "<CAK7=xyz@mail.gmail.com>"
    assert msg["References"] == "<root@example.org> <CAK7=xyz@mail.gmail.com>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Content-Language"] == "en"
    assert msg["Date"].datetime is not None
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content() == "Hello,\r\nplease restart it.\r\n"  # canonical CRLF


def test_compose_mail_keeps_the_first_and_the_last_references() -> None:
    references = tuple(f"r{i}@x" for i in range(30))
    raw = compose_mail(
        from_address="help@example.com",
        from_name="",
        to_address="ann@example.org",
        subject="s",
        text="t",
        message_id="m@x",
        in_reply_to="r29@x",
        references=references,
    )
    mail = parse_mail(raw)
    assert mail.references == ("r0@x", *(f"r{i}@x" for i in range(11, 30)))
    assert mail.in_reply_to == "r29@x"
    assert b"Content-Language" not in raw


def test_compose_mail_round_trips_through_parse_mail() -> None:
    attachment = MailAttachment("Отчёт о поломке №1.pdf", "application/pdf", b"%PDF\x00\xff" * 50)
    raw = compose_mail(
        from_address="help@example.com",
        from_name="Служба поддержки «Пример»",
        to_address="Anna@Example.RU",
        subject="Re: [#42] Принтер не печатает — третий этаж",
        text="Здравствуйте!\n\nПерезагрузите принтер.\n",
        message_id="helpdesk-abc@example.com",
        in_reply_to="ru1@example.ru",
        references=("root@example.ru",),
        attachments=(attachment, MailAttachment("photo.png", "image/png", b"\x89PNG")),
        language="ru",
    )
    assert raw.isascii()
    assert b"\r\nSubject: Re: [#42] =?utf-8?b?" in raw  # RFC 2047
    assert b" filename*0*=utf-8''%D0%9E%D1%82%D1%87%D1%91%D1%82" in raw  # RFC 2231, continued
    mail = parse_mail(raw)
    assert mail == ParsedMail(
        message_id="helpdesk-abc@example.com",
        from_address="help@example.com",
        from_name="Служба поддержки «Пример»",
        subject="Re: [#42] Принтер не печатает — третий этаж",
        in_reply_to="ru1@example.ru",
        references=("root@example.ru", "ru1@example.ru"),
        text="Здравствуйте!\n\nПерезагрузите принтер.",
        attachments=(attachment, MailAttachment("photo.png", "image/png", b"\x89PNG")),
        automated="auto-submitted",  # our own mail, looped back, is never answered
        language_hint="ru",
    )
    assert ticket_number_in_subject(mail.subject) == 42


def test_compose_mail_sanitises_header_injection_and_bad_types() -> None:
    raw = compose_mail(
        from_address="help@example.com",
        from_name="Help\r\nBcc: victim@example.org",
        to_address="ann@example.org",
        subject="Hi\r\nBcc: victim@example.org",
        text="t",
        message_id="m@x",
        attachments=(MailAttachment("../../etc/passwd", "not a type", b"x"),),
    )
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Hi Bcc: victim@example.org"
    part = next(msg.iter_attachments())
    assert (part.get_filename(), part.get_content_type()) == (
        ".._.._etc_passwd",
        "application/octet-stream",
    )
