"""The readable new text of a received e-mail: HTML turned into plain text, and the quoted
history and signature that mail clients append cut off.

A ticket shows what the person wrote this time; the thread's history is already in the ticket,
so repeating it in every reply only buries the new words. When trimming would leave nothing (a
forward is all quote), the whole text is kept: losing the message is worse than a long one.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements whose content is never text for a human.
_SKIPPED = frozenset({"script", "style", "head", "title", "template"})
_BLOCKS = frozenset({"p", "div", "tr", "table", "ul", "ol", "pre", "hr", "h1", "h2", "h3"})
_BLOCKS |= frozenset({"h4", "h5", "h6", "address", "section", "article", "header", "footer"})
# Containers mail clients wrap the quoted history in; the reply's own text always comes first,
# so everything from here on is history (Gmail, Outlook on the web, Yahoo, Thunderbird).
_HISTORY_CLASSES = frozenset({"gmail_quote", "gmail_quote_container", "yahoo_quoted"})
_HISTORY_CLASSES |= frozenset({"moz-cite-prefix", "moz-forward-container"})
_HISTORY_IDS = frozenset({"divrplyfwdmsg", "appendonsend", "stopspelling"})


class _HtmlToText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0  # depth inside <script>, <style>, <head>, <blockquote>
        self.pre = 0
        self.stopped = False  # the quoted history began: ignore the rest
        self.links: list[tuple[str, int]] = []  # (href, where the link's text starts in out)

    def _at_line_start(self) -> bool:
        return not self.out or self.out[-1].endswith("\n")

    def _break(self) -> None:
        """A block boundary: ends the current line, never adds a blank one (<br> does)."""
        if not self._at_line_start():
            self.out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        values = {name: value or "" for name, value in attrs}
        classes = set(values.get("class", "").lower().split())
        if classes & _HISTORY_CLASSES or values.get("id", "").lower() in _HISTORY_IDS:
            self.stopped = True
            return
        if tag == "body":
            self.skip = 0  # an unclosed <head> must not hide the whole body
        elif tag in _SKIPPED or tag == "blockquote":
            self.skip += 1
        elif self.skip:
            return
        elif tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self._break()
            self.out.append("- ")
        elif tag in ("td", "th") and not self._at_line_start():
            self.out.append(" ")
        elif tag == "a":
            self.links.append((values.get("href", "").strip(), len(self.out)))
        elif tag in _BLOCKS:
            self.pre += tag == "pre"
            self._break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and <hr/> are breaks; anything else self-closed opens nothing to skip.
        if tag in ("br", "hr"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.stopped:
            return
        if tag in _SKIPPED or tag == "blockquote":
            self.skip = max(0, self.skip - 1)
        elif self.skip:
            return
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.out[start:]).strip()
            target = href.removeprefix("mailto:")
            if label and href and not href.startswith(("#", "javascript:")) and label != target:
                self.out.append(f" ({href})")
        elif tag in _BLOCKS or tag == "li":
            self.pre -= tag == "pre" and self.pre > 0
            self._break()

    def handle_data(self, data: str) -> None:
        if self.stopped or self.skip:
            return
        if not self.pre:
            if "\xa0" in data and not data.strip() and self._at_line_start():
                self.out.append("\n")  # Outlook's <p>&nbsp;</p>: an intended blank line
                return
            data = re.sub(r"\s+", " ", data)
            if self._at_line_start():
                data = data.lstrip()
        if data:
            self.out.append(data)


def html_to_text(html: str) -> str:
    """The text a person reads in the HTML, without the quoted history."""
    parser = _HtmlToText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient; this only guards against the unforeseen
        pass
    lines = [line.replace("\xa0", " ").rstrip() for line in "".join(parser.out).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip("\n")


# Lines that open the quoted history of a reply or forward.
_SEPARATOR = re.compile(
    r"^\s*(-{2,}|_{2,})\s*(original message|forwarded message|исходное сообщение|"
    r"пересылаемое сообщение|пересланное сообщение|weitergeleitete nachricht|"
    r"ursprüngliche nachricht)\s*(-{2,}|_{2,})?\s*$|^\s*begin forwarded message:\s*$",
    re.IGNORECASE,
)
# "On Mon, 1 Jan 2026 at 10:00, Ann <a@b.c> wrote:" (and German, French); Russian clients end
# with "пишет:" / "написал(а):" after a date or a name.
_WROTE = re.compile(r"^\s*(on|am|le)\s.{4,300}\s(wrote|schrieb|a écrit)\s?:\s*$", re.IGNORECASE)
# Taken only with a date or an address in it, or a ">" quote under it: "Он пишет:" alone is
# as likely the writer's own words.
_WROTE_RU = re.compile(r"^.{2,300}\s(пишет|написал|написала|написал\(а\))\s?:\s*$", re.I)
# Gmail, Yandex, Mail.ru in Russian attribute by date, time and address:
# "пн, 1 янв. 2026 г. в 10:00, Анна <a@b.c>:", "01.01.2026, 10:00, "Анна" <a@b.c>:".
_DATED = re.compile(r"^.{0,120}\d{1,2}:\d{2}.{0,200}[\w.+-]+@[\w-]+(\.[\w-]+)+>?\s*:\s*$")
# Outlook quotes without ">" under a header block: "From: ...", then "Sent: ..." or "Date: ...".
_HEADER_FROM = re.compile(r"^\s*\*?(from|от|von|de)\s*:\*?\s*\S", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(sent|date|отправлено|дата|gesendet|envoyé)\s*:\*?\s*\S", re.IGNORECASE
)
_RULE = re.compile(r"^\s*[_\-=]{5,}\s*$")
_MOBILE = re.compile(
    r"^\s*(sent from my .+|sent from (mail|outlook|yahoo mail) for .+|get outlook for .+"
    r"|отправлено с (моего )?(iphone|ipad|android|samsung|мобильного|телефона|смартфона).*"
    r"|отправлено из мобильной почты mail\.ru|отправлено из мобильного приложения .+"
    r"|отправлено из (приложения )?(яндекс|yandex).+)\s*$",
    re.IGNORECASE,
)


def _opens_quote(line: str, following: str) -> bool:
    if _SEPARATOR.match(line) or _WROTE.match(line) or _DATED.match(line):
        return True
    if _WROTE_RU.match(line):
        return bool(re.search(r"[\d@]", line)) or following.lstrip().startswith(">")
    return False


def _attribution_lines(line: str, following: str) -> int:
    """How many lines (0, 1 or 2: wrapped) introduce quoted history at `line`."""
    if _opens_quote(line, following):
        return 1
    if _HEADER_FROM.match(line) and _HEADER_NEXT.match(following):
        return 2
    if not following or _opens_quote(following, ""):
        return 0  # the next line is an attribution on its own: it is found next
    return 2 if _opens_quote(f"{line.rstrip()} {following.strip()}", "") else 0


def _next_filled(lines: list[str], start: int) -> int:
    return next((j for j in range(start, len(lines)) if lines[j].strip()), len(lines))


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _cut_history(lines: list[str]) -> list[str]:
    """The lines without quoted history. A ">" quote right under its attribution ends where
    the quote does (the writer answered below it); any other history runs to the end."""
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        j = _next_filled(lines, i + 1)
        size = _attribution_lines(line, lines[j] if j < len(lines) else "")
        if not size:
            continue
        start = i
        # A rule just above ("_____" in Outlook) belongs to the history too.
        while start > 0 and (not lines[start - 1].strip() or _RULE.match(lines[start - 1])):
            start -= 1
        j = _next_filled(lines, i + 1) if size == 1 else _next_filled(lines, j + 1)
        if j < len(lines) and _quoted(lines[j]):
            while j < len(lines) and (not lines[j].strip() or _quoted(lines[j])):
                j += 1
            if j < len(lines):
                return lines[:start] + _cut_history(lines[j:])
        return lines[:start]
    return lines


def _strip_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if line in ("-- ", "--"):
            lines = lines[:i]
            break
    while lines and (not lines[-1].strip() or _MOBILE.match(lines[-1])):
        lines = lines[:-1]
    return lines


def _drop_trailing_quotes(lines: list[str]) -> list[str]:
    while lines and (not lines[-1].strip() or _quoted(lines[-1])):
        lines = lines[:-1]
    return lines


def strip_blank_edges(text: str) -> str:
    """Unix line ends, no trailing spaces, no blank lines at either end."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def new_text(text: str) -> str:
    """The reply's own words: quoted history and signature removed, unless nothing would
    remain, in which case the whole text is kept."""
    whole = strip_blank_edges(text)
    lines = _cut_history(whole.split("\n"))
    lines = _strip_signature(_drop_trailing_quotes(lines))
    trimmed = strip_blank_edges("\n".join(lines))
    return trimmed or whole


def unflow(text: str, delsp: bool) -> str:
    """Joins the soft line breaks of format=flowed text (RFC 3676), so that a paragraph is one
    line again; the signature delimiter "-- " is never joined."""
    out: list[tuple[int, str]] = []
    joining = False
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        body = body[1:] if body.startswith(" ") else body  # space-stuffing
        soft = body.endswith(" ") and body != "-- "
        if soft and delsp:
            body = body[:-1]
        if joining and out and depth == out[-1][0] and body != "-- ":
            out[-1] = (depth, out[-1][1] + body)
        else:
            out.append((depth, body))
        joining = soft
    return "\n".join(">" * depth + (" " if depth else "") + body for depth, body in out)
